import itertools

import numpy as np
import pytest
from helpers import assert_all_read_only, randomize

import fnnet
from fnnet import layers, random
from fnnet.layers import Layer


def counting_layer(log):
    """A stateful layer that records the key it got and counts its calls in its state."""

    def init(key, shape):
        return shape, {}, {"calls": np.zeros((), np.int64)}

    def apply(params, state, x, *, key=None, train=False):
        log.append(key)
        return x, {"calls": state["calls"] + 1}

    def vjp(params, state, x, *, key=None, train=True):
        y, new_state = apply(params, state, x, key=key, train=train)
        return y, new_state, lambda dy: ({}, dy)

    return Layer(init, apply, vjp)


def test_params_keyed_by_position():
    net = layers.serial(layers.Linear(2, 3), layers.ReLU(), layers.Linear(3, 1))
    shape, params, state = net.init(random.key(0), (-1, 2))
    assert shape == (-1, 1)
    assert list(params) == ["0", "1", "2"] and params["1"] == {}
    assert state == {"0": {}, "1": {}, "2": {}}
    assert_all_read_only(params)


def test_forward_composes_and_pullback_reverses():
    net = layers.serial(layers.Linear(2, 3), layers.Tanh(), layers.Linear(3, 2))
    _, params, state = net.init(random.key(0), (-1, 2))
    params = randomize(params)
    x = random.normal(random.key(1), (4, 2), np.float64)
    h = np.tanh(x @ params["0"]["W"].T + params["0"]["b"])
    expected = h @ params["2"]["W"].T + params["2"]["b"]
    y, _ = net.apply(params, state, x)
    np.testing.assert_allclose(y, expected)
    y2, _, pullback = net.vjp(params, state, x)
    np.testing.assert_array_equal(y, y2)
    grads, _dx = pullback(np.ones_like(y))
    assert list(grads) == ["0", "1", "2"] and grads["1"] == {}
    assert fnnet.check_grads(net, params, state, x) < 1e-7


def test_state_is_threaded_and_the_old_state_untouched():
    log = []
    net = layers.serial(counting_layer(log), layers.ReLU(), counting_layer(log))
    _, params, state = net.init(random.key(0), (-1, 2))
    x = np.ones((3, 2))
    _, s1 = net.apply(params, state, x)
    _, s2, _ = net.vjp(params, s1, x)
    assert int(state["0"]["calls"]) == 0 and int(s1["0"]["calls"]) == 1
    assert int(s2["0"]["calls"]) == 2 and int(s2["2"]["calls"]) == 2


def test_each_layer_gets_its_own_key():
    log = []
    net = layers.serial(counting_layer(log), counting_layer(log))
    _, params, state = net.init(random.key(0), (-1, 2))
    k = random.key(7)
    net.apply(params, state, np.ones((1, 2)), key=k)
    assert log[0] is not None and log[1] is not None and log[0] != log[1] and k not in log
    log.clear()
    net.apply(params, state, np.ones((1, 2)), key=k)
    assert log == list(random.split(k, 2))
    log.clear()
    net.apply(params, state, np.ones((1, 2)))
    assert log == [None, None]


def test_nested_serial():
    inner = layers.serial(layers.Linear(2, 3), layers.ReLU())
    net = layers.serial(inner, layers.Linear(3, 1))
    _, params, state = net.init(random.key(0), (-1, 2))
    assert set(params["0"]) == {"0", "1"}
    x = random.normal(random.key(1), (5, 2), np.float64)
    assert fnnet.check_grads(net, randomize(params), state, x) < 1e-7


def test_empty_serial_is_the_identity():
    net = layers.serial()
    shape, params, state = net.init(random.key(0), (-1, 3))
    x = np.arange(3.0)[None]
    y, _, pullback = net.vjp(params, state, x)
    assert shape == (-1, 3) and params == {} and y is x
    assert pullback(x) == ({}, x)


def test_errors_name_the_layer_index_and_kind():
    net = layers.serial(layers.Linear(4, 8), layers.ReLU(), layers.Linear(8, 2))
    _, params, state = net.init(random.key(0), (-1, 4))
    with pytest.raises(
        ValueError, match=r"serial layer 0 \(Linear\): expected input \(\.\.\., 4\), got \(5, 3\)"
    ):
        net.apply(params, state, np.ones((5, 3), np.float32))
    with pytest.raises(
        ValueError, match=r"serial layer 2 \(Linear\): expected input \(\.\.\., 3\), got \(-1, 8\)"
    ):
        layers.serial(layers.Linear(4, 8), layers.ReLU(), layers.Linear(3, 2)).init(
            random.key(0), (-1, 4)
        )
    with pytest.raises(TypeError, match="argument 1 is not a Layer"):
        layers.serial(layers.ReLU(), "relu")  # type: ignore[arg-type]


def test_user_written_layer_with_the_lifting_helper():
    def init(key, shape):
        return shape, {"s": np.full((), 2.0)}

    def apply(params, x):
        return params["s"] * x

    def vjp(params, x):
        def pullback(dy):
            return {"s": np.sum(dy * x)}, params["s"] * dy

        return params["s"] * x, pullback

    scale = layers.stateless(init, apply, vjp, name="Scale")
    assert layers.layer_name(scale) == "Scale"
    net = layers.serial(layers.Linear(2, 2), scale)
    _, params, state = net.init(random.key(0), (-1, 2))
    x = random.normal(random.key(1), (3, 2), np.float64)
    assert fnnet.check_grads(net, randomize(params), state, x) < 1e-7


def test_mlp_course_topologies():
    for sizes in ([2, 3], [2, 3, 2], [2, 4, 8, 8, 4, 2]):
        net = layers.mlp(sizes, final_activation=layers.ReLU)
        shape, params, _ = net.init(random.key(0), (-1, sizes[0]))
        assert shape == (-1, sizes[-1])
        linears = [params[k] for k in params if params[k]]
        assert [p["W"].shape for p in linears] == [(o, i) for i, o in itertools.pairwise(sizes)]
        assert len(params) == 2 * (len(sizes) - 1)
    net = layers.mlp([2, 4, 8, 8, 4, 2])
    _, params, _ = net.init(random.key(0), (-1, 2))
    assert list(params) == [str(i) for i in range(9)]
    with pytest.raises(ValueError, match="at least an input and an output"):
        layers.mlp([3])


def test_pullback_can_skip_the_input_gradient():
    net = layers.serial(layers.Linear(3, 4), layers.ReLU(), layers.Linear(4, 2))
    assert layers.skips_input_grad(net) and layers.skips_input_grad(layers.Linear(2, 2))
    assert not layers.skips_input_grad(layers.ReLU())
    _, params, state = net.init(random.key(0), (-1, 3))
    x = random.normal(random.key(1), (5, 3))
    y, _, pullback = net.vjp(params, state, x)
    dy = np.ones_like(y)
    grads_full, dx = pullback(dy)
    grads_skip, none = pullback(dy, input_grad=False)
    assert dx.shape == x.shape and none is None
    fnnet.tree.map(np.testing.assert_array_equal, grads_full, grads_skip)


def test_input_gradient_skip_with_a_first_layer_that_cannot_skip():
    net = layers.serial(layers.Tanh(), layers.Linear(3, 2))
    _, params, state = net.init(random.key(0), (-1, 3))
    y, _, pullback = net.vjp(params, state, np.ones((2, 3), np.float32))
    grads, none = pullback(np.ones_like(y), input_grad=False)
    assert none is None and grads["1"]["W"].shape == (2, 3)


def test_batch_sum_is_the_column_sum_for_small_and_large_arrays():
    from fnnet.layers.base import batch_sum

    rng = np.random.default_rng(0)
    for shape in [(4, 3), (5000, 16)]:  # below and above the size where 1^T X is used
        X = rng.standard_normal(shape).astype(np.float32)
        s = batch_sum(X)
        assert s.shape == (shape[1],) and s.dtype == np.float32
        np.testing.assert_allclose(s, X.astype(np.float64).sum(axis=0), rtol=1e-4, atol=1e-3)


def as_plain_layer(layer):
    """The same three functions, without the declarations serial acts on."""
    return Layer(lambda key, shape: layer.init(key, shape), layer.apply, layer.vjp)


def shape_logging_relu(log):
    """A ReLU that records the shape of every input it sees (apply and vjp)."""
    relu = layers.ReLU()

    def init(key, shape):
        return relu.init(key, shape)

    def apply(params, state, x, *, key=None, train=False):
        log.append(x.shape)
        return relu.apply(params, state, x, key=key, train=train)

    def vjp(params, state, x, *, key=None, train=True):
        log.append(x.shape)
        return relu.vjp(params, state, x, key=key, train=train)

    layer = Layer(init, apply, vjp)
    layers.commutes_with_max_pool(layer, True)
    return layer


def test_declarations_for_the_relu_max_pool_rewrite():
    assert layers.commutes_with_max_pool(layers.ReLU())
    for name in ["LeakyReLU", "Sigmoid", "Tanh", "GELU", "Identity"]:  # not exact after rounding
        assert not layers.commutes_with_max_pool(getattr(layers, name)()), name
    assert layers.is_max_pool(layers.MaxPool2d(2)) and layers.is_max_pool(layers.MaxPool2d(3, 2))
    assert not layers.is_max_pool(layers.AvgPool2d(2)) and not layers.is_max_pool(layers.ReLU())
    assert not layers.commutes_with_max_pool(as_plain_layer(layers.ReLU()))


def test_relu_then_max_pool_runs_the_relu_on_the_pooled_values():
    log = []
    net = layers.serial(layers.Conv2d(1, 2, 3), shape_logging_relu(log), layers.MaxPool2d(2))
    _, params, state = net.init(random.key(0), (-1, 6, 6, 1))
    assert log == []  # init runs in the order written and calls no apply
    x = random.normal(random.key(1), (3, 6, 6, 1), np.float32)
    net.apply(params, state, x)
    net.vjp(params, state, x)
    assert log == [(3, 2, 2, 2), (3, 2, 2, 2)]  # after the 2x2 pool of the 4x4 conv output
    log.clear()
    layers.serial(shape_logging_relu(log), layers.AvgPool2d(2)).apply(
        {"0": {}, "1": {}}, {"0": {}, "1": {}}, x
    )
    assert log == [(3, 6, 6, 1)]  # average pooling does not commute: the order as written


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pool", [(2, None), (3, 2), (2, 1)])  # tiled, overlapping, stride 1
def test_relu_max_pool_rewrite_gives_the_same_values_and_gradients(dtype, pool):
    def build(relu):
        return layers.serial(
            layers.Conv2d(2, 3, 3, padding=1),
            relu(),
            layers.MaxPool2d(*pool),
            layers.Flatten(),
            layers.Linear(None, 4),
        )

    net, plain = build(layers.ReLU), build(lambda: as_plain_layer(layers.ReLU()))
    _, params, state = net.init(random.key(0), (-1, 7, 6, 2))
    params = randomize(params, dtype=dtype)
    # values on a grid of halves: many ties inside windows, exact zeros, all-negative windows
    x = (np.round(random.normal(random.key(1), (4, 7, 6, 2), np.float64) * 2) / 2).astype(dtype)
    y, s = net.apply(params, state, x)
    y_plain, _ = plain.apply(params, state, x)
    np.testing.assert_array_equal(y, y_plain)
    assert y.dtype == dtype and list(s) == ["0", "1", "2", "3", "4"]
    out, s_vjp, pullback = net.vjp(params, state, x)
    out_plain, _, pullback_plain = plain.vjp(params, state, x)
    np.testing.assert_array_equal(out, out_plain)
    assert list(s_vjp) == ["0", "1", "2", "3", "4"]
    dy = random.normal(random.key(2), out.shape, dtype)
    (grads, dx), (grads_plain, dx_plain) = pullback(dy), pullback_plain(dy)
    np.testing.assert_array_equal(dx, dx_plain)
    assert list(grads) == ["0", "1", "2", "3", "4"]
    fnnet.tree.map(np.testing.assert_array_equal, grads, grads_plain)
    assert dx.dtype == dtype and grads["0"]["W"].dtype == dtype
    if dtype == np.float64:
        assert fnnet.check_grads(net, params, state, random.normal(random.key(3), x.shape)) < 1e-6


def test_relu_max_pool_rewrite_keeps_training_bit_for_bit():
    def build(relu):
        return layers.serial(
            layers.Conv2d(1, 4, 3),
            relu(),
            layers.MaxPool2d(2),
            layers.Flatten(),
            layers.Linear(None, 3),
        )

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 16)
    results = []
    for relu in (layers.ReLU, lambda: as_plain_layer(layers.ReLU())):
        net = build(relu)
        _, params, state = net.init(random.key(0), (-1, 8, 8, 1))
        opt = fnnet.optim.sgd(0.1, momentum=0.9)
        opt_state, grad_fn = opt.init(params), fnnet.value_and_grad(net, fnnet.losses.cross_entropy)
        for _ in range(5):
            _, grads, state = grad_fn(params, state, x, y)
            params, opt_state = opt.update(params, grads, opt_state)
        results.append(params)
    fnnet.tree.map(np.testing.assert_array_equal, *results)


def test_relu_max_pool_rewrite_keeps_errors_and_keys_by_position():
    net = layers.serial(layers.ReLU(), layers.MaxPool2d(5))
    with pytest.raises(
        ValueError, match=r"serial layer 1 \(MaxPool2d\): kernel \(5, 5\) is larger"
    ):
        net.apply({"0": {}, "1": {}}, {"0": {}, "1": {}}, np.ones((1, 3, 3, 1), np.float32))
    log = []
    logging = counting_layer(log)
    layers.commutes_with_max_pool(logging, True)
    net = layers.serial(layers.Conv2d(1, 1, 1), logging, layers.MaxPool2d(3))
    _, params, state = net.init(random.key(0), (-1, 4, 4, 1))
    with pytest.raises(
        ValueError, match=r"serial layer 2 \(MaxPool2d\): kernel \(3, 3\) is larger"
    ):
        net.apply(params, state, np.ones((1, 2, 2, 1), np.float32))
    assert log == []  # the max-pool ran first and failed
    k = random.key(7)
    net = layers.serial(layers.Conv2d(1, 1, 1), logging, layers.MaxPool2d(1))
    _, params, state = net.init(random.key(0), (-1, 2, 2, 1))
    _, new_state = net.apply(params, state, np.ones((1, 2, 2, 1), np.float32), key=k)
    assert log == [random.split(k, 3)[1]]  # the key of position 1, though it ran last
    assert list(new_state) == ["0", "1", "2"] and int(new_state["1"]["calls"]) == 1
