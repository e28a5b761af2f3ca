"""The linear (fully connected) layer."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from fnnet import initializers
from fnnet.initializers import Initializer
from fnnet.layers.base import (
    Array,
    Layer,
    Params,
    Pullback,
    Shape,
    batch_sum,
    check_features,
    check_rank,
    stateless,
)
from fnnet.random import Key, split
from fnnet.tree import freeze

__all__ = ["Linear"]


def Linear(
    in_features: int | None,
    out_features: int,
    *,
    w_init: Initializer | None = None,
    b_init: Initializer = initializers.zeros,
    dtype: DTypeLike = np.float32,
) -> Layer:
    """Fully connected layer ``Z = A W^T + 1 b^T``.

    Shapes: ``A (N, C_in)``, ``W (C_out, C_in)``, ``b (C_out,)``, ``Z (N, C_out)``.

    Backward, given ``dLdZ (N, C_out)`` (``pullback(dLdZ, input_grad=False)`` skips
    ``dLdA``, as training does for a first layer)::

        dLdA = dLdZ W          (N, C_in)
        dLdW = dLdZ^T A        (C_out, C_in)
        dLdb = dLdZ^T 1_N      (C_out,)

    ``in_features=None`` takes the feature count from the input shape at ``init``
    (handy after ``Flatten``). ``W`` defaults to He-uniform initialisation
    (``initializers.he_uniform()``, suited to ReLU networks), ``b`` to zeros.
    """
    if in_features is not None and in_features <= 0:
        raise ValueError(f"Linear: in_features must be positive or None, got {in_features}")
    if out_features <= 0:
        raise ValueError(f"Linear: out_features must be positive, got {out_features}")
    w_init = w_init if w_init is not None else initializers.he_uniform()

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        check_rank("Linear", input_shape, 2, "(N, C_in)")
        c_in = input_shape[-1] if in_features is None else in_features
        check_features("Linear", input_shape, -1, c_in)
        k_w, k_b = split(key)
        params = {
            "W": w_init(k_w, (out_features, c_in), dtype),
            "b": b_init(k_b, (out_features,), dtype),
        }
        return (input_shape[0], out_features), freeze(params)

    def check(W: Array, A: Array) -> None:
        if A.ndim != 2 or A.shape[1] != W.shape[1]:  # one cheap test on the hot path
            check_rank("Linear", A.shape, 2, f"(N, {W.shape[1]})")
            check_features("Linear", A.shape, -1, W.shape[1])

    def forward(W: Array, b: Array, A: Array) -> Array:
        check(W, A)
        # Z = A W^T + 1 b^T: the bias is added in place to the fresh product
        Z = A @ W.T
        Z += b
        return Z

    def apply(params: Params, A: Array) -> Array:
        return forward(params["W"], params["b"], A)

    def vjp(params: Params, A: Array) -> tuple[Array, Pullback]:
        W, b = params["W"], params["b"]
        Z = forward(W, b, A)

        def pullback(dLdZ: Array, input_grad: bool = True) -> tuple[Params, Array | None]:
            # dL/dA = dL/dZ . W   (skipped when the caller needs no input gradient)
            dLdA = dLdZ @ W if input_grad else None
            # dL/dW = (dL/dZ)^T . A
            dLdW = dLdZ.T @ A
            # dL/db = (dL/dZ)^T . 1_N: the sum over the batch
            dLdb = batch_sum(dLdZ)
            if dLdW.dtype != W.dtype or dLdb.dtype != b.dtype:  # e.g. a float64 input
                dLdW, dLdb = dLdW.astype(W.dtype), dLdb.astype(b.dtype)
            return {"W": dLdW, "b": dLdb}, dLdA

        return Z, pullback

    return stateless(init, apply, vjp, name="Linear", skips_input_grad=True)
