"""Classification losses on raw scores (logits), fused with their softmax / sigmoid."""

from __future__ import annotations

import numpy as np
from scipy import special

from fnnet.losses.base import Array, LossPullback, as_float_array, check_same_shape, documented

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
    # A - m, m the row maxima: softmax is unchanged by the shift, and exp(A - m) <= 1
    shifted = A - A.max(axis=1, keepdims=True)
    exp_shifted = np.exp(shifted)
    sum_exp = np.add.reduce(exp_shifted, axis=1, keepdims=True)
    # log softmax(A) = (A - m) - log sum_k exp(A_k - m)
    log_softmax = shifted - np.log(sum_exp)
    # softmax(A) = exp(A - m) / sum_k exp(A_k - m)                       (55)
    S = exp_shifted / sum_exp
    if T.ndim == 1:
        labels = _labels(T, N, C)
        rows = np.arange(N)
        # L = -(1/N) sum_n log softmax(A)_{n, y_n}                 (56)-(60), one-hot Y
        L = -float(log_softmax[rows, labels].sum()) / N
        # Y = the one-hot rows of the labels
        Y = (labels[:, None] == np.arange(C)).astype(A.dtype)
        # sum_c Y_nc = 1 for every row
        Y_mass: Array | float = 1.0
    else:
        Y = as_float_array("cross_entropy", "target", T)
        check_same_shape("cross_entropy", A, Y)
        Y = Y.astype(A.dtype, copy=False)
        # L = -(1/N) iota_N^T (Y * log softmax(A)) iota_C                (56)-(60)
        L = -float(np.vdot(Y, log_softmax)) / N
        # sum_c Y_nc per row: 1 for probability rows
        Y_mass = np.add.reduce(Y, axis=1, keepdims=True)

    def pullback(g: float = 1.0) -> Array:
        # dL/dA = (softmax(A) sum_c Y_c - Y) / N, i.e. (softmax(A) - Y) / N   (61)
        dLdA = (S * Y_mass - Y) * (float(g) / N)
        return dLdA

    return L, pullback


def _cross_entropy_apply(pred: Array, target: Array) -> float:
    return _cross_entropy_vjp(pred, target)[0]


cross_entropy = documented(
    _cross_entropy_apply,
    _cross_entropy_vjp,
    "cross_entropy",
    """Softmax cross-entropy on logits, averaged over the batch (the course's (54)-(61)).

    ::

        softmax(A)_nc = exp(A_nc) / sum_k exp(A_nk)                  (55)
        H = (-Y * log softmax(A)) iota_C        one value per row     (57)
        L = iota_N^T H / N                      the batch mean        (60)
        dL/dA = (softmax(A) - Y) / N                                  (61)

    ``pred`` ``A``: ``(N, C)`` raw scores (the softmax is inside; no ``Softmax`` layer
    before it). ``target``: integer labels ``(N,)`` in ``[0, C)`` (as PyTorch's
    ``cross_entropy``) or one-hot / probability rows ``(N, C)``. The derivation of (61)
    uses ``sum_c Y_nc = 1``; for rows that do not sum to 1 (PyTorch accepts them) the
    gradient is the exact ``(softmax(A) sum_c Y_nc - Y) / N``. Stable for any finite
    logits: each row's maximum is subtracted before ``exp``, and the log-softmax is
    formed without taking the log of an underflowed 0. Labels outside ``[0, C)`` are a
    ``ValueError``.
    """,
)


def _bce_vjp(pred: Array, target: Array) -> tuple[float, LossPullback]:
    X = as_float_array("binary_cross_entropy", "pred", pred)
    Y = as_float_array("binary_cross_entropy", "target", target)
    check_same_shape("binary_cross_entropy", X, Y)
    if X.size == 0:
        raise ValueError("binary_cross_entropy: empty prediction")
    outside = ~((Y >= 0) & (Y <= 1))
    if outside.any():
        where = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValueError(
            f"binary_cross_entropy: targets must be in [0, 1], got {Y[where]} at index {where}"
        )
    Y = Y.astype(X.dtype, copy=False)
    # log(1 + exp(X)) = max(X, 0) + log(1 + exp(-|X|)): no overflow for large |X|
    softplus = np.maximum(X, 0) + np.log1p(np.exp(-np.abs(X)))
    # L = mean(log(1 + exp(X)) - Y X)
    L = float((softplus - Y * X).mean())

    def pullback(g: float = 1.0) -> Array:
        # dL/dX = (sigmoid(X) - Y) / numel
        dLdX = (special.expit(X) - Y) * (float(g) / X.size)
        return dLdX

    return L, pullback


def _bce_apply(pred: Array, target: Array) -> float:
    return _bce_vjp(pred, target)[0]


binary_cross_entropy = documented(
    _bce_apply,
    _bce_vjp,
    "binary_cross_entropy",
    """Binary cross-entropy on logits, averaged over all elements.

    ::

        L = -mean(Y log sigmoid(X) + (1 - Y) log(1 - sigmoid(X)))
          =  mean(log(1 + exp(X)) - Y X)
        dL/dX = (sigmoid(X) - Y) / numel

    ``pred`` ``X``: raw scores of any shape (the sigmoid is inside, as PyTorch's
    ``binary_cross_entropy_with_logits``); ``target`` ``Y``: the same shape, values in
    ``[0, 1]`` (labels or probabilities; anything else, NaN included, is a
    ``ValueError``). Stable for any finite logits: ``log(1 + exp(X))`` is computed as
    ``max(X, 0) + log(1 + exp(-|X|))``.
    """,
)
