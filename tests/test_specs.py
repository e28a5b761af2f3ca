import re

import numpy as np
import pytest

import fnnet
from fnnet import layers, optim, random, tree
from fnnet.cli.specs import (
    ModelSpec,
    build_model,
    build_optimizer,
    build_schedule,
    count_params,
    parse_model,
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mlp", ModelSpec("mlp", (64,))),
        ("mlp:64,32", ModelSpec("mlp", (64, 32))),
        ("mlp:64,64:bn:dropout=0.2", ModelSpec("mlp", (64, 64), bn=True, dropout=0.2)),
        ("mlp:16:act=tanh", ModelSpec("mlp", (16,), act="tanh")),
        ("mlp:bn", ModelSpec("mlp", (64,), bn=True)),
        ("linear", ModelSpec("linear", ())),
        ("cnn", ModelSpec("cnn", (16, 32))),
        ("cnn:8,16:dropout=0.5", ModelSpec("cnn", (8, 16), dropout=0.5)),
        ("resnet", ModelSpec("resnet", (16, 32))),
        ("resnet:8,16", ModelSpec("resnet", (8, 16))),
        ("resnet:blocks=2", ModelSpec("resnet", (16, 32), blocks=2)),
        ("resnet:8,16,32:blocks=3", ModelSpec("resnet", (8, 16, 32), blocks=3)),
        ("resnet:12", ModelSpec("resnet", (12,))),
        ("rnn", ModelSpec("rnn", (64,))),
        ("gru:32", ModelSpec("gru", (32,))),
        ("lstm:128", ModelSpec("lstm", (128,))),
    ],
)
def test_parse_model(spec, expected):
    assert parse_model(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("transformer", r"unknown model 'transformer': expected .*resnet.*gru\[:H\]"),
        ("mlp:64,x", "sizes must be positive integers"),
        ("mlp:0", "sizes must be positive"),
        ("mlp:dropout=1.5", r"dropout must be in \[0, 1\)"),
        ("mlp:dropout=abc", "dropout must be a number"),
        ("mlp:act=swish", "unknown activation 'swish'"),
        ("cnn:8", "cnn takes two channel counts"),
        ("cnn:bn", "unknown option 'bn' for cnn"),
        ("linear:dropout=0.1", "unknown option 'dropout=0.1' for linear"),
    ],
)
def test_parse_model_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_model(spec)


def test_build_mlp_shapes_and_layers():
    model = build_model(parse_model("mlp:8,6"), (4,), 3)
    out_shape, params, state = model.init(random.key(0), (-1, 4))
    assert out_shape == (-1, 3)
    assert [params[k]["W"].shape for k in ("0", "2", "4")] == [(8, 4), (6, 8), (3, 6)]
    y, _ = model.apply(params, state, np.ones((5, 4), np.float32))
    assert y.shape == (5, 3) and y.dtype == np.float32
    _, p, _ = build_model(parse_model("linear"), (4,), 3).init(random.key(0), (-1, 4))
    assert p["0"]["W"].shape == (3, 4)
    _, p, _ = build_model(parse_model("mlp:5:act=tanh"), (2,), 2).init(random.key(0), (-1, 2))
    assert list(p) == ["0", "1", "2"]


def test_build_mlp_with_bn_and_dropout():
    model = build_model(parse_model("mlp:8:bn:dropout=0.5"), (4,), 3)
    _, params, state = model.init(random.key(0), (-1, 4))
    # Linear, BatchNorm1d, ReLU, Dropout, Linear
    assert len(params) == 5
    assert params["1"]["gamma"].shape == (8,) and state["1"]["mean"].shape == (8,)
    x = np.ones((6, 4), np.float32)
    y1, _ = model.apply(params, state, x, key=random.key(1), train=True)
    y2, _ = model.apply(params, state, x, key=random.key(2), train=True)
    assert not np.array_equal(y1, y2)


@pytest.mark.parametrize(("hw", "features"), [(8, 4 * 4 * 32), (28, 7 * 7 * 32)])
def test_build_cnn(hw, features):
    model = build_model(parse_model("cnn"), (hw, hw, 1), 10)
    out_shape, params, _ = model.init(random.key(0), (-1, hw, hw, 1))
    assert out_shape == (-1, 10)
    last = params[str(len(params) - 1)]
    assert last["W"].shape == (10, features)


def test_build_model_input_checks():
    with pytest.raises(ValueError, match="cnn needs images"):
        build_model(parse_model("cnn"), (4,), 3)
    with pytest.raises(ValueError, match=r"expects flat inputs \(D,\)"):
        build_model(parse_model("mlp"), (8, 8, 1), 3)


def test_schedules():
    assert build_schedule("constant", 0.1, 10, 5)(37) == 0.1
    cos = build_schedule("cosine", 0.1, 10, 5)
    assert cos(0) == pytest.approx(0.1) and cos(25) == pytest.approx(0.05) and cos(50) == 0.0
    exp = build_schedule("exponential:0.5", 0.1, 10, 4)
    assert exp(4) == pytest.approx(0.05) and exp(8) == pytest.approx(0.025)
    step = build_schedule("step:2,0.1", 1.0, 10, 3)
    assert step(5) == 1.0 and step(6) == pytest.approx(0.1) and step(12) == pytest.approx(0.01)
    assert build_schedule("step:2", 1.0, 10, 3)(6) == pytest.approx(0.1)
    for bad, msg in [("linear", "unknown schedule"), ("exponential", "unknown schedule"),
                     ("exponential:x", "schedule 'exponential:x'"),
                     ("step:0,0.1", "EPOCHS must be a positive integer")]:  # fmt: skip
        with pytest.raises(ValueError, match=msg):
            build_schedule(bad, 0.1, 10, 3)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        # a negative, zero or NaN factor would train by gradient ascent or stop training
        ("step:2,-1", r"GAMMA must be a number in \(0, 1\], got '-1'"),
        ("step:10,0", r"GAMMA must be a number in \(0, 1\], got '0'"),
        ("step:10,nan", "GAMMA must be a number"),
        ("step:10,", "GAMMA must be a number"),
        ("step:-2,0.5", "EPOCHS must be a positive integer"),
        ("step:2.5,0.5", "EPOCHS must be a positive integer"),
        ("exponential:-0.5", "RATE must be a number"),
        ("exponential:0", "RATE must be a number"),
        ("exponential:inf", "RATE must be a number"),
        ("exponential: 0.5", "RATE must be a number"),
        ("cosine:5", "unknown schedule"),
        (" constant", "unknown schedule"),
    ],
)
def test_schedules_refuse_factors_outside_0_1(spec, message):
    with pytest.raises(ValueError, match=message):
        build_schedule(spec, 0.1, 10, 3)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("linear:16", "linear has no hidden layers"),
        ("linear:16,32", "linear has no hidden layers"),
        ("mlp:16:bn:bn", "option 'bn' given twice"),
        ("mlp:16:act=tanh:act=relu", "option 'act' given twice"),
        ("mlp:16 ", "sizes must be positive integers"),
        (" mlp:16", "unknown model"),
        ("mlp:-4", "sizes must be positive integers"),
        ("mlp:+4", "sizes must be positive integers"),
        ("mlp:016", "sizes must be positive integers"),
        ("mlp:16:", "unknown option ''"),
    ],
)
def test_lenient_model_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_model(spec)


def test_count_params_matches_the_built_model():
    for text, shape, classes in [("mlp:8,6:bn", (4,), 3), ("linear", (5,), 2),
                                 ("cnn:4,8", (8, 8, 1), 10), ("cnn:2,3", (28, 28, 1), 10)]:  # fmt: skip
        spec = parse_model(text)
        _, params, _ = build_model(spec, shape, classes).init(random.key(0), (-1, *shape))
        size = sum(a.size for a in [l for p in params.values() for l in p.values()])
        assert count_params(spec, shape, classes) == size, text
    assert count_params(parse_model("mlp:100000,100000"), (4,), 3) == 10_000_900_003


def test_optimizers():
    params = {"W": np.ones((2, 2), np.float32), "b": np.ones(2, np.float32)}
    grads = {"W": np.zeros((2, 2), np.float32), "b": np.zeros(2, np.float32)}
    sgd = build_optimizer("sgd", optim.constant(0.1), momentum=0.9, weight_decay=0.5)
    state = sgd.init(params)
    assert "velocity" in state
    new, _ = sgd.update(params, grads, state)
    # decay on W only: W - lr * wd * W = 0.95; b unchanged
    np.testing.assert_allclose(new["W"], 0.95)
    np.testing.assert_allclose(new["b"], 1.0)
    assert set(build_optimizer("adam", optim.constant(0.1)).init(params)) == {"count", "m", "v"}
    new, _ = build_optimizer("adamw", optim.constant(0.1), weight_decay=0.5).update(
        params, grads, build_optimizer("adamw", optim.constant(0.1)).init(params)
    )
    np.testing.assert_allclose(new["W"], 0.95)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        build_optimizer("rmsprop", optim.constant(0.1))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("resnet:8", None),  # one stage is a fine resnet
        ("resnet:blocks=0", "blocks must be a positive integer, got '0'"),
        ("resnet:blocks=-1", "blocks must be a positive integer"),
        ("resnet:blocks=1.5", "blocks must be a positive integer"),
        ("resnet:blocks=02", "blocks must be a positive integer"),
        ("resnet:blocks=", "blocks must be a positive integer, got ''"),
        ("resnet:blocks=2:blocks=3", "option 'blocks' given twice"),
        (
            "resnet:16,32:dropout=0.1",
            r"unknown option 'dropout=0.1' for resnet \(options: blocks=B\)",
        ),
        ("resnet:16,32:bn", "unknown option 'bn' for resnet"),
        ("resnet:16,x", "sizes must be positive integers"),
        ("resnet: 16,32", "unknown option ' 16,32' for resnet"),
        ("resnet:16,0", "sizes must be positive"),
        ("gru:64,32", "gru takes one hidden size H, e.g. gru:64"),
        ("lstm:0", "sizes must be positive"),
        ("rnn:64:dropout=0.2", r"unknown option 'dropout=0.2' for rnn \(options: none\)"),
        ("gru:64:blocks=2", "unknown option 'blocks=2' for gru"),
        ("gru:64 ", "sizes must be positive integers"),
        ("GRU:64", "unknown model 'GRU:64'"),
        ("lstm:64:", "unknown option '' for lstm"),
    ],
)
def test_new_model_specs_are_strict(spec, message):
    if message is None:
        assert parse_model(spec).kind == spec.split(":")[0]
        return
    with pytest.raises(ValueError, match=message) as err:
        parse_model(spec)
    assert repr(spec) in str(err.value)


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("resnet", (8, 8, 1)),
        ("resnet:4,6:blocks=2", (8, 8, 1)),
        ("resnet:5", (6, 6, 3)),
        ("resnet:4,4,8", (9, 7, 2)),  # a stride-2 block keeps the width: still a projection
        ("rnn:5", (8, 8, 1)),
        ("gru:64", (8, 8, 1)),
        ("lstm:7", (4, 3, 2)),
        ("gru:3", (28, 28, 1)),
    ],
)
def test_count_params_is_exact_for_resnets_and_recurrent_models(text, shape):
    spec = parse_model(text)
    model = build_model(spec, shape, 10)
    out_shape, params, _ = model.init(random.key(0), (-1, *shape))
    assert out_shape == (-1, 10)
    size = sum(leaf.size for leaf in tree.leaves(params))
    assert count_params(spec, shape, 10) == size == fnnet.summary(model, (-1, *shape)).num_params


def test_recurrent_specs_read_image_rows_as_time_steps():
    model = build_model(parse_model("gru:6"), (8, 8, 1), 10)
    _, params, state = model.init(random.key(0), (-1, 8, 8, 1))
    # W_ih (3H, W C): each of the 8 steps is a row of 8 pixels
    assert params["1"]["0"]["W_ih"].shape == (18, 8)
    assert params["1"]["2"]["W"].shape == (10, 6)
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype(np.float32)
    y, _ = model.apply(params, state, x)
    assert y.shape == (3, 10) and y.dtype == np.float32
    # the first row (time step 0) reaches the logits through the recurrence
    x2 = x.copy()
    x2[:, 0] += 1.0
    assert not np.allclose(model.apply(params, state, x2)[0], y)
    _, p, _ = build_model(parse_model("lstm:4"), (5, 3, 2), 2).init(random.key(0), (-1, 5, 3, 2))
    assert p["1"]["0"]["W_ih"].shape == (16, 6) and p["1"]["0"]["W_hh"].shape == (16, 4)


def test_resnet_spec_builds_fnnet_layers_resnet():
    spec = parse_model("resnet:4,8:blocks=2")
    model = build_model(spec, (8, 8, 1), 10)
    ref = layers.resnet(10, (4, 8), 2, in_channels=1)
    _, params, state = model.init(random.key(3), (-1, 8, 8, 1))
    _, ref_params, _ = ref.init(random.key(3), (-1, 8, 8, 1))
    assert tree.map(np.shape, params) == tree.map(np.shape, ref_params)
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 1)).astype(np.float32)
    np.testing.assert_array_equal(model.apply(params, state, x)[0], ref.apply(params, state, x)[0])


@pytest.mark.parametrize("text", ["resnet", "rnn", "gru:8", "lstm:8"])
def test_image_models_refuse_flat_inputs(text):
    kind = text.split(":")[0]
    what = "reads images (H, W, C) as sequences of rows" if kind != "resnet" else "needs images"
    with pytest.raises(ValueError, match=re.escape(f"model {kind} {what}")):
        build_model(parse_model(text), (64,), 10)
    with pytest.raises(ValueError, match=re.escape(what)):
        count_params(parse_model(text), (64,), 10)
    assert parse_model(text).needs_images
    assert not parse_model("mlp").needs_images and parse_model("cnn").needs_images
