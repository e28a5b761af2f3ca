"""Branching models against PyTorch in float64: values and every gradient (rtol 1e-9).

A residual block, a parallel-concat model, BatchNorm inside a residual branch, and the
ResNet builder (identity and projection shortcuts). fnnet is NHWC with conv weights
``W (kh, kw, Cin, Cout)``; PyTorch is NCHW with ``(Cout, Cin, kh, kw)``: the torch side
takes fnnet's arrays as they are and permutes inside (``permute(3, 2, 0, 1)``), so its
gradients come back in fnnet's layout. fnnet's BatchNorm ``alpha = 0.9`` is PyTorch's
``momentum = 0.1``; PyTorch's running variance uses the unbiased batch variance.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from helpers import rand, randomize  # noqa: E402

from fnnet import random, tree  # noqa: E402
from fnnet.layers import (  # noqa: E402
    BatchNorm1d,
    Identity,
    Linear,
    ReLU,
    Tanh,
    basic_block,
    fan_in_concat,
    fan_out,
    parallel,
    residual,
    resnet,
    serial,
)

pytestmark = pytest.mark.reference

RTOL, ATOL = 1e-9, 1e-12
KEY = random.key(0)


def tensors(t):
    """A tree of float64 leaf tensors that record gradients, from a tree of arrays."""
    return tree.map(lambda a: torch.tensor(np.array(a, np.float64), requires_grad=True), t)


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


def run_both(model, fn_torch, params, state, x, train=True):
    """fnnet's (y, dparams, dx, new_state) and PyTorch's, for one random cotangent."""
    y, new_state, pullback = model.vjp(params, state, x, train=train)
    u = rand(np.shape(y), seed=99)
    grads, dx = pullback(u)
    P = tensors(params)
    S = tree.map(lambda a: torch.tensor(np.array(a, np.float64)), state)  # updated in place
    X = torch.tensor(x, requires_grad=True)
    Y = fn_torch(P, S, X)
    Y.backward(torch.tensor(u))
    close(y, Y.detach().numpy())
    close(dx, X.grad.numpy())
    tree.map(lambda g, t: close(g, t.grad.numpy()), grads, P)
    return new_state, tree.map(lambda t: t.numpy(), S)


def linear(P, X):
    return X @ P["W"].T + P["b"]


def test_residual_mlp_block_matches_pytorch():
    model = serial(Linear(3, 4), residual(serial(Linear(4, 4), ReLU(), Linear(4, 4))), Tanh())
    _, params, state = model.init(KEY, (-1, 3))
    params = randomize(params)

    def fn(P, S, X):
        H = linear(P["0"], X)
        branch = P["1"]["1"]["0"]
        # y = x + f(x)
        return torch.tanh(H + linear(branch["2"], torch.relu(linear(branch["0"], H))))

    run_both(model, fn, params, state, rand((6, 3)))


def test_parallel_concat_model_matches_pytorch():
    model = serial(
        Linear(3, 5),
        fan_out(3),
        parallel(serial(Linear(5, 4), Tanh()), serial(Linear(5, 2), ReLU()), Identity()),
        fan_in_concat(),
        Linear(11, 2),
    )
    _, params, state = model.init(KEY, (-1, 3))
    params = randomize(params)

    def fn(P, S, X):
        H = linear(P["0"], X)
        B = P["2"]
        parts = [torch.tanh(linear(B["0"]["0"], H)), torch.relu(linear(B["1"]["0"], H)), H]
        return linear(P["4"], torch.cat(parts, dim=-1))

    run_both(model, fn, params, state, rand((7, 3)))


def torch_bn(X, P, S, eps):
    """PyTorch's train-mode batch norm over the channel axis 1; updates S's running stats."""
    return F.batch_norm(X, S["mean"], S["var"], P["gamma"], P["beta"], True, 0.1, eps)


def fnnet_var(torch_var, old_var, n):
    """fnnet's running variance (biased batch variance) from PyTorch's (unbiased, n values):
    torch = 0.9 old + 0.1 s2 n/(n-1),  fnnet = 0.9 old + 0.1 s2."""
    return 0.9 * old_var + (torch_var - 0.9 * old_var) * (n - 1) / n


def test_batchnorm_inside_a_residual_branch_matches_pytorch():
    model = residual(serial(Linear(4, 4), BatchNorm1d(4, eps=1e-5), ReLU(), Linear(4, 4)))
    _, params, state = model.init(KEY, (-1, 4))
    params = randomize(params)
    state = tree.map(lambda a: a.astype(np.float64) + 0.5, state)
    x = rand((9, 4))

    def fn(P, S, X):
        B, SB = P["1"]["0"], S["1"]["0"]
        return X + linear(B["3"], torch.relu(torch_bn(linear(B["0"], X), B["1"], SB["1"], 1e-5)))

    new_state, torch_state = run_both(model, fn, params, state, x)
    bn_new, bn_torch, bn_old = (s["1"]["0"]["1"] for s in (new_state, torch_state, state))
    close(bn_new["mean"], bn_torch["mean"])
    close(bn_new["var"], fnnet_var(bn_torch["var"], bn_old["var"], 9))
    # eval mode: the running statistics, no update
    y_eval, same = model.apply(params, new_state, x)
    assert same["1"]["0"]["1"]["mean"] is new_state["1"]["0"]["1"]["mean"]
    with torch.no_grad():
        P, S = tensors(params), tree.map(torch.tensor, new_state)
        B, SB = P["1"]["0"], S["1"]["0"]["1"]
        Z = F.batch_norm(linear(B["0"], torch.tensor(x)), SB["mean"], SB["var"],
                         B["1"]["gamma"], B["1"]["beta"], False, 0.1, 1e-5)  # fmt: skip
        close(y_eval, (torch.tensor(x) + linear(B["3"], torch.relu(Z))).numpy())


def conv(X, P, stride=1, padding=0):
    return F.conv2d(X, P["W"].permute(3, 2, 0, 1), P["b"], stride=stride, padding=padding)


def torch_block(X, P, S, projection, stride):
    """PyTorch's basic block on NCHW ``X`` with fnnet's param layout (see basic_block)."""
    if projection:
        Fp, Fs = P["1"]["0"], S["1"]["0"]
    else:
        Fp, Fs = P["0"]["1"]["0"], S["0"]["1"]["0"]
    H = torch.relu(torch_bn(conv(X, Fp["0"], stride, 1), Fp["1"], Fs["1"], 1e-5))
    H = torch_bn(conv(H, Fp["3"], 1, 1), Fp["4"], Fs["4"], 1e-5)
    if projection:
        Pp, Ps = P["1"]["1"], S["1"]["1"]
        shortcut = torch_bn(conv(X, Pp["0"], stride), Pp["1"], Ps["1"], 1e-5)
    else:
        shortcut = X
    return torch.relu(H + shortcut)


@pytest.mark.parametrize(("cin", "cout", "stride"), [(3, 3, 1), (2, 4, 1), (3, 4, 2)])
def test_basic_block_matches_pytorch(cin, cout, stride):
    model = basic_block(cin, cout, stride)
    shape, params, state = model.init(KEY, (-1, 6, 5, cin))
    assert shape == (-1, -(-6 // stride), -(-5 // stride), cout)
    params = randomize(params)
    state = tree.map(lambda a: a.astype(np.float64), state)
    projection = (cin, stride) != (cout, 1)

    def fn(P, S, X):
        Y = torch_block(X.permute(0, 3, 1, 2), P, S, projection, stride)
        return Y.permute(0, 2, 3, 1)

    new_state, torch_state = run_both(model, fn, params, state, rand((3, 6, 5, cin)))
    for (path, new), (_, t) in zip(
        tree.leaves_with_paths(new_state), tree.leaves_with_paths(torch_state)
    ):
        if path.endswith("mean"):
            close(new, t)


def test_resnet_matches_pytorch():
    model = resnet(5, channels=(3, 4), blocks=2)
    shape, params, state = model.init(KEY, (-1, 6, 6, 2))
    assert shape == (-1, 5)
    params = randomize(params, scale=0.4)
    state = tree.map(lambda a: a.astype(np.float64), state)

    def fn(P, S, X):
        H = X.permute(0, 3, 1, 2)
        H = torch.relu(torch_bn(conv(H, P["0"], 1, 1), P["1"], S["1"], 1e-5))
        for slot, projection, stride in [("3", False, 1), ("4", False, 1), ("5", True, 2)]:
            H = torch_block(H, P[slot], S[slot], projection, stride)
        H = torch_block(H, P["6"], S["6"], False, 1)
        return linear(P["8"], H.mean(dim=(2, 3)))

    run_both(model, fn, params, state, rand((4, 6, 6, 2)))
