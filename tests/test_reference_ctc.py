"""CTC against PyTorch's F.ctc_loss (reduction="mean") in float64: value and dL/dlogits."""

import numpy as np
import pytest

from fnnet.losses import ctc, ctc_loss

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_ctc(logits, labels, input_lengths, target_lengths, blank):
    """PyTorch's loss of log_softmax(logits), and its gradient w.r.t. the logits."""
    X = torch.tensor(logits, requires_grad=True)
    log_probs = torch.log_softmax(X, dim=2).transpose(0, 1)  # (T, N, K)
    loss = F.ctc_loss(
        log_probs,
        torch.tensor(labels),
        torch.tensor(input_lengths),
        torch.tensor(target_lengths),
        blank=blank,
        reduction="mean",
    )
    loss.backward()
    return loss.item(), X.grad.numpy()


def case(seed, N, T, K, S, blank):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(N, T, K)) * 3
    symbols = [k for k in range(K) if k != blank]
    labels = rng.choice(symbols, size=(N, S))
    labels[0, 1:3] = symbols[-1]  # repeated labels
    target_lengths = rng.integers(0, S + 1, size=N)
    target_lengths[0] = S
    # input lengths from the shortest feasible (S_n + repeats) to T
    repeats = [(np.diff(labels[n, : target_lengths[n]]) == 0).sum() for n in range(N)]
    low = target_lengths + np.array(repeats)
    input_lengths = np.array([rng.integers(max(lo, 1), T + 1) for lo in low])
    return logits, labels, input_lengths, target_lengths


@pytest.mark.parametrize(
    ("seed", "N", "T", "K", "S", "blank"),
    [
        (0, 1, 6, 3, 3, 0),
        (1, 4, 12, 5, 4, 0),
        (2, 8, 30, 6, 10, 0),
        (3, 5, 20, 7, 6, 4),
        (4, 3, 15, 4, 5, 3),
        (5, 16, 50, 10, 20, 0),
    ],
)
def test_value_and_gradient_match_pytorch(seed, N, T, K, S, blank):
    logits, labels, T_n, S_n = case(seed, N, T, K, S, blank)
    value, pullback = ctc_loss(blank).vjp(logits, (labels, T_n, S_n))
    expected, grad = torch_ctc(logits, labels, T_n, S_n, blank)
    assert value == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(pullback(), grad, rtol=1e-9, atol=1e-13)


def test_shortest_feasible_inputs_and_empty_targets_match_pytorch():
    logits = np.random.default_rng(9).normal(size=(3, 5, 4))
    labels = np.array([[1, 1, 2], [3, 2, 1], [0, 0, 0]])
    # "1 1 2" needs 4 frames (1 - 1 2), "3 2 1" needs 3; the empty target any number
    T_n, S_n = np.array([4, 3, 2]), np.array([3, 3, 0])
    value, pullback = ctc.vjp(logits, (labels, T_n, S_n))
    expected, grad = torch_ctc(logits, labels, T_n, S_n, 0)
    assert value == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(pullback(), grad, rtol=1e-9, atol=1e-13)


def test_impossible_alignment_is_inf_as_pytorch():
    logits = np.random.default_rng(10).normal(size=(2, 4, 3))
    labels = np.array([[1, 1], [1, 2]])
    T_n, S_n = np.array([2, 4]), np.array([2, 2])
    expected, _ = torch_ctc(logits, labels, T_n, S_n, 0)
    assert expected == np.inf
    assert ctc.apply(logits, (labels, T_n, S_n)) == np.inf
