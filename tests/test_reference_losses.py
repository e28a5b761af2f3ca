"""Losses against PyTorch: values and gradients."""

import numpy as np
import pytest

from fnnet import losses, random

torch = pytest.importorskip("torch")
F = torch.nn.functional


def check(loss, ref, pred, target, torch_target):
    value, pullback = loss.vjp(pred, target)
    pt = torch.tensor(pred, requires_grad=True)
    vt = ref(pt, torch_target)
    vt.backward()
    assert value == pytest.approx(vt.item(), rel=1e-6, abs=1e-7)
    np.testing.assert_allclose(pullback(), pt.grad.numpy(), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mse(dtype):
    pred = random.normal(random.key(0), (7, 3), dtype)
    target = random.normal(random.key(1), (7, 3), dtype)
    check(losses.mse, F.mse_loss, pred, target, torch.tensor(target))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_integer_and_one_hot(dtype):
    pred = random.normal(random.key(0), (9, 4), dtype) * 5
    labels = random.randint(random.key(1), (9,), 0, 4)
    check(losses.cross_entropy, F.cross_entropy, pred, labels, torch.tensor(labels))
    one_hot = np.eye(4, dtype=dtype)[labels]
    check(losses.cross_entropy, F.cross_entropy, pred, one_hot, torch.tensor(one_hot))


def test_cross_entropy_soft_targets_and_huge_logits():
    pred = np.array([[1e4, -1e4, 3.0], [0.0, 2e3, -5e3]])
    probs = np.array([[0.5, 0.25, 0.25], [0.1, 0.0, 0.9]])
    check(losses.cross_entropy, F.cross_entropy, pred, probs, torch.tensor(probs))


def test_cross_entropy_targets_whose_rows_do_not_sum_to_one():
    # PyTorch accepts any (N, C) targets; dL/dA = (softmax(A) sum_c Y_c - Y) / N matches it
    pred = random.normal(random.key(0), (6, 4), np.float64) * 3
    target = random.uniform(random.key(1), (6, 4), np.float64) * 2
    assert not np.allclose(target.sum(axis=1), 1)
    check(losses.cross_entropy, F.cross_entropy, pred, target, torch.tensor(target))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_with_logits(dtype):
    pred = random.normal(random.key(0), (6, 2), dtype) * 10
    target = random.uniform(random.key(1), (6, 2), dtype)
    check(
        losses.binary_cross_entropy,
        F.binary_cross_entropy_with_logits,
        pred,
        target,
        torch.tensor(target),
    )


@pytest.mark.parametrize(
    ("loss", "ref", "target"),
    [
        (losses.mse, F.mse_loss, random.normal(random.key(3), (5, 3), np.float64)),
        (losses.cross_entropy, F.cross_entropy, random.randint(random.key(4), (5,), 0, 3)),
        (
            losses.binary_cross_entropy,
            F.binary_cross_entropy_with_logits,
            random.uniform(random.key(5), (5, 3), np.float64),
        ),
    ],
)
def test_pullback_of_a_cotangent_g_matches_torch_in_float64(loss, ref, target):
    pred = random.normal(random.key(2), (5, 3), np.float64) * 3
    value, pullback = loss.vjp(pred, target)
    pt = torch.tensor(pred, requires_grad=True)
    vt = ref(pt, torch.tensor(target))
    vt.backward(torch.tensor(-2.5, dtype=torch.float64))
    assert value == pytest.approx(vt.item(), rel=1e-12)
    np.testing.assert_allclose(pullback(-2.5), pt.grad.numpy(), rtol=1e-12, atol=1e-15)
