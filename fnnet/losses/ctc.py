"""Connectionist temporal classification (CTC): the loss and its forward-backward recursion.

A network reads ``T`` frames and emits, per frame ``t``, scores over ``K`` symbols, one of
them the **blank**. A *path* ``pi`` (one symbol per frame) is read as a labelling by the
collapse ``B``: merge repeated symbols, then drop blanks (``B(a a - a b -) = a a b``).
The loss of a target ``l`` (length ``S``) is ``-ln p(l | x)`` with

    p(l | x) = sum_{pi : B(pi) = l} prod_t y_t(pi_t),      y_t = softmax(logits_t).

**The lattice.** Write the *extended labelling* ``l'`` of length ``2S + 1``: the target with
a blank before, between and after its symbols (``a b -> - a - b -``). A path collapses to
``l`` exactly when it walks ``l'`` from left to right, one state per frame, starting in
state 0 or 1 and ending in state ``2S`` or ``2S - 1``; from state ``s`` it may stay, move to
``s + 1``, or *skip* to ``s + 2`` when ``l'_{s+2}`` is not a blank and differs from ``l'_s``
(a blank between two equal symbols is required: ``a a`` would collapse to ``a``).

**Forward** (``alpha_t(s)``: probability of the prefixes of paths that are in state ``s``
at frame ``t``, emission at ``t`` included)::

    alpha_0(0) = y_0(blank),  alpha_0(1) = y_0(l'_1),  alpha_0(s) = 0 for s >= 2
    alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1) + [skip_s] alpha_{t-1}(s-2)) y_t(l'_s)
    p(l | x)   = alpha_{T-1}(2S) + alpha_{T-1}(2S - 1)

with ``skip_s = [l'_s != blank and l'_s != l'_{s-2}]``. **Backward** (``beta_t(s)``: the
probability of the rest of the paths after frame ``t``, given state ``s`` at ``t``;
the emission at ``t`` is *not* included)::

    beta_{T-1}(s) = 1 for s in {2S, 2S - 1},  0 otherwise
    beta_t(s)     = beta_{t+1}(s) y_{t+1}(l'_s) + beta_{t+1}(s+1) y_{t+1}(l'_{s+1})
                    + [skip_{s+2}] beta_{t+1}(s+2) y_{t+1}(l'_{s+2})

so ``alpha_t(s) beta_t(s)`` is the total probability of the paths through ``(t, s)`` and
``p(l | x) = sum_s alpha_t(s) beta_t(s)`` for every ``t``. Both run in log space
(``ln(a + b) = logaddexp(ln a, ln b)``, ``ln 0 = -inf``): products of ``T`` probabilities
underflow.

**Gradient.** With ``gamma_t(s) = alpha_t(s) beta_t(s) / p`` (the posterior occupancy of
state ``s`` at frame ``t``), ``dp / dy_t(k) = (1 / y_t(k)) sum_{s : l'_s = k} alpha_t(s)
beta_t(s)`` (every path through ``(t, s)`` has the factor ``y_t(l'_s)`` once), and
``dy_t(k') / dlogit_{t,k} = y_t(k') ([k = k'] - y_t(k))``; summing over ``k'`` with
``sum_{k'} sum_{s : l'_s = k'} gamma_t(s) = 1``::

    d(-ln p) / dlogit_{t,k} = y_t(k) - sum_{s : l'_s = k} gamma_t(s)      (t < T_n)

and zero for frames beyond a sequence's input length ``T_n``. **Reduction** (PyTorch's
``reduction="mean"``): ``L = (1/N) sum_n -ln p(l_n | x_n) / max(S_n, 1)``, so sequence
``n``'s gradient is scaled by ``1 / (N max(S_n, 1))``.

**Impossible alignments.** A target needs ``S_n + (number of equal neighbours in l_n)``
frames; with fewer, ``p = 0`` and the loss is ``inf`` (as PyTorch with
``zero_infinity=False``). The gradient of such a sequence is set to **zero** (PyTorch's
would be NaN); the other sequences' gradients are unaffected.

Reference: A. Graves et al., "Connectionist temporal classification", ICML 2006.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from fnnet.losses.base import Array, Loss, LossPullback, as_float_array

__all__ = [
    "alpha_recursion",
    "beta_recursion",
    "ctc",
    "ctc_loss",
    "end_states",
    "extend_labels",
]

# (labels (N, S), input_lengths (N,), target_lengths (N,)), each array-like of integers
Target = Any


def ctc_loss(blank: int = 0) -> Loss:
    """The CTC loss with blank index ``blank``: a :class:`Loss` ``(apply, vjp)``.

    ``apply(logits, (labels, input_lengths, target_lengths))``: logits ``(N, T, K)`` (raw
    scores; log-softmax inside), ``labels (N, S)`` integers padded beyond each target length
    (the padding is ignored), ``input_lengths (N,)`` in ``[1, T]``, ``target_lengths (N,)``
    in ``[0, S]``. The value is PyTorch's ``F.ctc_loss(log_probs.transpose(0, 1), labels,
    input_lengths, target_lengths, blank, reduction="mean")``:
    ``L = (1/N) sum_n -ln p(l_n | x_n) / max(S_n, 1)``. ``vjp`` returns ``(value, pullback)``
    and ``pullback(g=1.0)`` returns ``dL/dlogits (N, T, K)``: for sequence ``n`` and frame
    ``t < T_n``, ``g (softmax_{t,k} - sum_{s: l'_s = k} gamma_t(s)) / (N max(S_n, 1))``,
    zero beyond ``T_n`` and for impossible alignments (whose loss is ``inf``).
    See the module docstring (``fnnet.losses.ctc`` module) for the recursions.
    """
    if isinstance(blank, bool) or not isinstance(blank, (int, np.integer)):
        raise TypeError(f"ctc: blank must be an int, got {blank!r}")
    if blank < 0:
        raise ValueError(f"ctc: blank must be a class index >= 0, got {blank}")
    blank = int(blank)

    def vjp(logits: Array, target: Target) -> tuple[float, LossPullback]:
        X, labels, T_n, S_n = _check(logits, target, blank)
        N, T, K = X.shape
        # ln y_t(k) = logit_{t,k} - ln sum_k' exp(logit_{t,k'})
        log_y = X - special.logsumexp(X, axis=2, keepdims=True)
        l_ext, skip = extend_labels(labels, S_n, blank)
        # ln y_t(l'_s), gathered along the lattice: (N, T, 2S + 1)
        log_y_ext = np.take_along_axis(log_y, l_ext[:, None, :], axis=2)
        L = log_y_ext.shape[2]
        log_alpha = alpha_recursion(log_y_ext, skip)
        # p = alpha_{T_n - 1}(2 S_n) + alpha_{T_n - 1}(2 S_n - 1)
        log_alpha_end = log_alpha[np.arange(N), T_n - 1]
        log_p = special.logsumexp(_masked(end_states(2 * S_n + 1, L), log_alpha_end), axis=1)
        possible = np.isfinite(log_p)
        # L = (1/N) sum_n -ln p_n / max(S_n, 1)
        value = float(np.mean(-log_p / np.maximum(S_n, 1)))

        def pullback(g: float = 1.0) -> Array:
            log_beta = beta_recursion(log_y_ext, skip, T_n, 2 * S_n + 1)
            # ln gamma_t(s) = ln alpha_t(s) + ln beta_t(s) - ln p   (-inf where p = 0)
            log_gamma = log_alpha + log_beta - np.where(possible, log_p, np.inf)[:, None, None]
            # occupancy_t(k) = sum_{s : l'_s = k} gamma_t(s)
            occupancy = np.exp(log_gamma) @ _one_hot(l_ext, K, X.dtype)
            # frames t < T_n of sequences that have an alignment
            live = (np.arange(T) < T_n[:, None]) & possible[:, None]
            # d(-ln p_n)/dlogit_{t,k} = y_t(k) - occupancy_t(k)
            dnll = np.where(live[:, :, None], np.exp(log_y) - occupancy, 0)
            # dL/dlogits_n = g d(-ln p_n)/dlogits_n / (N max(S_n, 1))
            dLdX = dnll * (float(g) / (N * np.maximum(S_n, 1)))[:, None, None]
            return dLdX.astype(X.dtype, copy=False)

        return value, pullback

    def apply(logits: Array, target: Target) -> float:
        return vjp(logits, target)[0]

    return Loss(apply, vjp)


def extend_labels(labels: Array, target_lengths: Array, blank: int) -> tuple[Array, Array]:
    """The extended labellings ``l' (N, 2S + 1)`` and their skip masks ``(N, 2S + 1)``.

    ``l'_{2i} = blank``, ``l'_{2i+1} = l_i`` for ``i < S_n``; states beyond ``2 S_n`` hold the
    blank (unreachable from the end of the lattice, so they do not change ``p``).
    ``skip_s = [s >= 2 and l'_s != blank and l'_s != l'_{s-2}]``.
    """
    N, S = labels.shape
    real = np.arange(S) < target_lengths[:, None]
    l_ext = np.full((N, 2 * S + 1), blank, dtype=np.int64)
    l_ext[:, 1::2] = np.where(real, labels, blank)
    # skip_s: l'_s != blank and l'_s != l'_{s-2}
    skip = np.zeros((N, 2 * S + 1), dtype=bool)
    skip[:, 2:] = (l_ext[:, 2:] != blank) & (l_ext[:, 2:] != l_ext[:, :-2])
    return l_ext, skip


def alpha_recursion(log_y_ext: Array, skip: Array) -> Array:
    """``ln alpha (N, T, 2S + 1)`` from ``ln y_t(l'_s) (N, T, 2S + 1)`` and the skip masks.

    The recursion runs over all ``T`` frames for every sequence; sequence ``n`` reads its
    ``alpha_{T_n - 1}``, the later frames are never used.
    """
    T, L = log_y_ext.shape[1:]
    # alpha_0(0) = y_0(blank), alpha_0(1) = y_0(l'_1), alpha_0(s) = 0 for s >= 2
    log_alpha_0 = np.where(np.arange(L) < 2, log_y_ext[:, 0], -np.inf)
    log_alpha = [log_alpha_0]
    for t in range(1, T):
        prev = log_alpha[-1]
        # alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1) + [skip_s] alpha_{t-1}(s-2)) y_t(l'_s)
        stay_or_step = np.logaddexp(prev, _shift_right(prev, 1))
        log_alpha_t = np.logaddexp(stay_or_step, _masked(skip, _shift_right(prev, 2)))
        log_alpha.append(log_alpha_t + log_y_ext[:, t])
    return np.stack(log_alpha, axis=1)


def beta_recursion(log_y_ext: Array, skip: Array, input_lengths: Array, L_n: Array) -> Array:
    """``ln beta (N, T, 2S + 1)``: the rest of the paths after frame ``t``, given state ``s``.

    Sequence ``n`` starts at its own last frame ``T_n - 1`` (``L_n = 2 S_n + 1`` states);
    ``beta`` is ``0`` (``ln = -inf``) at later frames, so their occupancy is zero.
    """
    T, L = log_y_ext.shape[1:]
    # beta_{T_n-1}(s) = 1 for s in {2S_n, 2S_n - 1}, 0 otherwise
    log_beta_end = np.where(end_states(L_n, L), 0.0, -np.inf)
    log_beta = [np.where((input_lengths == T)[:, None], log_beta_end, -np.inf)]
    for t in range(T - 2, -1, -1):
        # e_{t+1}(s) = beta_{t+1}(s) y_{t+1}(l'_s)
        emitted = log_beta[-1] + log_y_ext[:, t + 1]
        # beta_t(s) = e_{t+1}(s) + e_{t+1}(s+1) + [skip_{s+2}] e_{t+1}(s+2)
        stay_or_step = np.logaddexp(emitted, _shift_left(emitted, 1))
        recursion = np.logaddexp(stay_or_step, _shift_left(_masked(skip, emitted), 2))
        # sequences whose last frame is t start here; those that ended before t are 0
        at_end = (input_lengths - 1 == t)[:, None]
        after_end = (input_lengths - 1 < t)[:, None]
        log_beta.append(np.where(at_end, log_beta_end, np.where(after_end, -np.inf, recursion)))
    return np.stack(log_beta[::-1], axis=1)


def end_states(L_n: Array, L: int) -> Array:
    """``(N, L)`` masks of the states a path may end in: ``2 S_n`` and ``2 S_n - 1``.

    ``L_n = 2 S_n + 1`` states are real for sequence ``n`` (an empty target has one).
    """
    s = np.arange(L)
    return (s >= L_n[:, None] - 2) & (s < L_n[:, None])


def _shift_right(a: Array, k: int) -> Array:
    """``b_s = a_{s-k}`` along the last axis (``-inf`` for ``s < k``)."""
    padded = np.concatenate([np.full((*a.shape[:-1], k), -np.inf, a.dtype), a], -1)
    return padded[..., : a.shape[-1]]


def _shift_left(a: Array, k: int) -> Array:
    """``b_s = a_{s+k}`` along the last axis (``-inf`` beyond the end)."""
    padded = np.concatenate([a, np.full((*a.shape[:-1], k), -np.inf, a.dtype)], -1)
    return padded[..., k:]


def _masked(mask: Array, log_a: Array) -> Array:
    """``ln([mask] a)``: ``ln a`` where ``mask``, ``-inf`` elsewhere."""
    return np.where(mask, log_a, -np.inf)


def _one_hot(l_ext: Array, K: int, dtype: Any) -> Array:
    """``E (N, 2S + 1, K)`` with ``E[n, s, k] = [l'_s = k]``."""
    return (l_ext[:, :, None] == np.arange(K)).astype(dtype)


def _check(logits: Any, target: Any, blank: int) -> tuple[Array, Array, Array, Array]:
    """Validate ``(logits, (labels, input_lengths, target_lengths))``; errors name ``ctc``."""
    X = as_float_array("ctc", "logits", logits)
    if X.ndim != 3:
        raise ValueError(f"ctc: expected logits of shape (N, T, K), got {X.shape}")
    N, T, K = X.shape
    if N == 0 or T == 0:
        raise ValueError(f"ctc: expected a non-empty batch and T >= 1, got logits {X.shape}")
    if not 0 <= blank < K:
        raise ValueError(f"ctc: blank index {blank} is outside [0, {K}) for K = {K} classes")
    if not isinstance(target, (tuple, list)) or len(target) != 3:
        raise TypeError(
            "ctc: expected target (labels, input_lengths, target_lengths), "
            f"got {type(target).__name__}"
        )
    labels, T_n, S_n = (_ints(name, a) for name, a in zip(_TARGET_NAMES, target))
    if labels.ndim != 2 or labels.shape[0] != N:
        raise ValueError(f"ctc: expected labels of shape ({N}, S), got {labels.shape}")
    S = labels.shape[1]
    for name, lengths, low, high in (("input_lengths", T_n, 1, T), ("target_lengths", S_n, 0, S)):
        if lengths.shape != (N,):
            raise ValueError(f"ctc: expected {name} of shape ({N},), got {lengths.shape}")
        bad = np.flatnonzero((lengths < low) | (lengths > high))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"ctc: {name}[{i}] = {lengths[i]} is outside [{low}, {high}]")
    real = np.arange(S) < S_n[:, None]
    bad_label = real & ((labels < 0) | (labels >= K) | (labels == blank))
    if bad_label.any():
        n, i = (int(v) for v in np.argwhere(bad_label)[0])
        raise ValueError(
            f"ctc: labels[{n}, {i}] = {labels[n, i]} must be in [0, {K}) and not the blank {blank}"
        )
    return X, labels.astype(np.int64), T_n.astype(np.int64), S_n.astype(np.int64)


_TARGET_NAMES = ("labels", "input_lengths", "target_lengths")


def _ints(name: str, x: Any) -> Array:
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"ctc: {name} must be integers, got dtype {a.dtype}")
    return a


ctc = ctc_loss(0)
"""The CTC loss with blank index 0 (``ctc_loss(blank=k)`` for another blank).

``ctc.apply(logits (N, T, K), (labels (N, S), input_lengths (N,), target_lengths (N,)))``
is PyTorch's ``ctc_loss(..., reduction="mean")`` on ``log_softmax(logits)``; see
:func:`ctc_loss` and the module docstring for the recursions and the gradient.
"""
