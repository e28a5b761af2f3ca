"""Embedding, LayerNorm and Conv1d against PyTorch in float64: outputs and every gradient."""

import numpy as np
import pytest
from helpers import rand, randomize

from fnnet import layers, random

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-9, 1e-12


def _close(ours, theirs):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("ids_shape", [(6,), (3, 5), (2, 3, 4)])
def test_embedding(ids_shape):
    emb = layers.Embedding(5, 4, dtype=np.float64)
    _, params, state = emb.init(random.key(0), ids_shape)
    ids = np.random.default_rng(0).integers(0, 5, ids_shape)
    ids.reshape(-1)[:3] = 2  # repeated ids: their rows add up in dL/dW
    dY = rand((*ids_shape, 4), 1)
    Y, _, pullback = emb.vjp(params, state, ids)
    grads, dids = pullback(dY)
    assert dids is None
    Wt = torch.tensor(params["W"], requires_grad=True)
    Yt = F.embedding(torch.tensor(ids), Wt)
    Yt.backward(torch.tensor(dY))
    _close(Y, Yt)
    _close(grads["W"], Wt.grad)


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 6), (1, 6)])
def test_layer_norm(shape):
    ln = layers.LayerNorm(6, eps=1e-5, dtype=np.float64)
    _, params, state = ln.init(random.key(0), shape)
    params = randomize(params, seed=1)
    X, dY = rand(shape, 2) * 3 + 1, rand(shape, 3)
    Y, _, pullback = ln.vjp(params, state, X)
    grads, dX = pullback(dY)
    Xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (X, params["gamma"], params["beta"]))
    Yt = F.layer_norm(Xt, (6,), gt, bt, eps=1e-5)
    Yt.backward(torch.tensor(dY))
    _close(Y, Yt)
    _close(dX, Xt.grad)
    _close(grads["gamma"], gt.grad)
    _close(grads["beta"], bt.grad)


@pytest.mark.parametrize(
    "L, k, stride, padding", [(9, 3, 1, 0), (9, 3, 2, 1), (10, 4, 3, 2), (5, 5, 1, 0), (7, 1, 1, 0)]
)
def test_conv1d(L, k, stride, padding):
    conv = layers.Conv1d(3, 4, k, stride=stride, padding=padding, dtype=np.float64)
    out_shape, params, state = conv.init(random.key(0), (-1, L, 3))
    params = randomize(params, seed=1)
    X = rand((2, L, 3), 2)
    Y, _, pullback = conv.vjp(params, state, X)
    assert out_shape == (-1, *Y.shape[1:])
    dY = rand(Y.shape, 3)
    grads, dX = pullback(dY)
    # PyTorch: (N, Cin, L) inputs, (Cout, Cin, k) weights
    Xt = torch.tensor(X.transpose(0, 2, 1), requires_grad=True)
    Wt = torch.tensor(params["W"].transpose(2, 1, 0), requires_grad=True)
    bt = torch.tensor(params["b"], requires_grad=True)
    Yt = F.conv1d(Xt, Wt, bt, stride=stride, padding=padding)
    Yt.backward(torch.tensor(dY.transpose(0, 2, 1)))
    _close(Y, Yt.permute(0, 2, 1))
    _close(dX, Xt.grad.permute(0, 2, 1))
    _close(grads["W"], Wt.grad.permute(2, 1, 0))
    _close(grads["b"], bt.grad)
