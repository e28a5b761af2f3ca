"""The workloads: what each one computes, with its shapes and data, for every library.

A workload is a function registered with ``@workload("name")``. Given the libraries to
build in this process, it returns their steps as a :class:`Steps`: the same model, the
same initial weights (fnnet's, copied into the others) and the same batch everywhere.
Each step runs once per call and returns the loss (or, for inference, the output).
fnnet is always imported (it makes the weights); PyTorch and JAX only when a workload
asks for them and they are installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import lib_floor
import lib_fnnet
import numpy as np
from common import INFER_BATCH, LIBS, Array, MissingAPIError, Steps

__all__ = ["LIBS", "WORKLOADS", "Steps", "library", "workload"]

Builder = Callable[[frozenset[str]], Steps]
WORKLOADS: dict[str, Builder] = {}


def workload(name: str) -> Callable[[Builder], Builder]:
    """Register a workload builder under ``name``."""

    def register(build: Builder) -> Builder:
        WORKLOADS[name] = build
        return build

    return register


def library(lib: str) -> ModuleType | None:
    """``lib_torch`` or ``lib_jax``, imported on first use; ``None`` when not installed."""
    try:
        return importlib.import_module(f"lib_{lib}")
    except ImportError:
        return None


def _others(libs: frozenset[str]) -> tuple[Any, Any]:
    torch = library("torch") if "torch" in libs else None
    jax = library("jax") if "jax" in libs else None
    return torch, jax


def _labels(rng: np.random.Generator, batch: int, classes: int) -> Array:
    return rng.integers(0, classes, batch)


# ---------------------------------------------------------------------------------------
# MLPs
# ---------------------------------------------------------------------------------------


def _mlp_kinds(sizes: list[int], bn: bool) -> list[str]:
    kinds = []
    for i in range(len(sizes) - 1):
        kinds.append("linear")
        if i < len(sizes) - 2:
            kinds += ["bn", "relu"] if bn else ["relu"]
    return kinds


def _mlp_train(
    libs: frozenset[str], sizes: list[int], batch: int, loss_name: str, bn: bool = False
) -> Steps:
    """The training steps of an MLP ``sizes`` (ReLU between layers), SGD momentum."""
    kinds = _mlp_kinds(sizes, bn)
    model = lib_fnnet.mlp(sizes, kinds)
    params, state = lib_fnnet.init(model, (-1, sizes[0]))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    if loss_name == "mse":
        y: Array = rng.standard_normal((batch, sizes[-1]), dtype=np.float32)
    else:
        y = _labels(rng, batch, sizes[-1])
    steps = Steps(
        f"MLP {'-'.join(map(str, sizes))}{', BatchNorm (train)' if bn else ''}, ReLU, "
        f"batch {batch}, {loss_name}, SGD momentum"
    )
    torch, jax = _others(libs)
    if "fnnet" in libs:
        loss = lib_fnnet.loss(loss_name)
        steps.steps["fnnet"] = lib_fnnet.trainer(model, loss, params, state, x, y)
    if torch is not None:
        steps.steps["torch"] = torch.trainer(torch.mlp(params, kinds), loss_name, x, y)
    if jax is not None:
        steps.steps["jax"] = jax.trainer(jax.mlp(kinds), loss_name, params, state, x, y)
    if "floor" in libs:
        steps.steps["floor"] = lib_floor.mlp(sizes, batch, train=True)
    return steps


@workload("tiny")
def tiny(libs: frozenset[str]) -> Steps:
    """MLP 2-4-8-8-4-2, batch 32, MSE: per-layer overhead dominates."""
    return _mlp_train(libs, [2, 4, 8, 8, 4, 2], 32, "mse")


@workload("mnist_mlp")
def mnist_mlp(libs: frozenset[str]) -> Steps:
    """MLP 784-256-256-10, batch 128, cross-entropy."""
    return _mlp_train(libs, [784, 256, 256, 10], 128, "cross-entropy")


@workload("wide_mlp")
def wide_mlp(libs: frozenset[str]) -> Steps:
    """MLP 1024-2048-2048-10, batch 256, cross-entropy: matrix products dominate."""
    return _mlp_train(libs, [1024, 2048, 2048, 10], 256, "cross-entropy")


@workload("bn_mlp")
def bn_mlp(libs: frozenset[str]) -> Steps:
    """MLP 784-256-BN-ReLU-256-BN-ReLU-10, batch 128, train mode, cross-entropy."""
    return _mlp_train(libs, [784, 256, 256, 10], 128, "cross-entropy", bn=True)


# ---------------------------------------------------------------------------------------
# CNN: Conv-MaxPool-ReLU, the same graph in every library
# ---------------------------------------------------------------------------------------


def _cnn_data(batch: int) -> tuple[Array, Array]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, 28, 28, 1), dtype=np.float32), _labels(rng, batch, 10)


@workload("cnn")
def cnn(libs: frozenset[str]) -> Steps:
    """28x28x1 -> Conv 3x3 (16) -> MaxPool 2 -> ReLU -> Conv 3x3 (32) -> MaxPool 2 -> ReLU
    -> Flatten -> Linear 10; batch 64, float32, cross-entropy, SGD momentum 0.9."""
    model = lib_fnnet.cnn()
    params, state = lib_fnnet.init(model, (-1, 28, 28, 1))
    x, y = _cnn_data(64)
    steps = Steps(
        "28x28x1, conv3x3(16)-maxpool-relu-conv3x3(32)-maxpool-relu-linear(10), batch 64, "
        "cross-entropy, SGD momentum"
    )
    torch, jax = _others(libs)
    if "fnnet" in libs:
        loss = lib_fnnet.loss("cross-entropy")
        steps.steps["fnnet"] = lib_fnnet.trainer(model, loss, params, state, x, y)
    if torch is not None:
        steps.steps["torch"] = torch.trainer(torch.cnn(params), "cross-entropy", torch.nchw(x), y)
    if jax is not None:
        steps.steps["jax"] = jax.trainer(jax.cnn, "cross-entropy", params, state, x, y)
    if "floor" in libs:
        steps.steps["floor"] = lib_floor.cnn(64, train=True)
    return steps


# ---------------------------------------------------------------------------------------
# ResNet on 8x8 digits-sized images (issue 15): residual blocks, a projected skip
# ---------------------------------------------------------------------------------------


@workload("resnet")
def resnet(libs: frozenset[str]) -> Steps:
    """8x8x1 -> Conv(16)-BN-ReLU, 2 residual blocks (16), 1 block to 32 with a 1x1
    projection, each + ReLU, global average pool, Linear(32, 10); batch 64, SGD momentum."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 8, 8, 1), dtype=np.float32), _labels(rng, 64, 10)
    steps = Steps(
        "8x8x1, conv3x3(16)-BN-ReLU, 2 residual blocks (conv-BN-ReLU-conv-BN, 16), "
        "1 to 32 (1x1 projection), GAP, linear(10), batch 64, cross-entropy, SGD momentum"
    )
    try:
        model = lib_fnnet.resnet()
    except MissingAPIError as missing:
        model = None
        steps.notes.append(f"fnnet has no {missing}: skipped")
    torch, jax = _others(libs)
    if model is not None:
        params, state = lib_fnnet.init(model, (-1, 8, 8, 1))
        if "fnnet" in libs:
            loss = lib_fnnet.loss("cross-entropy")
            steps.steps["fnnet"] = lib_fnnet.trainer(model, loss, params, state, x, y)
        if jax is not None:
            p, s = lib_fnnet.resnet_parts(params), lib_fnnet.resnet_parts(state)
            steps.steps["jax"] = jax.trainer(jax.resnet, "cross-entropy", p, s, x, y)
    parts = None if model is None else lib_fnnet.resnet_parts(params)
    if torch is not None:
        steps.steps["torch"] = torch.trainer(torch.resnet(parts), "cross-entropy", torch.nchw(x), y)
    if "floor" in libs:
        steps.steps["floor"] = lib_floor.resnet(64)
    return steps


@workload("residual")
def residual(libs: frozenset[str]) -> Steps:
    """Residual overhead: ``residual(block)`` vs the same layers plus one add by hand,
    on (64, 8, 8, 16), then GAP and Linear(16, 10); fnnet only."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 8, 8, 16), dtype=np.float32), _labels(rng, 64, 10)
    steps = Steps(
        "residual overhead: residual(conv-BN-ReLU-conv-BN, 16 ch) vs the same block + one "
        "hand-written add, on (64, 8, 8, 16), GAP, linear(10)"
    )
    if "fnnet" not in libs:
        return steps
    layers = lib_fnnet.layers
    try:
        block = lib_fnnet.conv_bn_block(16, 16)
        head = (lib_fnnet.need(layers, "GlobalAvgPool2d")(), layers.Linear(16, 10))
        with_residual = layers.serial(lib_fnnet.need(layers, "residual")(block), *head)
    except MissingAPIError as missing:
        steps.notes.append(f"fnnet has no {missing}: skipped")
        return steps
    by_hand = layers.serial(lib_fnnet.block_plus_input(block), *head)
    params, state = lib_fnnet.init(with_residual, (-1, 8, 8, 16))
    # the same weights in both: the block's params moved out of the residual's nesting
    params_by_hand, state_by_hand = (
        {**tree, "0": lib_fnnet.find_block(tree["0"])} for tree in (params, state)
    )
    loss = lib_fnnet.loss("cross-entropy")
    steps.steps["fnnet"] = lib_fnnet.trainer(with_residual, loss, params, state, x, y)
    steps.extra["fnnet: block + add"] = lib_fnnet.trainer(
        by_hand, loss, params_by_hand, state_by_hand, x, y
    )
    return steps


# ---------------------------------------------------------------------------------------
# GRU over a sequence (issue 16)
# ---------------------------------------------------------------------------------------

GRU_N, GRU_T, GRU_C, GRU_H, GRU_CLASSES = 64, 50, 32, 128, 10


@workload("gru")
def gru(libs: frozenset[str]) -> Steps:
    """GRU(32 -> 128) over (N=64, T=50, C=32), last hidden state, Linear(128, 10)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((GRU_N, GRU_T, GRU_C), dtype=np.float32)
    y = _labels(rng, GRU_N, GRU_CLASSES)
    steps = Steps(
        f"GRU({GRU_C}, {GRU_H}) over (N={GRU_N}, T={GRU_T}, C={GRU_C}), last hidden state, "
        f"linear({GRU_CLASSES}), cross-entropy, SGD momentum"
    )
    try:
        model = lib_fnnet.gru(GRU_C, GRU_H, GRU_CLASSES)
    except MissingAPIError as missing:
        model = None
        steps.notes.append(f"fnnet has no {missing}: skipped")
    torch, jax = _others(libs)
    params = None
    if model is not None:
        params, state = lib_fnnet.init(model, (-1, GRU_T, GRU_C))
        if "fnnet" in libs:
            loss = lib_fnnet.loss("cross-entropy")
            steps.steps["fnnet"] = lib_fnnet.trainer(model, loss, params, state, x, y)
        if jax is not None:
            steps.steps["jax"] = jax.trainer(jax.gru, "cross-entropy", params, state, x, y)
    if torch is not None:
        module = torch.gru(params, GRU_C, GRU_H, GRU_CLASSES)
        steps.steps["torch"] = torch.trainer(module, "cross-entropy", x, y)
    return steps


# ---------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------


@workload("mnist_mlp_infer")
def mnist_mlp_infer(libs: frozenset[str]) -> Steps:
    """Inference: ``apply`` of the MLP 784-256-256-10 on 1,024 samples."""
    sizes = [784, 256, 256, 10]
    kinds = _mlp_kinds(sizes, bn=False)
    model = lib_fnnet.mlp(sizes, kinds)
    params, state = lib_fnnet.init(model, (-1, sizes[0]))
    x = np.random.default_rng(0).standard_normal((INFER_BATCH, sizes[0]), dtype=np.float32)
    steps = Steps(f"inference (apply) of MLP 784-256-256-10 on {INFER_BATCH} samples")
    torch, jax = _others(libs)
    if "fnnet" in libs:
        steps.steps["fnnet"] = lib_fnnet.predictor(model, params, state, x)
    if torch is not None:
        steps.steps["torch"] = torch.predictor(torch.mlp(params, kinds), x)
    if jax is not None:
        steps.steps["jax"] = jax.predictor(jax.mlp(kinds), params, state, x)
    if "floor" in libs:
        steps.steps["floor"] = lib_floor.mlp(sizes, INFER_BATCH, train=False)
    return steps


@workload("cnn_infer")
def cnn_infer(libs: frozenset[str]) -> Steps:
    """Inference: ``apply`` of the cnn workload's model on 1,024 images."""
    model = lib_fnnet.cnn()
    params, state = lib_fnnet.init(model, (-1, 28, 28, 1))
    x, _ = _cnn_data(INFER_BATCH)
    steps = Steps(f"inference (apply) of the cnn model on {INFER_BATCH} images")
    torch, jax = _others(libs)
    if "fnnet" in libs:
        steps.steps["fnnet"] = lib_fnnet.predictor(model, params, state, x)
    if torch is not None:
        steps.steps["torch"] = torch.predictor(torch.cnn(params), torch.nchw(x))
    if jax is not None:
        steps.steps["jax"] = jax.predictor(jax.cnn, params, state, x)
    if "floor" in libs:
        steps.steps["floor"] = lib_floor.cnn(INFER_BATCH, train=False)
    return steps
