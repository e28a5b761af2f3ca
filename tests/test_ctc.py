"""The CTC loss: brute force over all paths, finite differences, the lattice identities, errors."""

import numpy as np
import pytest

import fnnet
from fnnet import layers, losses
from fnnet.losses import Loss, ctc, ctc_loss
from fnnet.losses.ctc import alpha_recursion, beta_recursion, extend_labels
from fnnet.losses.ctc_naive import collapse, naive_ctc_loss, naive_nll


def batch(seed, N=4, T=5, K=4, S=3, blank=0, scale=2.0):
    """Random logits and a padded target with different lengths, a repeated label, junk padding."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, T, K)) * scale
    symbols = [k for k in range(K) if k != blank]
    labels = rng.choice(symbols, size=(N, S))
    labels[0, :2] = symbols[0]  # a repeated label: needs a blank between the two
    input_lengths = rng.integers(S + 1, T + 1, size=N)
    input_lengths[0] = T
    target_lengths = rng.integers(0, S + 1, size=N)
    target_lengths[0] = S
    labels[np.arange(S) >= target_lengths[:, None]] = -7  # padding is never read
    return X, (labels, input_lengths, target_lengths)


def fixed(loss, target):
    """The loss as a function of the logits alone, for check_loss_grads."""
    return Loss(lambda x, _: loss.apply(x, target), lambda x, _: loss.vjp(x, target))


def test_collapse_merges_repeats_then_drops_blanks():
    assert collapse([1, 1, 0, 1, 2, 0]) == (1, 1, 2)
    assert collapse([2, 2, 2], blank=2) == ()
    assert collapse([0, 1, 1, 1, 0], blank=1) == (0, 0)


@pytest.mark.parametrize("blank", [0, 2])
@pytest.mark.parametrize("seed", range(4))
def test_value_is_the_sum_over_all_paths(seed, blank):
    X, target = batch(seed, blank=blank)
    value = ctc_loss(blank).apply(X, target)
    assert np.isfinite(value)
    assert value == pytest.approx(naive_ctc_loss(X, target, blank), rel=1e-11)


def test_ctc_is_the_blank_zero_loss():
    X, target = batch(7)
    assert ctc.apply(X, target) == ctc_loss(0).apply(X, target)
    assert ctc.apply(X, target) != pytest.approx(ctc_loss(3).apply(X, batch(7, blank=3)[1]))


def test_one_sequence_by_hand():
    # T = 2, K = 2, target "a" (a = 1): paths a-, -a, aa
    y = np.array([[0.7, 0.3], [0.4, 0.6]])
    p = y[0, 1] * y[1, 0] + y[0, 0] * y[1, 1] + y[0, 1] * y[1, 1]
    target = (np.array([[1]]), np.array([2]), np.array([1]))
    assert ctc.apply(np.log(y)[None], target) == pytest.approx(-np.log(p), rel=1e-14)
    # an empty target: only the all-blank path
    empty = (np.zeros((1, 0), int), np.array([2]), np.array([0]))
    assert ctc.apply(np.log(y)[None], empty) == pytest.approx(-np.log(0.7 * 0.4), rel=1e-14)


@pytest.mark.parametrize("blank", [0, 3])
@pytest.mark.parametrize("seed", range(3))
def test_gradient_matches_finite_differences(seed, blank):
    X, target = batch(seed, blank=blank)
    assert fnnet.check_loss_grads(fixed(ctc_loss(blank), target), X, X, tol=1e-7) < 1e-7


def test_gradient_behind_a_linear_layer():
    # logits_{n,t} = W a_{n,t} + b, the same Linear on every frame (applied to (N T, C))
    N, T, C, K = 3, 5, 4, 4
    _, target = batch(11, N=N, T=T, K=K, S=2)
    A = np.random.default_rng(0).normal(size=(N * T, C))
    lin = layers.Linear(C, K, dtype=np.float64)
    _, params, _ = lin.init(fnnet.random.key(0), (N * T, C))

    def objective(W, b, A):
        Z, _ = lin.apply({"W": W, "b": b}, {}, A)
        return ctc.apply(Z.reshape(N, T, K), target)

    Z, _, pullback = lin.vjp(params, {}, A)
    _, loss_pullback = ctc.vjp(Z.reshape(N, T, K), target)
    grads, dA = pullback(loss_pullback().reshape(N * T, K))
    W, b = np.array(params["W"]), np.array(params["b"])
    numeric = [
        numeric_grad(lambda w: objective(w, b, A), W),
        numeric_grad(lambda v: objective(W, v, A), b),
        numeric_grad(lambda a: objective(W, b, a), A),
    ]
    for analytic, num in zip([grads["W"], grads["b"], dA], numeric):
        np.testing.assert_allclose(analytic, num, rtol=1e-6, atol=1e-9)
    assert np.abs(dA).max() > 1e-3


def numeric_grad(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up) - f(down)) / (2 * eps)
    return grad


def test_alpha_beta_give_p_at_every_frame_and_occupancies_sum_to_one():
    X, (labels, T_n, S_n) = batch(3, N=3, T=6, S=2)
    log_y = X - np.log(np.exp(X).sum(axis=2, keepdims=True))
    l_ext, skip = extend_labels(labels, S_n, 0)
    log_y_ext = np.take_along_axis(log_y, l_ext[:, None, :], axis=2)
    alpha = np.exp(alpha_recursion(log_y_ext, skip))
    beta = np.exp(beta_recursion(log_y_ext, skip, T_n, 2 * S_n + 1))
    for n in range(3):
        p = np.exp(-naive_nll(X[n, : T_n[n]], labels[n, : S_n[n]]))
        # p = sum_s alpha_t(s) beta_t(s) for every t < T_n; beta = 0 beyond T_n
        np.testing.assert_allclose((alpha[n] * beta[n]).sum(axis=1)[: T_n[n]], p, rtol=1e-12)
        assert np.all(beta[n, T_n[n] :] == 0)
        # p = alpha_{T-1}(2S) + alpha_{T-1}(2S - 1)
        L = 2 * S_n[n] + 1
        end = alpha[n, T_n[n] - 1, max(L - 2, 0) : L].sum()
        assert end == pytest.approx(p, rel=1e-12)


def test_extended_labelling_and_skips():
    l_ext, skip = extend_labels(np.array([[1, 1, 2], [3, 9, 9]]), np.array([3, 1]), 0)
    assert l_ext.tolist() == [[0, 1, 0, 1, 0, 2, 0], [0, 3, 0, 0, 0, 0, 0]]
    # no skip into a blank, nor between the two equal 1s; 1 -> 2 may skip the blank
    assert skip.tolist()[0] == [False, False, False, False, False, True, False]
    assert not skip[1].any()


def test_gradient_is_zero_beyond_each_input_length_and_frames_sum_to_zero():
    X, target = batch(5, N=4, T=7)
    target[1][:] = [7, 5, 4, 6]
    d = ctc.vjp(X, target)[1]()
    for n, T_n in enumerate(target[1]):
        assert np.all(d[n, T_n:] == 0)
        assert np.abs(d[n, :T_n]).min() > 0
        # softmax - occupancy: each frame's gradient sums to 1 - 1 = 0
        np.testing.assert_allclose(d[n, :T_n].sum(axis=1), 0, atol=1e-15)


def test_reduction_divides_by_target_length_then_averages():
    X, target = batch(2, N=3, T=6, S=3)
    labels, T_n, S_n = target
    S_n[:] = [3, 1, 0]
    nll = [naive_nll(X[n, : T_n[n]], labels[n, : S_n[n]]) for n in range(3)]
    expected = (nll[0] / 3 + nll[1] / 1 + nll[2] / 1) / 3
    assert ctc.apply(X, target) == pytest.approx(expected, rel=1e-12)
    _, pullback = ctc.vjp(X, target)
    np.testing.assert_allclose(pullback(2.5), 2.5 * pullback(), rtol=1e-15)
    np.testing.assert_array_equal(pullback(), pullback())


def test_impossible_alignment_is_inf_with_a_zero_gradient():
    # "a a" needs 3 frames (a - a); "a b c" needs 3
    X = np.random.default_rng(0).normal(size=(3, 4, 4))
    labels = np.array([[1, 1, 0], [1, 2, 3], [2, 0, 0]])
    target = (labels, np.array([2, 3, 4]), np.array([2, 3, 1]))
    assert naive_ctc_loss(X, target) == np.inf
    value, pullback = ctc.vjp(X, target)
    assert value == np.inf
    d = pullback()
    assert np.all(np.isfinite(d))
    assert np.all(d[0] == 0)
    # the possible sequences keep their own gradients (scaled by the batch size 3)
    for n in (1, 2):
        one = (labels[n : n + 1], target[1][n : n + 1], target[2][n : n + 1])
        np.testing.assert_allclose(d[n], ctc.vjp(X[n : n + 1], one)[1]()[0] / 3, rtol=1e-12)


def test_float32_stays_float32_and_agrees_with_float64():
    X, target = batch(4)
    v32, pb32 = ctc.vjp(X.astype(np.float32), target)
    v64, pb64 = ctc.vjp(X, target)
    assert isinstance(v32, float)
    assert pb32().dtype == np.float32
    assert v32 == pytest.approx(v64, rel=1e-5)
    np.testing.assert_allclose(pb32(), pb64(), rtol=1e-4, atol=1e-6)


def test_inputs_are_not_mutated_and_lists_are_accepted():
    X, target = batch(6)
    copies = [X.copy()] + [t.copy() for t in target]
    value, pullback = ctc.vjp(X, target)
    pullback()
    for a, b in zip([X, *target], copies):
        np.testing.assert_array_equal(a, b)
    as_lists = tuple(t.tolist() for t in target)
    assert ctc.apply(X.tolist(), as_lists) == value
    assert losses.ctc is ctc


def test_a_long_sequence_does_not_underflow():
    X, target = batch(8, N=2, T=400, K=5, S=60, scale=1.0)
    value, pullback = ctc.vjp(X, target)
    assert np.isfinite(value) and value > 0
    assert np.all(np.isfinite(pullback()))


@pytest.mark.parametrize(
    ("logits", "target", "error", "match"),
    [
        (np.zeros((2, 5)), None, ValueError, r"ctc: expected logits of shape \(N, T, K\)"),
        (np.zeros((2, 5, 3), complex), None, TypeError, "ctc: logits must be numeric"),
        (np.zeros((2, 5, 3)), ([[1], [1]], [5, 5]), TypeError, "ctc: expected target"),
        (np.zeros((2, 5, 3)), ([1, 1], [5, 5], [1, 1]), ValueError, r"labels of shape \(2, S\)"),
        (np.zeros((2, 5, 3)), ([[1.0], [1]], [5, 5], [1, 1]), TypeError, "labels must be integers"),
        (
            np.zeros((2, 5, 3)),
            ([[1], [1]], [5], [1, 1]),
            ValueError,
            r"input_lengths of shape \(2,\)",
        ),
        (
            np.zeros((2, 5, 3)),
            ([[1], [1]], [5, 6], [1, 1]),
            ValueError,
            r"input_lengths\[1\] = 6 is outside \[1, 5\]",
        ),
        (np.zeros((2, 5, 3)), ([[1], [1]], [0, 5], [1, 1]), ValueError, r"input_lengths\[0\] = 0"),
        (
            np.zeros((2, 5, 3)),
            ([[1], [1]], [5, 5], [1, 2]),
            ValueError,
            r"target_lengths\[1\] = 2 is outside \[0, 1\]",
        ),
        (
            np.zeros((2, 5, 3)),
            ([[1], [1]], [5, 5], [-1, 1]),
            ValueError,
            r"target_lengths\[0\] = -1",
        ),
        (
            np.zeros((2, 5, 3)),
            ([[1], [0]], [5, 5], [1, 1]),
            ValueError,
            r"labels\[1, 0\] = 0 must be in \[0, 3\) and not the blank 0",
        ),
        (np.zeros((2, 5, 3)), ([[1], [3]], [5, 5], [1, 1]), ValueError, r"labels\[1, 0\] = 3"),
        (np.zeros((2, 5, 3)), ([[1], [-2]], [5, 5], [1, 1]), ValueError, r"labels\[1, 0\] = -2"),
        (
            np.zeros((0, 5, 3)),
            (np.zeros((0, 1), int), [], []),
            ValueError,
            "ctc: expected a non-empty batch",
        ),
    ],
)
def test_errors_name_ctc(logits, target, error, match):
    with pytest.raises(error, match=match):
        ctc.apply(logits, target)
    with pytest.raises(error, match=match):
        ctc.vjp(logits, target)


def test_blank_out_of_range():
    X, target = batch(0, K=4)
    with pytest.raises(ValueError, match=r"ctc: blank index 4 is outside \[0, 4\)"):
        ctc_loss(4).apply(X, target)
    with pytest.raises(ValueError, match=r"ctc: labels\[0, 0\] = 1 .* not the blank 1"):
        ctc_loss(1).apply(X, (np.array([[1, 2, 3]] * 4), np.full(4, 5), np.full(4, 3)))


def test_blank_is_checked_when_the_loss_is_made():
    with pytest.raises(ValueError, match="ctc: blank must be a class index >= 0, got -1"):
        ctc_loss(-1)
    with pytest.raises(TypeError, match="ctc: blank must be an int"):
        ctc_loss(1.5)
