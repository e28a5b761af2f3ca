"""Tests for fnnet.layers.reshape: Flatten and RowsAsSequence, alone and inside models."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import input_freed_after_vjp, randomize

import fnnet
from fnnet.layers import (
    RNN,
    Conv2d,
    Flatten,
    GRUCell,
    LastTimeStep,
    Linear,
    MaxPool2d,
    ReLU,
    RowsAsSequence,
    serial,
)

KEY = fnnet.random.key(0)


def rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def test_flatten_values_and_shapes():
    layer = Flatten()
    assert layer.init(KEY, (-1, 5, 4, 3)) == ((-1, 60), {}, {})
    assert layer.init(KEY, (7, 3)) == ((7, 3), {}, {})
    X = rand((2, 3, 4, 5))
    Y, _, pullback = layer.vjp({}, {}, X)
    np.testing.assert_array_equal(Y, X.reshape(2, 60))
    # NHWC features come in (h, w, c) order
    assert Y[1, 5 * 1 + 2] == X[1, 0, 1, 2]
    dLdY = rand((2, 60), seed=1)
    _, dLdX = pullback(dLdY)
    np.testing.assert_array_equal(dLdX, dLdY.reshape(2, 3, 4, 5))


def test_linear_after_flatten_takes_its_size_from_the_shape():
    model = serial(
        Conv2d(1, 4, 3),
        ReLU(),
        MaxPool2d(2),
        Conv2d(4, 6, 3),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(None, 10),
    )
    out_shape, params, state = model.init(KEY, (-1, 28, 28, 1))
    assert out_shape == (-1, 10)
    assert params["7"]["W"].shape == (10, 5 * 5 * 6)
    logits, _ = model.apply(params, state, rand((3, 28, 28, 1), dtype=np.float32))
    assert logits.shape == (3, 10) and logits.dtype == np.float32


def test_gradients_through_conv_flatten_linear():
    model = serial(Conv2d(2, 2, 2, dtype=np.float64), Flatten(), Linear(None, 3, dtype=np.float64))
    _, params, state = model.init(KEY, (-1, 3, 4, 2))
    leaves, treedef = fnnet.tree.flatten(params)
    params = fnnet.tree.unflatten(treedef, [rand(a.shape, i + 1) for i, a in enumerate(leaves)])
    assert fnnet.check_grads(model, params, state, rand((2, 3, 4, 2))) < 1e-6


def test_flatten_errors():
    with pytest.raises(
        ValueError, match=r"Flatten: expected an input \(N, d1, \.\.\.\).*got \(8,\)"
    ):
        Flatten().init(KEY, (8,))
    with pytest.raises(ValueError, match=r"Flatten: expected .*got \(-1, -1, 3\)"):
        Flatten().init(KEY, (-1, -1, 3))
    with pytest.raises(ValueError, match=r"Flatten: expected .*got \(5,\)"):
        Flatten().apply({}, {}, np.zeros(5))


def test_flatten_pullback_keeps_the_shape_not_the_input():
    assert input_freed_after_vjp(Flatten(), {}, {}, np.ones((2, 3, 4, 5), np.float32))


def test_flatten_returns_read_only_views_and_leaves_the_input_writable():
    X = rand((2, 3, 4))
    Y, _, pullback = Flatten().vjp({}, {}, X)
    assert np.shares_memory(X, Y) and not Y.flags.writeable and X.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        Y[0, 0] = 1.0
    X[0, 0, 0] = 5.0  # the caller's array stays theirs to write
    assert Y[0, 0] == 5.0
    dLdY = rand((2, 12), seed=1)
    _, dLdX = pullback(dLdY)
    assert np.shares_memory(dLdX, dLdY) and not dLdX.flags.writeable
    Y_apply, _ = Flatten().apply({}, {}, X)
    assert not Y_apply.flags.writeable


def test_flatten_takes_lists():
    Y, _ = Flatten().apply({}, {}, [[[1, 2], [3, 4]]])
    assert Y.dtype == np.float32
    np.testing.assert_array_equal(Y, [[1, 2, 3, 4]])


def test_rows_as_sequence_reads_each_image_row_as_a_time_step():
    layer = RowsAsSequence()
    assert layer.init(KEY, (-1, 8, 8, 1)) == ((-1, 8, 8), {}, {})
    assert layer.init(KEY, (5, 3, 4, 2)) == ((5, 3, 8), {}, {})
    X = rand((2, 3, 4, 2))
    Y, _, pullback = layer.vjp({}, {}, X)
    assert Y.shape == (2, 3, 8)
    # Y[n, t, w C + c] = X[n, t, w, c]
    for n, t, w, c in [(0, 0, 0, 0), (1, 2, 3, 1), (0, 1, 2, 0), (1, 0, 1, 1)]:
        assert Y[n, t, w * 2 + c] == X[n, t, w, c]
    np.testing.assert_array_equal(Y[1, 2], X[1, 2].ravel())
    dLdY = rand((2, 3, 8), seed=1)
    _, dLdX = pullback(dLdY)
    assert dLdX.shape == (2, 3, 4, 2)
    assert dLdX[1, 2, 3, 1] == dLdY[1, 2, 7] and dLdX[0, 1, 2, 0] == dLdY[0, 1, 4]


def test_rows_as_sequence_gradients_alone_and_between_a_conv_and_a_gru():
    x = rand((2, 4, 3, 2))
    assert fnnet.check_grads(RowsAsSequence(), {}, {}, x) < 1e-6
    model = serial(
        Conv2d(2, 2, 3, padding=1, dtype=np.float64),
        RowsAsSequence(),
        RNN(GRUCell(6, 3, dtype=np.float64)),
        LastTimeStep(),
        Linear(3, 2, dtype=np.float64),
    )
    _, params, state = model.init(KEY, (-1, 4, 3, 2))
    assert fnnet.check_grads(model, randomize(params, seed=2), state, x) < 1e-6


def test_rows_as_sequence_returns_read_only_views_and_frees_the_input():
    X = rand((2, 3, 4, 1))
    Y, _, pullback = RowsAsSequence().vjp({}, {}, X)
    assert np.shares_memory(X, Y) and not Y.flags.writeable and X.flags.writeable
    _, dLdX = pullback(rand((2, 3, 4), seed=1))
    assert not dLdX.flags.writeable
    Y_apply, _ = RowsAsSequence().apply({}, {}, X)
    assert not Y_apply.flags.writeable
    assert input_freed_after_vjp(RowsAsSequence(), {}, {}, np.ones((2, 3, 4, 1), np.float32))


def test_rows_as_sequence_errors():
    with pytest.raises(
        ValueError, match=r"RowsAsSequence: expected images \(N, H, W, C\).*got \(-1, 64\)"
    ):
        RowsAsSequence().init(KEY, (-1, 64))
    with pytest.raises(ValueError, match=r"RowsAsSequence: expected .*got \(-1, 8, -1, 1\)"):
        RowsAsSequence().init(KEY, (-1, 8, -1, 1))
    with pytest.raises(ValueError, match=r"RowsAsSequence: expected .*got \(2, 8, 8\)"):
        RowsAsSequence().apply({}, {}, np.zeros((2, 8, 8)))
    with pytest.raises(TypeError, match="RowsAsSequence"):
        RowsAsSequence().apply({}, {}, np.zeros((1, 2, 2, 1), complex))
