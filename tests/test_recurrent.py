"""Recurrent cells, RNN, LastTimeStep and sequence_classifier: gradients, shapes, dtypes, errors."""

import numpy as np
import pytest
from helpers import assert_all_read_only, rand, randomize
from sequence_fd import check_tuple_layer

from fnnet import check_grads, layers, random
from fnnet.layers import RNN, GRUCell, LastTimeStep, LSTMCell, RNNCell, sequence_classifier

N, T, C, H = 3, 4, 2, 3
KINDS = {
    "rnn_tanh": lambda **kw: RNNCell(C, H, **kw),
    "rnn_relu": lambda **kw: RNNCell(C, H, "relu", **kw),
    "gru": lambda **kw: GRUCell(C, H, **kw),
    "lstm": lambda **kw: LSTMCell(C, H, **kw),
}


def _cell_inputs(kind, dtype=np.float64, n=N):
    x, h, c = rand((n, C), 1, dtype), rand((n, H), 2, dtype), rand((n, H), 3, dtype)
    return (x, (h, c)) if kind == "lstm" else (x, h)


def _cell_shapes(kind):
    return ((-1, C), ((-1, H), (-1, H)) if kind == "lstm" else (-1, H))


@pytest.mark.parametrize("kind", list(KINDS))
def test_cell_init_shapes_and_params(kind):
    G = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}[kind]
    out, params, state = KINDS[kind]().init(random.key(0), _cell_shapes(kind))
    assert out == (((-1, H), (-1, H)) if kind == "lstm" else (-1, H))
    assert state == {}
    assert list(params) == ["W_ih", "W_hh", "b_ih", "b_hh"]
    assert params["W_ih"].shape == (G * H, C) and params["W_hh"].shape == (G * H, H)
    assert params["b_ih"].shape == params["b_hh"].shape == (G * H,)
    assert all(p.dtype == np.float32 for p in params.values())
    assert_all_read_only(params)
    # uniform(-1/sqrt(H), 1/sqrt(H)), as PyTorch
    bound = 1 / np.sqrt(H)
    assert all(np.abs(p).max() <= bound for p in params.values())
    assert max(np.abs(p).max() for p in params.values()) > 0.8 * bound


@pytest.mark.parametrize("kind", list(KINDS))
def test_cell_gradients_by_finite_differences(kind):
    cell = KINDS[kind](dtype=np.float64)
    _, params, _ = cell.init(random.key(0), _cell_shapes(kind))
    params = randomize(params, seed=1)
    assert check_tuple_layer(cell, params, _cell_inputs(kind), seed=2) < 1e-6


@pytest.mark.parametrize("kind", list(KINDS))
def test_rnn_gradients_by_finite_differences(kind):
    rnn = RNN(KINDS[kind]())
    _, params, state = rnn.init(random.key(0), (-1, T, C))
    params = randomize(params, seed=1)
    assert check_grads(rnn, params, state, rand((N, T, C), 2)) < 1e-6


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_rnn_gradients_between_other_layers(kind):
    """Behind a Conv1d (per-step Linear) and in front of LastTimeStep and a Linear."""
    model = layers.serial(
        layers.Conv1d(C, C, 1), RNN(KINDS[kind]()), LastTimeStep(), layers.Linear(H, 2)
    )
    _, params, state = model.init(random.key(0), (-1, T, C))
    params = randomize(params, seed=1)
    assert check_grads(model, params, state, rand((N, T, C), 2)) < 1e-6


@pytest.mark.parametrize("kind", list(KINDS))
def test_rnn_steps_are_the_cell(kind):
    """RNN(cell) equals the cell applied step by step from a zero state, with the same params."""
    cell = KINDS[kind](dtype=np.float64)
    rnn = RNN(cell)
    _, params, _ = rnn.init(random.key(5), (-1, T, C))
    _, cell_params, _ = cell.init(random.key(5), _cell_shapes(kind))
    for k in params:
        np.testing.assert_array_equal(params[k], cell_params[k])
    X = rand((N, T, C), 6)
    Y, _ = rnn.apply(params, {}, X)
    h = c = np.zeros((N, H))
    for t in range(T):
        if kind == "lstm":
            (h, c), _ = cell.apply(params, {}, (X[:, t], (h, c)))
        else:
            h, _ = cell.apply(params, {}, (X[:, t], h))
        np.testing.assert_allclose(Y[:, t], h, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_are_kept(kind, dtype):
    rnn = RNN(KINDS[kind](dtype=dtype))
    _, params, state = rnn.init(random.key(0), (-1, T, C))
    assert params["W_ih"].dtype == dtype
    X = rand((N, T, C), 1, dtype)
    Y, _, pullback = rnn.vjp(params, state, X)
    grads, dX = pullback(rand(Y.shape, 2, dtype))
    assert Y.dtype == dX.dtype == dtype
    assert all(g.dtype == dtype for g in grads.values())
    cell = KINDS[kind](dtype=dtype)
    y, _, cell_pullback = cell.vjp(params, {}, _cell_inputs(kind, dtype))
    cell_grads, (dx, _) = cell_pullback(y)
    assert dx.dtype == dtype and all(g.dtype == dtype for g in cell_grads.values())


def test_integer_input_follows_the_dtype_rule():
    rnn = RNN(GRUCell(C, H))
    _, params, state = rnn.init(random.key(0), (-1, T, C))
    X = np.arange(N * T * C).reshape(N, T, C) % 3
    Y, _ = rnn.apply(params, state, X)
    np.testing.assert_array_equal(Y, rnn.apply(params, state, X.astype(np.float32))[0])
    with pytest.raises(TypeError, match="RNN: expected an array of real numbers"):
        rnn.apply(params, state, X.astype(complex))


def test_rnn_is_pure_and_pullback_repeatable():
    rnn = RNN(LSTMCell(C, H, dtype=np.float64))
    _, params, state = rnn.init(random.key(0), (-1, T, C))
    X = rand((N, T, C), 1)
    X_copy = X.copy()
    Y, _, pullback = rnn.vjp(params, state, X)
    dY = rand(Y.shape, 2)
    g1, dX1 = pullback(dY)
    g2, dX2 = pullback(dY)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(dX1, dX2)
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k])
    _, skipped = pullback(dY, input_grad=False)
    assert skipped is None


def test_rnn_accepts_unknown_length_at_init():
    rnn = RNN(GRUCell(C, H))
    assert rnn.init(random.key(0), (-1, -1, C))[0] == (-1, -1, H)
    _, params, state = rnn.init(random.key(0), (-1, -1, C))
    for length in (1, 5):
        assert rnn.apply(params, state, rand((2, length, C)))[0].shape == (2, length, H)


def test_last_time_step():
    layer = LastTimeStep()
    assert layer.init(random.key(0), (-1, T, H))[0] == (-1, H)
    X = rand((N, T, H), 1)
    Y, _, pullback = layer.vjp({}, {}, X)
    np.testing.assert_array_equal(Y, X[:, -1])
    assert not Y.flags.writeable
    dY = rand((N, H), 2)
    _, dX = pullback(dY)
    np.testing.assert_array_equal(dX[:, -1], dY)
    assert not dX[:, :-1].any()
    assert check_grads(layer, {}, {}, X) < 1e-6


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_sequence_classifier(kind):
    model = sequence_classifier(kind, 5, 8, 10)
    out, params, state = model.init(random.key(0), (-1, 8, 8))
    assert out == (-1, 10)
    assert list(params) == ["0", "1", "2"]
    assert params["0"]["W_hh"].shape[1] == 5
    Z, _ = model.apply(params, state, rand((4, 8, 8), 1, np.float32))
    assert Z.shape == (4, 10) and Z.dtype == np.float32


def test_errors_name_the_layer_and_say_what_came():
    with pytest.raises(
        ValueError, match="RNNCell: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"
    ):
        RNNCell(C, H, "sigmoid")
    with pytest.raises(ValueError, match="GRUCell: hidden_size must be a positive int, got 0"):
        GRUCell(C, 0)
    with pytest.raises(ValueError, match=r"GRUCell: expected x of shape \(N, 2\), got \(-1, 3\)"):
        GRUCell(C, H).init(random.key(0), ((-1, 3), (-1, H)))
    with pytest.raises(
        ValueError, match=r"LSTMCell: expected input shapes \(\(N, C\), \(\(N, H\), \(N, H\)\)\)"
    ):
        LSTMCell(C, H).init(random.key(0), ((-1, C), (-1, H)))
    gru = GRUCell(C, H)
    _, params, _ = gru.init(random.key(0), _cell_shapes("gru"))
    with pytest.raises(ValueError, match=r"GRUCell: expected h of shape \(3, 3\), got \(3, 4\)"):
        gru.apply(params, {}, (rand((3, C)), rand((3, 4))))
    with pytest.raises(ValueError, match=r"GRUCell: expected h of shape \(3, 3\), got \(2, 3\)"):
        gru.apply(params, {}, (rand((3, C)), rand((2, H))))
    with pytest.raises(TypeError, match=r"GRUCell: expected the input pair \(x, h\), got ndarray"):
        gru.apply(params, {}, rand((3, C)))
    bad = {**params, "W_hh": np.zeros((9, 4))}
    with pytest.raises(
        ValueError, match=r"GRUCell: params\['W_hh'\] expected \(9, 3\), got \(9, 4\)"
    ):
        gru.apply(bad, {}, _cell_inputs("gru"))
    rnn = RNN(gru)
    with pytest.raises(ValueError, match=r"RNN: expected input of shape \(N, T, 2\), got \(3, 2\)"):
        rnn.apply(params, {}, rand((3, C)))
    with pytest.raises(
        ValueError, match=r"RNN: expected input of shape \(N, T, 2\), got \(3, 4, 5\)"
    ):
        rnn.init(random.key(0), (3, 4, 5))
    with pytest.raises(
        TypeError, match="RNN: expected a cell made by RNNCell, GRUCell or LSTMCell"
    ):
        RNN(layers.Linear(2, 3))
    with pytest.raises(ValueError, match=r"LastTimeStep: expected an input \(N, T, H\)"):
        LastTimeStep().init(random.key(0), (3, 4))
    with pytest.raises(
        ValueError, match="sequence_classifier: kind must be 'rnn', 'gru' or 'lstm', got 'tcn'"
    ):
        sequence_classifier("tcn", 4, 8, 10)


def _behind_linear(cell):
    """``(a, state) -> cell((Linear(a), state))``: a cell with a Linear in front of its x."""
    lin = layers.Linear(5, C)

    def init(key, shapes):
        k_lin, k_cell = random.split(key)
        (n, _), state_shapes = shapes
        _, p_lin, _ = lin.init(k_lin, (n, 5))
        out, p_cell, _ = cell.init(k_cell, ((n, C), state_shapes))
        return out, {"lin": p_lin, "cell": p_cell}, {}

    def apply(params, state, inputs, *, key=None, train=False):
        a, s = inputs
        x, _ = lin.apply(params["lin"], {}, a)
        return cell.apply(params["cell"], {}, (x, s))[0], state

    def vjp(params, state, inputs, *, key=None, train=True):
        a, s = inputs
        x, _, lin_pullback = lin.vjp(params["lin"], {}, a)
        y, _, cell_pullback = cell.vjp(params["cell"], {}, (x, s))

        def pullback(dy):
            g_cell, (dx, ds) = cell_pullback(dy)
            g_lin, da = lin_pullback(dx)
            return {"lin": g_lin, "cell": g_cell}, (da, ds)

        return y, state, pullback

    return layers.Layer(init, apply, vjp)


@pytest.mark.parametrize("kind", list(KINDS))
def test_cell_gradients_behind_a_linear(kind):
    lstm = kind == "lstm"
    model = _behind_linear(KINDS[kind](dtype=np.float64))
    states = ((-1, H), (-1, H)) if lstm else (-1, H)
    _, params, _ = model.init(random.key(0), ((-1, 5), states))
    params = randomize(params, seed=1)
    a = rand((N, 5), 4)
    _, state = _cell_inputs(kind)
    assert check_tuple_layer(model, params, (a, state), seed=3) < 1e-6
