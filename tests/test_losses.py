import warnings

import numpy as np
import pytest

import fnnet
from fnnet import losses, random
from fnnet.losses import Loss

A = np.array([[-4.0, -3.0], [-2.0, -1.0], [0.0, 1.0], [2.0, 3.0]])
Y = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])


def test_losses_are_values_not_factories():
    for loss in (losses.mse, losses.cross_entropy, losses.binary_cross_entropy):
        assert isinstance(loss, Loss) and Loss._fields == ("apply", "vjp")


def test_mse_value_and_gradient():
    value = losses.mse.apply(A, Y)
    assert isinstance(value, float)
    assert value == pytest.approx(np.sum((A - Y) ** 2) / 8)
    _, pullback = losses.mse.vjp(A, Y)
    np.testing.assert_allclose(pullback(), 2 * (A - Y) / 8)
    np.testing.assert_allclose(pullback(3.0), 6 * (A - Y) / 8)


def test_cross_entropy_course_example():
    assert losses.cross_entropy.apply(A, Y) == pytest.approx(0.8133, abs=1e-4)
    assert losses.cross_entropy.apply(A, np.array([1, 0, 0, 1])) == pytest.approx(0.8133, abs=1e-4)


def test_cross_entropy_gradient_is_softmax_minus_y_over_n():
    S = np.exp(A) / np.exp(A).sum(axis=1, keepdims=True)
    for target in (Y, np.array([1, 0, 0, 1])):
        _, pullback = losses.cross_entropy.vjp(A, target)
        np.testing.assert_allclose(pullback(), (S - Y) / 4)


def test_cross_entropy_with_soft_labels():
    P = np.array([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0], [0.3, 0.7]])
    logp = A - np.log(np.exp(A).sum(axis=1, keepdims=True))
    assert losses.cross_entropy.apply(A, P) == pytest.approx(-np.sum(P * logp) / 4)


def test_binary_cross_entropy_on_logits():
    x = np.array([[-2.0, 0.5], [3.0, -0.1]])
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    p = 1 / (1 + np.exp(-x))
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert losses.binary_cross_entropy.apply(x, y) == pytest.approx(expected)
    _, pullback = losses.binary_cross_entropy.vjp(x, y)
    np.testing.assert_allclose(pullback(), (p - y) / 4)


@pytest.mark.parametrize(
    ("loss", "target"),
    [
        (losses.mse, random.normal(random.key(3), (5, 3), np.float64)),
        (losses.cross_entropy, np.array([0, 2, 1, 1, 0])),
        (losses.cross_entropy, np.eye(3)[[0, 2, 1, 1, 0]]),
        (losses.cross_entropy, random.uniform(random.key(5), (5, 3)) * 2),  # rows not summing to 1
        (losses.binary_cross_entropy, (random.uniform(random.key(4), (5, 3)) > 0.5).astype(float)),
    ],
)
def test_gradient_check(loss, target):
    pred = random.normal(random.key(2), (5, 3), np.float64)
    assert fnnet.check_grads(loss, pred, target) < 1e-7


@pytest.mark.parametrize("loss", [losses.cross_entropy, losses.binary_cross_entropy])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_huge_logits(loss, dtype):
    x = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]], dtype)
    target = (
        np.array([2, 1])
        if loss is losses.cross_entropy
        else np.array([[0, 1, 1], [1, 1, 0]], dtype)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, pullback = loss.vjp(x, target)
        grad = pullback()
    assert np.isfinite(value) and np.all(np.isfinite(grad)) and grad.dtype == dtype
    if loss is losses.cross_entropy:
        assert value == pytest.approx(2e4 / 2, rel=1e-6)


@pytest.mark.parametrize("loss", [losses.mse, losses.cross_entropy, losses.binary_cross_entropy])
def test_float32_gradient_stays_float32(loss):
    pred = np.ones((3, 2), np.float32)
    target = np.array([0, 1, 1]) if loss is losses.cross_entropy else np.zeros((3, 2), np.float32)
    _, pullback = loss.vjp(pred, target)
    assert pullback().dtype == np.float32


def test_inputs_are_not_mutated_and_pullback_repeats():
    pred, target = A.copy(), Y.copy()
    _, pullback = losses.cross_entropy.vjp(pred, target)
    g1, g2 = pullback(), pullback()
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(pred, A)
    np.testing.assert_array_equal(target, Y)


def test_errors():
    with pytest.raises(ValueError, match=r"label 2 is outside \[0, 2\)"):
        losses.cross_entropy.apply(A, np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"label -1 is outside \[0, 2\)"):
        losses.cross_entropy.apply(A, np.array([0, -1, 1, 0]))
    with pytest.raises(ValueError, match=r"must have shape \(4,\)"):
        losses.cross_entropy.apply(A, np.array([0, 1]))
    with pytest.raises(TypeError, match="must be integers"):
        losses.cross_entropy.apply(A, np.array([0.0, 1.0, 1.0, 0.0]))
    with pytest.raises(
        ValueError, match=r"target shape \(4, 3\) does not match prediction shape \(4, 2\)"
    ):
        losses.cross_entropy.apply(A, np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"logits of shape \(N, C\)"):
        losses.cross_entropy.apply(np.ones(3), np.array([0]))
    with pytest.raises(ValueError, match=r"mse: target shape \(4, 1\) does not match"):
        losses.mse.apply(A, np.ones((4, 1)))
    with pytest.raises(ValueError, match="binary_cross_entropy: target shape"):
        losses.binary_cross_entropy.apply(A, np.ones(4))
    with pytest.raises(TypeError, match="must be numeric"):
        losses.mse.apply(np.array(["a"]), np.array(["b"]))


@pytest.mark.parametrize(
    ("loss", "name", "equation"),
    [
        (losses.mse, "mse", "dL/dA = 2 (A - Y) / (N C)"),
        (losses.cross_entropy, "cross_entropy", "dL/dA = (softmax(A) - Y) / N"),
        (losses.binary_cross_entropy, "binary_cross_entropy", "dL/dX = (sigmoid(X) - Y) / numel"),
    ],
)
def test_help_shows_the_loss_own_docstring(loss, name, equation):
    import pydoc

    text = pydoc.render_doc(loss, renderer=pydoc.plaintext)
    assert equation in text and equation in loss.__doc__
    assert Loss.__doc__.splitlines()[0] not in text  # not the docstring of the Loss type
    assert loss.__name__ == name and repr(loss) == f"<loss {name}>"
    assert isinstance(loss, Loss) and loss == Loss(loss.apply, loss.vjp)


def test_a_hand_built_loss_works_with_value_and_grad():
    def vjp(pred, target):
        return float(np.sum(pred - target)), lambda g=1.0: np.full_like(pred, g)

    loss = Loss(lambda p, t: vjp(p, t)[0], vjp)
    model = fnnet.layers.Linear(2, 3)
    _, params, state = model.init(random.key(0), (-1, 2))
    x = np.ones((4, 2), np.float32)
    _, grads, _ = fnnet.value_and_grad(model, loss)(params, state, x, np.zeros((4, 3)))
    np.testing.assert_allclose(grads["b"], [4.0, 4.0, 4.0])
    np.testing.assert_allclose(grads["W"], np.full((3, 2), 4.0))


@pytest.mark.parametrize(
    ("loss", "target"),
    [
        (losses.mse, random.normal(random.key(3), (6, 3), np.float64)),
        (losses.cross_entropy, np.array([0, 2, 1, 1, 0, 2])),
        (losses.cross_entropy, random.uniform(random.key(5), (6, 3))),
        (losses.binary_cross_entropy, random.uniform(random.key(4), (6, 3))),
    ],
)
def test_gradient_behind_a_linear_layer_against_finite_differences(loss, target):
    model = fnnet.layers.Linear(4, 3)
    _, params, state = model.init(random.key(0), (-1, 4))
    params = {k: v.astype(np.float64) for k, v in params.items()}
    x = random.normal(random.key(1), (6, 4), np.float64)
    _, grads, _ = fnnet.value_and_grad(model, loss)(params, state, x, target)
    h = 1e-6
    for name, p in params.items():
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            step = np.zeros_like(p)
            step[i] = h
            up = loss.apply(model.apply({**params, name: p + step}, state, x)[0], target)
            down = loss.apply(model.apply({**params, name: p - step}, state, x)[0], target)
            numeric[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-9)


def test_binary_cross_entropy_refuses_targets_outside_0_1():
    x = np.zeros((2, 2))
    with pytest.raises(
        ValueError, match=r"binary_cross_entropy: targets must be in \[0, 1\], got 2\.0 at index"
    ):
        losses.binary_cross_entropy.apply(x, np.array([[0.0, 1.0], [2.0, 0.5]]))
    with pytest.raises(ValueError, match=r"got -0\.5 at index \(0, 1\)"):
        losses.binary_cross_entropy.vjp(x, np.array([[0.0, -0.5], [1.0, 0.5]]))
    with pytest.raises(ValueError, match="got nan"):
        losses.binary_cross_entropy.apply(x, np.array([[0.0, np.nan], [1.0, 0.5]]))
    # the ends are allowed, and soft targets
    assert np.isfinite(losses.binary_cross_entropy.apply(x, np.array([[0.0, 1.0], [0.3, 1.0]])))


def test_error_messages_of_every_loss():
    with pytest.raises(ValueError, match="mse: empty prediction"):
        losses.mse.apply(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="binary_cross_entropy: empty prediction"):
        losses.binary_cross_entropy.apply(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="cross_entropy: empty batch"):
        losses.cross_entropy.apply(np.zeros((0, 2)), np.zeros(0, int))
    with pytest.raises(TypeError, match="binary_cross_entropy: target must be numeric"):
        losses.binary_cross_entropy.apply(np.zeros(2), np.array(["a", "b"]))
    with pytest.raises(TypeError, match="cross_entropy: pred must be numeric"):
        losses.cross_entropy.apply(np.array([["a", "b"]]), np.array([0]))
    with pytest.raises(ValueError, match=r"cross_entropy: label 5 is outside \[0, 2\)"):
        losses.cross_entropy.vjp(A, np.array([0, 5, 1, 0]))
