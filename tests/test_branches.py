"""Branching models: fan_out, parallel, fan_in_sum, fan_in_concat and residual."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_all_read_only, rand, randomize

import fnnet
from fnnet import layers, random, tree
from fnnet.layers import (
    BatchNorm1d,
    Dropout,
    Identity,
    Layer,
    Linear,
    ReLU,
    Tanh,
    fan_in_concat,
    fan_in_sum,
    fan_out,
    parallel,
    residual,
    serial,
)

KEY = random.key(0)


def init(layer, shape, seed=0):
    return layer.init(random.key(seed), shape)


# --- fan_out ---------------------------------------------------------------------------


def test_fan_out_copies_and_its_pullback_adds_the_cotangents():
    layer = fan_out(3)
    shape, params, state = init(layer, (-1, 4))
    assert shape == ((-1, 4),) * 3 and params == {} and state == {}
    x = rand((2, 4))
    y, _, pullback = layer.vjp(params, state, x)
    assert isinstance(y, tuple) and len(y) == 3
    for y_k in y:
        np.testing.assert_array_equal(y_k, x)
        assert not y_k.flags.writeable  # a view of the caller's array: read-only
    assert x.flags.writeable  # the caller's own array is left as it was
    d = (rand((2, 4), 1), rand((2, 4), 2), rand((2, 4), 3))
    grads, dx = pullback(d)
    # the chain rule at a branch point: dL/dx = dL/dy_0 + dL/dy_1 + dL/dy_2
    np.testing.assert_allclose(dx, d[0] + d[1] + d[2], rtol=1e-15)
    assert grads == {}
    assert fnnet.check_grads(layer, params, state, x) < 1e-7


def test_a_fan_out_pullback_that_does_not_add_fails_the_gradient_check():
    right = fan_out(2)

    def vjp(params, state, x, *, key=None, train=True):
        y, s, _ = right.vjp(params, state, x)
        return y, s, lambda dy: ({}, dy[0])  # forgets the second path

    wrong = Layer(right.init, right.apply, vjp)
    with pytest.raises(fnnet.GradientCheckError, match="dx"):
        fnnet.check_grads(wrong, {}, {}, rand((3, 2)))


def test_fan_out_keeps_float32_and_converts_ints():
    y, _ = fan_out(2).apply({}, {}, np.ones((2, 3), np.float32))
    assert y[0].dtype == np.float32
    y, _ = fan_out(2).apply({}, {}, np.ones((2, 3), np.int64))
    assert y[1].dtype == np.float32


def test_fan_out_errors():
    with pytest.raises(ValueError, match=r"fan_out: n must be a positive int .*got 0"):
        fan_out(0)
    with pytest.raises(ValueError, match=r"fan_out: expected one array shape, got the shapes"):
        init(fan_out(2), ((-1, 2), (-1, 3)))
    with pytest.raises(TypeError, match="fan_out: expected one array, got a tuple of 2"):
        fan_out(2).apply({}, {}, (np.ones(2), np.ones(2)))
    _, _, pullback = fan_out(2).vjp({}, {}, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"fan_out: the cotangent must be a tuple of 2 arrays"):
        pullback(np.ones((2, 3)))
    with pytest.raises(
        ValueError, match=r"fan_out: cotangent 1 has shape \(2, 1\), expected \(2, 3\)"
    ):
        pullback((np.ones((2, 3)), np.ones((2, 1))))


# --- fan_in_sum and fan_in_concat ---------------------------------------------------------


def test_fan_in_sum_adds_and_its_pullback_copies_the_cotangent():
    layer = fan_in_sum()
    shape, params, state = init(layer, ((-1, 3), (5, 3), (-1, 3)))
    assert shape == (5, 3)
    x = (rand((5, 3), 1), rand((5, 3), 2), rand((5, 3), 3))
    y, _, pullback = layer.vjp(params, state, x)
    np.testing.assert_allclose(y, x[0] + x[1] + x[2], rtol=1e-15)
    d = rand((5, 3), 4)
    _, dx = pullback(d)
    assert len(dx) == 3 and all(np.array_equal(dx_k, d) for dx_k in dx)
    assert all(not dx_k.flags.writeable for dx_k in dx) and d.flags.writeable
    assert fnnet.check_grads(layer, params, state, x) < 1e-7


def test_fan_in_concat_joins_and_its_pullback_splits():
    layer = fan_in_concat()
    shape, params, state = init(layer, ((-1, 2), (-1, 3), (-1, 1)))
    assert shape == (-1, 6)
    x = (rand((4, 2), 1), rand((4, 3), 2), rand((4, 1), 3))
    y, _, pullback = layer.vjp(params, state, x)
    np.testing.assert_array_equal(y, np.hstack(x))
    d = rand((4, 6), 4)
    _, dx = pullback(d)
    np.testing.assert_array_equal(dx[0], d[:, :2])
    np.testing.assert_array_equal(dx[1], d[:, 2:5])
    np.testing.assert_array_equal(dx[2], d[:, 5:])
    assert fnnet.check_grads(layer, params, state, x) < 1e-7


def test_fan_in_concat_along_another_axis_of_images():
    layer = fan_in_concat(axis=1)
    shape, params, state = init(layer, ((-1, 2, 4, 3), (-1, 5, 4, 3)))
    assert shape == (-1, 7, 4, 3)
    x = (rand((2, 2, 4, 3), 1), rand((2, 5, 4, 3), 2))
    y, _ = layer.apply(params, state, x)
    np.testing.assert_array_equal(y, np.concatenate(x, axis=1))
    assert fnnet.check_grads(layer, params, state, x) < 1e-7


def test_fan_in_errors_name_the_branch_and_both_shapes():
    with pytest.raises(
        ValueError,
        match=r"fan_in_sum: branch 1 has shape \(-1, 3\), expected \(-1, 4\) as branch 0",
    ):
        init(fan_in_sum(), ((-1, 4), (-1, 3)))
    with pytest.raises(
        ValueError, match=r"fan_in_sum: branch 2 has shape \(2, 5\), expected \(2, 4\) as branch 0"
    ):
        fan_in_sum().apply({}, {}, (np.ones((2, 4)), np.ones((2, 4)), np.ones((2, 5))))
    with pytest.raises(
        ValueError,
        match=r"fan_in_concat: branch 1 has shape \(-1, 3, 2\), which differs from branch 0's "
        r"\(-1, 4, 2\) outside axis -1",
    ):
        init(fan_in_concat(), ((-1, 4, 2), (-1, 3, 2)))
    with pytest.raises(
        ValueError, match=r"fan_in_concat: axis 2 is out of range for inputs of rank 2"
    ):
        init(fan_in_concat(2), ((-1, 4), (-1, 3)))
    for layer, name in [(fan_in_sum(), "fan_in_sum"), (fan_in_concat(), "fan_in_concat")]:
        with pytest.raises(
            ValueError, match=rf"{name}: expected a tuple of input shapes .*\(-1, 4\)"
        ):
            init(layer, (-1, 4))
        with pytest.raises(TypeError, match=rf"{name}: expected a tuple of arrays .*got one array"):
            layer.apply({}, {}, np.ones((2, 4)))
    with pytest.raises(TypeError, match=r"fan_in_sum branch 1: expected an array of real numbers"):
        fan_in_sum().apply({}, {}, (np.ones(2), np.ones(2, complex)))
    with pytest.raises(TypeError, match="fan_in_concat: axis must be an int"):
        fan_in_concat(1.5)  # type: ignore[arg-type]


def test_a_fan_in_mismatch_inside_serial_is_found_at_init_and_names_the_place():
    net = serial(fan_out(2), parallel(Linear(4, 3), Identity()), fan_in_sum())
    with pytest.raises(
        ValueError,
        match=r"serial layer 2 \(fan_in_sum\): branch 1 has shape \(-1, 4\), expected \(-1, 3\)",
    ):
        net.init(KEY, (-1, 4))


# --- parallel ------------------------------------------------------------------------------


def test_parallel_runs_each_branch_on_its_own_input():
    net = parallel(Linear(3, 2), Tanh(), serial(Linear(4, 4), ReLU()))
    shape, params, state = net.init(KEY, ((-1, 3), (-1, 5), (-1, 4)))
    assert shape == ((-1, 2), (-1, 5), (-1, 4))
    assert list(params) == ["0", "1", "2"] and params["1"] == {}
    assert list(params["2"]) == ["0", "1"]
    assert_all_read_only(params)
    params = randomize(params)
    x = (rand((6, 3), 1), rand((6, 5), 2), rand((6, 4), 3))
    y, _, pullback = net.vjp(params, state, x)
    np.testing.assert_allclose(y[0], x[0] @ params["0"]["W"].T + params["0"]["b"])
    np.testing.assert_allclose(y[1], np.tanh(x[1]))
    d = tuple(rand(y_k.shape, 9 + k) for k, y_k in enumerate(y))
    grads, dx = pullback(d)
    np.testing.assert_allclose(grads["0"]["W"], d[0].T @ x[0])
    np.testing.assert_allclose(dx[1], d[1] * (1 - np.tanh(x[1]) ** 2))
    assert fnnet.check_grads(net, params, state, x) < 1e-7


def test_parallel_gives_each_branch_its_own_key_and_threads_state():
    net = parallel(Dropout(0.5), Dropout(0.5), BatchNorm1d(3))
    _, params, state = net.init(KEY, ((-1, 40), (-1, 40), (-1, 3)))
    x = (np.ones((8, 40)), np.ones((8, 40)), rand((8, 3), 1))
    k = random.key(5)
    y, new_state = net.apply(params, state, x, key=k, train=True)
    assert not np.array_equal(y[0], y[1])  # two branches, two masks
    k0, k1, _ = random.split(k, 3)
    np.testing.assert_array_equal(y[0], Dropout(0.5).apply({}, {}, x[0], key=k0, train=True)[0])
    np.testing.assert_array_equal(y[1], Dropout(0.5).apply({}, {}, x[1], key=k1, train=True)[0])
    np.testing.assert_allclose(new_state["2"]["mean"], 0.1 * x[2].mean(axis=0), rtol=1e-6)
    assert state["2"]["mean"].sum() == 0  # the old state is untouched
    _, vjp_state, _ = net.vjp(params, state, x, key=k)
    np.testing.assert_array_equal(vjp_state["2"]["var"], new_state["2"]["var"])


def test_parallel_errors():
    net = parallel(Linear(4, 2), Linear(3, 2))
    with pytest.raises(
        ValueError,
        match=r"parallel: expected a tuple of 2 input shapes \(one per branch\), got 3 shapes "
        r"\(\(-1, 4\), \(-1, 3\), \(-1, 3\)\)",
    ):
        net.init(KEY, ((-1, 4), (-1, 3), (-1, 3)))
    with pytest.raises(ValueError, match=r"parallel: .* got the single shape \(-1, 4\)"):
        net.init(KEY, (-1, 4))
    with pytest.raises(
        ValueError,
        match=r"parallel branch 1 \(Linear\): expected input \(\.\.\., 3\), got \(-1, 5\)",
    ):
        net.init(KEY, ((-1, 4), (-1, 5)))
    _, params, state = net.init(KEY, ((-1, 4), (-1, 3)))
    with pytest.raises(
        ValueError, match=r"parallel: expected a tuple of 2 inputs .* got a tuple of 1"
    ):
        net.apply(params, state, (np.ones((2, 4)),))
    with pytest.raises(
        ValueError, match=r"parallel: params has keys \['0'\], expected \['0', '1'\]"
    ):
        net.apply({"0": params["0"]}, state, (np.ones((2, 4)), np.ones((2, 3))))
    with pytest.raises(ValueError, match="parallel: expected at least one layer"):
        parallel()
    with pytest.raises(TypeError, match="parallel: argument 1 is not a Layer"):
        parallel(Linear(2, 2), "relu")  # type: ignore[arg-type]


def test_parallel_concat_model_gradients():
    net = serial(
        Linear(3, 4),
        fan_out(3),
        parallel(Linear(4, 2), serial(Tanh(), Linear(4, 3)), Identity()),
        fan_in_concat(),
        Linear(9, 2),
    )
    shape, params, state = net.init(KEY, (-1, 3))
    assert shape == (-1, 2)
    assert fnnet.check_grads(net, randomize(params), state, rand((5, 3))) < 1e-7


# --- residual ------------------------------------------------------------------------------


def block():
    return serial(Linear(4, 4), ReLU(), Linear(4, 4))


def test_residual_is_x_plus_f_of_x():
    net = residual(block())
    shape, params, state = net.init(KEY, (-1, 4))
    assert shape == (-1, 4)
    params = randomize(params)
    x = rand((5, 4))
    inner = params["1"]["0"]
    f, _ = block().apply(inner, state["1"]["0"], x)
    y, _, pullback = net.vjp(params, state, x)
    np.testing.assert_allclose(y, x + f, rtol=1e-14)
    d = rand((5, 4), 3)
    grads, dx = pullback(d)
    f_grads, f_dx = block().vjp(inner, state["1"]["0"], x)[2](d)
    # the skip path and the branch add: dL/dx = dL/dy + J_f^T dL/dy
    np.testing.assert_allclose(dx, d + f_dx, rtol=1e-14)
    tree.map(np.testing.assert_array_equal, grads["1"]["0"], f_grads)
    assert fnnet.check_grads(net, params, state, x) < 1e-7
    behind = serial(Linear(3, 4), net)
    _, p2, s2 = behind.init(KEY, (-1, 3))
    assert fnnet.check_grads(behind, randomize(p2), s2, rand((5, 3))) < 1e-7


def test_residual_is_its_serial_equivalent_with_the_same_trees():
    res = residual(serial(Linear(4, 4), Dropout(0.3), Tanh()))
    equivalent = serial(
        fan_out(2), parallel(serial(Linear(4, 4), Dropout(0.3), Tanh()), Identity()), fan_in_sum()
    )
    _, p_res, s_res = res.init(KEY, (-1, 4))
    _, p_eq, s_eq = equivalent.init(KEY, (-1, 4))
    assert tree.structure_equal(p_res, p_eq) and tree.structure_equal(s_res, s_eq)
    assert set(p_res) == {"0", "1", "2"} and p_res["0"] == {} and p_res["1"]["1"] == {}
    tree.map(np.testing.assert_array_equal, p_res, p_eq)  # same key, same params
    params = randomize(p_res)
    x = rand((6, 4))
    k = random.key(3)
    y_res, _, pb_res = res.vjp(params, s_res, x, key=k)
    y_eq, _, pb_eq = equivalent.vjp(params, s_eq, x, key=k)  # Dropout gets the same key
    np.testing.assert_allclose(y_res, y_eq, rtol=1e-15)
    d = rand(y_res.shape, 1)
    g_res, dx_res = pb_res(d)
    g_eq, dx_eq = pb_eq(d)
    np.testing.assert_allclose(dx_res, dx_eq, rtol=1e-14)
    tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-14), g_res, g_eq)
    assert fnnet.check_grads(res, params, s_res, x, key=k) < 1e-7


def test_batchnorm_state_is_updated_inside_a_residual_branch():
    net = residual(serial(Linear(3, 3), BatchNorm1d(3)))
    _, params, state = net.init(KEY, (-1, 3))
    x = rand((8, 3))
    _, new_state = net.apply(params, state, x, train=True)
    Z = x @ params["1"]["0"]["0"]["W"].T  # b = 0
    np.testing.assert_allclose(new_state["1"]["0"]["1"]["mean"], 0.1 * Z.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(
        new_state["1"]["0"]["1"]["var"], 0.9 + 0.1 * Z.var(axis=0), rtol=1e-5
    )
    assert tree.structure_equal(new_state, state)
    _, vjp_state, _ = net.vjp(params, state, x)
    tree.map(np.testing.assert_array_equal, vjp_state, new_state)
    y_eval, same = net.apply(params, new_state, x)  # eval mode uses the running statistics
    tree.map(np.testing.assert_array_equal, same, new_state)  # eval: no update
    # so a row's output does not depend on the rest of the batch
    np.testing.assert_allclose(net.apply(params, new_state, x[:1])[0], y_eval[:1], rtol=1e-12)
    params64 = randomize(params)
    assert fnnet.check_grads(net, params64, state, x) < 1e-6


def test_residual_errors():
    with pytest.raises(
        ValueError,
        match=r"residual: branch 0 \(Linear\) outputs \(-1, 3\), but the skip branch 1 carries "
        r"the input \(-1, 4\)",
    ):
        residual(Linear(4, 3)).init(KEY, (-1, 4))
    with pytest.raises(
        ValueError,
        match=r"residual branch 0 \(Linear\): expected input \(\.\.\., 4\), got \(-1, 5\)",
    ):
        residual(Linear(4, 4)).init(KEY, (-1, 5))
    net = residual(Linear(4, 4))
    _, params, state = net.init(KEY, (-1, 4))
    with pytest.raises(
        ValueError, match=r"residual: params has keys \[\], expected \['0', '1', '2'\]"
    ):
        net.apply({}, state, np.ones((2, 4)))
    with pytest.raises(
        ValueError, match=r"residual: params\['1'\] has keys \['0'\], expected \['0', '1'\]"
    ):
        net.apply({"0": {}, "1": {"0": params["1"]["0"]}, "2": {}}, state, np.ones((2, 4)))
    with pytest.raises(TypeError, match="residual: argument 0 is not a Layer"):
        residual("relu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="serial layer 1 \\(residual\\): branch 0 \\(Linear\\)"):
        serial(Linear(2, 4), residual(Linear(4, 2))).init(KEY, (-1, 2))


def test_nested_graph_gradients_and_read_only_trees():
    net = serial(
        Linear(3, 4),
        residual(serial(Linear(4, 4), Tanh(), residual(Linear(4, 4)))),
        fan_out(2),
        parallel(residual(Tanh()), serial(Linear(4, 2), ReLU())),
        fan_in_concat(),
    )
    shape, params, state = net.init(KEY, (-1, 3))
    assert shape == (-1, 6)
    assert_all_read_only(params)
    assert fnnet.check_grads(net, randomize(params), state, rand((5, 3))) < 1e-7
    loss, grads, _ = fnnet.value_and_grad(net, fnnet.losses.mse)(
        params, state, rand((5, 3), dtype=np.float32), np.zeros((5, 6), np.float32)
    )
    assert np.isfinite(loss) and tree.structure_equal(grads, params)
    assert grads["1"]["1"]["0"]["0"]["W"].dtype == np.float32


def test_a_model_with_two_inputs_and_two_outputs():
    net = serial(parallel(Linear(2, 3), Linear(4, 3)), fan_in_sum(), fan_out(2))
    shape, params, state = net.init(KEY, ((-1, 2), (-1, 4)))
    assert shape == ((-1, 3), (-1, 3))
    x = (rand((5, 2)), rand((5, 4), 1))
    assert fnnet.check_grads(net, randomize(params), state, x) < 1e-7
    _, _, pullback = net.vjp(params, state, x)
    grads, dx = pullback((np.ones((5, 3)), np.ones((5, 3))))
    assert dx[0].shape == (5, 2) and dx[1].shape == (5, 4)
    grads2, none = pullback((np.ones((5, 3)), np.ones((5, 3))), input_grad=False)
    assert none is None
    tree.map(np.testing.assert_array_equal, grads, grads2)


def test_layers_module_exports_the_combinators():
    for name in ["fan_out", "parallel", "fan_in_sum", "fan_in_concat", "residual"]:
        assert name in layers.__all__ and callable(getattr(layers, name))


def test_the_contract_rows_keep_dtypes_and_inputs_and_repeat_their_pullbacks():
    from contract_rows_composition import ROWS

    for row in ROWS:
        for dtype in row.dtypes:
            layer = row.make_layer()
            _, params, state = layer.init(KEY, row.input_shape)
            several = isinstance(row.input_shape[0], tuple)
            shapes = row.input_shape if several else (row.input_shape,)
            xs = tuple(rand(s, seed=k, dtype=dtype) for k, s in enumerate(shapes))
            x = xs if several else xs[0]
            copies = [a.copy() for a in xs]
            k = random.key(1)
            y, _, pullback = layer.vjp(params, state, x, key=k, train=row.train)
            y_apply, _ = layer.apply(params, state, x, key=k, train=row.train)
            dy = tree.map(lambda a: np.ones_like(a), y)
            g1, dx1 = pullback(dy)
            g2, dx2 = pullback(dy)
            for a, b in zip(tree.leaves((y, g1, dx1)), tree.leaves((y_apply, g2, dx2))):
                np.testing.assert_array_equal(a, b)
            for a in tree.leaves((y, dx1)):
                assert a.dtype == dtype, (row.name, dtype)
            for a, c in zip(xs, copies):
                np.testing.assert_array_equal(a, c)
            assert tree.structure_equal(g1, params)


def test_residual_takes_one_array():
    net = residual(Tanh())
    with pytest.raises(TypeError, match="residual: expected one array, got a tuple of 2"):
        net.apply(*net.init(KEY, (-1, 2))[1:], (np.ones((1, 2)), np.ones((1, 2))))
    with pytest.raises(ValueError, match=r"residual: expected one input shape, got the shapes"):
        net.init(KEY, ((-1, 2), (-1, 2)))
    y, _ = net.apply(
        {"0": {}, "1": {"0": {}, "1": {}}, "2": {}},
        {"0": {}, "1": {"0": {}, "1": {}}, "2": {}},
        [[1, 2]],
    )
    assert y.dtype == np.float32 and np.allclose(y, [[1 + np.tanh(1), 2 + np.tanh(2)]])


def test_check_grads_checks_every_part_of_a_tuple_input():
    right = fan_in_sum()

    def vjp(params, state, x, *, key=None, train=True):
        y, s, pullback = right.vjp(params, state, x)

        def wrong_pullback(dy):
            grads, (dx0, dx1) = pullback(dy)
            return grads, (dx0, 2 * dx1)  # wrong for the second input only

        return y, s, wrong_pullback

    wrong = Layer(right.init, right.apply, vjp)
    x = (rand((3, 2)), rand((3, 2), 1))
    with pytest.raises(fnnet.GradientCheckError) as info:
        fnnet.check_grads(wrong, {}, {}, x)
    flagged = [line.split()[0] for line in str(info.value).splitlines() if "exceeds" in line]
    assert flagged == ["dx/1"]
