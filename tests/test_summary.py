"""fnnet.summary: one row per leaf layer with its path, kind, output shape and parameters."""

from __future__ import annotations

import numpy as np
import pytest

import fnnet
from fnnet import tree
from fnnet.layers import (
    BatchNorm2d,
    Conv2d,
    Flatten,
    GlobalAvgPool2d,
    Linear,
    ReLU,
    Tanh,
    fan_in_concat,
    fan_out,
    mlp,
    parallel,
    residual,
    serial,
)


def count(model, shape):
    _, params, _ = model.init(fnnet.random.key(0), shape)
    return sum(np.size(p) for p in tree.leaves(params))


def test_summary_of_an_mlp():
    text = fnnet.summary(mlp([4, 8, 3]), (-1, 4))
    lines = str(text).splitlines()
    assert lines[0].split() == ["path", "layer", "output", "shape", "params", "count"]
    assert lines[1].split() == ["0", "Linear", "(-1,", "8)", "W", "(8,", "4),", "b", "(8,)", "40"]
    assert lines[2].split() == ["1", "ReLU", "(-1,", "8)", "0"]
    assert lines[3].split()[:2] == ["2", "Linear"] and lines[3].endswith(" 27")
    assert lines[-1] == "total: 67 parameters, 268 bytes"
    assert isinstance(text, str) and text.num_params == 67 and text.num_bytes == 268
    assert text.output_shape == (-1, 3)


def test_summary_walks_nested_serial_inside_parallel_inside_serial():
    model = serial(
        Linear(3, 4),
        fan_out(2),
        parallel(serial(Linear(4, 5), Tanh(), serial(Linear(5, 1000))), Linear(4, 2)),
        fan_in_concat(),
    )
    s = fnnet.summary(model, (-1, 3))
    paths = [r.path for r in s.rows]
    assert paths == ["0", "1", "2.0.0", "2.0.1", "2.0.2.0", "2.1", "3"]
    kinds = [r.kind for r in s.rows]
    assert kinds == ["Linear", "fan_out", "Linear", "Tanh", "Linear", "Linear", "fan_in_concat"]
    assert s.rows[1].output_shape == ((-1, 4), (-1, 4))
    assert s.rows[4].output_shape == (-1, 1000) and s.rows[4].num_params == 6000
    assert s.rows[4].params == [("W", (1000, 5)), ("b", (1000,))]
    assert s.rows[-1].output_shape == (-1, 1002)
    assert "((-1, 4), (-1, 4))" in s and "W (1000, 5), b (1000,)" in s and "6,000" in s
    total = 16 + 25 + 6000 + 10
    assert s.num_params == total == count(model, (-1, 3))
    assert s.splitlines()[-1] == f"total: {total:,} parameters, {4 * total:,} bytes"


def test_summary_of_a_residual_cnn_counts_every_parameter():
    body = serial(Conv2d(4, 4, 3, padding=1), BatchNorm2d(4), ReLU())
    model = serial(
        Conv2d(1, 4, 3, padding=1), residual(body), GlobalAvgPool2d(), Flatten(), Linear(4, 10)
    )
    s = fnnet.summary(model, (-1, 8, 8, 1))
    assert s.num_params == 40 + 148 + 8 + 50 == count(model, (-1, 8, 8, 1))
    rows = {r.path: r for r in s.rows}
    assert rows["1.1.0.0"].kind == "Conv2d" and rows["1.1.0.1"].kind == "BatchNorm2d"
    assert rows["1.1.1"].kind == "Identity" and rows["1.2"].kind == "fan_in_sum"
    assert rows["4"].output_shape == (-1, 10)


def test_summary_of_a_leaf_layer_and_a_hand_built_layer():
    s = fnnet.summary(Linear(2, 3), (5, 2))
    assert [r.path for r in s.rows] == ["-"] and s.num_params == 9
    assert "total: 9 parameters, 36 bytes" in s
    layer = double()  # a hand-built Layer(init, apply, vjp): the factory's name
    s = fnnet.summary(serial(layer, Linear(2, 1)), (-1, 2))
    assert [r.kind for r in s.rows] == ["double", "Linear"] and s.num_params == 3


def double():
    def init(key, shape):
        return shape, {}, {}

    def apply(params, state, x, *, key=None, train=False):
        return 2 * x, state

    def vjp(params, state, x, *, key=None, train=True):
        return 2 * x, state, lambda dy: ({}, 2 * dy)

    return fnnet.layers.Layer(init, apply, vjp)


def test_summary_errors():
    with pytest.raises(TypeError, match="summary: expected a Layer, got str"):
        fnnet.summary("mlp", (-1, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"serial layer 0 \(Linear\): expected input"):
        fnnet.summary(mlp([4, 2]), (-1, 3))
