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


def shape_logging_relu(log):
    """A hand-built ReLU that records the shape of every input it sees (apply and vjp)."""
    relu = layers.ReLU()

    def apply(params, state, x, *, key=None, train=False):
        log.append(x.shape)
        return relu.apply(params, state, x, key=key, train=train)

    def vjp(params, state, x, *, key=None, train=True):
        log.append(x.shape)
        return relu.vjp(params, state, x, key=key, train=train)

    return Layer(relu.init, apply, vjp)


def test_serial_runs_the_layers_in_the_order_written():
    log = []
    net = layers.serial(layers.Conv2d(1, 2, 3), shape_logging_relu(log), layers.MaxPool2d(2))
    _, params, state = net.init(random.key(0), (-1, 6, 6, 1))
    assert log == []  # init calls no apply
    x = random.normal(random.key(1), (3, 6, 6, 1), np.float32)
    net.apply(params, state, x)
    net.vjp(params, state, x)
    assert log == [(3, 4, 4, 2), (3, 4, 4, 2)]  # the conv output, before the pool
    log.clear()
    inner = layers.serial(layers.Conv2d(1, 2, 3), shape_logging_relu(log))
    nested = layers.serial(inner, layers.MaxPool2d(2))
    _, params, state = nested.init(random.key(0), (-1, 6, 6, 1))
    nested.apply(params, state, x)
    assert log == [(3, 4, 4, 2)]


def test_declarations_return_new_layers_and_leave_shared_functions_alone():
    def init(key, shape):  # one parameter-free init shared by two layers, as stax writes them
        return shape, {}, {}

    def vjp_neg(params, state, x, *, key=None, train=True):
        return -x, state, lambda dy: ({}, -dy)

    def vjp_scale(params, state, x, *, key=None, train=True):
        return 2 * x, state, lambda dy: ({}, 2 * dy)

    neg = Layer(init, lambda p, s, x, **kw: (-x, s), vjp_neg)
    scale = Layer(init, lambda p, s, x, **kw: (2 * x, s), vjp_scale)
    renamed = layers.named(neg, "Neg")
    assert layers.layer_name(renamed) == "Neg" and renamed.name == "Neg"
    assert layers.layer_name(neg) == layers.layer_name(scale) != "Neg"
    declared = layers.skips_input_grad(scale, True)
    assert isinstance(declared, Layer) and declared.skips_input_grad
    assert not layers.skips_input_grad(scale) and not layers.skips_input_grad(neg)
    net = layers.serial(neg, layers.Linear(3, 2))  # neg's pullback has no input_grad keyword
    _, params, state = net.init(random.key(0), (-1, 3))
    x = random.normal(random.key(1), (4, 3))
    value, grads, _ = fnnet.value_and_grad(net, fnnet.losses.mse)(params, state, x, np.ones((4, 2)))
    assert np.isfinite(value) and grads["1"]["W"].shape == (2, 3)


def test_serial_checks_the_keys_of_params_and_state_before_running():
    log = []
    net = layers.serial(counting_layer(log), layers.Linear(2, 3), layers.Linear(3, 1))
    _, params, state = net.init(random.key(0), (-1, 2))
    x = np.ones((4, 2))
    with pytest.raises(
        ValueError,
        match=r"serial: params has keys \['0', '1'\], expected \['0', '1', '2'\] \(missing '2'\)",
    ):
        net.apply({"0": params["0"], "1": params["1"]}, state, x)
    with pytest.raises(
        ValueError,
        match=r"serial: params has keys \[\], expected \['0', '1', '2'\] \(missing '0', '1', '2'\)",
    ):
        net.vjp({}, state, x)
    with pytest.raises(ValueError, match=r"serial: state has keys \[\], expected"):
        net.apply(params, {}, x)
    with pytest.raises(ValueError, match=r"\(extra '3'\)"):
        net.apply({**params, "3": {}}, state, x)
    with pytest.raises(ValueError, match=r"\(missing '2'; extra 'x'\)"):
        net.apply({"0": {}, "1": params["1"], "x": params["2"]}, state, x)
    with pytest.raises(
        TypeError, match=r"serial: params must be a dict with keys \['0', '1', '2'\], got list"
    ):
        net.apply([params["0"], params["1"], params["2"]], state, x)
    assert log == []  # no layer ran
    # the same keys in another order are the same tree
    y, _ = net.apply({"2": params["2"], "1": params["1"], "0": params["0"]}, state, x)
    np.testing.assert_array_equal(y, net.apply(params, state, x)[0])


def test_params_of_a_nested_serial_are_checked_and_the_error_names_the_place():
    net = layers.serial(layers.serial(layers.Linear(2, 3), layers.ReLU()), layers.Linear(3, 1))
    _, params, state = net.init(random.key(0), (-1, 2))
    bad = {"0": {"0": params["0"]["0"]}, "1": params["1"]}
    with pytest.raises(
        ValueError,
        match=r"serial layer 0 \(serial\): params has keys \['0'\], expected \['0', '1'\] \(missing '1'\)",
    ):
        net.apply(bad, state, np.ones((1, 2)))


def test_serial_passes_tuples_through():
    net = layers.serial(layers.fan_out(2), layers.parallel(layers.Linear(3, 2), layers.Tanh()))
    shape, params, state = net.init(random.key(0), (-1, 3))
    assert shape == ((-1, 2), (-1, 3))
    x = random.normal(random.key(1), (4, 3), np.float64)
    y, _ = net.apply(params, state, x)
    assert isinstance(y, tuple) and y[0].shape == (4, 2) and y[1].shape == (4, 3)
    assert fnnet.check_grads(net, randomize(params), state, x) < 1e-7


def test_a_layer_is_the_triple_init_apply_vjp_with_read_only_metadata():
    linear = layers.Linear(2, 3)
    assert type(linear)._fields == ("init", "apply", "vjp") and len(linear) == 3
    init, apply, vjp = linear  # unpacks like stax's pairs
    assert (init, apply, vjp) == (linear.init, linear.apply, linear.vjp)
    assert linear.name == "Linear" and linear.skips_input_grad and linear.children == ()
    with pytest.raises(AttributeError, match="a Layer is a value"):
        linear.name = "Other"  # type: ignore[misc]
    renamed = linear._replace(name="Other")
    assert renamed.name == "Other" and linear.name == "Linear" and renamed.skips_input_grad
    with pytest.raises(ValueError, match="unknown fields"):
        linear._replace(colour="red")
    plain = Layer(init, apply, vjp)
    assert plain.name is None and not plain.skips_input_grad and plain.children == ()
