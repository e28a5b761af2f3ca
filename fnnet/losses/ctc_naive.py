"""CTC by brute force: enumerate all ``K^T`` paths (tiny ``T`` and ``K`` only).

The definition of CTC, with no lattice and no recursion, as a reference for the tests
and the notebooks:

    p(l | x) = sum_{pi in {0..K-1}^T : B(pi) = l} prod_t y_t(pi_t)

with ``B`` the collapse (merge repeats, then drop blanks). ``labelling_log_probs`` sums the
paths of every labelling at once, which also gives the exact most probable labelling that
decoding looks for.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy import special

from fnnet.losses.base import Array

__all__ = ["collapse", "labelling_log_probs", "naive_ctc_loss", "naive_nll"]

MAX_PATHS = 2_000_000


def collapse(path: Any, blank: int = 0) -> tuple[int, ...]:
    """``B(pi)``: merge runs of equal symbols, then drop blanks (``a a - a b - -> a a b``)."""
    merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
    return tuple(int(k) for k in merged if k != blank)


def labelling_log_probs(logits: Array, blank: int = 0) -> dict[tuple[int, ...], float]:
    """``{l: ln p(l | x)}`` over every labelling reachable from ``logits (T, K)``.

    ``ln p(l | x) = ln sum_{pi : B(pi) = l} prod_t softmax(logits_t)(pi_t)``, by enumerating
    all ``K^T`` paths.
    """
    X = np.asarray(logits, dtype=np.float64)
    T, K = X.shape
    if K**T > MAX_PATHS:
        raise ValueError(f"labelling_log_probs: K^T = {K}^{T} paths is too many to enumerate")
    log_y = X - special.logsumexp(X, axis=1, keepdims=True)
    by_labelling: dict[tuple[int, ...], list[float]] = {}
    for path in itertools.product(range(K), repeat=T):
        # ln prod_t y_t(pi_t) = sum_t ln y_t(pi_t)
        log_path = float(sum(log_y[t, k] for t, k in enumerate(path)))
        by_labelling.setdefault(collapse(path, blank), []).append(log_path)
    return {l: float(special.logsumexp(v)) for l, v in by_labelling.items()}


def naive_nll(logits: Array, labels: Any, blank: int = 0) -> float:
    """``-ln p(l | x)`` for one sequence ``logits (T, K)``; ``inf`` when no path gives ``l``."""
    table = labelling_log_probs(logits, blank)
    return -table.get(tuple(int(k) for k in labels), -np.inf)


def naive_ctc_loss(logits: Array, target: Any, blank: int = 0) -> float:
    """``(1/N) sum_n -ln p(l_n | x_n) / max(S_n, 1)`` for ``logits (N, T, K)``, by brute force.

    ``target = (labels (N, S), input_lengths (N,), target_lengths (N,))``, as ``fnnet.losses.ctc``.
    """
    labels, input_lengths, target_lengths = (np.asarray(a) for a in target)
    X = np.asarray(logits)
    nll = [
        naive_nll(X[n, : input_lengths[n]], labels[n, : target_lengths[n]], blank)
        for n in range(X.shape[0])
    ]
    return float(np.mean(np.array(nll) / np.maximum(target_lengths, 1)))
