"""Recurrent cells and RNN against PyTorch in float64: outputs and every gradient."""

import numpy as np
import pytest
from helpers import rand

from fnnet import layers, random

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-9, 1e-12
N, T, C, H = 4, 6, 5, 7
PARAMS = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}

CELLS = {
    "rnn_tanh": (lambda: layers.RNNCell(C, H, dtype=np.float64), lambda: torch.nn.RNNCell(C, H)),
    "rnn_relu": (
        lambda: layers.RNNCell(C, H, "relu", dtype=np.float64),
        lambda: torch.nn.RNNCell(C, H, nonlinearity="relu"),
    ),
    "gru": (lambda: layers.GRUCell(C, H, dtype=np.float64), lambda: torch.nn.GRUCell(C, H)),
    "lstm": (lambda: layers.LSTMCell(C, H, dtype=np.float64), lambda: torch.nn.LSTMCell(C, H)),
}
SEQUENCES = {
    "rnn_tanh": (CELLS["rnn_tanh"][0], lambda: torch.nn.RNN(C, H, batch_first=True)),
    "rnn_relu": (
        CELLS["rnn_relu"][0],
        lambda: torch.nn.RNN(C, H, nonlinearity="relu", batch_first=True),
    ),
    "gru": (CELLS["gru"][0], lambda: torch.nn.GRU(C, H, batch_first=True)),
    "lstm": (CELLS["lstm"][0], lambda: torch.nn.LSTM(C, H, batch_first=True)),
}


def _load(module, params, suffix=""):
    """Copy fnnet's params into a float64 PyTorch module."""
    module = module.double()
    with torch.no_grad():
        for ours, theirs in PARAMS.items():
            getattr(module, theirs + suffix).copy_(torch.tensor(params[ours]))
    return module


def _close(ours, theirs):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=RTOL, atol=ATOL)


def _grads_close(grads, module, suffix=""):
    assert set(grads) == set(PARAMS)
    for ours, theirs in PARAMS.items():
        _close(grads[ours], getattr(module, theirs + suffix).grad)


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell(kind):
    make, make_ref = CELLS[kind]
    cell = make()
    lstm = kind == "lstm"
    shapes = ((-1, C), ((-1, H), (-1, H)) if lstm else (-1, H))
    _, params, state = cell.init(random.key(0), shapes)
    x, h, c = rand((N, C), 1), rand((N, H), 2), rand((N, H), 3)
    inputs = (x, (h, c)) if lstm else (x, h)
    y, _, pullback = cell.vjp(params, state, inputs)
    dy = (rand((N, H), 4), rand((N, H), 5)) if lstm else rand((N, H), 4)
    grads, dinputs = pullback(dy)

    ref = _load(make_ref(), params)
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    if lstm:
        yt = ref(xt, (ht, ct))
        torch.autograd.backward(yt, tuple(torch.tensor(d) for d in dy))
        _close(y[0], yt[0])
        _close(y[1], yt[1])
        dx, (dh, dc) = dinputs
        _close(dc, ct.grad)
    else:
        yt = ref(xt, ht)
        yt.backward(torch.tensor(dy))
        _close(y, yt)
        dx, dh = dinputs
    _close(dx, xt.grad)
    _close(dh, ht.grad)
    _grads_close(grads, ref)


@pytest.mark.parametrize("kind", list(SEQUENCES))
def test_rnn(kind):
    make, make_ref = SEQUENCES[kind]
    rnn = layers.RNN(make())
    out_shape, params, state = rnn.init(random.key(1), (-1, T, C))
    assert out_shape == (-1, T, H)
    X, dY = rand((N, T, C), 6), rand((N, T, H), 7)
    Y, _, pullback = rnn.vjp(params, state, X)
    grads, dX = pullback(dY)

    ref = _load(make_ref(), params, suffix="_l0")
    Xt = torch.tensor(X, requires_grad=True)
    Yt = ref(Xt)[0]
    Yt.backward(torch.tensor(dY))
    _close(Y, Yt)
    _close(dX, Xt.grad)
    _grads_close(grads, ref, suffix="_l0")


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_rnn_long_sequence_gradient_of_the_last_state(kind):
    """Only the last h_t receives a gradient: everything flows through the carried dh (and dc)."""
    make, make_ref = SEQUENCES[kind]
    rnn = layers.RNN(make())
    _, params, state = rnn.init(random.key(2), (-1, 30, C))
    X = rand((2, 30, C), 8)
    dY = np.zeros((2, 30, H))
    dY[:, -1] = rand((2, H), 9)
    _, _, pullback = rnn.vjp(params, state, X)
    grads, dX = pullback(dY)
    ref = _load(make_ref(), params, suffix="_l0")
    Xt = torch.tensor(X, requires_grad=True)
    (ref(Xt)[0][:, -1] * torch.tensor(dY[:, -1])).sum().backward()
    _close(dX, Xt.grad)
    _grads_close(grads, ref, suffix="_l0")
    assert np.abs(dX[:, 0]).max() > 0  # the first step does get a gradient


def test_sequence_classifier_matches_torch():
    model = layers.sequence_classifier("gru", H, C, 3, dtype=np.float64)
    _, params, state = model.init(random.key(3), (-1, T, C))
    X, dZ = rand((N, T, C), 10), rand((N, 3), 11)
    Z, _, pullback = model.vjp(params, state, X)
    grads, dX = pullback(dZ)
    gru = _load(torch.nn.GRU(C, H, batch_first=True), params["0"], suffix="_l0")
    lin = torch.nn.Linear(H, 3).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(params["2"]["W"]))
        lin.bias.copy_(torch.tensor(params["2"]["b"]))
    Xt = torch.tensor(X, requires_grad=True)
    Zt = lin(gru(Xt)[0][:, -1])
    Zt.backward(torch.tensor(dZ))
    _close(Z, Zt)
    _close(dX, Xt.grad)
    _grads_close(grads["0"], gru, suffix="_l0")
    _close(grads["2"]["W"], lin.weight.grad)
    _close(grads["2"]["b"], lin.bias.grad)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_rnn_float32_stays_close_to_torch(kind):
    """float32 in, float32 out, within float32 round-off of PyTorch's float32 result."""
    make_ref = SEQUENCES[kind][1]
    rnn = layers.RNN(layers.GRUCell(C, H) if kind == "gru" else layers.LSTMCell(C, H))
    _, params, state = rnn.init(random.key(4), (-1, T, C))
    X, dY = rand((N, T, C), 12, np.float32), rand((N, T, H), 13, np.float32)
    Y, _, pullback = rnn.vjp(params, state, X)
    grads, dX = pullback(dY)
    assert Y.dtype == dX.dtype == np.float32
    ref = make_ref()
    with torch.no_grad():
        for ours, theirs in PARAMS.items():
            getattr(ref, theirs + "_l0").copy_(torch.tensor(params[ours]))
    Xt = torch.tensor(X, requires_grad=True)
    Yt = ref(Xt)[0]
    Yt.backward(torch.tensor(dY))
    np.testing.assert_allclose(Y, Yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dX, Xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for ours, theirs in PARAMS.items():
        assert grads[ours].dtype == np.float32
        np.testing.assert_allclose(
            grads[ours], getattr(ref, theirs + "_l0").grad.numpy(), rtol=1e-4, atol=1e-5
        )
