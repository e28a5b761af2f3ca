"""Embedding, LayerNorm and Conv1d: gradients by finite differences, shapes, dtypes, errors."""

import numpy as np
import pytest
from helpers import assert_all_read_only, rand, randomize

from fnnet import check_grads, layers, random
from fnnet.layers import Conv1d, Embedding, LayerNorm

# ---- Embedding -------------------------------------------------------------------------


def _embedding_param_fd(layer, params, ids, eps=1e-6):
    """dL/dW of <u, Y> by central differences (the ids are not perturbed: integers)."""
    W = params["W"].astype(np.float64)
    Y, _ = layer.apply({"W": W}, {}, ids)
    u = rand(Y.shape, 9)
    numeric = np.zeros_like(W)
    for j in np.ndindex(W.shape):
        vals = []
        for sign in (1, -1):
            Wm = W.copy()
            Wm[j] += sign * eps
            vals.append(np.vdot(u, layer.apply({"W": Wm}, {}, ids)[0]))
        numeric[j] = (vals[0] - vals[1]) / (2 * eps)
    _, _, pullback = layer.vjp({"W": W}, {}, ids)
    grads, dids = pullback(u)
    assert dids is None
    return grads["W"], numeric


def test_embedding_lookup_and_gradient_adds_repeated_ids():
    emb = Embedding(4, 3)
    out, params, state = emb.init(random.key(0), (-1, 5))
    assert out == (-1, 5, 3) and params["W"].shape == (4, 3) and params["W"].dtype == np.float32
    assert_all_read_only(params)
    ids = np.array([[0, 3, 3, 1, 3], [2, 2, 0, 1, 1]])
    Y, _ = emb.apply(params, state, ids)
    np.testing.assert_array_equal(Y, params["W"][ids])
    analytic, numeric = _embedding_param_fd(emb, params, ids)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9)
    # row 3 is used three times in the first sample: its gradient is the sum of three rows
    _, _, pullback = emb.vjp(params, state, ids)
    dY = np.zeros((2, 5, 3), np.float32)
    dY[0, 1:3] = 1.0
    dY[0, 4] = 2.0
    np.testing.assert_array_equal(pullback(dY)[0]["W"][3], [4.0, 4.0, 4.0])


def test_embedding_gradient_in_front_of_other_layers():
    model = layers.serial(Embedding(6, 4, dtype=np.float64), LayerNorm(4, dtype=np.float64))
    _, params, _ = model.init(random.key(0), (-1, 3))
    params = randomize(params, seed=1)
    ids = np.array([[1, 5, 1], [0, 2, 5]])
    Y, _, pullback = model.vjp(params, {"0": {}, "1": {}}, ids)
    u = rand(Y.shape, 2)
    grads, dids = pullback(u)
    assert dids is None
    eps, W = 1e-6, params["0"]["W"]
    for j in [(1, 0), (5, 3), (0, 2), (3, 1)]:
        Wp, Wm = W.copy(), W.copy()
        Wp[j] += eps
        Wm[j] -= eps
        up = np.vdot(u, model.apply({**params, "0": {"W": Wp}}, {"0": {}, "1": {}}, ids)[0])
        down = np.vdot(u, model.apply({**params, "0": {"W": Wm}}, {"0": {}, "1": {}}, ids)[0])
        np.testing.assert_allclose(grads["0"]["W"][j], (up - down) / (2 * eps), atol=1e-8)


def test_embedding_errors():
    emb = Embedding(4, 3)
    _, params, state = emb.init(random.key(0), (-1, 2))
    with pytest.raises(ValueError, match=r"Embedding: expected ids in \[0, 4\), got -1"):
        emb.apply(params, state, np.array([[0, -1]]))
    with pytest.raises(ValueError, match=r"Embedding: expected ids in \[0, 4\), got 4"):
        emb.vjp(params, state, np.array([[4, 1]]))
    with pytest.raises(TypeError, match="Embedding: expected integer ids, got dtype float64"):
        emb.apply(params, state, np.array([[0.0, 1.0]]))
    with pytest.raises(TypeError, match="Embedding: expected integer ids, got dtype bool"):
        emb.apply(params, state, np.array([[True, False]]))
    with pytest.raises(
        ValueError, match=r"Embedding: params\['W'\] expected \(4, 3\), got \(3, 3\)"
    ):
        emb.apply({"W": np.zeros((3, 3))}, state, np.array([[0, 1]]))
    with pytest.raises(ValueError, match="Embedding: embedding_dim must be a positive int, got 0"):
        Embedding(4, 0)


# ---- LayerNorm -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])
def test_layer_norm_gradients(shape):
    ln = LayerNorm(4)
    _, params, state = ln.init(random.key(0), shape)
    params = randomize(params, seed=1)
    assert check_grads(ln, params, state, rand(shape, 2)) < 1e-6
    model = layers.serial(layers.Linear(3, 4), LayerNorm(4))
    _, params, state = model.init(random.key(0), (-1, 3))
    assert check_grads(model, randomize(params, seed=3), state, rand((5, 3), 4)) < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_normalises_rows_and_keeps_dtype(dtype):
    ln = LayerNorm(6, dtype=dtype)
    out, params, state = ln.init(random.key(0), (-1, 2, 6))
    assert out == (-1, 2, 6) and params["gamma"].dtype == dtype
    assert_all_read_only(params)
    X = rand((3, 2, 6), 1, dtype) * 5 + 2
    Y, _, pullback = ln.vjp(params, state, X)
    assert Y.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(Y.mean(axis=-1), 0, atol=tol)
    # var(Y) = s2 / (s2 + eps): 1 up to eps
    s2 = X.astype(np.float64).var(axis=-1)
    np.testing.assert_allclose(Y.var(axis=-1), s2 / (s2 + 1e-5), rtol=tol * 10)
    grads, dX = pullback(rand(Y.shape, 2, dtype))
    assert dX.dtype == dtype and grads["gamma"].dtype == dtype


def test_layer_norm_errors():
    ln = LayerNorm(4)
    _, params, state = ln.init(random.key(0), (-1, 4))
    with pytest.raises(ValueError, match=r"LayerNorm: expected input \(\.\.\., 4\), got \(2, 5\)"):
        ln.apply(params, state, rand((2, 5)))
    with pytest.raises(
        ValueError, match=r"LayerNorm: params\['gamma'\] expected \(4,\), got \(5,\)"
    ):
        ln.apply({**params, "gamma": np.ones(5)}, state, rand((2, 4)))
    with pytest.raises(
        TypeError, match="LayerNorm: expected an array of real numbers, got dtype complex128"
    ):
        ln.apply(params, state, np.ones((2, 4), complex))
    with pytest.raises(ValueError, match="LayerNorm: eps must be >= 0, got -1"):
        LayerNorm(4, eps=-1)


# ---- Conv1d ----------------------------------------------------------------------------


def _conv1d_loop(X, W, b, s, p):
    """Z[n, l, f] = sum_{i, c} Xp[n, s l + i, c] W[i, c, f] + b[f], by loops."""
    Xp = np.pad(X, ((0, 0), (p, p), (0, 0)))
    k = W.shape[0]
    Lo = (Xp.shape[1] - k) // s + 1
    Z = np.zeros((X.shape[0], Lo, W.shape[2]))
    for n in range(X.shape[0]):
        for l in range(Lo):
            for f in range(W.shape[2]):
                Z[n, l, f] = np.sum(Xp[n, s * l : s * l + k] * W[:, :, f]) + b[f]
    return Z


@pytest.mark.parametrize("L, k, s, p", [(7, 3, 1, 0), (8, 3, 2, 1), (9, 2, 3, 2), (4, 4, 1, 0)])
def test_conv1d_equals_the_loops_and_gradients(L, k, s, p):
    conv = Conv1d(2, 3, k, stride=s, padding=p)
    out, params, state = conv.init(random.key(0), (-1, L, 2))
    Lo = (L + 2 * p - k) // s + 1
    assert out == (-1, Lo, 3)
    assert params["W"].shape == (k, 2, 3) and params["b"].shape == (3,)
    assert_all_read_only(params)
    params = randomize(params, seed=1)
    X = rand((2, L, 2), 2)
    Z, _ = conv.apply(params, state, X)
    np.testing.assert_allclose(Z, _conv1d_loop(X, params["W"], params["b"], s, p), rtol=1e-12)
    assert check_grads(conv, params, state, X) < 1e-6
    model = layers.serial(layers.LayerNorm(2), conv)
    _, mp, ms = model.init(random.key(0), (-1, L, 2))
    assert check_grads(model, randomize(mp, seed=3), ms, X) < 1e-6


def test_conv1d_float32_stays_float32():
    conv = Conv1d(2, 3, 3, padding=1)
    _, params, state = conv.init(random.key(0), (-1, 5, 2))
    Z, _, pullback = conv.vjp(params, state, rand((2, 5, 2), 1, np.float32))
    grads, dX = pullback(np.ones_like(Z))
    assert Z.dtype == dX.dtype == grads["W"].dtype == grads["b"].dtype == np.float32


def test_conv1d_errors():
    conv = Conv1d(2, 3, 4)
    _, params, state = conv.init(random.key(0), (-1, 5, 2))
    with pytest.raises(ValueError, match=r"Conv1d: expected input \(N, L, 2\), got \(1, 5, 3\)"):
        conv.apply(params, state, rand((1, 5, 3)))
    with pytest.raises(
        ValueError, match=r"Conv1d: input length 3 \(padded 3\) is shorter than the kernel \(4\)"
    ):
        conv.apply(params, state, rand((1, 3, 2)))
    with pytest.raises(
        ValueError, match=r"Conv1d: params\['W'\] expected \(4, 2, 3\), got \(3, 2, 3\)"
    ):
        conv.apply({**params, "W": np.zeros((3, 2, 3))}, state, rand((1, 5, 2)))
    with pytest.raises(ValueError, match="Conv1d: stride must be a positive int, got 0"):
        Conv1d(2, 3, 4, stride=0)
    with pytest.raises(ValueError, match="Conv1d: padding must be an int >= 0, got -1"):
        Conv1d(2, 3, 4, padding=-1)


# ---- the contract rows of these layers build and run -----------------------------------


def test_contract_rows_build_and_run():
    from contract_rows_sequence import ROWS

    from fnnet import tree

    names = [row.name for row in ROWS]
    for kind in ("RNNCell", "GRUCell", "LSTMCell", "RNN(GRUCell)", "Embedding", "LayerNorm"):
        assert kind in names
    for row in ROWS:
        layer = row.make_layer()
        out_shape, params, state = layer.init(random.key(0), row.input_shape)
        if row.make_input is not None:
            x = row.make_input(random.key(1), np.float64)
        else:
            x = random.normal(random.key(1), row.input_shape, np.float64)
        params = tree.map(lambda p: p.astype(np.float64), params)
        y, _, pullback = layer.vjp(params, state, x)
        if isinstance(y, tuple):  # the LSTM cell: (h', c')
            assert tuple(a.shape for a in y) == out_shape, row.name
        else:
            assert y.shape == out_shape, row.name
        grads, _ = pullback(tree.map(np.ones_like, y))
        assert tree.structure_equal(grads, params), row.name
