"""Regression losses."""

from __future__ import annotations

from fnnet.losses.base import Array, LossPullback, as_float_array, check_same_shape, documented

__all__ = ["mse"]


def _mse_vjp(pred: Array, target: Array) -> tuple[float, LossPullback]:
    A = as_float_array("mse", "pred", pred)
    Y = as_float_array("mse", "target", target)
    check_same_shape("mse", A, Y)
    if A.size == 0:
        raise ValueError("mse: empty prediction")
    Y = Y.astype(A.dtype, copy=False)
    # E = A - Y
    E = A - Y
    # L = SSE / (N C),  SSE = iota_N^T (E * E) iota_C: the sum of squares, as a dot product
    L = float(E.ravel() @ E.ravel()) / A.size

    def pullback(g: float = 1.0) -> Array:
        # dL/dA = 2 (A - Y) / (N C)                                      (53)
        dLdA = E * (2.0 * float(g) / A.size)
        return dLdA

    return L, pullback


def _mse_apply(pred: Array, target: Array) -> float:
    return _mse_vjp(pred, target)[0]


mse = documented(
    _mse_apply,
    _mse_vjp,
    "mse",
    """Mean squared error over all ``N * C`` elements (the course's (50)-(53)).

    ::

        SE  = (A - Y) * (A - Y)                 (50)  elementwise
        SSE = iota_N^T SE iota_C                (51)  the sum of all entries
        L   = SSE / (N C)                       (52)
        dL/dA = 2 (A - Y) / (N C)               (53)

    ``pred`` ``A`` and ``target`` ``Y`` have the same shape (any, e.g. ``(N, C)``; the
    mean runs over every element, as PyTorch's ``mse_loss``). Integer targets are taken
    as floats; the gradient has the dtype of ``A``.

    >>> value, pullback = fnnet.losses.mse.vjp(A, Y); dLdA = pullback(1.0)
    """,
)
