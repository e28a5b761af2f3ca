import numpy as np
import pytest
from helpers import assert_all_read_only

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


# ---------------------------------------------------------------- hardening


def test_params_of_another_shape_are_an_error_naming_the_key():
    lin = layers.Linear(4, 8)
    x = np.ones((2, 4), np.float32)
    W16 = np.zeros((16, 4), np.float32)
    b8, b16 = np.zeros(8, np.float32), np.zeros(16, np.float32)
    with pytest.raises(
        ValueError, match=r"^Linear: params W: expected shape \(8, 4\), got \(16, 4\)$"
    ):
        lin.apply({"W": W16, "b": b8}, {}, x)
    with pytest.raises(ValueError, match=r"^Linear: params b: expected shape \(8,\), got \(16,\)$"):
        lin.vjp({"W": np.zeros((8, 4), np.float32), "b": b16}, {}, x)


def test_params_with_missing_or_extra_keys_are_an_error():
    lin = layers.Linear(4, 8)
    _, params, _ = lin.init(random.key(0), (-1, 4))
    x = np.ones((2, 4), np.float32)
    with pytest.raises(
        ValueError, match=r"^Linear: expected params with keys \['W', 'b'\], got \[\]$"
    ):
        lin.apply({}, {}, x)
    with pytest.raises(ValueError, match=r"got \['W', 'b', 'c'\]$"):
        lin.apply({**params, "c": params["b"]}, {}, x)
    with pytest.raises(TypeError, match=r"^Linear: expected params as a dict, got list$"):
        lin.apply([params["W"], params["b"]], {}, x)


def test_params_of_another_model_are_refused_by_serial():
    small, big = layers.mlp([4, 8, 3]), layers.mlp([4, 16, 3])
    _, params, state = big.init(random.key(0), (-1, 4))
    with pytest.raises(
        ValueError,
        match=r"^serial layer 0 \(Linear\): params W: expected shape \(8, 4\), got \(16, 4\)",
    ):
        small.apply(params, state, np.ones((2, 4), np.float32))


def test_integer_weights_are_a_type_error():
    lin = layers.Linear(2, 3)
    params = {"W": np.ones((3, 2), np.int64), "b": np.zeros(3, np.float32)}
    with pytest.raises(TypeError, match=r"^Linear: params W: expected a float array, got int64$"):
        lin.apply(params, {}, np.ones((1, 2), np.float32))


@pytest.mark.parametrize("bad", [4.5, True, "4", np.float64(4.0)])
def test_sizes_that_are_not_ints_are_type_errors(bad):
    with pytest.raises(TypeError, match=r"^Linear: in_features must be a positive int or None"):
        layers.Linear(bad, 3)
    with pytest.raises(TypeError, match=r"^Linear: out_features must be a positive int, got"):
        layers.Linear(3, bad)


@pytest.mark.parametrize("shape", [(-1, 0), (5, 0), (-1, -1)])
def test_in_features_none_needs_known_positive_features(shape):
    with pytest.raises(ValueError, match=r"^Linear: expected input \(N, C_in\) with C_in > 0, got"):
        layers.Linear(None, 3).init(random.key(0), shape)


def test_in_features_none_checks_the_input_against_W():
    lin = layers.Linear(None, 2)
    _, params, state = lin.init(random.key(0), (-1, 3))
    with pytest.raises(ValueError, match=r"^Linear: expected input \(\.\.\., 3\), got \(4, 5\)$"):
        lin.apply(params, state, np.ones((4, 5), np.float32))


def test_lists_and_integers_are_inputs_in_float32():
    lin = layers.Linear(2, 3)
    _, params, state = lin.init(random.key(0), (-1, 2))
    y, _ = lin.apply(params, state, [[1, 2], [3, 4]])
    y_ref, _ = lin.apply(params, state, np.array([[1, 2], [3, 4]], np.float32))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, y_ref)
    with pytest.raises(
        TypeError, match=r"^Linear: expected an array of real numbers, got dtype complex"
    ):
        lin.apply(params, state, np.ones((1, 2), np.complex64))
