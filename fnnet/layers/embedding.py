"""The embedding layer: a lookup table of ``V`` vectors of size ``D``."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from fnnet.layers.base import Array, Layer, Params, Pullback, Shape, fmt_shape, stateless
from fnnet.random import Key, normal
from fnnet.tree import freeze

__all__ = ["Embedding"]


def Embedding(num_embeddings: int, embedding_dim: int, *, dtype: DTypeLike = np.float32) -> Layer:
    """Look up row ``ids`` of ``W (V, D)``: integer ids ``(N, ...)`` -> vectors ``(N, ..., D)``.

    Forward: ``Y[n, ...] = W[ids[n, ...]]``, PyTorch's ``F.embedding``. It is the product
    of the one-hot rows of ``ids`` with ``W``, ``Y = onehot(ids) W``, so, given ``dL/dY``::

        dL/dW = onehot(ids)^T dL/dY,  i.e.  dL/dW[v] = sum over the positions p with ids[p] = v
                                                       of dL/dY[p]

    (a repeated id adds its rows). The ids are integers, not variables: the pullback
    returns ``(grads, None)``, no gradient for the input. ``W`` starts as N(0, 1), as
    PyTorch's. Ids must be integers in ``[0, V)``: a negative id (which NumPy indexing would
    wrap around) or one ``>= V`` is a ``ValueError``, float or bool ids a ``TypeError``.
    """
    name = "Embedding"
    for what, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
    V, D = int(num_embeddings), int(embedding_dim)

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        if len(input_shape) < 1:
            raise ValueError(
                f"{name}: expected ids of shape (N, ...), got {fmt_shape(input_shape)}"
            )
        return (*input_shape, D), freeze({"W": normal(key, (V, D), dtype)})

    def check(params: Params, ids: Any) -> Array:
        W = params["W"]
        if np.shape(W) != (V, D):
            raise ValueError(
                f"{name}: params['W'] expected {fmt_shape((V, D))}, got {fmt_shape(W.shape)}"
            )
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{name}: expected integer ids, got dtype {ids.dtype}")
        if ids.ndim < 1:
            raise ValueError(f"{name}: expected ids of shape (N, ...), got {fmt_shape(ids.shape)}")
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            bad = ids.min() if ids.min() < 0 else ids.max()
            raise ValueError(f"{name}: expected ids in [0, {V}), got {bad}")
        return ids

    def apply(params: Params, ids: Array) -> Array:
        ids = check(params, ids)
        # Y[n, ...] = W[ids[n, ...]]
        return params["W"][ids]

    def vjp(params: Params, ids: Array) -> tuple[Array, Pullback]:
        Y = apply(params, ids)
        ids = np.asarray(ids)
        W = params["W"]

        def pullback(dLdY: Array) -> tuple[Params, None]:
            dLdY = np.asarray(dLdY).reshape(-1, D)
            # dL/dW[v] = sum_{p: ids[p] = v} dL/dY[p]: one add per position, repeats add up
            dLdW = np.zeros((V, D), W.dtype)
            np.add.at(dLdW, ids.reshape(-1), dLdY)
            # the ids are integers: no gradient for the input
            return {"W": dLdW}, None

        return Y, pullback

    return stateless(init, apply, vjp, name=name)
