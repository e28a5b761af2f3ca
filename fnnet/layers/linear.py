"""The linear (fully connected) layer."""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np
from numpy.typing import DTypeLike

from fnnet import initializers, kernels
from fnnet.initializers import Initializer
from fnnet.layers.base import (
    Array,
    Layer,
    Params,
    Pullback,
    Shape,
    as_input,
    check_features,
    check_params,
    check_rank,
    fmt_shape,
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

    Backward, given ``dLdZ (N, C_out)``::

        dLdA = dLdZ W          (N, C_in)
        dLdW = dLdZ^T A        (C_out, C_in)
        dLdb = dLdZ^T 1_N      (C_out,)

    ``pullback(dLdZ, input_grad=False)`` skips ``dLdA`` (returns ``None`` for it), as
    training does for a model's first layer. ``in_features=None`` takes the feature
    count from the input shape at ``init`` (handy after ``Flatten``). ``W`` defaults to
    He-uniform initialisation (``initializers.he_uniform()``, suited to ReLU networks),
    ``b`` to zeros. ``apply`` and ``vjp`` check that ``params`` holds exactly ``W`` and
    ``b`` of these shapes, as float arrays.
    """
    _check_size("in_features", in_features, none_ok=True)
    _check_size("out_features", out_features, none_ok=False)
    w_init = w_init if w_init is not None else initializers.he_uniform()

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        check_rank("Linear", input_shape, 2, "(N, C_in)")
        C_in = input_shape[-1] if in_features is None else in_features
        if C_in <= 0:
            raise ValueError(
                f"Linear: expected input (N, C_in) with C_in > 0, got {fmt_shape(input_shape)}"
            )
        check_features("Linear", input_shape, -1, C_in)
        k_W, k_b = split(key)
        params = {
            "W": w_init(k_W, (out_features, C_in), dtype),
            "b": b_init(k_b, (out_features,), dtype),
        }
        return (input_shape[0], out_features), freeze(params)

    def fit(C_in: int) -> tuple[Any, ...]:
        """What ``weights`` finds when params and input fit: (keys, input, W, b, kinds)."""
        return (2, (C_in,), (out_features, C_in), (out_features,), "f", "f")

    fitting = None if in_features is None else fit(in_features)

    def weights(params: Params, A: Array) -> tuple[Array, Array]:
        """``W, b`` from ``params``, once ``params`` and ``A`` are checked to fit together."""
        try:
            W, b = params["W"], params["b"]
            found = (len(params), A.shape[1:], W.shape, b.shape, W.dtype.kind, b.dtype.kind)
            fits = found == (fitting or fit(W.shape[-1]))
        except (KeyError, TypeError, AttributeError, IndexError):
            fits = False
        if not fits:
            _explain_misfit(params, A, in_features, out_features)
        return W, b

    def apply(params: Params, A: Any) -> Array:
        A = as_input("Linear", A)
        W, b = weights(params, A)
        # Z = A W^T + 1 b^T
        return kernels.affine(A, W, b)

    def vjp(params: Params, A: Any) -> tuple[Array, Pullback]:
        A = as_input("Linear", A)
        W, b = weights(params, A)
        # Z = A W^T + 1 b^T
        Z = kernels.affine(A, W, b)

        def pullback(dLdZ: Array, input_grad: bool = True) -> tuple[Params, Array | None]:
            # dL/dA = dL/dZ W        (skipped when the caller needs no input gradient)
            dLdA = dLdZ @ W if input_grad else None
            # dL/dW = (dL/dZ)^T A
            dLdW = dLdZ.T @ A
            # dL/db = (dL/dZ)^T 1_N  (the sum over the batch)
            dLdb = kernels.batch_sum(dLdZ)
            if dLdW.dtype != W.dtype or dLdb.dtype != b.dtype:  # e.g. from a float64 input
                dLdW, dLdb = dLdW.astype(W.dtype), dLdb.astype(b.dtype)
            return {"W": dLdW, "b": dLdb}, dLdA

        return Z, pullback

    return stateless(init, apply, vjp, name="Linear", skips_input_grad=True)


def _check_size(what: str, value: Any, none_ok: bool) -> None:
    """Raise unless ``value`` is a positive int (or ``None`` where ``none_ok``)."""
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        expected = "a positive int or None" if none_ok else "a positive int"
        raise TypeError(f"Linear: {what} must be {expected}, got {value!r}")
    if value <= 0:
        raise ValueError(f"Linear: {what} must be positive, got {value}")


def _explain_misfit(params: Any, A: Array, in_features: int | None, out_features: int) -> NoReturn:
    """Raise the error that says how ``params`` or the input ``A`` differ from what fits."""
    W = params.get("W") if isinstance(params, dict) else None
    if in_features is None and isinstance(W, np.ndarray) and W.ndim == 2:
        in_features = W.shape[1]  # the input must fit the W that init made
    check_rank("Linear", A.shape, 2, f"(N, {in_features or 'C_in'})")
    if in_features is not None:
        check_features("Linear", A.shape, -1, in_features)
    shapes = {"W": (out_features, A.shape[1]), "b": (out_features,)}
    check_params("Linear", params, shapes, "params")
    raise AssertionError("unreachable: Linear's params and input fit")  # pragma: no cover
