import warnings

import numpy as np
import pytest
from helpers import input_freed_after_vjp
from scipy import special

import fnnet
from fnnet import layers, random

SCALAR = {
    "Identity": (lambda z: z, lambda z: np.ones_like(z)),
    "Sigmoid": (special.expit, lambda z: special.expit(z) * (1 - special.expit(z))),
    "Tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "ReLU": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "GELU": (
        lambda z: z * special.ndtr(z),
        lambda z: special.ndtr(z) + z * np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi),
    ),
    "LeakyReLU": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "ELU": (lambda z: np.where(z > 0, z, np.expm1(z)), lambda z: np.where(z > 0, 1.0, np.exp(z))),
    "SiLU": (
        lambda z: z * special.expit(z),
        lambda z: special.expit(z) * (1 + z * (1 - special.expit(z))),
    ),
    "Softplus": (lambda z: np.log1p(np.exp(z)), special.expit),
}
ALL = [*SCALAR, "Softmax", "LogSoftmax"]


def make(name):
    layer = getattr(layers, name)()
    _, params, state = layer.init(random.key(0), (-1, 4))
    return layer, params, state


@pytest.mark.parametrize("name", list(SCALAR))
def test_scalar_forward_and_derivative(name):
    f, df = SCALAR[name]
    layer, params, state = make(name)
    z = np.linspace(-3, 3, 24).reshape(6, 4) + 0.01
    y, _, pullback = layer.vjp(params, state, z)
    np.testing.assert_allclose(y, f(z), rtol=1e-12, atol=1e-12)
    dy = np.full_like(z, 0.5)
    grads, dz = pullback(dy)
    assert grads == {}
    np.testing.assert_allclose(dz, 0.5 * df(z), rtol=1e-10, atol=1e-12)


def test_course_examples():
    z = np.array([[-4.0, -3.0], [-2.0, -1.0], [0.0, 1.0], [2.0, 3.0]])
    relu, p, s = make("ReLU")
    np.testing.assert_array_equal(relu.apply(p, s, z)[0], [[0, 0], [0, 0], [0, 1], [2, 3]])
    sig, p, s = make("Sigmoid")
    np.testing.assert_allclose(sig.apply(p, s, z)[0][0], [0.018, 0.047], atol=5e-4)
    tanh, p, s = make("Tanh")
    np.testing.assert_allclose(tanh.apply(p, s, z)[0][0], [-0.999, -0.995], atol=5e-4)


def test_relu_derivative_at_zero_is_zero():
    relu, p, s = make("ReLU")
    _, _, pullback = relu.vjp(p, s, np.zeros((1, 3)))
    np.testing.assert_array_equal(pullback(np.ones((1, 3)))[1], 0.0)


def test_softmax_rows_and_vjp_equal_the_jacobian_product():
    sm, p, s = make("Softmax")
    z = random.normal(random.key(0), (3, 5), np.float64)
    a, _, pullback = sm.vjp(p, s, z)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    dy = random.normal(random.key(1), (3, 5), np.float64)
    _, dz = pullback(dy)
    for i in range(3):
        J = np.diag(a[i]) - np.outer(a[i], a[i])
        np.testing.assert_allclose(dz[i], dy[i] @ J, atol=1e-14)


def test_softmax_along_another_axis():
    layer = layers.Softmax(axis=0)
    z = random.normal(random.key(2), (4, 3), np.float64)
    a, _ = layer.apply({}, {}, z)
    np.testing.assert_allclose(a.sum(axis=0), 1.0)
    assert fnnet.check_grads(layer, {}, {}, z) < 1e-7


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_for_huge_inputs_without_warnings(name, dtype):
    layer, p, s = make(name)
    big = 800.0 if dtype == np.float64 else 1e30
    z = np.array([[-big, -1.0, 0.0, big]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, _, pullback = layer.vjp(p, s, z)
        _, dz = pullback(np.ones_like(y))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dz))


def test_sigmoid_is_stable_for_large_negative_inputs():
    sig, p, s = make("Sigmoid")
    y, _ = sig.apply(p, s, np.array([[-1000.0, -50.0]]))
    assert y[0, 0] == 0.0 and y[0, 1] == pytest.approx(np.exp(-50.0), rel=1e-12)


def test_errors_inside_serial_name_the_activation():
    net = layers.serial(layers.Linear(2, 2), layers.Tanh(), layers.Linear(3, 1))
    with pytest.raises(ValueError, match=r"serial layer 2 \(Linear\)"):
        net.init(random.key(0), (-1, 2))


@pytest.mark.parametrize("name", ALL)
def test_pullback_keeps_only_what_the_derivative_needs(name):
    # ReLU keeps a mask, Sigmoid, Tanh and the softmaxes their output, the others their
    # input (their derivative is written in it); the rest is free once no longer used
    layer = getattr(layers, name)()
    x = random.normal(random.key(0), (4, 5), np.float32)
    freed = input_freed_after_vjp(layer, {}, {}, x)
    assert freed == (name in {"ReLU", "Sigmoid", "Tanh", "Identity", "Softmax", "LogSoftmax"})


def test_identity_returns_read_only_views_and_leaves_the_input_writable():
    layer = layers.Identity()
    x = np.arange(6.0).reshape(2, 3)
    y, _ = layer.apply({}, {}, x)
    y_vjp, _, pullback = layer.vjp({}, {}, x)
    dy = np.ones_like(x)
    _, dx = pullback(dy)
    for out, inp in [(y, x), (y_vjp, x), (dx, dy)]:
        assert np.shares_memory(out, inp) and not out.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        y[0, 0] = 1.0
    x[0, 0] = 7.0
    assert x.flags.writeable and y[0, 0] == 7.0


@pytest.mark.parametrize("name", ALL)
def test_lists_and_integers_compute_in_float32(name):
    layer, p, s = make(name)
    y_list, _ = layer.apply(p, s, [[0, 1, -2], [3, 1, 0]])
    y_int, _ = layer.apply(p, s, np.array([[0, 1, -2], [3, 1, 0]], np.int64))
    y_ref, _ = layer.apply(p, s, np.array([[0, 1, -2], [3, 1, 0]], np.float32))
    assert y_list.dtype == y_int.dtype == np.float32
    np.testing.assert_array_equal(y_list, y_ref)
    np.testing.assert_array_equal(y_int, y_ref)
    with pytest.raises(
        TypeError, match=rf"^{name}: expected an array of real numbers, got dtype complex128$"
    ):
        layer.apply(p, s, np.ones((2, 3), np.complex128))
