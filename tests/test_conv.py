"""Tests for fnnet.layers.conv: shapes, the loop reference, gradients, dtypes, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import input_freed_after_vjp, rand, randomize

import fnnet
from fnnet import initializers
from fnnet.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU, naive, serial
from fnnet.layers.spatial import resolve_padding

KEY = fnnet.random.key(0)


# (kernel, stride, padding, input (N, H, W, Cin), Cout)
CONFIGS = [
    (3, 1, 0, (2, 6, 7, 2), 3),
    (3, 2, 1, (2, 7, 6, 3), 2),
    (1, 1, 0, (1, 4, 5, 3), 4),
    (2, 1, "same", (2, 5, 6, 2), 3),
    (3, 1, "same", (1, 5, 4, 2), 2),
    (4, 2, "same", (2, 7, 9, 1), 2),
    (5, 2, 2, (1, 8, 7, 2), 3),
    ((3, 2), (2, 1), (1, 0), (2, 6, 5, 2), 3),
    (3, 3, "valid", (1, 7, 8, 2), 2),
    # stride 1 with Cout <= Cin: the input gradient as a correlation with flipped filters
    (3, 1, 0, (2, 6, 7, 3), 2),
    (2, 1, "same", (2, 5, 6, 3), 3),
    ((3, 2), 1, (2, 0), (1, 5, 6, 4), 2),
    (1, 1, 0, (1, 4, 5, 3), 3),
    # ... except with a padding beyond k - 1 (col2im, then the crop)
    (3, 1, 3, (1, 4, 5, 2), 2),
]


def pads_of(kernel, stride, padding, shape):
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    s = (stride, stride) if isinstance(stride, int) else stride
    p = (
        padding
        if isinstance(padding, str)
        else (padding, padding)
        if isinstance(padding, int)
        else padding
    )
    return resolve_padding(p, shape[1:3], k, s), s


@pytest.mark.parametrize(("kernel", "stride", "padding", "shape", "c_out"), CONFIGS)
def test_matches_naive_loops(kernel, stride, padding, shape, c_out):
    layer = Conv2d(shape[3], c_out, kernel, stride, padding, dtype=np.float64)
    _, params, state = layer.init(KEY, shape)
    params = randomize(params, seed=1, dtype=None, scale=1.0)
    X = rand(shape)
    Z, _, pullback = layer.vjp(params, state, X)
    dLdZ = rand(Z.shape, seed=5)
    grads, dLdX = pullback(dLdZ)
    pads, s = pads_of(kernel, stride, padding, shape)
    Z_ref = naive.conv2d_forward(X, params["W"], params["b"], s, pads)
    dW_ref, db_ref, dX_ref = naive.conv2d_backward(X, params["W"], dLdZ, s, pads)
    np.testing.assert_allclose(Z, Z_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.apply(params, state, X)[0], Z_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["W"], dW_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["b"], db_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dLdX, dX_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kernel", "stride", "padding", "shape", "c_out"), CONFIGS[:6])
def test_gradients_finite_differences(kernel, stride, padding, shape, c_out):
    layer = Conv2d(shape[3], c_out, kernel, stride, padding)
    _, params, state = layer.init(KEY, shape)
    assert (
        fnnet.check_grads(
            layer, randomize(params, seed=1, dtype=None, scale=1.0), state, rand(shape)
        )
        < 1e-6
    )


def test_gradients_with_a_conv_in_front_and_a_linear_behind():
    model = serial(
        Conv2d(2, 3, 3, padding=1), ReLU(), Conv2d(3, 2, 2, stride=2), Flatten(), Linear(None, 3)
    )
    _, params, state = model.init(KEY, (2, 5, 6, 2))
    assert (
        fnnet.check_grads(
            model, randomize(params, seed=1, dtype=None, scale=1.0), state, rand((2, 5, 6, 2))
        )
        < 1e-6
    )


def test_output_size_follows_the_floor_rule():
    for H, k, s, p in [(28, 3, 1, 0), (28, 5, 2, 2), (7, 2, 3, 1), (10, 4, 4, 0)]:
        layer = Conv2d(1, 1, k, s, p)
        out_shape, _, _ = layer.init(KEY, (-1, H, H + 1, 1))
        assert out_shape == (
            -1,
            math.floor((H + 2 * p - k) / s) + 1,
            math.floor((H + 1 + 2 * p - k) / s) + 1,
            1,
        )
        Z, _ = layer.apply(layer.init(KEY, (3, H, H + 1, 1))[1], {}, np.ones((3, H, H + 1, 1)))
        assert Z.shape == (3, *out_shape[1:])


@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5])
def test_same_padding_keeps_the_size_and_pads_extra_at_the_end(kernel):
    out_shape, _, _ = Conv2d(2, 3, kernel, padding="same").init(KEY, (-1, 9, 6, 2))
    assert out_shape == (-1, 9, 6, 3)
    pads = resolve_padding("same", (9, 6), (kernel, kernel), (1, 1))
    before, after = (kernel - 1) // 2, kernel // 2
    assert pads == ((before, after), (before, after))


def test_same_padding_with_stride_gives_ceil():
    out_shape, _, _ = Conv2d(1, 1, 3, stride=2, padding="same").init(KEY, (-1, 7, 8, 1))
    assert out_shape == (-1, 4, 4, 1)
    assert resolve_padding("same", (7, 8), (3, 3), (2, 2)) == ((1, 1), (0, 1))


def test_params_default_init_and_layout():
    layer = Conv2d(3, 8, (3, 5))
    out_shape, params, state = layer.init(KEY, (-1, 10, 10, 3))
    assert out_shape == (-1, 8, 6, 8)
    assert state == {}
    assert set(params) == {"W", "b"}
    assert params["W"].shape == (3, 5, 3, 8) and params["b"].shape == (8,)
    assert params["W"].dtype == np.float32 and params["b"].dtype == np.float32
    assert not params["W"].flags.writeable and not params["b"].flags.writeable
    # He-uniform over fan_in = kh kw Cin: U[-a, a), a = sqrt(6 / fan_in)
    bound = math.sqrt(6.0 / (3 * 5 * 3))
    assert np.abs(params["W"]).max() <= bound
    assert np.abs(params["W"]).max() > 0.8 * bound
    np.testing.assert_array_equal(params["b"], np.zeros(8))


def test_init_keywords_and_inferred_channels():
    layer = Conv2d(None, 4, 2, w_init=initializers.ones, b_init=initializers.ones, dtype=np.float64)
    _, params, _ = layer.init(KEY, (-1, 3, 3, 5))
    assert params["W"].shape == (2, 2, 5, 4) and params["W"].dtype == np.float64
    Z, _ = layer.apply(params, {}, np.ones((1, 3, 3, 5)))
    np.testing.assert_array_equal(Z, np.full((1, 2, 2, 4), 2 * 2 * 5 + 1.0))


def test_float32_stays_float32():
    layer = Conv2d(2, 3, 3, stride=2, padding=1)
    _, params, state = layer.init(KEY, (-1, 6, 5, 2))
    X = rand((2, 6, 5, 2), dtype=np.float32)
    Z, _, pullback = layer.vjp(params, state, X)
    grads, dLdX = pullback(rand(Z.shape, dtype=np.float32))
    assert Z.dtype == np.float32 and dLdX.dtype == np.float32
    assert grads["W"].dtype == np.float32 and grads["b"].dtype == np.float32
    assert layer.apply(params, state, X)[0].dtype == np.float32


def test_pure_input_untouched_and_pullback_repeatable():
    layer = Conv2d(2, 2, 3, padding=1)
    _, params, state = layer.init(KEY, (-1, 4, 4, 2))
    X = rand((2, 4, 4, 2))
    X_copy = X.copy()
    Z, _, pullback = layer.vjp(params, state, X)
    dLdZ = rand(Z.shape, seed=3)
    g1, dx1 = pullback(dLdZ)
    g2, dx2 = pullback(dLdZ)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(dx1, dx2)
    np.testing.assert_array_equal(g1["W"], g2["W"])


def test_known_values_edge_detector():
    # a horizontal difference filter [-1, 1] picks out the step in each row
    W = np.array([-1.0, 1.0]).reshape(1, 2, 1, 1)
    X = np.array([[0, 0, 5, 5], [1, 2, 3, 4]], float).reshape(1, 2, 4, 1)
    Z, _ = Conv2d(1, 1, (1, 2)).apply({"W": W, "b": np.zeros(1)}, {}, X)
    np.testing.assert_array_equal(Z[0, :, :, 0], [[0, 5, 0], [1, 1, 1]])


def test_error_not_4d():
    layer = Conv2d(3, 4, 3)
    with pytest.raises(
        ValueError, match=r"Conv2d: expected a 4-D input \(N, H, W, C\), got shape \(8, 28, 28\)"
    ):
        layer.init(KEY, (8, 28, 28))
    _, params, state = layer.init(KEY, (-1, 8, 8, 3))
    with pytest.raises(ValueError, match=r"Conv2d: expected a 4-D input .*got shape \(8, 192\)"):
        layer.apply(params, state, np.zeros((8, 192)))


def test_error_channel_mismatch():
    layer = Conv2d(3, 4, 3)
    with pytest.raises(
        ValueError, match=r"Conv2d: expected input \(N, H, W, 3\), got \(8, 28, 28, 1\)"
    ):
        layer.init(KEY, (8, 28, 28, 1))
    _, params, state = layer.init(KEY, (-1, 8, 8, 3))
    with pytest.raises(
        ValueError, match=r"Conv2d: expected input \(N, H, W, 3\), got \(2, 8, 8, 1\)"
    ):
        layer.vjp(params, state, np.zeros((2, 8, 8, 1)))


def test_error_kernel_larger_than_padded_input():
    layer = Conv2d(1, 1, 5, padding=1)
    with pytest.raises(
        ValueError, match=r"Conv2d: kernel \(5, 5\) is larger than the padded input \(4, 6\)"
    ):
        layer.init(KEY, (-1, 2, 4, 1))
    _, params, state = layer.init(KEY, (-1, 8, 8, 1))
    with pytest.raises(
        ValueError, match=r"Conv2d: kernel \(5, 5\) is larger .*input \(1, 2, 3, 1\)"
    ):
        layer.apply(params, state, np.zeros((1, 2, 3, 1)))
    with pytest.raises(
        ValueError, match=r"Conv2d: kernel \(3, 3\) is larger than the input \(2, 9\)"
    ):
        Conv2d(1, 1, 3).init(KEY, (-1, 2, 9, 1))


def test_error_inside_serial_names_the_layer():
    model = serial(Conv2d(1, 4, 3), ReLU(), MaxPool2d(2), Conv2d(3, 8, 3))
    with pytest.raises(
        ValueError,
        match=r"serial layer 3 \(Conv2d\): expected input \(N, H, W, 3\), got \(-1, 13, 13, 4\)",
    ):
        model.init(KEY, (-1, 28, 28, 1))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 4, 3), "in_channels must be positive"),
        ((1, 0, 3), "out_channels must be positive"),
        ((1, 4, 0), "kernel_size must be an int >= 1"),
        ((1, 4, (3, 3, 3)), "kernel_size must be an int >= 1 or a pair"),
        ((1, 4, 3, 0), "stride must be an int >= 1"),
        ((1, 4, 3, 1, -1), "padding must be an int >= 0"),
        ((1, 4, 3, 1, "full"), "padding must be an int, a pair, 'same' or 'valid'"),
    ],
)
def test_error_bad_arguments(args, message):
    with pytest.raises(ValueError, match=f"Conv2d: {message}"):
        Conv2d(*args)


def test_first_layer_pullback_can_skip_the_input_gradient():
    conv = Conv2d(2, 3, 3, padding=1)
    assert fnnet.layers.skips_input_grad(conv)
    _, params, state = conv.init(fnnet.random.key(0), (-1, 5, 5, 2))
    x = fnnet.random.normal(fnnet.random.key(1), (2, 5, 5, 2))
    y, _, pullback = conv.vjp(params, state, x)
    dy = fnnet.random.normal(fnnet.random.key(2), y.shape)
    grads, dx = pullback(dy)
    grads_skip, none = pullback(dy, input_grad=False)
    assert none is None and dx.shape == x.shape
    np.testing.assert_array_equal(grads["W"], grads_skip["W"])
    np.testing.assert_array_equal(grads["b"], grads_skip["b"])


@pytest.mark.parametrize(
    ("stride", "padding", "c_in", "c_out", "by_correlation"),
    [
        (1, 1, 4, 4, True),
        (1, 0, 4, 2, True),
        (1, 1, 2, 4, False),  # more output channels: col2im is faster
        (2, 1, 4, 4, False),  # stride 2: not a correlation with the flipped filters
        (1, 3, 4, 4, False),  # a padding beyond k - 1: col2im, then the crop
    ],
)
def test_input_gradient_takes_the_form_its_shape_calls_for(
    monkeypatch, stride, padding, c_in, c_out, by_correlation
):
    layer = Conv2d(c_in, c_out, 3, stride, padding, dtype=np.float64)
    _, params, state = layer.init(KEY, (-1, 6, 5, c_in))
    X = rand((2, 6, 5, c_in))
    Z, _, pullback = layer.vjp(params, state, X)
    dLdZ = rand(Z.shape, seed=3)
    calls = []
    col2im = fnnet.kernels.col2im
    monkeypatch.setattr(fnnet.kernels, "col2im", lambda *a: calls.append(a) or col2im(*a))
    _, dLdX = pullback(dLdZ)
    assert (len(calls) == 0) == by_correlation
    pads = resolve_padding((padding, padding), (6, 5), (3, 3), (stride, stride))
    _, _, dX_ref = naive.conv2d_backward(X, params["W"], dLdZ, (stride, stride), pads)
    np.testing.assert_allclose(dLdX, dX_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c_in", [1, 3])  # patches built two ways
def test_conv_pullback_keeps_the_patches_not_the_input(c_in):
    layer = Conv2d(c_in, 2, 3, padding=1)
    _, params, state = layer.init(fnnet.random.key(0), (-1, 5, 5, c_in))
    assert input_freed_after_vjp(layer, params, state, rand((2, 5, 5, c_in), dtype=np.float32))


def test_error_params_of_another_model():
    conv = Conv2d(1, 4, 3)
    _, params, state = conv.init(KEY, (-1, 8, 8, 1))
    X = np.zeros((2, 8, 8, 1), np.float32)
    mlp_params = {"W": np.zeros((16, 4), np.float32), "b": np.zeros(16, np.float32)}
    with pytest.raises(
        ValueError, match=r"Conv2d: params\['W'\] expected shape \(3, 3, 1, 4\), got \(16, 4\)"
    ):
        conv.apply(mlp_params, state, X)
    with pytest.raises(
        ValueError, match=r"Conv2d: expected params with keys \['W', 'b'\], got \[\]"
    ):
        conv.vjp({}, state, X)
    with pytest.raises(ValueError, match=r"keys \['W', 'b'\], got \['W', 'b', 'extra'\]"):
        conv.apply({**params, "extra": params["b"]}, state, X)
    with pytest.raises(
        ValueError, match=r"Conv2d: params\['b'\] expected shape \(4,\), got \(5,\)"
    ):
        conv.apply({"W": params["W"], "b": np.zeros(5, np.float32)}, state, X)
    with pytest.raises(
        ValueError, match=r"Conv2d: params\['W'\] expected shape \(3, 3, 1, 4\), got \(3, 3, 2, 4\)"
    ):
        conv.apply({"W": np.zeros((3, 3, 2, 4)), "b": params["b"]}, state, X)
    with pytest.raises(TypeError, match=r"Conv2d: params\['W'\] expected a float array, got int64"):
        conv.apply({"W": np.zeros((3, 3, 1, 4), np.int64), "b": params["b"]}, state, X)
    with pytest.raises(
        ValueError, match=r"Conv2d: expected params with keys \['W', 'b'\], got list"
    ):
        conv.apply([params["W"], params["b"]], state, X)


def test_error_mlp_params_given_to_a_cnn_names_the_layer():
    cnn = serial(Conv2d(1, 4, 3), ReLU(), Flatten(), Linear(None, 3))
    mlp = serial(Linear(4, 16), ReLU(), Flatten(), Linear(16, 3))
    _, _, state = cnn.init(KEY, (-1, 6, 6, 1))
    _, mlp_params, _ = mlp.init(KEY, (-1, 4))
    with pytest.raises(
        ValueError, match=r"serial layer 0 \(Conv2d\): params\['W'\] expected shape \(3, 3, 1, 4\)"
    ):
        cnn.vjp(mlp_params, state, np.zeros((2, 6, 6, 1)))


def test_in_channels_none_takes_any_channel_count_but_checks_the_rest():
    conv = Conv2d(None, 4, 3)
    _, params, state = conv.init(KEY, (-1, 8, 8, 2))
    with pytest.raises(
        ValueError, match=r"params\['W'\] expected shape \(3, 3, \*, 4\), got \(3, 3, 2\)"
    ):
        conv.apply({"W": params["W"][..., 0], "b": params["b"]}, state, np.zeros((1, 8, 8, 2)))
    with pytest.raises(
        ValueError, match=r"Conv2d: expected input \(N, H, W, 2\), got \(1, 8, 8, 3\)"
    ):
        conv.apply(params, state, np.zeros((1, 8, 8, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_integer_and_list_inputs_follow_the_one_dtype_rule(dtype):
    # as Linear: int / bool / lists become float32, then NumPy's promotion with the params
    conv = Conv2d(1, 2, 2, dtype=dtype)
    _, params, state = conv.init(KEY, (-1, 3, 3, 1))
    X = np.arange(18).reshape(2, 3, 3, 1)
    Z, _ = conv.apply(params, state, X)
    Z_float, _ = conv.apply(params, state, X.astype(np.float32))
    assert Z.dtype == dtype
    np.testing.assert_array_equal(Z, Z_float)
    Z_list, _, pullback = conv.vjp(params, state, X.tolist())
    np.testing.assert_array_equal(Z_list, Z_float)
    grads, dLdX = pullback(np.ones_like(Z_list))
    assert dLdX.dtype == grads["W"].dtype == dtype


def test_error_complex_input():
    conv = Conv2d(1, 2, 2)
    _, params, state = conv.init(KEY, (-1, 3, 3, 1))
    with pytest.raises(
        TypeError, match=r"Conv2d: expected an array of real numbers, got dtype complex64"
    ):
        conv.apply(params, state, np.zeros((1, 3, 3, 1), np.complex64))
    with pytest.raises(TypeError, match=r"Conv2d: expected an array of real numbers"):
        conv.vjp(params, state, np.zeros((1, 3, 3, 1), np.complex128))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((4.5, 4, 3), r"in_channels must be positive \(an int >= 1 or None\), got 4.5"),
        ((True, 4, 3), r"in_channels must be positive \(an int >= 1 or None\), got True"),
        ((1, -2, 3), r"out_channels must be positive \(an int >= 1\), got -2"),
        ((1, 4.0, 3), r"out_channels must be positive \(an int >= 1\), got 4.0"),
        ((1, None, 3), r"out_channels must be positive \(an int >= 1\), got None"),
        ((1, 4, 2.5), r"kernel_size must be an int >= 1 or a pair of them, got 2.5"),
        ((1, 4, True), r"kernel_size must be an int >= 1 or a pair of them, got True"),
        ((1, 4, (3, -1)), r"kernel_size must be an int >= 1 or a pair of them, got \(3, -1\)"),
        ((1, 4, "3"), r"kernel_size must be an int >= 1 or a pair of them, got '3'"),
        ((1, 4, 3, 1.5), r"stride must be an int >= 1 or a pair of them, got 1.5"),
        ((1, 4, 3, (1, False)), r"stride must be an int >= 1 or a pair"),
        ((1, 4, 3, 1, 0.5), r"padding must be an int >= 0 or a pair of them, got 0.5"),
    ],
)
def test_error_bad_argument_types(args, message):
    with pytest.raises(ValueError, match=f"Conv2d: {message}"):
        Conv2d(*args)


def test_error_input_of_wrong_rank_or_empty():
    conv = Conv2d(1, 2, 2)
    _, params, state = conv.init(KEY, (-1, 3, 3, 1))
    with pytest.raises(
        ValueError, match=r"Conv2d: expected a 4-D input \(N, H, W, C\), got shape \(3, 3\)"
    ):
        conv.apply(params, state, np.zeros((3, 3)))
    with pytest.raises(
        ValueError, match=r"Conv2d: expected positive H, W and C, got input \(1, 0, 3, 1\)"
    ):
        conv.apply(params, state, np.zeros((1, 0, 3, 1)))
