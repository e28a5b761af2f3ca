"""Property-based tests: shapes, dtypes and purity for any sizes hypothesis picks."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fnnet
from fnnet import layers, losses, optim, random, tree

ACTIVATIONS = [
    "Identity",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "GELU",
    "Softmax",
    "LeakyReLU",
    "ELU",
    "SiLU",
    "Softplus",
    "LogSoftmax",
]
sizes = st.lists(st.integers(1, 6), min_size=2, max_size=5)
dtypes = st.sampled_from([np.float32, np.float64])


@settings(max_examples=40, deadline=None)
@given(
    sizes=sizes,
    batch=st.integers(1, 7),
    seed=st.integers(0, 2**32),
    dtype=dtypes,
    act=st.sampled_from(ACTIVATIONS),
)
def test_mlp_shapes_and_dtypes(sizes, batch, seed, dtype, act):
    model = layers.mlp(sizes, activation=getattr(layers, act))
    out_shape, params, state = model.init(random.key(seed), (-1, sizes[0]))
    assert out_shape == (-1, sizes[-1])
    params = tree.map(lambda p: p.astype(dtype), params)
    x = random.normal(random.key(seed + 1), (batch, sizes[0]), dtype)
    y, _, pullback = model.vjp(params, state, x)
    assert y.shape == (batch, sizes[-1]) and y.dtype == dtype
    grads, dx = pullback(np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == dtype
    assert tree.structure_equal(grads, params)
    for g, p in zip(tree.leaves(grads), tree.leaves(params)):
        assert g.shape == p.shape and g.dtype == dtype
    y2, _ = model.apply(params, state, x)
    np.testing.assert_array_equal(y, y2)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 9),
    c=st.integers(1, 7),
    seed=st.integers(0, 2**32),
    dtype=dtypes,
    scale=st.floats(1e-3, 1e4),
)
def test_cross_entropy_is_finite_nonnegative_and_its_gradient_rows_sum_to_zero(
    n, c, seed, dtype, scale
):
    logits = (random.normal(random.key(seed), (n, c), np.float64) * scale).astype(dtype)
    labels = random.randint(random.key(seed + 1), (n,), 0, c)
    value, pullback = losses.cross_entropy.vjp(logits, labels)
    grad = pullback()
    assert np.isfinite(value) and value >= 0
    assert grad.shape == (n, c) and grad.dtype == dtype
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    opt_name=st.sampled_from(["sgd", "adam", "adamw"]),
    steps=st.integers(1, 4),
)
def test_optimizer_keeps_structure_shapes_dtypes_and_inputs(seed, opt_name, steps):
    model = layers.mlp([3, 4, 2])
    _, params, state = model.init(random.key(seed), (-1, 3))
    opt = getattr(optim, opt_name)(0.01)
    opt_state = opt.init(params)
    vg = fnnet.value_and_grad(model, losses.mse)
    x = random.normal(random.key(seed + 1), (5, 3))
    y = random.normal(random.key(seed + 2), (5, 2))
    for _ in range(steps):
        _, grads, state = vg(params, state, x, y)
        before = tree.map(np.copy, params)
        new_params, opt_state = opt.update(params, grads, opt_state)
        tree.map(np.testing.assert_array_equal, params, before)
        assert tree.structure_equal(new_params, params)
        for a, b in zip(tree.leaves(new_params), tree.leaves(params)):
            assert a.shape == b.shape and a.dtype == b.dtype == np.float32
            assert not a.flags.writeable
        params = new_params
    assert int(opt_state["count"]) == steps


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 4),
    height=st.integers(2, 9),
    width=st.integers(2, 9),
    channels=st.integers(1, 3),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 3),
    seed=st.integers(0, 2**32),
    dtype=dtypes,
    grid=st.booleans(),
)
def test_max_pool_and_relu_commute_whatever_the_shapes(
    batch, height, width, channels, kernel, stride, seed, dtype, grid
):
    # MaxPool(ReLU(X)) = ReLU(MaxPool(X)), values and input gradients alike (notebook 08)
    assume(kernel <= min(height, width))
    relu_first = layers.serial(layers.ReLU(), layers.MaxPool2d(kernel, stride))
    pool_first = layers.serial(layers.MaxPool2d(kernel, stride), layers.ReLU())
    x = random.normal(random.key(seed), (batch, height, width, channels), dtype)
    if grid:  # ties, zeros and all-negative windows
        x = np.round(x * 2) / 2
    empty = {"0": {}, "1": {}}
    y, _, pullback = relu_first.vjp(empty, empty, x)
    y_pool_first, _, pullback_pool_first = pool_first.vjp(empty, empty, x)
    np.testing.assert_array_equal(y, y_pool_first)
    dy = random.normal(random.key(seed + 1), y.shape, dtype)
    np.testing.assert_array_equal(pullback(dy)[1], pullback_pool_first(dy)[1])
    assert y.dtype == dtype
