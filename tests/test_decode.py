"""Greedy and prefix beam-search decoding against brute force over all K^T paths."""

import itertools

import numpy as np
import pytest

from fnnet import decode
from fnnet.losses.ctc_naive import collapse, labelling_log_probs


def log_softmax(X):
    return X - np.log(np.exp(X).sum(axis=-1, keepdims=True))


def best_path(logits):
    """The most probable path by enumeration, and its log probability."""
    log_y = log_softmax(logits)
    T, K = log_y.shape
    paths = itertools.product(range(K), repeat=T)
    scored = [(sum(log_y[t, k] for t, k in enumerate(p)), p) for p in paths]
    log_p, path = max(scored)
    return path, log_p


@pytest.mark.parametrize("seed", range(12))
def test_greedy_is_the_collapsed_best_path(seed):
    rng = np.random.default_rng(seed)
    T, K = int(rng.integers(1, 6)), int(rng.integers(2, 5))
    blank = int(rng.integers(0, K))
    X = rng.normal(size=(3, T, K)) * 2
    for (labels, log_p), x in zip(decode.greedy(X, blank=blank), X):
        path, expected = best_path(x)
        assert labels == list(collapse(path, blank))
        assert all(isinstance(k, int) for k in labels)
        assert log_p == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_wide_beam_finds_the_most_probable_labelling_exactly(seed):
    rng = np.random.default_rng(100 + seed)
    T, K = int(rng.integers(1, 6)), int(rng.integers(2, 5))
    blank = int(rng.integers(0, K))
    X = rng.normal(size=(2, T, K)) * 2
    for (labels, log_p), x in zip(decode.beam_search(X, beam_width=K**T, blank=blank), X):
        table = labelling_log_probs(x, blank)
        best = max(table, key=table.get)
        assert labels == list(best)
        assert log_p == pytest.approx(table[best], rel=1e-12)


@pytest.mark.parametrize("beam_width", [1, 2, 3])
def test_a_narrow_beam_reports_at_most_the_labelling_probability(beam_width):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 5, 3))
    for (labels, log_p), x in zip(decode.beam_search(X, beam_width), X):
        # the beam sums only the paths it kept: a lower bound on ln p(labels)
        assert log_p <= labelling_log_probs(x)[tuple(labels)] + 1e-12


def test_best_path_is_not_the_best_labelling():
    # y_t = (blank 0.6, a 0.4) twice: best path "- -" -> "" (0.36); "a" has a-, -a, aa = 0.64
    X = np.log(np.array([[[0.6, 0.4], [0.6, 0.4]]]))
    [(labels, log_p)] = decode.greedy(X)
    assert labels == [] and log_p == pytest.approx(np.log(0.36))
    [(labels, log_p)] = decode.beam_search(X, beam_width=4)
    assert labels == [1] and log_p == pytest.approx(np.log(0.64))


def test_repeats_need_a_blank_between_them():
    # frames a, a, -, a: the greedy path collapses to "a a"
    X = np.log(np.array([[[0.1, 0.9], [0.1, 0.9], [0.9, 0.1], [0.1, 0.9]]]))
    assert decode.greedy(X)[0][0] == [1, 1]
    table = labelling_log_probs(X[0])
    best = max(table, key=table.get)
    assert decode.beam_search(X, 16)[0][0] == list(best) == [1, 1]


def test_lengths_cut_each_item():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3, 6, 4)) * 2
    lengths = np.array([6, 2, 0])
    for decoder in (decode.greedy, lambda x, **kw: decode.beam_search(x, 8, **kw)):
        cut = decoder(X, lengths=lengths)
        for n in range(3):
            assert cut[n] == decoder(X[n : n + 1, : lengths[n]])[0]
        assert cut[2] == ([], 0.0)


def test_greedy_and_beam_accept_float32_and_lists_and_leave_inputs_alone():
    X = np.random.default_rng(5).normal(size=(2, 4, 3)).astype(np.float32)
    copy = X.copy()
    assert decode.greedy(X) == decode.greedy(X.astype(np.float64))
    assert decode.beam_search(X.tolist(), 5)[0][0] == decode.beam_search(X, 5)[0][0]
    np.testing.assert_array_equal(X, copy)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: decode.greedy(np.zeros((4, 3))),
            ValueError,
            r"greedy: expected logits of shape \(N, T, K\), got \(4, 3\)",
        ),
        (
            lambda: decode.greedy(np.zeros((1, 4, 3)), blank=3),
            ValueError,
            r"greedy: blank index 3 is outside \[0, 3\)",
        ),
        (
            lambda: decode.greedy(np.zeros((1, 4, 3), complex)),
            TypeError,
            "greedy: logits must be real",
        ),
        (
            lambda: decode.greedy(np.zeros((2, 4, 3)), lengths=[4]),
            ValueError,
            r"greedy: expected integer lengths of shape \(2,\)",
        ),
        (
            lambda: decode.greedy(np.zeros((2, 4, 3)), lengths=[4, 5]),
            ValueError,
            r"greedy: lengths\[1\] = 5 is outside \[0, 4\]",
        ),
        (
            lambda: decode.beam_search(np.zeros((1, 4, 3)), 0),
            ValueError,
            "beam_search: beam_width must be >= 1, got 0",
        ),
        (
            lambda: decode.beam_search(np.zeros((1, 4, 3)), 2.5),
            TypeError,
            "beam_search: beam_width must be an int",
        ),
        (
            lambda: decode.beam_search(np.zeros((1, 4, 3)), 2, blank=-1),
            ValueError,
            "beam_search: blank index -1",
        ),
        (lambda: decode.beam_search(np.zeros(3), 2), ValueError, "beam_search: expected logits"),
    ],
)
def test_errors_name_the_decoder(call, error, match):
    with pytest.raises(error, match=match):
        call()
