"""Tests for fnnet.layers.pooling: the loop reference, ties, overlaps, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import input_freed_after_vjp, rand, randomize

import fnnet
from fnnet.layers import AvgPool2d, Conv2d, GlobalAvgPool2d, MaxPool2d, ReLU, naive, serial

KEY = fnnet.random.key(0)


# (kernel, stride, input shape): divisible, ragged, overlapping, rectangular, stride > kernel
POOLS = [
    (2, None, (2, 6, 8, 3)),
    (2, None, (2, 7, 5, 2)),
    (3, 1, (2, 5, 6, 2)),
    (3, 2, (1, 7, 8, 3)),
    ((2, 3), (1, 2), (2, 5, 7, 2)),
    (2, 3, (1, 8, 7, 2)),
]


def pair(v):
    return (v, v) if isinstance(v, int) else v


@pytest.mark.parametrize(("kernel", "stride", "shape"), POOLS)
def test_maxpool_matches_naive_loops(kernel, stride, shape):
    layer = MaxPool2d(kernel, stride)
    X = rand(shape)
    Y, _, pullback = layer.vjp({}, {}, X)
    dLdY = rand(Y.shape, seed=2)
    _, dLdX = pullback(dLdY)
    k, s = pair(kernel), pair(stride if stride is not None else kernel)
    np.testing.assert_array_equal(Y, naive.maxpool2d_forward(X, k, s))
    np.testing.assert_array_equal(layer.apply({}, {}, X)[0], Y)
    np.testing.assert_allclose(dLdX, naive.maxpool2d_backward(X, dLdY, k, s), rtol=1e-14)
    assert layer.init(KEY, (-1, *shape[1:]))[0] == (-1, *Y.shape[1:])


@pytest.mark.parametrize(("kernel", "stride", "shape"), POOLS)
def test_avgpool_matches_naive_loops(kernel, stride, shape):
    layer = AvgPool2d(kernel, stride)
    X = rand(shape)
    Y, _, pullback = layer.vjp({}, {}, X)
    dLdY = rand(Y.shape, seed=2)
    _, dLdX = pullback(dLdY)
    k, s = pair(kernel), pair(stride if stride is not None else kernel)
    np.testing.assert_allclose(Y, naive.avgpool2d_forward(X, k, s), rtol=1e-12)
    np.testing.assert_allclose(dLdX, naive.avgpool2d_backward(X, dLdY, k, s), rtol=1e-12)
    assert layer.init(KEY, (-1, *shape[1:]))[0] == (-1, *Y.shape[1:])


def test_maxpool_ties_go_to_the_first_winner():
    X = np.array([[1, 3, 3, 0], [3, 2, 0, 0], [5, 5, 1, 1], [5, 5, 1, 1]], float)
    Y, _, pullback = MaxPool2d(2).vjp({}, {}, X.reshape(1, 4, 4, 1))
    np.testing.assert_array_equal(Y[0, :, :, 0], [[3, 3], [5, 1]])
    _, dLdX = pullback(np.array([10.0, 20.0, 30.0, 40.0]).reshape(1, 2, 2, 1))
    expected = np.array([[0, 10, 20, 0], [0, 0, 0, 0], [30, 0, 40, 0], [0, 0, 0, 0]], float)
    np.testing.assert_array_equal(dLdX[0, :, :, 0], expected)


def test_maxpool_overlapping_windows_add_up():
    # one large value wins all four overlapping 2x2 windows around it
    X = np.zeros((1, 3, 3, 1))
    X[0, 1, 1, 0] = 9.0
    Y, _, pullback = MaxPool2d(2, stride=1).vjp({}, {}, X)
    np.testing.assert_array_equal(Y[0, :, :, 0], np.full((2, 2), 9.0))
    _, dLdX = pullback(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1))
    assert dLdX[0, 1, 1, 0] == 10.0 and dLdX.sum() == 10.0


def test_known_values():
    X = np.arange(16, dtype=float).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(MaxPool2d(2).apply({}, {}, X)[0][0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(
        AvgPool2d(2).apply({}, {}, X)[0][0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]]
    )
    np.testing.assert_array_equal(GlobalAvgPool2d().apply({}, {}, X)[0], [[7.5]])


@pytest.mark.parametrize(
    "layer", [MaxPool2d(2), MaxPool2d(3, 1), AvgPool2d(2), AvgPool2d((2, 3), 1), GlobalAvgPool2d()]
)
def test_gradients_finite_differences(layer):
    assert fnnet.check_grads(layer, {}, {}, rand((2, 5, 6, 2))) < 1e-6


@pytest.mark.parametrize("pool", [MaxPool2d(2), AvgPool2d(3, 2), GlobalAvgPool2d()])
def test_gradients_with_a_conv_in_front(pool):
    model = serial(Conv2d(2, 3, 3, padding=1, dtype=np.float64), ReLU(), pool)
    _, params, state = model.init(KEY, (2, 6, 5, 2))
    assert (
        fnnet.check_grads(
            model, randomize(params, seed=1, dtype=None, scale=1.0), state, rand((2, 6, 5, 2))
        )
        < 1e-6
    )


def test_global_avg_pool_shapes_and_gradient():
    layer = GlobalAvgPool2d()
    assert layer.init(KEY, (-1, 7, 5, 4))[0] == (-1, 4)
    X = rand((3, 7, 5, 4))
    Y, _, pullback = layer.vjp({}, {}, X)
    np.testing.assert_allclose(Y, X.mean(axis=(1, 2)))
    dLdY = rand((3, 4), seed=1)
    _, dLdX = pullback(dLdY)
    np.testing.assert_allclose(dLdX, np.broadcast_to(dLdY[:, None, None, :] / 35, X.shape))
    assert dLdX.flags.writeable


@pytest.mark.parametrize("layer", [MaxPool2d(2), AvgPool2d(2), GlobalAvgPool2d()])
def test_float32_stays_float32(layer):
    X = rand((2, 4, 6, 3), dtype=np.float32)
    Y, _, pullback = layer.vjp({}, {}, X)
    _, dLdX = pullback(rand(Y.shape, dtype=np.float32))
    assert Y.dtype == np.float32 and dLdX.dtype == np.float32
    assert layer.apply({}, {}, X)[0].dtype == np.float32


def test_input_untouched():
    X = rand((2, 4, 4, 2))
    X_copy = X.copy()
    for layer in (MaxPool2d(2, 1), AvgPool2d(2, 1), GlobalAvgPool2d()):
        Y, _, pullback = layer.vjp({}, {}, X)
        pullback(np.ones_like(Y))
    np.testing.assert_array_equal(X, X_copy)


@pytest.mark.parametrize(
    ("layer", "name"), [(MaxPool2d(2), "MaxPool2d"), (AvgPool2d(2), "AvgPool2d")]
)
def test_errors(layer, name):
    with pytest.raises(
        ValueError, match=rf"{name}: expected a 4-D input \(N, H, W, C\), got shape \(8, 28, 28\)"
    ):
        layer.init(KEY, (8, 28, 28))
    with pytest.raises(ValueError, match=rf"{name}: expected a 4-D input .*got shape \(8, 4\)"):
        layer.apply({}, {}, np.zeros((8, 4)))
    with pytest.raises(
        ValueError, match=rf"{name}: kernel \(2, 2\) is larger than the input \(1, 5\)"
    ):
        layer.init(KEY, (-1, 1, 5, 3))
    with pytest.raises(
        ValueError, match=rf"{name}: kernel \(2, 2\) is larger than the input \(4, 1\)"
    ):
        layer.vjp({}, {}, np.zeros((2, 4, 1, 3)))


def test_errors_global_and_arguments():
    with pytest.raises(
        ValueError, match=r"GlobalAvgPool2d: expected a 4-D input .*got shape \(8, 5\)"
    ):
        GlobalAvgPool2d().init(KEY, (8, 5))
    with pytest.raises(
        ValueError, match=r"GlobalAvgPool2d: expected a 4-D input .*got shape \(2, 3, 4\)"
    ):
        GlobalAvgPool2d().vjp({}, {}, np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="MaxPool2d: kernel_size must be an int >= 1"):
        MaxPool2d(0)
    with pytest.raises(ValueError, match="AvgPool2d: stride must be an int >= 1"):
        AvgPool2d(2, stride=(1, 0))
    model = serial(Conv2d(1, 2, 3), MaxPool2d(4))
    with pytest.raises(
        ValueError, match=r"serial layer 1 \(MaxPool2d\): kernel \(4, 4\) is larger"
    ):
        model.init(KEY, (-1, 5, 5, 1))


@pytest.mark.parametrize(
    "layer", [MaxPool2d(2), MaxPool2d(3, 1), AvgPool2d(2), GlobalAvgPool2d()], ids=repr
)
def test_pullbacks_keep_shapes_and_masks_not_the_input(layer):
    assert input_freed_after_vjp(layer, {}, {}, rand((2, 6, 6, 3), dtype=np.float32))


@pytest.mark.parametrize(
    ("layer", "name"),
    [
        (MaxPool2d(2), "MaxPool2d"),
        (AvgPool2d(2), "AvgPool2d"),
        (GlobalAvgPool2d(), "GlobalAvgPool2d"),
    ],
)
def test_integer_inputs_give_float32_and_complex_is_refused(layer, name):
    X = np.arange(32).reshape(2, 4, 4, 1)
    Y, _, pullback = layer.vjp({}, {}, X)
    np.testing.assert_array_equal(Y, layer.apply({}, {}, X.astype(np.float32))[0])
    assert Y.dtype == np.float32 and pullback(np.ones_like(Y))[1].dtype == np.float32
    assert layer.apply({}, {}, X.tolist())[0].dtype == np.float32
    with pytest.raises(
        TypeError, match=rf"{name}: expected an array of real numbers, got dtype complex64"
    ):
        layer.apply({}, {}, X.astype(np.complex64))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: MaxPool2d(2.0),
            r"MaxPool2d: kernel_size must be an int >= 1 or a pair of them, got 2.0",
        ),
        (
            lambda: MaxPool2d(True),
            r"MaxPool2d: kernel_size must be an int >= 1 or a pair of them, got True",
        ),
        (
            lambda: MaxPool2d(2, -1),
            r"MaxPool2d: stride must be an int >= 1 or a pair of them, got -1",
        ),
        (
            lambda: AvgPool2d((2, 0)),
            r"AvgPool2d: kernel_size must be an int >= 1 or a pair of them, got \(2, 0\)",
        ),
        (
            lambda: AvgPool2d(2, 1.0),
            r"AvgPool2d: stride must be an int >= 1 or a pair of them, got 1.0",
        ),
    ],
)
def test_error_bad_argument_types(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_float64_gradient_into_a_float32_pool_keeps_the_wider_dtype():
    X = rand((1, 4, 4, 2), dtype=np.float32)
    for layer in (MaxPool2d(2), AvgPool2d(2), GlobalAvgPool2d()):
        Y, _, pullback = layer.vjp({}, {}, X)
        assert pullback(np.ones(Y.shape, np.float64))[1].dtype == np.float64


@pytest.mark.parametrize(
    ("layer", "name"),
    [
        (MaxPool2d(2), "MaxPool2d"),
        (AvgPool2d(2), "AvgPool2d"),
        (GlobalAvgPool2d(), "GlobalAvgPool2d"),
    ],
)
def test_error_params_given_to_a_pool(layer, name):
    X = np.zeros((1, 4, 4, 2))
    params = {"W": np.zeros((3, 3, 2, 2)), "b": np.zeros(2)}
    with pytest.raises(
        ValueError, match=rf"{name}: expected params with keys \[\], got \['W', 'b'\]"
    ):
        layer.apply(params, {}, X)
    with pytest.raises(
        ValueError, match=rf"{name}: expected params with keys \[\], got \['W', 'b'\]"
    ):
        layer.vjp(params, {}, X)
