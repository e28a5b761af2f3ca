"""optim.masked, optim.multi and optim.accumulate: frozen leaves, groups, accumulation."""

import numpy as np
import pytest
from helpers import assert_all_read_only, randomize

import fnnet
from fnnet import layers, losses, optim, random, tree


def model_and_params():
    model = layers.serial(layers.Linear(3, 4), layers.ReLU(), layers.Linear(4, 2))
    _, params, state = model.init(random.key(0), (-1, 3))
    return model, randomize(params), state


def grads_like(params, seed=1):
    return randomize(params, seed=seed)


def run(opt, params, grads_seq):
    state = opt.init(params)
    for g in grads_seq:
        params, state = opt.update(params, g, state)
    return params, state


FREEZE_FIRST = {"0": {"W": False, "b": False}, "1": {}, "2": {"W": True, "b": True}}


@pytest.mark.parametrize(
    "mask", [FREEZE_FIRST, lambda path, leaf: not path.startswith("0/")], ids=["tree", "predicate"]
)
def test_masked_updates_only_where_the_mask_is_true(mask):
    _, params, _ = model_and_params()
    grads = [grads_like(params, s) for s in (1, 2)]
    opt = optim.masked(optim.sgd(0.1, momentum=0.9), mask)
    new, state = run(opt, params, grads)
    # frozen: the same values; trainable: exactly what sgd alone gives on that layer
    np.testing.assert_array_equal(new["0"]["W"], params["0"]["W"])
    np.testing.assert_array_equal(new["0"]["b"], params["0"]["b"])
    alone, _ = run(optim.sgd(0.1, momentum=0.9), params["2"], [g["2"] for g in grads])
    np.testing.assert_array_equal(new["2"]["W"], alone["W"])
    # frozen leaves hold no optimizer state
    assert state["velocity"]["0"] == {"W": None, "b": None}
    assert tree.leaves(state["velocity"]["2"])[0].shape == (2, 4)
    assert len(tree.leaves(state["velocity"])) == 2
    assert_all_read_only(new)
    assert_all_read_only(state)


def test_masked_frozen_leaves_are_never_writable_views_of_the_caller():
    params = {"a": np.ones(2), "b": np.ones(2)}  # writable arrays of the caller
    opt = optim.masked(optim.sgd(0.1), {"a": False, "b": True})
    new, _ = opt.update(params, {"a": np.ones(2), "b": np.ones(2)}, opt.init(params))
    assert not new["a"].flags.writeable and params["a"].flags.writeable
    np.testing.assert_array_equal(new["a"], params["a"])
    np.testing.assert_allclose(new["b"], [0.9, 0.9])


def test_masked_errors():
    _, params, _ = model_and_params()
    with pytest.raises(
        ValueError, match=r"masked: the mask tree does not match the params tree: no entry for"
    ):
        optim.masked(optim.sgd(0.1), {"0": True}).init(params)
    bad = tree.map(lambda p: 1, params)
    with pytest.raises(TypeError, match=r"masked: mask\['0/W'\] must be a bool, got 1"):
        optim.masked(optim.sgd(0.1), bad).init(params)
    opt = optim.masked(optim.sgd(0.1), FREEZE_FIRST)
    with pytest.raises(ValueError, match=r"masked\.update: the grads tree does not match"):
        opt.update(params, {"0": params["0"]}, opt.init(params))


def labels_of(params):
    return {
        k: tree.map(lambda _, k=k: "head" if k == "2" else "body", p) for k, p in params.items()
    }


@pytest.mark.parametrize("labels", [labels_of, "tree"])
def test_multi_gives_each_group_its_optimizer(labels):
    _, params, _ = model_and_params()
    if labels == "tree":
        labels = labels_of(params)
    grads = [grads_like(params, s) for s in (1, 2, 3)]
    body, head = optim.sgd(0.1, momentum=0.9), optim.adam(0.01)
    opt = optim.multi({"body": body, "head": head}, labels)
    new, state = run(opt, params, grads)
    assert set(state) == {"body", "head"}
    body_alone, _ = run(body, params["0"], [g["0"] for g in grads])
    head_alone, _ = run(head, params["2"], [g["2"] for g in grads])
    np.testing.assert_array_equal(new["0"]["W"], body_alone["W"])
    np.testing.assert_array_equal(new["2"]["b"], head_alone["b"])
    assert state["body"]["velocity"]["2"] == {"W": None, "b": None}
    assert state["head"]["m"]["0"] == {"W": None, "b": None}
    assert list(new) == ["0", "1", "2"] and new["1"] == {}
    assert_all_read_only(new)
    assert_all_read_only(state)


def test_multi_errors():
    _, params, _ = model_and_params()
    labels = labels_of(params)
    labels["2"]["b"] = "bias"
    with pytest.raises(
        ValueError, match=r"multi: labels\['2/b'\] is 'bias', expected one of \['body', 'head'\]"
    ):
        optim.multi({"body": optim.sgd(0.1), "head": optim.sgd(0.1)}, labels).init(params)
    with pytest.raises(
        ValueError, match=r"multi: the labels tree does not match .* no entry for params\['0/W'\]"
    ):
        optim.multi({"a": optim.sgd(0.1)}, {"0": "a"}).init(params)
    with pytest.raises(ValueError, match="multi: expected at least one optimizer"):
        optim.multi({}, labels)
    opt = optim.multi({"body": optim.sgd(0.1), "head": optim.sgd(0.1)}, labels_of)
    with pytest.raises(ValueError, match=r"multi.update: expected an opt_state with keys"):
        opt.update(params, params, {"body": {}})


def test_accumulate_equals_one_step_on_the_k_times_larger_batch():
    # mse averages over the batch, so the mean of k equal-size batch gradients is the
    # gradient of their union: k accumulated calls = one step on the big batch
    model, params, state = model_and_params()
    x = random.normal(random.key(5), (12, 3), np.float64)
    y = random.normal(random.key(6), (12, 2), np.float64)
    grad_fn = fnnet.value_and_grad(model, losses.mse)
    for inner in (optim.sgd(0.1, momentum=0.9), optim.adam(0.01)):
        k = 3
        opt = optim.accumulate(inner, k)
        p, s = params, opt.init(params)
        for _epoch in range(2):
            for i in range(k):
                _, g, _ = grad_fn(p, state, x[4 * i : 4 * i + 4], y[4 * i : 4 * i + 4])
                before = p
                p, s = opt.update(p, g, s)
                if i < k - 1:  # params unchanged between the k-th calls
                    tree.map(np.testing.assert_array_equal, p, before)
                    assert int(s["mini_step"]) == i + 1
            assert int(s["mini_step"]) == 0
        big, big_state = params, inner.init(params)
        for _epoch in range(2):
            _, g, _ = grad_fn(big, state, x, y)
            big, big_state = inner.update(big, g, big_state)
        tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=0), p, big)
        tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300),
            s["inner"],
            big_state,
        )
        assert_all_read_only(p)
        assert_all_read_only(s)


def test_accumulate_with_k_1_is_the_optimizer_and_checks_k():
    _, params, _ = model_and_params()
    grads = [grads_like(params, s) for s in (1, 2)]
    a, _ = run(optim.accumulate(optim.sgd(0.1, momentum=0.5), 1), params, grads)
    b, _ = run(optim.sgd(0.1, momentum=0.5), params, grads)
    tree.map(np.testing.assert_array_equal, a, b)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="accumulate: k must be an integer >= 1"):
            optim.accumulate(optim.sgd(0.1), bad)
    opt = optim.accumulate(optim.sgd(0.1), 2)
    with pytest.raises(ValueError, match=r"accumulate\.update: expected an opt_state with keys"):
        opt.update(params, grads[0], optim.sgd(0.1).init(params))


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.masked(optim.adam(0.1), FREEZE_FIRST),
        lambda: optim.multi(
            {"body": optim.sgd(0.1, momentum=0.9), "head": optim.adam(0.1)}, labels_of
        ),
        lambda: optim.accumulate(optim.sgd(0.1, momentum=0.9), 2),
    ],
    ids=["masked", "multi", "accumulate"],
)
def test_wrappers_are_pure(make):
    opt = make()
    _, params, _ = model_and_params()
    grads = grads_like(params)
    state = opt.init(params)
    params, state = opt.update(params, grads, state)  # a state that is not all zeros
    inputs = (params, grads, state)
    copies = [tree.map(np.copy, t) for t in inputs]
    a = opt.update(*inputs)
    b = opt.update(*inputs)
    tree.map(np.testing.assert_array_equal, a, b)  # same inputs, same outputs
    for t, c in zip(inputs, copies):  # inputs unchanged
        tree.map(np.testing.assert_array_equal, t, c)
    assert_all_read_only(a[0])
    assert_all_read_only(a[1])
