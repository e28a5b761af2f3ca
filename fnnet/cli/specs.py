"""Short text specs for models, learning-rate schedules and optimizers (used by the CLI).

Model specs::

    linear                      one Linear layer: softmax regression
    mlp[:H1,H2,...][:OPTIONS]   per hidden size H: Linear(H) -> [BatchNorm1d] -> act -> [Dropout];
                                then Linear(classes)
    cnn[:C1,C2][:OPTIONS]       Conv 3x3 (C1) -> [MaxPool 2, when H > 16] -> ReLU
                                -> Conv 3x3 (C2) -> MaxPool 2 -> ReLU -> Flatten
                                -> [Dropout] -> Linear(classes); "same" padding, NHWC images
                                (pool before ReLU: the same values and gradients, cheaper)
    resnet[:C1,C2,...][:blocks=B]   fnnet.layers.resnet(classes, (C1, C2, ...), B): a stage of
                                B basic blocks per width, NHWC images
    rnn[:H] | gru[:H] | lstm[:H]    RowsAsSequence -> RNN(cell H) -> LastTimeStep
                                -> Linear(classes): an image (H, W, C) read as a sequence
                                of its H rows of W*C features ("sequential MNIST")

    OPTIONS: bn (mlp only), dropout=P (mlp, cnn), act=relu|tanh|sigmoid|gelu|silu|elu|leaky_relu
    (mlp), blocks=B (resnet)

``mlp`` alone is ``mlp:64``; ``cnn`` and ``resnet`` alone have widths 16,32; ``rnn``,
``gru`` and ``lstm`` alone have 64 hidden units. Schedule specs, with epochs
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
DEFAULT_SIZES = {
    "linear": (),
    "mlp": (64,),
    "cnn": (16, 32),
    "resnet": (16, 32),
    "rnn": (64,),
    "gru": (64,),
    "lstm": (64,),
}
# recurrent kind -> gates G of its cell (W_ih is (G H, C)), as fnnet.layers.sequence_classifier
RECURRENT_GATES = {"rnn": 1, "gru": 3, "lstm": 4}
IMAGE_KINDS = ("cnn", "resnet", *RECURRENT_GATES)
# schedules whose learning rate at a step depends on the run's total number of epochs
SCHEDULES_OVER_THE_RUN = ("cosine",)
OPTIONS_HELP = {
    "linear": "none",
    "mlp": "bn, dropout=P, act=NAME",
    "cnn": "dropout=P",
    "resnet": "blocks=B",
    "rnn": "none",
    "gru": "none",
    "lstm": "none",
}
KNOWN_MODELS = (
    "linear, mlp[:H1,H2,...], cnn[:C1,C2], resnet[:C1,C2,...][:blocks=B], rnn[:H], gru[:H] "
    "or lstm[:H]"
)


class ModelSpec(NamedTuple):
    """A parsed model spec: ``kind`` (linear, mlp, cnn, resnet, rnn, gru, lstm), sizes, options.

    ``sizes`` are the hidden widths (mlp), channel counts (cnn, resnet: one per stage) or
    the hidden size ``(H,)`` of a recurrent cell; ``blocks`` the basic blocks per resnet stage.
    """

    kind: str
    sizes: tuple[int, ...]
    bn: bool = False
    dropout: float = 0.0
    act: str = "relu"
    blocks: int = 1

    @property
    def needs_images(self) -> bool:
        """Whether the model takes NHWC images ``(H, W, C)`` rather than flat vectors."""
        return self.kind in IMAGE_KINDS


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
    """Parse ``linear``, ``mlp[:H1,...][:bn][:dropout=P][:act=NAME]``, ``cnn[:C1,C2][:...]``,
    ``resnet[:C1,C2,...][:blocks=B]``, ``rnn[:H]``, ``gru[:H]`` or ``lstm[:H]``.

    Strict: no spaces, each option at most once, ``linear`` takes no sizes, a recurrent
    model one; anything else is a ``ValueError`` that quotes the spec.
    """
    if not isinstance(spec, str):
        raise ValueError(f"model spec must be a string such as 'mlp:64', got {spec!r}")
    kind, *parts = spec.split(":")
    if kind not in DEFAULT_SIZES:
        raise ValueError(f"unknown model {spec!r}: expected {KNOWN_MODELS}")
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
    if kind in RECURRENT_GATES and len(sizes) != 1:
        raise ValueError(f"model spec {spec!r}: {kind} takes one hidden size H, e.g. {kind}:64")
    bn, dropout, act, blocks = False, 0.0, "relu", 1
    seen: set[str] = set()
    for part in parts:
        name, _, value = part.partition("=")
        if name in seen:
            raise ValueError(f"model spec {spec!r}: option {name!r} given twice")
        seen.add(name)
        if name == "bn" and not value and kind == "mlp":
            bn = True
        elif name == "dropout" and value and kind in ("mlp", "cnn"):
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
        elif name == "blocks" and kind == "resnet":
            if not (value.isdigit() and str(int(value)) == value and int(value) >= 1):
                raise ValueError(
                    f"model spec {spec!r}: blocks must be a positive integer, got {value!r}"
                )
            blocks = int(value)
        else:
            raise ValueError(
                f"model spec {spec!r}: unknown option {part!r} for {kind} "
                f"(options: {OPTIONS_HELP[kind]})"
            )
    return ModelSpec(kind, sizes, bn, dropout, act, blocks)


def count_params(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> int:
    """The number of parameters :func:`build_model` would create (without creating them)."""
    _check_input(spec, input_shape)
    if spec.kind in ("linear", "mlp"):
        widths = [int(np.prod(input_shape)), *spec.sizes, num_classes]
        linear = sum(a * b + b for a, b in itertools.pairwise(widths))
        return linear + (2 * sum(spec.sizes) if spec.bn else 0)
    height, width, channels = input_shape
    if spec.kind == "resnet":
        return _resnet_params(channels, spec.sizes, spec.blocks, num_classes)
    if spec.kind in RECURRENT_GATES:
        # W_ih (G H, C), W_hh (G H, H), b_ih and b_hh (G H,); then Linear(H, classes)
        G, (H,), C = RECURRENT_GATES[spec.kind], spec.sizes, width * channels
        return (G * H * C + G * H * H + 2 * G * H) + (H * num_classes + num_classes)
    c1, c2 = spec.sizes
    pooled = (
        (height // 2 if height > 16 else height) // 2,
        (width // 2 if height > 16 else width) // 2,
    )
    flat = pooled[0] * pooled[1] * c2
    return (9 * channels * c1 + c1) + (9 * c1 * c2 + c2) + (flat * num_classes + num_classes)


def _resnet_params(channels: int, widths: tuple[int, ...], blocks: int, classes: int) -> int:
    """The parameters of ``fnnet.layers.resnet(classes, widths, blocks)`` on ``channels``."""

    def conv_bn(k: int, c_in: int, c_out: int) -> int:
        # Conv kxk: W (k, k, C_in, C_out), b (C_out,); BatchNorm2d: gamma, beta (C_out,)
        return k * k * c_in * c_out + c_out + 2 * c_out

    total = conv_bn(3, channels, widths[0])  # the stem
    width = widths[0]
    for stage, out in enumerate(widths):
        for block in range(blocks):
            projected = width != out or (stage > 0 and block == 0)  # 1x1 projection shortcut
            total += conv_bn(3, width, out) + conv_bn(3, out, out)
            total += conv_bn(1, width, out) if projected else 0
            width = out
    return total + width * classes + classes  # Linear(C_last, classes)


def _check_input(spec: ModelSpec, input_shape: tuple[int, ...]) -> None:
    if spec.kind in ("linear", "mlp") and len(input_shape) != 1:
        raise ValueError(f"model {spec.kind} expects flat inputs (D,), got {input_shape}")
    if spec.kind in ("cnn", "resnet") and len(input_shape) != 3:
        raise ValueError(
            f"model {spec.kind} needs images (H, W, C), got inputs of shape {input_shape}"
        )
    if spec.kind in RECURRENT_GATES and len(input_shape) != 3:
        raise ValueError(
            f"model {spec.kind} reads images (H, W, C) as sequences of rows, got inputs of "
            f"shape {input_shape}"
        )


def build_model(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> Layer:
    """The model for ``spec`` on inputs of shape ``input_shape`` (without the batch axis).

    Tabular inputs are ``(D,)``; images ``(H, W, C)`` (``cnn``, ``resnet``, ``rnn``,
    ``gru`` and ``lstm`` need them; the recurrent ones read the ``H`` rows as time steps).
    """
    _check_input(spec, input_shape)
    if spec.kind == "resnet":
        return layers.resnet(num_classes, spec.sizes, spec.blocks, in_channels=input_shape[2])
    if spec.kind in RECURRENT_GATES:
        _, width, channels = input_shape
        (hidden,) = spec.sizes
        # (N, H, W, C) -> (N, T=H, W C) -> RNN -> last hidden state -> Linear
        classifier = layers.sequence_classifier(spec.kind, hidden, width * channels, num_classes)
        return layers.serial(layers.RowsAsSequence(), classifier)
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
