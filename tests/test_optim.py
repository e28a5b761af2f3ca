import re

import numpy as np
import pytest
from helpers import assert_all_read_only

from fnnet import optim, tree


def params_and_grads():
    params = {
        "0": {"W": np.array([[1.0, -2.0]], np.float32), "b": np.array([0.5], np.float32)},
        "1": {},
    }
    grads = {
        "0": {"W": np.array([[0.1, 0.2]], np.float32), "b": np.array([-1.0], np.float32)},
        "1": {},
    }
    return params, grads


def run(opt, params, grads_seq):
    state = opt.init(params)
    for g in grads_seq:
        params, state = opt.update(params, g, state)
    return params, state


def test_sgd_plain():
    params, grads = params_and_grads()
    new, state = run(optim.sgd(0.5), params, [grads])
    np.testing.assert_allclose(new["0"]["W"], [[0.95, -2.1]], rtol=1e-6)
    np.testing.assert_allclose(new["0"]["b"], [1.0])
    assert new["0"]["W"].dtype == np.float32
    assert set(state) == {"count"} and int(state["count"]) == 1


def test_sgd_momentum_follows_the_course_rule():
    params, grads = params_and_grads()
    g2 = tree.map(lambda g: 2 * g, grads)
    new, state = run(optim.sgd(0.1, momentum=0.9), params, [grads, g2])
    # v1 = g1, W1 = W0 - lr v1; v2 = 0.9 v1 + g2, W2 = W1 - lr v2
    v2 = 0.9 * grads["0"]["W"] + g2["0"]["W"]
    np.testing.assert_allclose(state["velocity"]["0"]["W"], v2, rtol=1e-6)
    np.testing.assert_allclose(
        new["0"]["W"], params["0"]["W"] - 0.1 * grads["0"]["W"] - 0.1 * v2, rtol=1e-6
    )
    assert state["velocity"]["1"] == {}


def test_sgd_nesterov_and_weight_decay_mask():
    params, grads = params_and_grads()
    new, _ = run(optim.sgd(0.1, momentum=0.9, nesterov=True), params, [grads])
    # first step: v = g, step = g + mu v = 1.9 g
    np.testing.assert_allclose(new["0"]["b"], 0.5 + 0.1 * 1.9, rtol=1e-6)
    new, _ = run(optim.sgd(0.1, weight_decay=0.5, mask=optim.decay_mask), params, [grads])
    np.testing.assert_allclose(
        new["0"]["W"],
        params["0"]["W"] - 0.1 * (grads["0"]["W"] + 0.5 * params["0"]["W"]),
        rtol=1e-6,
    )
    np.testing.assert_allclose(new["0"]["b"], [0.6])  # bias not decayed


def test_adam_matches_its_equations():
    params, grads = params_and_grads()
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    new, state = run(optim.adam(lr, b1, b2, eps), params, [grads, grads])
    g = grads["0"]["W"].astype(np.float64)
    m = (1 - b1) * g * (1 + b1)
    v = (1 - b2) * g**2 * (1 + b2)
    W = params["0"]["W"] - lr * g / (np.abs(g) + eps)  # first step moves by lr * sign(g)
    W = W - lr * (m / (1 - b1**2)) / (np.sqrt(v / (1 - b2**2)) + eps)
    np.testing.assert_allclose(new["0"]["W"], W, rtol=1e-5)
    np.testing.assert_allclose(state["m"]["0"]["W"], m, rtol=1e-5)
    np.testing.assert_allclose(state["v"]["0"]["W"], v, rtol=1e-5)
    assert int(state["count"]) == 2


def test_adamw_decouples_weight_decay():
    params, grads = params_and_grads()
    zero = tree.zeros_like(grads)
    new, _ = run(optim.adamw(0.1, weight_decay=0.5), params, [zero])
    # zero gradient: only the decay W (1 - lr wd) acts
    np.testing.assert_allclose(new["0"]["W"], params["0"]["W"] * 0.95, rtol=1e-6)


def test_state_is_readable_and_read_only():
    params, grads = params_and_grads()
    opt = optim.sgd(optim.exponential_decay(1.0, 0.5), momentum=0.9)
    state = opt.init(params)
    assert set(state) == {"count", "velocity"} and int(state["count"]) == 0
    new, state = opt.update(params, grads, state)
    assert int(state["count"]) == 1
    assert_all_read_only(state)
    assert_all_read_only(new)
    for opt in (optim.adam(0.1), optim.adamw(0.1)):
        s = opt.init(params)
        assert set(s) == {"count", "m", "v"}
        assert tree.structure_equal(s["m"], params)
        assert_all_read_only(opt.update(params, grads, s)[1])


def test_schedule_is_called_with_the_updates_already_made():
    seen = []

    def schedule(step):
        seen.append(step)
        return 0.1

    params, grads = params_and_grads()
    run(optim.sgd(schedule), params, [grads, grads, grads])
    assert seen[:1] == [0] and 1 in seen and 2 in seen


def test_update_is_pure():
    params, grads = params_and_grads()
    p_copy, g_copy = tree.map(np.copy, params), tree.map(np.copy, grads)
    for opt in (optim.sgd(0.1, momentum=0.9, weight_decay=0.1), optim.adam(0.1), optim.adamw(0.1)):
        state = opt.init(params)
        s_copy = tree.map(np.copy, state)
        a = opt.update(params, grads, state)
        b = opt.update(params, grads, state)
        tree.map(np.testing.assert_array_equal, a, b)
        tree.map(np.testing.assert_array_equal, params, p_copy)
        tree.map(np.testing.assert_array_equal, grads, g_copy)
        tree.map(np.testing.assert_array_equal, state, s_copy)


def test_float64_params_stay_float64():
    params = {"w": np.ones(3)}
    for opt in (optim.sgd(0.1, momentum=0.5), optim.adam(0.1)):
        new, _ = opt.update(params, {"w": np.ones(3)}, opt.init(params))
        assert new["w"].dtype == np.float64


def test_schedules():
    assert optim.constant(0.3)(100) == 0.3
    assert optim.exponential_decay(1.0, 0.5, decay_steps=2)(2) == pytest.approx(0.5)
    assert optim.exponential_decay(1.0, 0.5, decay_steps=2, staircase=True)(3) == pytest.approx(0.5)
    s = optim.step_decay(1.0, step_size=10, gamma=0.1)
    assert (s(9), s(10), s(25)) == (1.0, pytest.approx(0.1), pytest.approx(0.01))
    c = optim.cosine_decay(1.0, decay_steps=10, alpha=0.1)
    assert (
        c(0) == 1.0
        and c(5) == pytest.approx(0.55)
        and c(10) == pytest.approx(0.1)
        and c(50) == pytest.approx(0.1)
    )
    w = optim.warmup(optim.constant(1.0), 4)
    assert [w(i) for i in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_global_norm_clipping():
    grads = {"a": np.array([3.0, 0.0]), "b": [np.array([4.0])]}
    assert optim.global_norm(grads) == pytest.approx(5.0)
    clipped = optim.clip_by_global_norm(grads, 1.0)
    assert optim.global_norm(clipped) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    assert optim.clip_by_global_norm(grads, 10.0) is grads
    opt = optim.clipped(optim.sgd(1.0), max_norm=1.0)
    new, _ = opt.update({"a": np.zeros(2), "b": [np.zeros(1)]}, grads, opt.init(grads))
    np.testing.assert_allclose(new["a"], [-0.6, 0.0])


def test_errors():
    params, grads = params_and_grads()
    opt = optim.sgd(0.1)
    state = opt.init(params)
    with pytest.raises(ValueError, match="grads tree does not match the params tree"):
        opt.update(params, {"0": grads["0"]}, state)
    bad = tree.map(lambda g: g, grads)
    bad["0"]["W"] = np.ones((2, 2), np.float32)
    with pytest.raises(
        ValueError, match=r"grads\['0/W'\] has shape \(2, 2\), params\['0/W'\] has shape \(1, 2\)"
    ):
        opt.update(params, bad, state)
    with pytest.raises(ValueError, match=r"adam\.update: the grads tree"):
        optim.adam(0.1).update(params, {"x": np.ones(1)}, optim.adam(0.1).init(params))
    with pytest.raises(ValueError, match=r"sgd: lr must be > 0, finite, got -1\.0"):
        optim.sgd(-1.0)
    with pytest.raises(TypeError, match="sgd: lr must be a real number"):
        optim.sgd("fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="momentum must be in"):
        optim.sgd(0.1, momentum=1.5)
    with pytest.raises(ValueError, match="nesterov"):
        optim.sgd(0.1, nesterov=True)
    with pytest.raises(ValueError, match="b2 must be in"):
        optim.adam(0.1, b2=1.0)
    with pytest.raises(ValueError, match="mask tree does not match"):
        optim.sgd(0.1, weight_decay=0.1, mask={"x": True}).update(params, grads, state)
    with pytest.raises(ValueError, match="decay_steps must be an integer >= 1"):
        optim.cosine_decay(0.1, 0)


def test_sgd_on_large_arrays_matches_the_rule():
    # large arrays, float64 gradients for float32 params, a transposed (F-order) W
    BLOCK = 1 << 16
    rng = np.random.default_rng(0)
    shape = (3, BLOCK // 2 + 7)  # 1.5 blocks and a bit
    W = np.asfortranarray(rng.standard_normal(shape[::-1], dtype=np.float32)).T
    params = {"W": W, "b": rng.standard_normal(5, dtype=np.float32)}
    g1 = {"W": rng.standard_normal(shape), "b": rng.standard_normal(5).astype(np.float32)}
    g2 = tree.map(lambda g: -0.5 * g, g1)
    for nesterov in (False, True):
        new, state = run(optim.sgd(0.1, momentum=0.9, nesterov=nesterov), params, [g1, g2])
        v1 = g1["W"]
        W1 = W - 0.1 * (g1["W"] + 0.9 * v1 if nesterov else v1)
        v2 = 0.9 * v1 + g2["W"]
        W2 = W1 - 0.1 * (g2["W"] + 0.9 * v2 if nesterov else v2)
        np.testing.assert_allclose(state["velocity"]["W"], v2, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(new["W"], W2, rtol=1e-5, atol=1e-6)
        assert new["W"].dtype == np.float32 and new["W"].shape == shape
        assert_all_read_only(new)
        assert_all_read_only(state)
    new, _ = run(optim.sgd(0.1, weight_decay=0.01), params, [g1])
    np.testing.assert_allclose(new["W"], W - 0.1 * (g1["W"] + 0.01 * W), rtol=1e-5, atol=1e-6)


def test_adam_on_large_arrays_matches_the_rule():
    # Adam / AdamW on large arrays (float64 gradients for float32 params, an F-order W)
    # against the equations on whole float64 arrays
    BLOCK = 1 << 16
    rng = np.random.default_rng(1)
    shape = (3, BLOCK // 2 + 7)
    W = np.asfortranarray(rng.standard_normal(shape[::-1], dtype=np.float32)).T
    params = {"W": W}
    grads = [{"W": rng.standard_normal(shape)} for _ in range(2)]
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
    for decoupled in (False, True):
        opt = (optim.adamw if decoupled else optim.adam)(lr, b1, b2, eps, weight_decay=wd)
        new, state = run(opt, params, grads)
        Wr, m, v = W.astype(np.float64), np.zeros(shape), np.zeros(shape)
        for t, g in enumerate(grads, start=1):
            g = g["W"] if decoupled else g["W"] + wd * Wr
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            shrunk = Wr * (1 - lr * wd) if decoupled else Wr
            Wr = shrunk - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(state["m"]["W"], m, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(state["v"]["W"], v, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(new["W"], Wr, rtol=1e-5, atol=1e-6)
        assert new["W"].dtype == np.float32 and new["W"].shape == shape
        assert_all_read_only(new)
        assert_all_read_only(state)


def test_float64_grads_keep_float32_params_float32():
    params = {"w": np.ones(3, np.float32)}
    grads = {"w": np.full(3, 0.5)}  # float64
    for opt in (optim.sgd(0.1), optim.sgd(0.1, momentum=0.9, nesterov=True)):
        new, state = opt.update(params, grads, opt.init(params))
        assert new["w"].dtype == np.float32
        np.testing.assert_allclose(new["w"], 1 - 0.1 * 0.5 * (1.9 if "velocity" in state else 1))


@pytest.mark.parametrize("make", [lambda: optim.sgd(0.1, momentum=0.9), lambda: optim.adam(0.1)])
def test_update_of_dict_trees_and_of_other_trees_agree(make):
    # dicts of dicts take a lean path, trees with lists, tuples or None the general one
    opt = make()
    rng = np.random.default_rng(0)
    W, b, u = (rng.standard_normal(s).astype(np.float32) for s in [(3, 2), (2,), (4,)])
    gW, gb, gu = (rng.standard_normal(a.shape).astype(np.float32) for a in (W, b, u))
    as_dicts = {"0": {"W": W, "b": b}, "1": {}, "2": {"u": u}}
    grads_dicts = {"2": {"u": gu}, "1": {}, "0": {"b": gb, "W": gW}}  # another key order
    as_others = {"0": [W, (b,)], "1": None, "2": {"u": u}}
    grads_others = {"0": [gW, (gb,)], "1": None, "2": {"u": gu}}
    new_dicts, state_dicts = opt.update(as_dicts, grads_dicts, opt.init(as_dicts))
    new_others, _ = opt.update(as_others, grads_others, opt.init(as_others))
    assert list(new_dicts) == ["0", "1", "2"] and list(new_dicts["0"]) == ["W", "b"]
    for a, c in [
        (new_dicts["0"]["W"], new_others["0"][0]),
        (new_dicts["0"]["b"], new_others["0"][1][0]),
    ]:
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(new_dicts["2"]["u"], new_others["2"]["u"])
    assert new_dicts["1"] == {} and new_others["1"] is None
    assert_all_read_only(new_dicts)
    assert_all_read_only(state_dicts)


@pytest.mark.parametrize("nested", [False, True])
def test_a_gradient_that_would_broadcast_is_still_a_shape_error(nested):
    opt = optim.sgd(0.1, momentum=0.9)
    W = np.ones((3, 2), np.float32)
    params = {"0": [W]} if nested else {"0": {"W": W}}
    grads = (
        {"0": [np.ones((1, 2), np.float32)]}
        if nested
        else {"0": {"W": np.ones((1, 2), np.float32)}}
    )
    where = "0/0" if nested else "0/W"
    with pytest.raises(
        ValueError,
        match=rf"grads\['{where}'\] has shape \(1, 2\), params\['{where}'\] has shape \(3, 2\)",
    ):
        opt.update(params, grads, opt.init(params))
    state = opt.init(params)
    with pytest.raises(ValueError, match="the optimizer state does not match the params"):
        opt.update(params, params, {**state, "velocity": {"0": {}} if not nested else {"0": []}})


@pytest.mark.parametrize(
    ("optimizer", "name", "bad", "good"),
    [
        ("sgd", "lr", [0.0, -0.1, float("inf"), float("nan")], [1e-9, 10.0]),
        ("sgd", "momentum", [1.0, -0.1, 1.5, float("nan")], [0.0, 0.99]),
        ("sgd", "weight_decay", [-1e-4, float("inf")], [0.0, 0.1]),
        ("adam", "b1", [1.0, -0.1], [0.0, 0.9]),
        ("adam", "b2", [1.0, 2.0], [0.0, 0.999]),
        ("adam", "eps", [0.0, -1e-8, float("inf")], [1e-12, 1.0]),
        ("adamw", "weight_decay", [-0.01], [0.0, 0.05]),
    ],
)
def test_one_set_of_bounds_for_the_api_and_the_command_line(optimizer, name, bad, good):
    make = getattr(optim, optimizer)
    kwargs = {"lr": 0.1}
    for value in bad:
        with pytest.raises(
            optim.HyperparameterError, match=rf"{optimizer}: {name} must be "
        ) as err:
            optim.check_hyperparameters(optimizer, **{name: value})
        assert (err.value.optimizer, err.value.name) == (optimizer, name)
        assert err.value.expected == str(optim.BOUNDS[name])
        expected = re.escape(f"{optimizer}: {name} must be {err.value.expected}")
        with pytest.raises(ValueError, match=expected):
            make(**{**kwargs, name: value})
    for value in good:
        assert optim.check_hyperparameters(optimizer, **{name: value}) == {name: value}
        make(**{**kwargs, name: value})


def test_check_hyperparameters_wording_and_errors():
    assert str(optim.BOUNDS["momentum"]) == "in [0, 1)"
    assert str(optim.BOUNDS["lr"]) == "> 0, finite"
    assert str(optim.BOUNDS["weight_decay"]) == ">= 0, finite"
    with pytest.raises(ValueError, match=r"sgd: momentum must be in \[0, 1\), got 1\.0"):
        optim.sgd(0.1, momentum=1.0)  # the command line refused it; now the API does too
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        optim.check_hyperparameters("rmsprop", lr=0.1)
    with pytest.raises(TypeError, match="adam has no hyperparameter 'momentum'"):
        optim.check_hyperparameters("adam", momentum=0.9)
    with pytest.raises(TypeError, match="sgd: lr must be a real number"):
        optim.check_hyperparameters("sgd", lr="0.1")
    with pytest.raises(TypeError, match="momentum must be a real number"):
        optim.sgd(0.1, momentum=True)
    assert optim.check_hyperparameters("sgd", lr=np.float32(0.5)) == {"lr": 0.5}
    assert set(optim.HYPERPARAMETERS) == {"sgd", "adam", "adamw"}


def test_adam_with_zero_gradients_stays_finite():
    # eps > 0 is enforced: 0 / (sqrt(0) + eps) = 0, where eps = 0 gave 0 / 0 = NaN
    params = {"w": np.ones(3)}
    opt = optim.adam(0.1, eps=1e-12)
    new, _ = run(opt, params, [{"w": np.zeros(3)}] * 3)
    np.testing.assert_array_equal(new["w"], params["w"])
    with pytest.raises(ValueError, match=r"adam: eps must be > 0, finite, got 0\.0"):
        optim.adam(0.1, eps=0.0)


def test_weight_decay_is_one_function_coupled_or_decoupled():
    W = np.array([2.0, -4.0])
    g = np.array([0.5, 0.5])
    np.testing.assert_array_equal(optim.add_decayed_weights(g, W, 0.1), g + 0.1 * W)
    assert optim.add_decayed_weights(g, W, 0.0) is g
    # coupled (sgd, adam): g_L2 = g + wd W enters the momentum
    new, state = run(optim.sgd(0.5, momentum=0.9, weight_decay=0.1), {"w": W}, [{"w": g}])
    np.testing.assert_allclose(state["velocity"]["w"], g + 0.1 * W)
    np.testing.assert_allclose(new["w"], W - 0.5 * (g + 0.1 * W))
    # decoupled (adamw): the moments see g alone; the step is W - lr (u + wd W)
    lr, wd = 0.01, 0.5
    new, state = run(optim.adamw(lr, weight_decay=wd), {"w": W}, [{"w": g}])
    np.testing.assert_allclose(state["m"]["w"], 0.1 * g)
    u = g / (np.abs(g) + 1e-8)  # the first Adam step: m_hat = g, v_hat = g^2
    np.testing.assert_allclose(new["w"], W - lr * (u + wd * W), rtol=1e-15)
    # coupled Adam: the decay passes through m
    _, state = run(optim.adam(lr, weight_decay=wd), {"w": W}, [{"w": g}])
    np.testing.assert_allclose(state["m"]["w"], 0.1 * (g + wd * W))


def test_weight_decay_mask_as_a_tree_and_as_a_function():
    params, grads = params_and_grads()
    by_tree = {"0": {"W": True, "b": False}, "1": {}}
    for mask in (by_tree, optim.decay_mask):
        new, _ = run(optim.adam(0.1, weight_decay=0.5, mask=mask), params, [grads])
        plain, _ = run(optim.adam(0.1), params, [grads])
        np.testing.assert_array_equal(new["0"]["b"], plain["0"]["b"])
        assert not np.array_equal(new["0"]["W"], plain["0"]["W"])


def test_a_wrong_opt_state_names_the_keys():
    params, grads = params_and_grads()
    with pytest.raises(
        ValueError, match=r"adam\.update: expected an opt_state with keys \['count', 'm', 'v'\]"
    ):
        optim.adam(0.1).update(params, grads, optim.sgd(0.1, momentum=0.9).init(params))
    with pytest.raises(ValueError, match=r"sgd\.update: expected an opt_state .*, got \[\]"):
        optim.sgd(0.1).update(params, grads, {})
    with pytest.raises(ValueError, match="got list"):
        optim.sgd(0.1).update(params, grads, [])


def test_schedule_arguments_and_values_are_checked():
    for bad in (-1.0, 0.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="step_decay: gamma must be > 0, finite"):
            optim.step_decay(0.01, 2, bad)
        with pytest.raises(ValueError, match="exponential_decay: decay_rate must be > 0, finite"):
            optim.exponential_decay(0.01, bad)
    with pytest.raises(ValueError, match="step_decay: lr must be > 0, finite"):
        optim.step_decay(-0.01, 2)
    with pytest.raises(ValueError, match=r"step_size must be an integer >= 1, got 2\.5"):
        optim.step_decay(0.01, 2.5)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        optim.cosine_decay(0.1, 10, alpha=1.5)
    with pytest.raises(ValueError, match="warmup_steps must be an integer >= 1"):
        optim.warmup(optim.constant(0.1), 0)
    with pytest.raises(TypeError, match="warmup: expected a schedule"):
        optim.warmup(0.1, 3)
    params, grads = params_and_grads()
    opt = optim.sgd(lambda step: 0.1 - 0.1 * step)  # a hand-written schedule that goes negative
    state = opt.init(params)
    params1, state = opt.update(params, grads, state)
    params2, state = opt.update(params1, grads, state)  # lr 0 is fine (cosine ends there)
    with pytest.raises(ValueError, match=r"sgd: the schedule gave lr -0\.1 at step 2"):
        opt.update(params2, grads, state)


def test_the_state_holds_only_what_updates_read():
    params, _ = params_and_grads()
    assert set(optim.sgd(0.1).init(params)) == {"count"}
    assert set(optim.sgd(0.1, momentum=0.5).init(params)) == {"count", "velocity"}
    assert set(optim.adamw(0.1).init(params)) == {"count", "m", "v"}
