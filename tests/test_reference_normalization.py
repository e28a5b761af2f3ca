"""BatchNorm1d/2d against PyTorch: outputs, gradients and running statistics.

fnnet's ``alpha`` is ``1 - momentum`` in PyTorch. PyTorch updates the running
variance with the unbiased batch variance; fnnet (like the course) uses the biased one,
so the running variance is compared with the biased formula instead.
"""

from __future__ import annotations

import numpy as np
import pytest

from fnnet import random
from fnnet.layers import BatchNorm1d, BatchNorm2d

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.reference

ALPHA, EPS = 0.8, 1e-5


def setup(C: int, x_shape: tuple[int, ...], dtype=np.float64, seed: int = 0):
    ks = random.split(random.key(seed), 6)
    params = {
        "gamma": random.uniform(ks[0], (C,), dtype, 0.5, 2.0),
        "beta": random.normal(ks[1], (C,), dtype),
    }
    state = {
        "mean": random.normal(ks[2], (C,), dtype),
        "var": random.uniform(ks[3], (C,), dtype, 0.5, 2.0),
    }
    x = random.normal(ks[4], x_shape, dtype) * 2.0 + 0.5
    u = random.normal(ks[5], x_shape, dtype)
    return params, state, x, u


def torch_bn(cls, params, state):
    C = params["gamma"].shape[0]
    dtype = torch.float64 if params["gamma"].dtype == np.float64 else torch.float32
    bn = cls(C, eps=EPS, momentum=1 - ALPHA, dtype=dtype)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(params["gamma"]))
        bn.bias.copy_(torch.from_numpy(params["beta"]))
        bn.running_mean.copy_(torch.from_numpy(state["mean"]))
        bn.running_var.copy_(torch.from_numpy(state["var"]))
    return bn


def run_torch(bn, x, u, train: bool, nchw: bool = False):
    bn.train(train)
    xt = torch.tensor(x, requires_grad=True)
    inp = xt.permute(0, 3, 1, 2) if nchw else xt  # NHWC -> NCHW
    out = bn(inp)
    out = out.permute(0, 2, 3, 1) if nchw else out  # NCHW -> NHWC
    out.backward(torch.from_numpy(u))
    return (
        out.detach().numpy(),
        xt.grad.numpy(),
        bn.weight.grad.numpy(),
        bn.bias.grad.numpy(),
        bn.running_mean.numpy(),
        bn.running_var.numpy(),
    )


CASES = [
    (BatchNorm1d, torch.nn.BatchNorm1d, 3, (7, 3), False),
    (BatchNorm2d, torch.nn.BatchNorm2d, 4, (3, 5, 6, 4), True),
]


@pytest.mark.parametrize(("ours", "theirs", "C", "shape", "nchw"), CASES)
def test_train_mode_matches_pytorch(ours, theirs, C, shape, nchw):
    params, state, x, u = setup(C, shape)
    y, new_state, pullback = ours(C, alpha=ALPHA, eps=EPS).vjp(params, state, x, train=True)
    grads, dx = pullback(u)
    t_y, t_dx, t_dgamma, t_dbeta, t_mean, t_var = run_torch(
        torch_bn(theirs, params, state), x, u, train=True, nchw=nchw
    )
    np.testing.assert_allclose(y, t_y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grads["gamma"], t_dgamma, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["beta"], t_dbeta, rtol=1e-10, atol=1e-12)
    # running mean: the same update as PyTorch with momentum = 1 - alpha
    np.testing.assert_allclose(new_state["mean"], t_mean, rtol=1e-12)
    # running var: fnnet uses the biased batch variance, PyTorch the unbiased one
    axes = tuple(range(x.ndim - 1))
    n = x.size // C
    biased, unbiased = x.var(axis=axes), x.var(axis=axes, ddof=1)
    np.testing.assert_allclose(new_state["var"], ALPHA * state["var"] + (1 - ALPHA) * biased)
    np.testing.assert_allclose(t_var, ALPHA * state["var"] + (1 - ALPHA) * unbiased)
    np.testing.assert_allclose(unbiased, biased * n / (n - 1))


@pytest.mark.parametrize(("ours", "theirs", "C", "shape", "nchw"), CASES)
def test_eval_mode_with_given_statistics_matches_pytorch(ours, theirs, C, shape, nchw):
    params, state, x, u = setup(C, shape, seed=1)
    y, new_state, pullback = ours(C, alpha=ALPHA, eps=EPS).vjp(params, state, x, train=False)
    grads, dx = pullback(u)
    t_y, t_dx, t_dgamma, t_dbeta, t_mean, t_var = run_torch(
        torch_bn(theirs, params, state), x, u, train=False, nchw=nchw
    )
    np.testing.assert_allclose(y, t_y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["gamma"], t_dgamma, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["beta"], t_dbeta, rtol=1e-10, atol=1e-12)
    # neither changes the running statistics in eval mode
    np.testing.assert_array_equal(new_state["mean"], state["mean"])
    np.testing.assert_array_equal(new_state["var"], state["var"])
    np.testing.assert_array_equal(t_mean, state["mean"])
    np.testing.assert_array_equal(t_var, state["var"])


@pytest.mark.parametrize("train", [True, False])
def test_float32_matches_pytorch(train):
    params, state, x, u = setup(6, (16, 6), dtype=np.float32, seed=2)
    y, _, pullback = BatchNorm1d(6, alpha=ALPHA, eps=EPS).vjp(params, state, x, train=train)
    grads, dx = pullback(u)
    t_y, t_dx, t_dgamma, t_dbeta, _, _ = run_torch(
        torch_bn(torch.nn.BatchNorm1d, params, state), x, u, train=train
    )
    assert y.dtype == dx.dtype == grads["gamma"].dtype == np.float32
    np.testing.assert_allclose(y, t_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads["gamma"], t_dgamma, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads["beta"], t_dbeta, rtol=1e-5, atol=1e-5)


def test_several_training_steps_track_pytorch_running_mean():
    params, state, x, _ = setup(3, (10, 3), seed=3)
    bn = BatchNorm1d(3, alpha=ALPHA, eps=EPS)
    t_bn = torch_bn(torch.nn.BatchNorm1d, params, state).train()
    for step in range(5):
        xs = x * (step + 1) - step
        _, state = bn.apply(params, state, xs, train=True)
        with torch.no_grad():
            t_bn(torch.from_numpy(xs))
    np.testing.assert_allclose(state["mean"], t_bn.running_mean.numpy(), rtol=1e-12)
