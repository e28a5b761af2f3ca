import numpy as np
import pytest
from helpers import randomize

import fnnet
from fnnet import layers, losses, random


def buggy_square(factor):
    """y = x^2 with a pullback that is off by ``factor`` (1.0: correct)."""

    def init(key, shape):
        return shape, {}

    def apply(params, x):
        return x * x

    def vjp(params, x):
        return x * x, lambda dy: ({}, factor * 2 * x * dy)

    return layers.stateless(init, apply, vjp, name="Square")


def test_value_and_grad_matches_a_manual_chain():
    model = layers.serial(layers.Linear(3, 4), layers.Tanh(), layers.Linear(4, 2))
    _, params, state = model.init(random.key(0), (-1, 3))
    x = random.normal(random.key(1), (5, 3))
    y = np.array([0, 1, 1, 0, 1])
    value, grads, new_state = fnnet.value_and_grad(model, losses.cross_entropy)(params, state, x, y)
    pred, _, pullback = model.vjp(params, state, x)
    expected_value, loss_pullback = losses.cross_entropy.vjp(pred, y)
    expected_grads, _ = pullback(loss_pullback())
    assert value == expected_value and new_state == state
    fnnet.tree.map(np.testing.assert_array_equal, grads, expected_grads)
    assert grads["0"]["W"].dtype == np.float32


def test_value_and_grad_against_finite_differences_of_the_loss():
    model = layers.mlp([2, 4, 8, 8, 4, 2])
    _, params, state = model.init(random.key(0), (-1, 2))
    params = randomize(params)
    x = random.normal(random.key(1), (6, 2), np.float64)
    y = random.normal(random.key(2), (6, 2), np.float64)
    _, grads, _ = fnnet.value_and_grad(model, losses.mse)(params, state, x, y)
    eps = 1e-6
    W = params["4"]["W"]
    for idx in [(0, 0), (3, 7), (7, 2)]:
        up, down = W.copy(), W.copy()
        up[idx] += eps
        down[idx] -= eps
        f = [
            losses.mse.apply(model.apply({**params, "4": {**params["4"], "W": w}}, state, x)[0], y)
            for w in (up, down)
        ]
        assert grads["4"]["W"][idx] == pytest.approx((f[0] - f[1]) / (2 * eps), rel=1e-5, abs=1e-9)


def test_check_grads_passes_a_correct_layer_and_returns_the_error():
    err = fnnet.check_grads(
        buggy_square(1.0), {}, {}, random.normal(random.key(0), (3, 4), np.float64)
    )
    assert 0 <= err < 1e-8


def test_check_grads_catches_a_planted_bug_with_a_readable_report():
    with pytest.raises(fnnet.GradientCheckError) as info:
        fnnet.check_grads(
            buggy_square(1.5), {}, {}, random.normal(random.key(0), (3, 4), np.float64)
        )
    report = str(info.value)
    assert "dx" in report and "exceeds tol" in report and "2.000e-01" in report


def test_check_grads_reports_parameter_gradients_by_path():
    def init(key, shape):
        return shape, {"s": np.ones(shape[1:])}

    def apply(params, x):
        return params["s"] * x

    def vjp(params, x):
        # planted bug: dL/ds should be sum(dy * x), not sum(dy)
        return params["s"] * x, lambda dy: ({"s": dy.sum(axis=0)}, params["s"] * dy)

    layer = layers.serial(layers.Linear(2, 3), layers.stateless(init, apply, vjp, name="Scale"))
    _, params, state = layer.init(random.key(0), (-1, 2))
    with pytest.raises(fnnet.GradientCheckError, match=r"params/1/s .*exceeds tol"):
        fnnet.check_grads(
            layer, randomize(params), state, random.normal(random.key(1), (4, 2), np.float64)
        )


def test_random_cotangent_catches_what_a_sum_hides():
    # Softmax rows sum to one, so d(sum y)/dx = 0 for any x: a pullback that returns zeros
    # passes a sum-of-outputs check. The random cotangent of check_grads catches it.
    def vjp(params, x):
        y, _ = layers.Softmax().apply({}, {}, x)
        return y, lambda dy: ({}, np.zeros_like(dy))

    broken = layers.stateless(
        lambda k, s: (s, {}), lambda p, x: layers.Softmax().apply({}, {}, x)[0], vjp
    )
    with pytest.raises(fnnet.GradientCheckError):
        fnnet.check_grads(broken, {}, {}, random.normal(random.key(0), (2, 3), np.float64))


def test_check_loss_grads_catches_a_wrong_loss_gradient():
    def vjp(pred, target):
        value = float(np.mean((pred - target) ** 2))
        return value, lambda g=1.0: (pred - target) / pred.size  # missing the factor 2

    wrong = losses.Loss(lambda p, t: vjp(p, t)[0], vjp)
    with pytest.raises(fnnet.GradientCheckError, match="dpred"):
        fnnet.check_grads(wrong, np.ones((2, 2)) * 3, np.zeros((2, 2)))


def test_check_grads_rejects_other_things():
    with pytest.raises(TypeError, match="Layer or a Loss"):
        fnnet.check_grads(lambda x: x, np.ones(1))  # type: ignore[arg-type]


def test_a_gradient_that_is_zero_up_to_round_off_passes():
    # a bias right before a train-mode BatchNorm has no effect: its gradient is 0, and
    # finite differences give round-off noise whose relative error is meaningless
    net = layers.serial(layers.Linear(3, 4), layers.BatchNorm1d(4), layers.Linear(4, 2))
    _, params, state = net.init(random.key(0), (-1, 3))
    x = random.normal(random.key(1), (6, 3), np.float64)
    err = fnnet.check_grads(net, randomize(params), state, x)
    assert err < 1e-6
    y, _, pullback = net.vjp(randomize(params), state, x)
    grads, _ = pullback(np.ones_like(y))
    np.testing.assert_allclose(grads["0"]["b"], 0.0, atol=1e-12)
