import numpy as np
import pytest
from helpers import assert_all_read_only, randomize

import fnnet
from fnnet import layers, random


def test_course_worked_example():
    A = np.array([[-4.0, -3.0], [-2.0, -1.0], [0.0, 1.0], [2.0, 3.0]])
    params = {
        "W": np.array([[-2.0, -1.0], [0.0, 1.0], [2.0, 3.0]]),
        "b": np.array([-1.0, 0.0, 1.0]),
    }
    Z, state = layers.Linear(2, 3).apply(params, {}, A)
    np.testing.assert_array_equal(Z, [[10, -3, -16], [4, -1, -6], [-2, 1, 4], [-8, 3, 14]])
    assert state == {}


def test_backward_equations():
    rng = np.random.default_rng(0)
    A, W, b = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)), rng.normal(size=4)
    dLdZ = rng.normal(size=(5, 4))
    _, _, pullback = layers.Linear(3, 4).vjp({"W": W, "b": b}, {}, A)
    grads, dLdA = pullback(dLdZ)
    np.testing.assert_allclose(dLdA, dLdZ @ W)
    np.testing.assert_allclose(grads["W"], dLdZ.T @ A)
    np.testing.assert_allclose(grads["b"], dLdZ.sum(axis=0))


def test_init_shapes_dtype_and_read_only():
    out_shape, params, state = layers.Linear(3, 5).init(random.key(0), (-1, 3))
    assert out_shape == (-1, 5) and state == {}
    assert params["W"].shape == (5, 3) and params["b"].shape == (5,)
    assert params["W"].dtype == np.float32 and params["b"].dtype == np.float32
    np.testing.assert_array_equal(params["b"], 0.0)
    assert_all_read_only(params)


def test_default_init_is_he_uniform():
    _, params, _ = layers.Linear(400, 300).init(random.key(1), (-1, 400))
    bound = np.sqrt(6.0 / 400)
    W = params["W"]
    assert W.min() >= -bound and W.max() <= bound
    assert abs(W.std() - bound / np.sqrt(3)) < 0.01 * bound


def test_custom_initializers_and_dtype():
    lin = layers.Linear(
        2, 2, w_init=fnnet.initializers.ones, b_init=fnnet.initializers.ones, dtype=np.float64
    )
    _, params, _ = lin.init(random.key(0), (7, 2))
    np.testing.assert_array_equal(params["W"], np.ones((2, 2)))
    assert params["W"].dtype == np.float64


def test_in_features_none_takes_the_input_shape():
    out_shape, params, _ = layers.Linear(None, 4).init(random.key(0), (-1, 6))
    assert out_shape == (-1, 4) and params["W"].shape == (4, 6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_in_dtype_out(dtype):
    lin = layers.Linear(3, 2, dtype=dtype)
    _, params, state = lin.init(random.key(0), (-1, 3))
    x = np.ones((4, 3), dtype)
    y, _, pullback = lin.vjp(params, state, x)
    grads, dx = pullback(np.ones_like(y))
    assert y.dtype == dx.dtype == grads["W"].dtype == grads["b"].dtype == dtype


def test_gradient_check():
    lin = layers.Linear(3, 4)
    _, params, state = lin.init(random.key(0), (-1, 3))
    x = random.normal(random.key(1), (5, 3), np.float64)
    assert fnnet.check_grads(lin, randomize(params), state, x) < 1e-7


def test_gradient_check_behind_another_linear():
    net = layers.serial(layers.Linear(3, 4), layers.Linear(4, 2))
    _, params, state = net.init(random.key(0), (-1, 3))
    x = random.normal(random.key(1), (6, 3), np.float64)
    assert fnnet.check_grads(net, randomize(params), state, x) < 1e-7


def test_pullback_is_repeatable_and_pure():
    lin = layers.Linear(3, 2)
    _, params, state = lin.init(random.key(0), (-1, 3))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    x_before = x.copy()
    y, _, pullback = lin.vjp(params, state, x)
    dy = np.ones_like(y)
    g1, dx1 = pullback(dy)
    g2, dx2 = pullback(dy)
    np.testing.assert_array_equal(g1["W"], g2["W"])
    np.testing.assert_array_equal(dx1, dx2)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dy, 1.0)


def test_errors_name_the_layer_and_shapes():
    lin = layers.Linear(3, 2)
    _, params, state = lin.init(random.key(0), (-1, 3))
    with pytest.raises(ValueError, match=r"Linear: expected input \(\.\.\., 3\), got \(4, 5\)"):
        lin.apply(params, state, np.ones((4, 5), np.float32))
    with pytest.raises(
        ValueError, match=r"Linear: expected a 2-D input \(N, 3\), got shape \(3,\)"
    ):
        lin.apply(params, state, np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"expected input \(\.\.\., 3\), got \(-1, 4\)"):
        lin.init(random.key(0), (-1, 4))
    with pytest.raises(ValueError, match="out_features must be positive"):
        layers.Linear(3, 0)


def test_pullback_without_input_gradient():
    lin = layers.Linear(3, 2)
    _, params, state = lin.init(random.key(0), (-1, 3))
    x = random.normal(random.key(1), (4, 3))
    y, _, pullback = lin.vjp(params, state, x)
    grads, dx = pullback(np.ones_like(y), input_grad=False)
    assert dx is None
    np.testing.assert_allclose(grads["W"], np.ones((2, 4), np.float32) @ x, rtol=1e-6)
