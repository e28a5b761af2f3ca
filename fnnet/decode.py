"""Decoding CTC outputs: from per-frame scores ``(N, T, K)`` to label sequences.

Both decoders return, per batch item, a pair ``(labels, log_prob)``: ``labels`` a
``list[int]`` (blanks removed, repeats collapsed) and ``log_prob`` a ``float``:

- :func:`greedy` (best path): ``pi_t = argmax_k y_t(k)``, ``labels = B(pi)``;
  ``log_prob = sum_t ln y_t(pi_t)``, the log probability of that single *path*.
- :func:`beam_search` (prefix beam search): ``log_prob = ln p(labels | x)`` summed over all the
  paths the beam kept (with an unbounded beam, exactly ``ln p(labels | x)``).

The most probable path need not collapse to the most probable labelling: a labelling's
probability is a sum over many paths (``p(a) = p(a a) + p(a -) + p(- a) + ...``). Beam search
tracks those sums; with a beam as wide as the number of prefixes it finds the exact argmax.

``y_t = softmax(logits_t)`` (log-softmax inside, as :data:`fnnet.losses.ctc`); ``lengths
(N,)`` (optional) limits item ``n`` to its first ``lengths[n]`` frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = ["beam_search", "greedy"]

Array = NDArray[Any]
Decoded = list[tuple[list[int], float]]


def greedy(logits: Any, blank: int = 0, *, lengths: Any = None) -> Decoded:
    """Best-path decoding of ``logits (N, T, K)``: per item ``(B(argmax path), its log prob)``.

    ``pi_t = argmax_k y_t(k)``; ``labels = B(pi)`` (merge repeats, drop blanks);
    ``log_prob = sum_{t < T_n} ln y_t(pi_t)``.
    """
    log_y, T_n = _prepare("greedy", logits, blank, lengths)
    decoded: Decoded = []
    for n in range(log_y.shape[0]):
        # pi_t = argmax_k ln y_t(k) for t < T_n
        path = np.argmax(log_y[n, : T_n[n]], axis=1)
        # ln p(pi) = sum_t ln y_t(pi_t)
        log_p = float(np.take_along_axis(log_y[n, : T_n[n]], path[:, None], axis=1).sum())
        decoded.append((_collapse(path, blank), log_p))
    return decoded


def beam_search(
    logits: Any, beam_width: int = 10, blank: int = 0, *, lengths: Any = None
) -> Decoded:
    """Prefix beam search over ``logits (N, T, K)``: per item ``(labels, ln p(labels))``.

    A beam entry is a label prefix ``l`` with two log probabilities: ``p_b(l)`` of the paths
    so far that collapse to ``l`` and end in a blank, ``p_nb(l)`` of those ending in ``l``'s
    last symbol. Paths that collapse to the same prefix are merged (their probabilities
    added). From frame ``t - 1`` to ``t``, with ``p(l) = p_b(l) + p_nb(l)``::

        blank:                 p_b'(l)     += p(l) y_t(blank)
        the last symbol again: p_nb'(l)    += p_nb(l) y_t(l_last)       (collapses into l)
                               p_nb'(l + k) += p_b(l) y_t(k)             (k = l_last, after a blank)
        another symbol k:      p_nb'(l + k) += p(l) y_t(k)

    then only the ``beam_width`` prefixes with the largest ``p`` are kept. The answer is the
    kept prefix with the largest ``p`` after the last frame.
    """
    if isinstance(beam_width, bool) or not isinstance(beam_width, (int, np.integer)):
        raise TypeError(f"beam_search: beam_width must be an int, got {beam_width!r}")
    if beam_width < 1:
        raise ValueError(f"beam_search: beam_width must be >= 1, got {beam_width}")
    log_y, T_n = _prepare("beam_search", logits, blank, lengths)
    return [_beam(log_y[n, : T_n[n]], int(beam_width), blank) for n in range(log_y.shape[0])]


Prefix = tuple[int, ...]


def _beam(log_y: Array, beam_width: int, blank: int) -> tuple[list[int], float]:
    """Prefix beam search of one sequence ``ln y (T, K)``; see :func:`beam_search`."""
    K = log_y.shape[1]
    # before the first frame: the empty prefix, reached by the empty path (p_b = 1)
    beams: dict[Prefix, tuple[float, float]] = {(): (0.0, -np.inf)}
    for log_y_t in log_y:
        log_b: dict[Prefix, float] = {}
        log_nb: dict[Prefix, float] = {}
        for l, (log_pb, log_pnb) in beams.items():
            log_p = np.logaddexp(log_pb, log_pnb)
            # p_b'(l) += p(l) y_t(blank)
            _add(log_b, l, log_p + log_y_t[blank])
            for k in range(K):
                if k == blank:
                    continue
                if l and k == l[-1]:
                    # p_nb'(l) += p_nb(l) y_t(k): a repeat of the last symbol collapses into l
                    _add(log_nb, l, log_pnb + log_y_t[k])
                    # p_nb'(l + k) += p_b(l) y_t(k): after a blank, the same symbol is new
                    _add(log_nb, (*l, k), log_pb + log_y_t[k])
                else:
                    # p_nb'(l + k) += p(l) y_t(k)
                    _add(log_nb, (*l, k), log_p + log_y_t[k])
        merged = {l: (log_b.get(l, -np.inf), log_nb.get(l, -np.inf)) for l in {**log_b, **log_nb}}
        # keep the beam_width prefixes with the largest p(l) = p_b(l) + p_nb(l)
        ranked = sorted(merged.items(), key=lambda item: -np.logaddexp(*item[1]))
        beams = dict(ranked[:beam_width])
    best, (log_pb, log_pnb) = max(beams.items(), key=lambda item: np.logaddexp(*item[1]))
    return list(best), float(np.logaddexp(log_pb, log_pnb))


def _add(table: dict[Prefix, float], l: Prefix, log_q: float) -> None:
    """``table[l] = ln(exp(table[l]) + exp(log_q))`` (``table[l]`` starts at ``ln 0``)."""
    table[l] = float(np.logaddexp(table.get(l, -np.inf), log_q))


def _collapse(path: Array, blank: int) -> list[int]:
    """``B(pi)``: merge runs of equal symbols, then drop blanks."""
    merged = [int(k) for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
    return [k for k in merged if k != blank]


def _prepare(name: str, logits: Any, blank: int, lengths: Any) -> tuple[Array, Array]:
    """``ln softmax(logits)`` and the frame counts, validated; errors name the decoder."""
    X = np.asarray(logits)
    if X.dtype.kind not in "fiu":
        raise TypeError(f"{name}: logits must be real numbers, got dtype {X.dtype}")
    if X.ndim != 3:
        raise ValueError(f"{name}: expected logits of shape (N, T, K), got {X.shape}")
    N, T, K = X.shape
    if not 0 <= blank < K:
        raise ValueError(f"{name}: blank index {blank} is outside [0, {K}) for K = {K} classes")
    X = X.astype(np.float64, copy=False)
    if lengths is None:
        T_n = np.full(N, T, dtype=np.int64)
    else:
        T_n = np.asarray(lengths)
        if T_n.dtype.kind not in "iu" or T_n.shape != (N,):
            raise ValueError(
                f"{name}: expected integer lengths of shape ({N},), got {T_n.dtype} {T_n.shape}"
            )
        bad = np.flatnonzero((T_n < 0) | (T_n > T))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{name}: lengths[{i}] = {T_n[i]} is outside [0, {T}]")
    return X - special.logsumexp(X, axis=2, keepdims=True), T_n
