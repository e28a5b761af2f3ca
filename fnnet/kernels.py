"""Named fast kernels: the speed techniques that would hide an equation in a layer.

A layer's forward pass and pullback read as the derivation, one equation per line. When
the plain NumPy form of an equation is measurably slow (it would need ``out=`` arguments,
blocks, a fused form or another memory trick to be fast), the fast form lives here
instead, as a function

- named after what it computes,
- whose docstring is the equation it computes, with shapes,
- which ``tests/test_kernels.py`` compares with the plain formula,

and the layer calls it in one line under the equation's comment. Nothing else belongs
here: a kernel has no state, never mutates its arguments and knows nothing of layers.

The kernels are grouped by the layers that use them, one delimited block per family.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]

__all__ = ["batch_norm_dLdZ", "batch_sum"]


# ---------------------------------------------------------------------------------------
# Dense layers (Linear, BatchNorm)
# ---------------------------------------------------------------------------------------

# Below this many elements the reduction's set-up costs less than the product's.
_BATCH_SUM_MIN_SIZE = 4096


def batch_sum(X: Array) -> Array:
    """The sum over the batch axis: ``s = 1_N^T X``, ``s_j = sum_i X_ij``.

    ``X (N, C) -> s (C,)``, in ``X``'s dtype. Computed as the matrix-vector product
    ``1_N^T X`` (BLAS) when ``X`` is large: ``X.sum(axis=0)`` walks short rows one at a
    time, which is several times slower when ``C`` is small (a bias gradient over
    ``N * H * W`` pixels of 16 channels), while both add each column in turn.
    """
    if X.size <= _BATCH_SUM_MIN_SIZE:
        return X.sum(axis=0)
    return np.ones(X.shape[0], X.dtype) @ X


def batch_norm_dLdZ(
    dLdNZ: Array, dLdV: Array, dLdM: Array, Z_M: Array, V: Array, eps: float
) -> Array:
    """BatchNorm's input gradient, the course's equation (85)::

        dLdZ = dLdNZ (V + eps)^(-1/2) + dLdV 2/N (Z - M) + dLdM / N

    ``dLdNZ``, ``Z_M = Z - M``: ``(N, C)``; ``V``, ``dLdV``, ``dLdM``: ``(C,)``; returns
    ``(N, C)``. The plain expression makes four ``(N, C)`` arrays; this makes one, with
    ``s = (V + eps)^(-1/2)`` factored out of the first two terms::

        dLdZ = s (dLdNZ + (Z - M) * (2/N dLdV / s)) + dLdM / N
    """
    N = Z_M.shape[0]
    s = (V + eps) ** -0.5
    dLdZ = Z_M * (dLdV * (2 / N) / s)
    dLdZ += dLdNZ
    dLdZ *= s
    dLdZ += dLdM / N
    return dLdZ


# ---------------------------------------------------------------------------------------
# (append new kernel families below, each in its own block like the one above)
# ---------------------------------------------------------------------------------------
