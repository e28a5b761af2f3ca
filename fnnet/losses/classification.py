"""Classification losses on raw scores (logits), fused with their softmax / sigmoid."""

from __future__ import annotations

import numpy as np
from scipy import special

from fnnet.losses.base import Array, Loss, LossPullback, as_float_array, check_same_shape

__all__ = ["binary_cross_entropy", "cross_entropy"]


def _labels(target: Array, n: int, c: int) -> Array:
    """Validate integer labels ``(N,)`` in ``[0, C)``."""
    if target.shape != (n,):
        raise ValueError(
            f"cross_entropy: integer labels must have shape ({n},), got {target.shape}"
        )
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"cross_entropy: labels of shape ({n},) must be integers, got dtype {target.dtype}"
        )
    if n and (target.min() < 0 or target.max() >= c):
        bad = target[(target < 0) | (target >= c)][0]
        raise ValueError(f"cross_entropy: label {bad} is outside [0, {c}) for {c} classes")
    return target


def _cross_entropy_vjp(pred: Array, target: Array) -> tuple[float, LossPullback]:
    A = as_float_array("cross_entropy", "pred", pred)
    if A.ndim != 2:
        raise ValueError(f"cross_entropy: expected logits of shape (N, C), got {A.shape}")
    N, C = A.shape
    if N == 0:
        raise ValueError("cross_entropy: empty batch")
    T = np.asarray(target)
    # softmax(A) and log softmax(A), stable: shift each row by its maximum
    shifted = A - A.max(axis=1, keepdims=True)
    P = np.exp(shifted)
    sum_exp = np.add.reduce(P, axis=1, keepdims=True)
    log_sum_exp = np.log(sum_exp)
    P /= sum_exp  # softmax(A), in place in the fresh exp(shifted)
    if T.ndim == 1:
        labels = _labels(T, N, C)
        rows = np.arange(N)
        # L = -(1/N) sum_i log softmax(A)_{i, y_i},  log softmax(A) = shifted - log sum exp
        value = -float((shifted[rows, labels] - log_sum_exp[:, 0]).sum()) / N
    else:
        Y = as_float_array("cross_entropy", "target", T)
        check_same_shape("cross_entropy", A, Y)
        Y = Y.astype(A.dtype, copy=False)
        # L = -(1/N) sum_i sum_c Y_ic log softmax(A)_ic
        value = -float(np.vdot(Y, shifted - log_sum_exp)) / N

    def pullback(g: float = 1.0) -> Array:
        scale = float(g) / N
        if T.ndim == 1:
            # dL/dA = (softmax(A) - Y) / N, Y the one-hot rows of the labels
            dLdA = P * scale
            dLdA[rows, labels] -= scale
        else:
            # dL/dA = (softmax(A) * sum_c Y_c - Y) / N, per row: (softmax(A) - Y) / N for
            # one-hot or probability rows, and still exact for rows that do not sum to 1
            dLdA = P * (np.add.reduce(Y, axis=1, keepdims=True) * scale)
            dLdA -= Y * scale
        return dLdA

    return value, pullback


def _cross_entropy_apply(pred: Array, target: Array) -> float:
    return _cross_entropy_vjp(pred, target)[0]


cross_entropy = Loss(_cross_entropy_apply, _cross_entropy_vjp)
"""Softmax cross-entropy on logits, averaged over the batch.

``L = -(1/N) sum_i sum_c Y_ic log softmax(A)_ic``; gradient ``dL/dA = (softmax(A) - Y) / N``
for one-hot or probability rows (for rows not summing to 1, as PyTorch accepts them, the
exact ``(softmax(A) sum_c Y_ic - Y) / N``).
``pred`` is ``(N, C)`` raw scores; ``target`` is one-hot / probabilities ``(N, C)`` or
integer labels ``(N,)`` in ``[0, C)``. Stable for any finite logits (the row maximum is
subtracted before ``exp``); the softmax is never materialised as a (C, C) Jacobian.
"""


def _bce_vjp(pred: Array, target: Array) -> tuple[float, LossPullback]:
    X = as_float_array("binary_cross_entropy", "pred", pred)
    Y = as_float_array("binary_cross_entropy", "target", target)
    check_same_shape("binary_cross_entropy", X, Y)
    if X.size == 0:
        raise ValueError("binary_cross_entropy: empty prediction")
    Y = Y.astype(X.dtype, copy=False)
    # L = mean(log(1 + exp(X)) - Y X), with log(1 + exp(X)) = max(X, 0) + log1p(exp(-|X|))
    softplus = np.maximum(X, 0) + np.log1p(np.exp(-np.abs(X)))
    value = float((softplus - Y * X).mean())

    def pullback(g: float = 1.0) -> Array:
        # dL/dX = (sigmoid(X) - Y) / numel
        dLdX = special.expit(X) - Y
        dLdX *= float(g) / X.size
        return dLdX

    return value, pullback


def _bce_apply(pred: Array, target: Array) -> float:
    return _bce_vjp(pred, target)[0]


binary_cross_entropy = Loss(_bce_apply, _bce_vjp)
"""Binary cross-entropy on logits ``X`` with targets ``Y`` in [0, 1], averaged over all elements.

``L = mean(log(1 + exp(X)) - Y X)`` (the sigmoid is inside); gradient
``dL/dX = (sigmoid(X) - Y) / numel``. ``pred`` and ``target`` have the same shape.
"""
