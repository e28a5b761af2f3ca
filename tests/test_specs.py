import numpy as np
import pytest

from fnnet import optim, random
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
    ],
)
def test_parse_model(spec, expected):
    assert parse_model(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("resnet", "unknown model 'resnet'"),
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
