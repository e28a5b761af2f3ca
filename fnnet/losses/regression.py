"""Regression losses."""

from __future__ import annotations

from fnnet.losses.base import Array, Loss, LossPullback, as_float_array, check_same_shape

__all__ = ["mse"]


def _mse_vjp(pred: Array, target: Array) -> tuple[float, LossPullback]:
    A = as_float_array("mse", "pred", pred)
    Y = as_float_array("mse", "target", target)
    check_same_shape("mse", A, Y)
    if A.size == 0:
        raise ValueError("mse: empty prediction")
    Y = Y.astype(A.dtype, copy=False)
    # L = sum((A - Y)^2) / (N C)
    diff = A - Y
    value = float(diff.ravel() @ diff.ravel()) / A.size

    def pullback(g: float = 1.0) -> Array:
        # dL/dA = 2 (A - Y) / (N C)
        dLdA = diff * (2.0 * float(g) / A.size)
        return dLdA

    return value, pullback


def _mse_apply(pred: Array, target: Array) -> float:
    return _mse_vjp(pred, target)[0]


mse = Loss(_mse_apply, _mse_vjp)
"""Mean squared error over all ``N * C`` elements: ``L = sum((A - Y)^2) / (N C)``.

Gradient ``dL/dA = 2 (A - Y) / (N C)``. ``pred`` and ``target`` must have the same shape.
"""
