"""Tests of fnnet.layers.normalization (BatchNorm1d, BatchNorm2d), and of stateful layers
inside ``serial``, weight decay masks and a training loop that threads the state."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import input_freed_after_vjp

import fnnet
from fnnet import layers, losses, optim, random, tree
from fnnet.layers import BatchNorm1d, BatchNorm2d, Dropout, Linear, ReLU, serial


def rand_params(C: int, seed: int = 0, dtype=np.float64) -> dict:
    k1, k2 = random.split(random.key(seed))
    return {
        "gamma": random.uniform(k1, (C,), dtype, 0.5, 2.0),
        "beta": random.normal(k2, (C,), dtype),
    }


def rand_state(C: int, seed: int = 1, dtype=np.float64) -> dict:
    k1, k2 = random.split(random.key(seed))
    return {
        "mean": random.normal(k1, (C,), dtype),
        "var": random.uniform(k2, (C,), dtype, 0.5, 3.0),
    }


def data(shape: tuple[int, ...], seed: int = 2, dtype=np.float64) -> np.ndarray:
    # features with different scales and offsets, so normalisation does something
    x = random.normal(random.key(seed), shape, dtype)
    return x * np.linspace(0.5, 3.0, shape[-1]).astype(dtype) + 1.5


def bn_formula(x, gamma, beta, mean, var, eps):
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


# ---------------------------------------------------------------- the course's worked example


def test_worked_example_from_course_notes():
    bn = BatchNorm1d(2)
    _, _, state = bn.init(random.key(0), (4, 2))
    Z = np.array([[1, 4], [7, 0], [1, 0], [7, 4]], np.float32)
    params = {"gamma": np.array([2, 5], np.float32), "beta": np.array([-1, 2], np.float32)}
    BZ, new_state = bn.apply(params, state, Z, train=True)
    expected = np.array([[-3, 7], [1, -3], [-3, -3], [1, 7]], np.float32)
    np.testing.assert_allclose(BZ, expected, atol=1e-5)
    # batch mean (4, 2), biased variance (9, 4); running stats from (0, 1) with alpha 0.9
    np.testing.assert_allclose(new_state["mean"], [0.4, 0.2], rtol=1e-6)
    np.testing.assert_allclose(new_state["var"], [0.9 + 0.9, 0.9 + 0.4], rtol=1e-6)


# ---------------------------------------------------------------- init, shapes, dtypes


def test_init_params_and_state():
    out_shape, params, state = BatchNorm1d(3).init(random.key(0), (-1, 3))
    assert out_shape == (-1, 3)
    assert set(params) == {"gamma", "beta"} and set(state) == {"mean", "var"}
    np.testing.assert_array_equal(params["gamma"], np.ones(3))
    np.testing.assert_array_equal(params["beta"], np.zeros(3))
    np.testing.assert_array_equal(state["mean"], np.zeros(3))
    np.testing.assert_array_equal(state["var"], np.ones(3))
    for a in tree.leaves((params, state)):
        assert a.dtype == np.float32 and a.shape == (3,)
        assert not a.flags.writeable


def test_init_batchnorm2d_nhwc():
    out_shape, params, state = BatchNorm2d(5).init(random.key(0), (-1, 7, 6, 5))
    assert out_shape == (-1, 7, 6, 5)
    assert {k: v.shape for k, v in {**params, **state}.items()} == {
        "gamma": (5,),
        "beta": (5,),
        "mean": (5,),
        "var": (5,),
    }


@pytest.mark.parametrize("train", [True, False])
def test_float32_stays_float32(train):
    bn = BatchNorm1d(4)
    _, params, state = bn.init(random.key(0), (8, 4))
    x = data((8, 4), dtype=np.float32)
    y, new_state, pullback = bn.vjp(params, state, x, train=train)
    grads, dx = pullback(np.ones_like(y))
    for a in [y, dx, *tree.leaves(grads), *tree.leaves(new_state)]:
        assert a.dtype == np.float32


def test_float64_stays_float64():
    bn = BatchNorm1d(4)
    x = data((8, 4))
    y, new_state, pullback = bn.vjp(rand_params(4), rand_state(4), x)
    grads, dx = pullback(np.ones_like(y))
    for a in [y, dx, *tree.leaves(grads), *tree.leaves(new_state)]:
        assert a.dtype == np.float64


# ---------------------------------------------------------------- forward math and statistics


def test_train_mode_normalises_with_batch_statistics():
    x = data((64, 5))
    p = rand_params(5)
    y, _ = BatchNorm1d(5, eps=1e-5).apply(p, rand_state(5), x, train=True)
    expected = bn_formula(x, p["gamma"], p["beta"], x.mean(0), x.var(0), 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    # per feature: mean beta, (biased) standard deviation ~gamma
    np.testing.assert_allclose(y.mean(0), p["beta"], atol=1e-12)
    np.testing.assert_allclose(y.std(0), p["gamma"] * np.sqrt(x.var(0) / (x.var(0) + 1e-5)))


def test_eval_mode_normalises_with_running_statistics_and_keeps_state():
    x = data((6, 3))
    p, s = rand_params(3), rand_state(3)
    bn = BatchNorm1d(3, eps=1e-5)
    y, new_state = bn.apply(p, s, x)  # eval is the default of apply
    np.testing.assert_allclose(y, bn_formula(x, p["gamma"], p["beta"], s["mean"], s["var"], 1e-5))
    assert new_state["mean"] is s["mean"] and new_state["var"] is s["var"]
    y2, new_state2, _ = bn.vjp(p, s, x, train=False)
    np.testing.assert_array_equal(y2, y)
    assert new_state2["mean"] is s["mean"] and new_state2["var"] is s["var"]


@pytest.mark.parametrize("alpha", [0.9, 0.5, 0.0, 1.0])
def test_running_statistics_follow_the_formula(alpha):
    bn = BatchNorm1d(3, alpha=alpha)
    s0 = rand_state(3)
    x1, x2 = data((10, 3), seed=3), data((7, 3), seed=4)
    _, s1 = bn.apply(rand_params(3), s0, x1, train=True)
    _, s2, _ = bn.vjp(rand_params(3), s1, x2)  # vjp trains by default
    m1 = alpha * s0["mean"] + (1 - alpha) * x1.mean(0)
    v1 = alpha * s0["var"] + (1 - alpha) * x1.var(0)  # biased variance (ddof=0)
    np.testing.assert_allclose(s1["mean"], m1, rtol=1e-12)
    np.testing.assert_allclose(s1["var"], v1, rtol=1e-12)
    np.testing.assert_allclose(s2["mean"], alpha * m1 + (1 - alpha) * x2.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s2["var"], alpha * v1 + (1 - alpha) * x2.var(0), rtol=1e-12)
    assert not s1["mean"].flags.writeable and not s2["var"].flags.writeable


def test_running_statistics_converge_to_data_statistics():
    bn = BatchNorm1d(2, alpha=0.5)
    _, params, state = bn.init(random.key(0), (-1, 2))
    x = data((32, 2))
    for _ in range(60):
        _, state = bn.apply(params, state, x, train=True)
    np.testing.assert_allclose(state["mean"], x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(state["var"], x.var(0), rtol=1e-5)


def test_batchnorm2d_equals_batchnorm1d_on_rows():
    x = data((3, 4, 5, 2))
    p, s = rand_params(2), rand_state(2)
    u = random.normal(random.key(9), x.shape, np.float64)
    for train in (True, False):
        y2, s2, pb2 = BatchNorm2d(2).vjp(p, s, x, train=train)
        y1, s1, pb1 = BatchNorm1d(2).vjp(p, s, x.reshape(-1, 2), train=train)
        np.testing.assert_allclose(y2, y1.reshape(x.shape), rtol=1e-12)
        for a, b in zip(tree.leaves(s2), tree.leaves(s1), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)
        g2, dx2 = pb2(u)
        g1, dx1 = pb1(u.reshape(-1, 2))
        assert dx2.shape == x.shape
        np.testing.assert_allclose(dx2, dx1.reshape(x.shape), rtol=1e-10, atol=1e-12)
        for a, b in zip(tree.leaves(g2), tree.leaves(g1), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10)


def test_batchnorm2d_statistics_per_channel_over_n_h_w():
    x = data((4, 3, 3, 2))
    _, s = BatchNorm2d(2, alpha=0.0).apply(rand_params(2), rand_state(2), x, train=True)
    np.testing.assert_allclose(s["mean"], x.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(s["var"], x.var(axis=(0, 1, 2)), rtol=1e-12)


# ---------------------------------------------------------------- edge cases and errors


def test_batch_of_one_in_train_mode_is_an_error():
    bn = BatchNorm1d(3)
    _, params, state = bn.init(random.key(0), (-1, 3))
    x = np.ones((1, 3), np.float32)
    with pytest.raises(ValueError, match=r"BatchNorm1d: train mode needs more than 1 value"):
        bn.apply(params, state, x, train=True)
    with pytest.raises(ValueError, match=r"got input \(1, 3\)"):
        bn.vjp(params, state, x)
    y, _ = bn.apply(params, state, x)  # eval mode is fine with one sample
    np.testing.assert_allclose(y, np.ones((1, 3)) / np.sqrt(1 + 1e-8))


def test_batchnorm2d_needs_more_than_one_value_per_channel():
    bn = BatchNorm2d(2)
    _, params, state = bn.init(random.key(0), (-1, 1, 1, 2))
    with pytest.raises(ValueError, match=r"BatchNorm2d: train mode needs more than 1 value"):
        bn.apply(params, state, np.ones((1, 1, 1, 2)), train=True)
    # one image with several pixels has a variance (as in PyTorch)
    y, _ = bn.apply(params, state, data((1, 2, 2, 2)), train=True)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_constant_feature_gives_finite_outputs_and_gradients(dtype):
    x = data((8, 3), dtype=dtype)
    x[:, 1] = 0.1  # constant feature: batch variance 0
    params = {"gamma": np.full(3, 2.0, dtype), "beta": np.array([0.0, 0.5, 1.0], dtype)}
    state = {"mean": np.zeros(3, dtype), "var": np.ones(3, dtype)}
    y, new_state, pullback = BatchNorm1d(3).vjp(params, state, x)
    grads, dx = pullback(random.normal(random.key(1), y.shape, dtype))
    for a in [y, dx, *tree.leaves(grads), *tree.leaves(new_state)]:
        assert np.all(np.isfinite(a))
    np.testing.assert_allclose(y[:, 1], 0.5, atol=1e-3)  # the feature becomes beta


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (BatchNorm1d(3), (4, 5), r"^BatchNorm1d: expected input \(\.\.\., 3\), got \(4, 5\)$"),
        (
            BatchNorm1d(3),
            (4, 3, 1),
            r"^BatchNorm1d: expected a 2-D input \(N, 3\), got shape \(4, 3, 1\)$",
        ),
        (BatchNorm1d(3), (3,), r"^BatchNorm1d: expected a 2-D input \(N, 3\), got shape \(3,\)$"),
        (
            BatchNorm2d(3),
            (2, 4, 4, 1),
            r"^BatchNorm2d: expected input \(\.\.\., \.\.\., \.\.\., 3\), got \(2, 4, 4, 1\)$",
        ),
        (
            BatchNorm2d(3),
            (2, 3),
            r"^BatchNorm2d: expected a 4-D input \(N, H, W, 3\), got shape \(2, 3\)$",
        ),
    ],
)
def test_shape_errors_name_the_layer_and_the_shapes(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer.init(random.key(0), shape)
    C = 3
    params = {"gamma": np.ones(C), "beta": np.zeros(C)}
    state = {"mean": np.zeros(C), "var": np.ones(C)}
    for train in (True, False):
        with pytest.raises(ValueError, match=message):
            layer.apply(params, state, np.ones(shape), train=train)
        with pytest.raises(ValueError, match=message):
            layer.vjp(params, state, np.ones(shape), train=train)


def test_shape_errors_inside_serial_name_the_position():
    model = serial(Linear(4, 5), BatchNorm1d(6))
    with pytest.raises(
        ValueError,
        match=r"serial layer 1 \(BatchNorm1d\): expected input \(\.\.\., 6\), got \(-1, 5\)",
    ):
        model.init(random.key(0), (-1, 4))
    assert layers.layer_name(BatchNorm2d(2)) == "BatchNorm2d"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"num_features": 0}, ValueError, r"BatchNorm1d: num_features must be positive, got 0"),
        ({"num_features": 2.0}, TypeError, r"BatchNorm1d: num_features must be an int"),
        (
            {"num_features": 2, "alpha": 1.5},
            ValueError,
            r"BatchNorm1d: alpha must be in \[0, 1\], got 1.5",
        ),
        ({"num_features": 2, "eps": -1e-5}, ValueError, r"BatchNorm1d: eps must be >= 0"),
    ],
)
def test_constructor_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        BatchNorm1d(**kwargs)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("train", [True, False])
def test_gradients_batchnorm1d_finite_differences(train):
    err = fnnet.check_grads(
        BatchNorm1d(4, eps=1e-5), rand_params(4), rand_state(4), data((6, 4)), train=train
    )
    assert err < 1e-6


def linear_params(c_in: int, c_out: int, seed: int) -> dict:
    k_w, k_b = random.split(random.key(seed))
    return {
        "W": random.normal(k_w, (c_out, c_in), np.float64),
        "b": random.normal(k_b, (c_out,), np.float64),
    }


def test_gradients_with_linear_in_front_eval_mode():
    model = serial(Linear(3, 4), BatchNorm1d(4, eps=1e-5))
    params = {"0": linear_params(3, 4, 5), "1": rand_params(4)}
    state = {"0": {}, "1": rand_state(4)}
    assert fnnet.check_grads(model, params, state, data((5, 3)), train=False) < 1e-6


def test_gradients_with_linear_in_front_train_mode():
    # Linear's W gradient is dLdZ^T A, with dLdZ from BatchNorm's train-mode pullback.
    # A Tanh sits between them: a bias right before a train-mode BatchNorm has an exactly
    # zero gradient (see the next test), which a relative-error check cannot judge.
    model = serial(Linear(3, 4), layers.Tanh(), BatchNorm1d(4, eps=1e-5), Linear(4, 2))
    params = {
        "0": linear_params(3, 4, 5),
        "1": {},
        "2": rand_params(4),
        "3": linear_params(4, 2, 6),
    }
    state = {"0": {}, "1": {}, "2": rand_state(4), "3": {}}
    assert fnnet.check_grads(model, params, state, data((6, 3)), train=True) < 1e-6


def test_bias_right_before_train_mode_batchnorm_gets_no_gradient():
    model = serial(Linear(3, 4), BatchNorm1d(4))
    params = {"0": linear_params(3, 4, 5), "1": rand_params(4)}
    y, _, pullback = model.vjp(params, {"0": {}, "1": rand_state(4)}, data((6, 3)))
    grads, _ = pullback(random.normal(random.key(7), y.shape, np.float64))
    np.testing.assert_allclose(grads["0"]["b"], 0.0, atol=1e-12)
    assert np.all(np.abs(grads["0"]["W"]) > 1e-6)


@pytest.mark.parametrize("train", [True, False])
def test_gradients_batchnorm2d_finite_differences(train):
    x = data((2, 3, 2, 3))
    err = fnnet.check_grads(BatchNorm2d(3, eps=1e-5), rand_params(3), rand_state(3), x, train=train)
    assert err < 1e-6


def test_gradients_with_the_default_eps():
    assert fnnet.check_grads(BatchNorm1d(3), rand_params(3), rand_state(3), data((5, 3))) < 1e-6


def test_train_mode_input_gradient_is_orthogonal_to_shift_and_scale():
    # With eps = 0, BZ does not change when a feature is shifted or scaled, so per
    # feature sum_i dLdZ_ij = 0 and sum_i dLdZ_ij * NZ_ij = 0, whatever dLdBZ is.
    x = data((9, 4))
    p = rand_params(4)
    y, _, pullback = BatchNorm1d(4, eps=0.0).vjp(p, rand_state(4), x)
    grads, dx = pullback(random.normal(random.key(3), y.shape, np.float64))
    NZ = (x - x.mean(0)) / x.std(0)
    np.testing.assert_allclose(dx.sum(0), 0.0, atol=1e-12)
    np.testing.assert_allclose((dx * NZ).sum(0), 0.0, atol=1e-12)
    # and the course's ones-cotangent example: dL/dbeta = N, dL/dgamma = 0
    grads, _ = pullback(np.ones_like(y))
    np.testing.assert_allclose(grads["beta"], np.full(4, 9.0))
    np.testing.assert_allclose(grads["gamma"], 0.0, atol=1e-12)


# ---------------------------------------------------------------- purity


@pytest.mark.parametrize("train", [True, False])
def test_arguments_are_not_mutated_and_calls_are_repeatable(train):
    bn = BatchNorm1d(3)
    p, s, x = rand_params(3), rand_state(3), data((5, 3))
    u = random.normal(random.key(4), x.shape, np.float64)
    copies = tree.map(np.copy, (p, s, x, u))
    y1, s1, pb = bn.vjp(p, s, x, train=train)
    g1, dx1 = pb(u)
    g2, dx2 = pb(u)  # a pullback can be called again: nothing accumulates
    y3, s3, _ = bn.vjp(p, s, x, train=train)
    for a, b in zip(tree.leaves((p, s, x, u)), tree.leaves(copies), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dx1, dx2)
    np.testing.assert_array_equal(y1, y3)
    for a, b in zip(tree.leaves((g1, s1)), tree.leaves((g2, s3)), strict=True):
        np.testing.assert_array_equal(a, b)


def test_read_only_params_reject_in_place_edits():
    _, params, state = BatchNorm1d(2).init(random.key(0), (-1, 2))
    _, new_state = BatchNorm1d(2).apply(params, state, data((4, 2)), train=True)
    for a in tree.leaves((params, state, new_state)):
        with pytest.raises(ValueError, match="read-only"):
            a += 1


# ---------------------------------------------------------------- in a network


def small_net():
    return serial(Linear(4, 6), BatchNorm1d(6), ReLU(), Dropout(0.5), Linear(6, 3), BatchNorm1d(3))


def test_serial_threads_state_and_leaves_the_old_state_untouched():
    model = small_net()
    _, params, state = model.init(random.key(0), (-1, 4))
    assert state == {"0": {}, "1": state["1"], "2": {}, "3": {}, "4": {}, "5": state["5"]}
    old = tree.map(np.copy, state)
    x = data((10, 4), dtype=np.float32)
    y, new_state = model.apply(params, state, x, key=random.key(1), train=True)
    assert tree.structure_equal(new_state, state)
    assert new_state["1"]["mean"] is not state["1"]["mean"]
    for a, b in zip(tree.leaves(state), tree.leaves(old), strict=True):
        np.testing.assert_array_equal(a, b)
    # BatchNorm "1" saw Linear's output; its running mean moved by (1 - alpha) * batch mean
    z, _ = model.apply(params, state, x, key=random.key(1), train=True)  # same call, same result
    np.testing.assert_array_equal(z, y)
    h = x @ np.asarray(params["0"]["W"]).T + params["0"]["b"]
    np.testing.assert_allclose(new_state["1"]["mean"], 0.1 * h.mean(0), rtol=1e-5, atol=1e-7)
    # eval mode: state passed through unchanged, no key needed
    _, eval_state = model.apply(params, new_state, x)
    for a, b in zip(tree.leaves(eval_state), tree.leaves(new_state), strict=True):
        assert a is b


def test_serial_gives_each_layer_its_own_key():
    model = serial(Dropout(0.5), Dropout(0.5))
    x = np.ones((20, 30))
    k = random.key(7)
    k0, k1 = random.split(k, 2)
    _, _, pullback = model.vjp({"0": {}, "1": {}}, {"0": {}, "1": {}}, x, key=k)
    _, dx = pullback(np.ones_like(x))
    # the pullback multiplies by both masks: mask_0 * mask_1 from the split keys
    m0, _ = Dropout(0.5).apply({}, {}, x, key=k0, train=True)
    m1, _ = Dropout(0.5).apply({}, {}, x, key=k1, train=True)
    np.testing.assert_array_equal(dx, m0 * m1)
    assert not np.array_equal(m0, m1)


def test_stateless_network_works_without_a_key():
    model = layers.mlp([3, 5, 2])
    _, params, state = model.init(random.key(0), (-1, 3))
    y, new_state, pullback = model.vjp(params, state, data((4, 3)))
    grads, dx = pullback(np.ones_like(y))
    assert y.shape == (4, 2) and dx.shape == (4, 3)
    assert new_state == {"0": {}, "1": {}, "2": {}}
    assert tree.structure_equal(grads, params)


def test_weight_decay_mask_skips_batchnorm_and_biases():
    model = serial(Linear(3, 4), BatchNorm1d(4), ReLU(), Linear(4, 2))
    _, params, _ = model.init(random.key(0), (-1, 3))
    # non-zero values everywhere, so a wrongly decayed leaf would change
    params = tree.map(
        lambda a: np.asarray(a) + random.normal(random.key(a.size), a.shape, np.float32), params
    )
    assert optim.decay_mask(params) == {
        "0": {"W": True, "b": False},
        "1": {"gamma": False, "beta": False},
        "2": {},
        "3": {"W": True, "b": False},
    }
    opt = optim.sgd(0.1, weight_decay=1e-2, mask=optim.decay_mask)
    new_params, _ = opt.update(params, tree.zeros_like(params), opt.init(params))
    for path, new in tree.leaves_with_paths(new_params):
        old = dict(tree.leaves_with_paths(params))[path]
        if path.endswith("/W"):
            np.testing.assert_allclose(new, old * (1 - 0.1 * 1e-2), rtol=1e-6)
        else:
            np.testing.assert_array_equal(new, old)


def test_mlp_with_batchnorm_and_dropout_learns():
    model = serial(Linear(4, 32), BatchNorm1d(32), ReLU(), Dropout(0.2), Linear(32, 3))
    k_init, k_x, k_w, k_train = random.split(random.key(0), 4)
    x = random.normal(k_x, (128, 4), np.float32)
    labels = np.argmax(x @ random.normal(k_w, (4, 3), np.float32), axis=1)
    _, params, state = model.init(k_init, (-1, 4))
    grad_fn = fnnet.value_and_grad(model, losses.cross_entropy)
    opt = optim.sgd(0.2, momentum=0.9, weight_decay=1e-4, mask=optim.decay_mask)
    opt_state = opt.init(params)
    history = []
    for step in range(40):
        value, grads, state = grad_fn(params, state, x, labels, key=random.fold_in(k_train, step))
        params, opt_state = opt.update(params, grads, opt_state)
        history.append(value)
    assert all(np.isfinite(history))
    assert np.mean(history[-5:]) < 0.5 * history[0]
    assert all(a.dtype == np.float32 for a in tree.leaves((params, state)))
    # the running statistics have moved, and eval mode (no key) classifies the data
    assert np.all(state["1"]["var"] != 1.0)
    logits, _ = model.apply(params, state, x)
    assert np.mean(np.argmax(logits, axis=1) == labels) > 0.9


@pytest.mark.parametrize("train", [True, False])
def test_batch_norm_pullback_lets_go_of_its_input(train):
    layer = BatchNorm2d(3)
    _, params, state = layer.init(random.key(0), (-1, 4, 4, 3))
    x = random.normal(random.key(1), (2, 4, 4, 3), np.float32)
    assert input_freed_after_vjp(layer, params, state, x, train=train)


# ---------------------------------------------------------------- params and state checks


@pytest.mark.parametrize("train", [True, False])
def test_params_and_state_of_another_shape_are_errors_naming_the_key(train):
    bn = BatchNorm1d(3)
    _, p, s = bn.init(random.key(0), (-1, 3))
    x = data((5, 3))
    with pytest.raises(
        ValueError, match=r"^BatchNorm1d: params gamma: expected shape \(3,\), got \(4,\)$"
    ):
        bn.apply({**p, "gamma": np.ones(4, np.float32)}, s, x, train=train)
    with pytest.raises(
        ValueError, match=r"^BatchNorm1d: state var: expected shape \(3,\), got \(1, 3\)$"
    ):
        bn.vjp(p, {**s, "var": np.ones((1, 3), np.float32)}, x, train=train)
    with pytest.raises(
        ValueError, match=r"^BatchNorm1d: expected state with keys \['mean', 'var'\], got \[\]$"
    ):
        bn.apply(p, {}, x, train=train)
    with pytest.raises(
        TypeError, match=r"^BatchNorm1d: params beta: expected a float array, got int64$"
    ):
        bn.apply({**p, "beta": np.zeros(3, np.int64)}, s, x, train=train)


def test_state_of_another_model_is_refused_by_serial():
    model = serial(Linear(3, 4), BatchNorm1d(4))
    _, p, _ = model.init(random.key(0), (-1, 3))
    _, _, s5 = serial(Linear(3, 5), BatchNorm1d(5)).init(random.key(0), (-1, 3))
    with pytest.raises(
        ValueError, match=r"^serial layer 1 \(BatchNorm1d\): state mean: expected shape \(4,\)"
    ):
        model.apply(p, s5, data((2, 3)))
