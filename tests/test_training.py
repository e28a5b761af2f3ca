import functools

import numpy as np
import pytest

import fnnet
from fnnet import datasets, layers, losses, optim, random, tree
from fnnet.data import fit_standardizer, standardize
from fnnet.training import (
    Metrics,
    NonFiniteLossError,
    accuracy,
    evaluate,
    predict,
    train_epoch,
    train_step,
)


def _setup(lr=0.05, seed=0):
    x, y = datasets.load_iris()
    x = standardize(fit_standardizer(x), x)
    model = layers.mlp([4, 16, 3])
    _, params, state = model.init(random.key(seed), (-1, 4))
    opt = optim.sgd(lr, momentum=0.9)
    return model, opt, params, state, opt.init(params), x, y


def _copy(t):
    return tree.map(np.copy, t)


def test_step_matches_value_and_grad_and_update():
    model, opt, params, state, opt_state, x, y = _setup()
    before = _copy(params)
    out = train_step(model, losses.cross_entropy, opt, params, state, opt_state, x[:10], y[:10])
    value, grads, _ = fnnet.value_and_grad(model, losses.cross_entropy)(
        params, state, x[:10], y[:10]
    )
    expect, _ = opt.update(params, grads, opt_state)
    assert out.loss == value
    for a, b in zip(tree.leaves(out.params), tree.leaves(expect), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(out.opt_state["count"]) == 1
    pred, _ = model.apply(params, state, x[:10])
    assert out.correct == int((pred.argmax(1) == y[:10]).sum())
    # inputs untouched, and the same call gives the same result
    for a, b in zip(tree.leaves(params), tree.leaves(before), strict=True):
        np.testing.assert_array_equal(a, b)
    again = train_step(model, losses.cross_entropy, opt, params, state, opt_state, x[:10], y[:10])
    assert again.loss == out.loss
    for a, b in zip(tree.leaves(out.params), tree.leaves(again.params), strict=True):
        np.testing.assert_array_equal(a, b)


def test_epoch_is_a_function_of_its_key():
    model, opt, params, state, opt_state, x, y = _setup()
    run = lambda k: train_epoch(  # noqa: E731
        model, losses.cross_entropy, opt, params, state, opt_state, x, y, k, batch_size=32
    )
    p1, _, o1, m1 = run(random.key(7))
    p2, _, _, m2 = run(random.key(7))
    p3, _, _, m3 = run(random.key(8))
    assert m1 == m2 and m1 != m3
    np.testing.assert_array_equal(p1["0"]["W"], p2["0"]["W"])
    assert not np.array_equal(p1["0"]["W"], p3["0"]["W"])
    assert int(o1["count"]) == 5  # ceil(150 / 32)
    assert 0.0 <= m1.accuracy <= 1.0 and m1.loss > 0


def test_epoch_metrics_are_batch_weighted_means():
    model, opt, params, state, opt_state, x, y = _setup()
    epoch = functools.partial(
        train_epoch, model, losses.cross_entropy, opt, params, state, opt_state, x, y
    )
    calls = []
    _, _, _, m = epoch(
        random.key(1), batch_size=64, on_step=lambda i, n, loss: calls.append((i, n, loss))
    )
    assert [c[:2] for c in calls] == [(1, 3), (2, 3), (3, 3)]
    weighted = (64 * calls[0][2] + 64 * calls[1][2] + 22 * calls[2][2]) / 150
    assert m.loss == pytest.approx(weighted, rel=1e-12)
    _, _, o, _ = epoch(random.key(1), batch_size=64, drop_last=True)
    assert int(o["count"]) == 2


def test_training_learns_iris():
    model, opt, params, state, opt_state, x, y = _setup()
    first = evaluate(model, losses.cross_entropy, params, state, x, y)
    for epoch in range(30):
        params, state, opt_state, _ = train_epoch(
            model,
            losses.cross_entropy,
            opt,
            params,
            state,
            opt_state,
            x,
            y,
            random.fold_in(random.key(0), epoch),
            batch_size=16,
        )
    last = evaluate(model, losses.cross_entropy, params, state, x, y)
    assert last.loss < first.loss / 5
    assert last.accuracy >= 0.95


def test_evaluate_matches_a_direct_computation():
    model, _, params, state, _, x, y = _setup()
    pred, _ = model.apply(params, state, x)
    m = evaluate(model, losses.cross_entropy, params, state, x, y, batch_size=40)
    assert isinstance(m, Metrics)
    assert m.loss == pytest.approx(losses.cross_entropy.apply(pred, y), rel=1e-6)
    assert m.accuracy == accuracy(pred, y)
    one_hot = np.eye(3, dtype=np.float32)[y]
    assert evaluate(model, losses.cross_entropy, params, state, x, one_hot).accuracy == m.accuracy
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, losses.cross_entropy, params, state, x[:0], y[:0])


def test_predict_joins_the_outputs_of_batches():
    model = layers.serial(
        layers.Conv2d(1, 4, 3, padding=1),
        layers.BatchNorm2d(4),
        layers.ReLU(),
        layers.MaxPool2d(2),
        layers.Flatten(),
        layers.Linear(None, 3),
    )
    _, params, state = model.init(random.key(0), (-1, 6, 6, 1))
    state = {
        **state,
        "1": {"mean": np.full(4, 0.5, np.float32), "var": np.full(4, 2.0, np.float32)},
    }
    x = random.normal(random.key(1), (10, 6, 6, 1), np.float32)
    whole, _ = model.apply(params, state, x)  # eval mode: the running statistics
    kept = _copy(state)
    for batch_size in [1, 3, 4, 10, 128]:
        out = predict(model, params, state, x, batch_size=batch_size)
        assert out.shape == (10, 3) and out.dtype == np.float32
        np.testing.assert_allclose(out, whole, rtol=1e-5, atol=1e-6)
        if batch_size == 3:  # the first batch is exactly apply on those rows
            np.testing.assert_array_equal(out[:3], model.apply(params, state, x[:3])[0])
    tree.map(np.testing.assert_array_equal, state, kept)
    assert predict(model, params, state, x[:0]).shape == (0, 3)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        predict(model, params, state, x, batch_size=0)
    with pytest.raises(ValueError, match="leading batch dimension"):
        predict(model, params, state, np.float32(1.0))


def test_accuracy():
    pred = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert accuracy(pred, np.array([1, 0, 0, 0])) == 0.75


def test_non_finite_loss_names_the_step_and_keeps_inputs():
    model, _, params, state, _, x, y = _setup()
    opt = optim.sgd(1e6)
    opt_state = opt.init(params)
    with pytest.raises(
        NonFiniteLossError, match=r"non-finite loss \((nan|inf)\) at step (\d+)"
    ) as info:
        for epoch in range(5):
            params, state, opt_state, _ = train_epoch(
                model,
                losses.cross_entropy,
                opt,
                params,
                state,
                opt_state,
                x * 1e3,
                y,
                random.fold_in(random.key(0), epoch),
                batch_size=16,
            )
    assert info.value.step >= 1
    # the last trees that came back are finite
    assert all(np.isfinite(a).all() for a in tree.leaves(params))


def test_accuracy_refuses_labels_outside_the_classes():
    scores = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert fnnet.training.accuracy(scores, np.array([0, 1])) == 1.0
    assert fnnet.training.accuracy(scores, np.array([[0.0, 1.0], [0.0, 1.0]])) == 0.5
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\), got 5 at index 1"):
        fnnet.training.accuracy(scores, np.array([0, 5]))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\), got -1"):
        fnnet.training.accuracy(scores, np.array([-1, 0]))
    with pytest.raises(ValueError, match="N targets"):
        fnnet.training.accuracy(scores, np.array([0]))
    with pytest.raises(ValueError, match="integer labels"):
        fnnet.training.accuracy(scores, np.array([0.0, 1.0]))
