"""Short text specs for models, learning-rate schedules and optimizers (used by the CLI).

Model specs::

    linear                      one Linear layer: softmax regression
    mlp[:H1,H2,...][:OPTIONS]   per hidden size H: Linear(H) -> [BatchNorm1d] -> act -> [Dropout];
                                then Linear(classes)
    cnn[:C1,C2][:OPTIONS]       Conv 3x3 (C1) -> [MaxPool 2, when H > 16] -> ReLU
                                -> Conv 3x3 (C2) -> MaxPool 2 -> ReLU -> Flatten
                                -> [Dropout] -> Linear(classes); "same" padding, NHWC images
                                (pool before ReLU: the same values and gradients, cheaper)

    OPTIONS: bn (mlp only), dropout=P, act=relu|tanh|sigmoid|gelu|silu|elu|leaky_relu (mlp)

``mlp`` alone is ``mlp:64``; ``cnn`` alone is ``cnn:16,32``. Schedule specs, with epochs
counted in updates of the optimizer (``steps_per_epoch`` of them per epoch)::

    constant | cosine | exponential:RATE (lr * RATE per epoch) | step:EPOCHS,GAMMA

Every parse error is a ``ValueError`` that quotes the spec.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from fnnet import layers, optim
from fnnet.layers import Layer
from fnnet.optim import Optimizer, Schedule

__all__ = [
    "ModelSpec",
    "build_model",
    "build_optimizer",
    "build_schedule",
    "count_params",
    "parse_model",
    "schedule_depends_on_epochs",
]

ACTIVATIONS: dict[str, Callable[[], Layer]] = {
    "relu": layers.ReLU,
    "tanh": layers.Tanh,
    "sigmoid": layers.Sigmoid,
    "gelu": layers.GELU,
    "silu": layers.SiLU,
    "elu": layers.ELU,
    "leaky_relu": layers.LeakyReLU,
}
OPTIMIZERS = ("sgd", "adam", "adamw")
DEFAULT_SIZES = {"mlp": (64,), "cnn": (16, 32), "linear": ()}
# schedules whose learning rate at a step depends on the run's total number of epochs
SCHEDULES_OVER_THE_RUN = ("cosine",)
OPTIONS_HELP = {
    "linear": "none",
    "mlp": "bn, dropout=P, act=NAME",
    "cnn": "dropout=P",
}


class ModelSpec(NamedTuple):
    """A parsed model spec: ``kind`` (linear, mlp, cnn), sizes and options."""

    kind: str
    sizes: tuple[int, ...]
    bn: bool = False
    dropout: float = 0.0
    act: str = "relu"

    @property
    def needs_images(self) -> bool:
        return self.kind == "cnn"


def _sizes(spec: str, text: str) -> tuple[int, ...]:
    sizes = []
    for item in text.split(","):
        if not (item.isdigit() and str(int(item)) == item):
            raise ValueError(
                f"model spec {spec!r}: sizes must be positive integers such as 64,32, got {text!r}"
            )
        sizes.append(int(item))
    if any(s <= 0 for s in sizes):
        raise ValueError(f"model spec {spec!r}: sizes must be positive, got {text!r}")
    return tuple(sizes)


def parse_model(spec: str) -> ModelSpec:
    """Parse ``linear``, ``mlp[:H1,...][:bn][:dropout=P][:act=NAME]`` or ``cnn[:C1,C2][:...]``.

    Strict: no spaces, each option at most once, ``linear`` takes no sizes; anything
    else is a ``ValueError`` that quotes the spec.
    """
    if not isinstance(spec, str):
        raise ValueError(f"model spec must be a string such as 'mlp:64', got {spec!r}")
    kind, *parts = spec.split(":")
    if kind not in DEFAULT_SIZES:
        raise ValueError(f"unknown model {spec!r}: expected linear, mlp[:H1,H2,...] or cnn[:C1,C2]")
    sizes = DEFAULT_SIZES[kind]
    if parts and (parts[0][:1].isdigit() or parts[0][:1] in "-+,"):
        if kind == "linear":
            raise ValueError(
                f"model spec {spec!r}: linear has no hidden layers (for hidden sizes write "
                f"mlp:{parts[0]})"
            )
        sizes = _sizes(spec, parts.pop(0))
    if kind == "cnn" and len(sizes) != 2:
        raise ValueError(f"model spec {spec!r}: cnn takes two channel counts C1,C2")
    bn, dropout, act = False, 0.0, "relu"
    seen: set[str] = set()
    for part in parts:
        name, _, value = part.partition("=")
        if name in seen:
            raise ValueError(f"model spec {spec!r}: option {name!r} given twice")
        seen.add(name)
        if name == "bn" and not value and kind == "mlp":
            bn = True
        elif name == "dropout" and value and kind != "linear":
            try:
                dropout = float(value)
            except ValueError:
                raise ValueError(f"model spec {spec!r}: dropout must be a number") from None
            if not 0.0 <= dropout < 1.0:
                raise ValueError(f"model spec {spec!r}: dropout must be in [0, 1), got {value}")
        elif name == "act" and kind == "mlp":
            if value not in ACTIVATIONS:
                raise ValueError(
                    f"model spec {spec!r}: unknown activation {value!r} "
                    f"(choose {', '.join(ACTIVATIONS)})"
                )
            act = value
        else:
            raise ValueError(
                f"model spec {spec!r}: unknown option {part!r} for {kind} "
                f"(options: {OPTIONS_HELP[kind]})"
            )
    return ModelSpec(kind, sizes, bn, dropout, act)


def count_params(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> int:
    """The number of parameters :func:`build_model` would create (without creating them)."""
    _check_input(spec, input_shape)
    if spec.kind in ("linear", "mlp"):
        widths = [int(np.prod(input_shape)), *spec.sizes, num_classes]
        linear = sum(a * b + b for a, b in itertools.pairwise(widths))
        return linear + (2 * sum(spec.sizes) if spec.bn else 0)
    height, width, channels = input_shape
    c1, c2 = spec.sizes
    pooled = (
        (height // 2 if height > 16 else height) // 2,
        (width // 2 if height > 16 else width) // 2,
    )
    flat = pooled[0] * pooled[1] * c2
    return (9 * channels * c1 + c1) + (9 * c1 * c2 + c2) + (flat * num_classes + num_classes)


def _check_input(spec: ModelSpec, input_shape: tuple[int, ...]) -> None:
    if spec.kind in ("linear", "mlp") and len(input_shape) != 1:
        raise ValueError(f"model {spec.kind} expects flat inputs (D,), got {input_shape}")
    if spec.kind == "cnn" and len(input_shape) != 3:
        raise ValueError(f"model cnn needs images (H, W, C), got inputs of shape {input_shape}")


def build_model(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> Layer:
    """The model for ``spec`` on inputs of shape ``input_shape`` (without the batch axis).

    Tabular inputs are ``(D,)``; images ``(H, W, C)`` (``cnn`` needs them).
    """
    _check_input(spec, input_shape)
    stack: list[Layer] = []
    if spec.kind in ("linear", "mlp"):
        for size in spec.sizes:
            stack.append(layers.Linear(None, size))
            if spec.bn:
                stack.append(layers.BatchNorm1d(size))
            stack.append(ACTIVATIONS[spec.act]())
            if spec.dropout:
                stack.append(layers.Dropout(spec.dropout))
    else:
        height, _, channels = input_shape
        c1, c2 = spec.sizes
        # MaxPool(ReLU(Z)) = ReLU(MaxPool(Z)): pooling first, ReLU runs on a quarter of Z
        stack.append(layers.Conv2d(channels, c1, 3, padding="same"))
        if height > 16:
            stack.append(layers.MaxPool2d(2))
        stack += [
            layers.ReLU(),
            layers.Conv2d(c1, c2, 3, padding="same"),
            layers.MaxPool2d(2),
            layers.ReLU(),
            layers.Flatten(),
        ]
        if spec.dropout:
            stack.append(layers.Dropout(spec.dropout))
    stack.append(layers.Linear(None, num_classes))
    return layers.serial(*stack)


def _number(spec: str, what: str, text: str, low: float, high: float) -> float:
    """``text`` as a float in ``(low, high]``, or a ``ValueError`` quoting the spec."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if text.strip() != text or not low < value <= high:
        raise ValueError(
            f"schedule {spec!r}: {what} must be a number in ({low:g}, {high:g}], got {text!r}"
        )
    return value


def schedule_depends_on_epochs(spec: str) -> bool:
    """Whether the schedule's learning rates change with the total number of epochs (cosine)."""
    return spec.partition(":")[0] in SCHEDULES_OVER_THE_RUN


def build_schedule(spec: str, lr: float, epochs: int, steps_per_epoch: int) -> Schedule:
    """``constant``, ``cosine``, ``exponential:RATE`` or ``step:EPOCHS,GAMMA`` as ``step -> lr``.

    ``RATE`` and ``GAMMA`` (default 0.1) are decay factors in (0, 1]; ``EPOCHS`` a
    positive integer. ``cosine`` decays to 0 over all ``epochs``.
    """
    if not isinstance(spec, str):
        raise ValueError(f"schedule must be a string such as 'cosine', got {spec!r}")
    name, sep, arg = spec.partition(":")
    if name in ("constant", "cosine") and not sep:
        if name == "constant":
            return optim.constant(lr)
        return optim.cosine_decay(lr, max(1, epochs * steps_per_epoch))
    if name == "exponential" and arg:
        rate = _number(spec, "RATE", arg, 0.0, 1.0)
        return optim.exponential_decay(lr, rate, decay_steps=steps_per_epoch)
    if name == "step" and arg:
        size, comma, gamma_text = arg.partition(",")
        if not (size.isdigit() and str(int(size)) == size and int(size) >= 1):
            raise ValueError(f"schedule {spec!r}: EPOCHS must be a positive integer, got {size!r}")
        gamma = _number(spec, "GAMMA", gamma_text, 0.0, 1.0) if comma else 0.1
        return optim.step_decay(lr, int(size) * steps_per_epoch, gamma)
    raise ValueError(
        f"unknown schedule {spec!r}: expected constant, cosine, exponential:RATE "
        "or step:EPOCHS,GAMMA"
    )


def build_optimizer(
    name: str, schedule: Schedule, momentum: float = 0.0, weight_decay: float = 0.0
) -> Optimizer:
    """``sgd`` (with ``momentum``), ``adam`` (L2 decay) or ``adamw`` (decoupled decay).

    Weight decay applies to weight matrices and kernels only (``optim.decay_mask``).
    """
    mask = optim.decay_mask
    if name == "sgd":
        return optim.sgd(schedule, momentum, weight_decay=weight_decay, mask=mask)
    if name == "adam":
        return optim.adam(schedule, weight_decay=weight_decay, mask=mask)
    if name == "adamw":
        return optim.adamw(schedule, weight_decay=weight_decay, mask=mask)
    raise ValueError(f"unknown optimizer {name!r}: expected {', '.join(OPTIMIZERS)}")
