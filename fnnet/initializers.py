"""Parameter initializers: pure functions ``init(key, shape, dtype=float32) -> array``.

``zeros`` and ``ones`` are initializers themselves; the others are factories that take
their hyper-parameters and return an initializer (as in ``jax.nn.initializers``):

>>> w_init = he_normal()
>>> W = w_init(fnnet.random.key(0), (256, 784))

Fan-in and fan-out follow fnnet's weight layouts: a 2-D shape is ``(fan_out, fan_in)``
(``Linear``'s ``W``); a shape with more axes is ``(*receptive_field, fan_in, fan_out)``
(``Conv2d``'s ``(kh, kw, Cin, Cout)``), both fans multiplied by the receptive field size.
Pass ``in_axis`` / ``out_axis`` to override.

| initializer | distribution |
| --- | --- |
| ``normal(std)`` | N(0, std^2) |
| ``uniform(scale)`` | U[-scale, scale) |
| ``xavier_uniform()`` / ``glorot_uniform()`` | U[-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) |
| ``xavier_normal()`` / ``glorot_normal()`` | N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out)) |
| ``he_uniform()`` / ``kaiming_uniform()`` | U[-a, a), a = gain * sqrt(3 / fan_in), gain = sqrt(2) |
| ``he_normal()`` / ``kaiming_normal()`` | N(0, s^2), s = gain / sqrt(fan_in), gain = sqrt(2) |
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
from numpy.typing import DTypeLike, NDArray

from fnnet import random
from fnnet.random import Key

__all__ = [
    "Initializer",
    "fans",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "normal",
    "ones",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]


class Initializer(Protocol):
    def __call__(
        self, key: Key, shape: tuple[int, ...], dtype: DTypeLike = np.float32
    ) -> NDArray[Any]: ...


def zeros(key: Key, shape: tuple[int, ...], dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """All zeros (``key`` is ignored)."""
    return np.zeros(shape, dtype=dtype)


def ones(key: Key, shape: tuple[int, ...], dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """All ones (``key`` is ignored)."""
    return np.ones(shape, dtype=dtype)


def normal(std: float = 1e-2) -> Initializer:
    """N(0, std^2)."""

    def init(key: Key, shape: tuple[int, ...], dtype: DTypeLike = np.float32) -> NDArray[Any]:
        return random.normal(key, shape, dtype, std=std)

    return init


def uniform(scale: float = 1e-2) -> Initializer:
    """U[-scale, scale)."""

    def init(key: Key, shape: tuple[int, ...], dtype: DTypeLike = np.float32) -> NDArray[Any]:
        return random.uniform(key, shape, dtype, -scale, scale)

    return init


def fans(
    shape: tuple[int, ...], in_axis: int | None = None, out_axis: int | None = None
) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape under fnnet's layouts (see the module docstring)."""
    if len(shape) < 2:
        raise ValueError(f"fans: a weight needs at least 2 axes, got shape {shape}")
    if in_axis is None:
        in_axis = -1 if len(shape) == 2 else -2
    if out_axis is None:
        out_axis = -2 if len(shape) == 2 else -1
    receptive = math.prod(
        d for i, d in enumerate(shape) if i not in (in_axis % len(shape), out_axis % len(shape))
    )
    return shape[in_axis] * receptive, shape[out_axis] * receptive


def _variance_scaling(
    scale: float, mode: str, distribution: str, in_axis: int | None, out_axis: int | None
) -> Initializer:
    def init(key: Key, shape: tuple[int, ...], dtype: DTypeLike = np.float32) -> NDArray[Any]:
        fan_in, fan_out = fans(shape, in_axis, out_axis)
        fan = fan_in if mode == "fan_in" else (fan_in + fan_out) / 2
        variance = scale / fan
        if distribution == "normal":
            return random.normal(key, shape, dtype, std=math.sqrt(variance))
        bound = math.sqrt(3.0 * variance)  # U[-a, a) has variance a^2 / 3
        return random.uniform(key, shape, dtype, -bound, bound)

    return init


def xavier_uniform(
    gain: float = 1.0, in_axis: int | None = None, out_axis: int | None = None
) -> Initializer:
    """Glorot/Xavier uniform: U[-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    return _variance_scaling(gain**2, "fan_avg", "uniform", in_axis, out_axis)


def xavier_normal(
    gain: float = 1.0, in_axis: int | None = None, out_axis: int | None = None
) -> Initializer:
    """Glorot/Xavier normal: N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))."""
    return _variance_scaling(gain**2, "fan_avg", "normal", in_axis, out_axis)


def he_uniform(
    gain: float = math.sqrt(2.0), in_axis: int | None = None, out_axis: int | None = None
) -> Initializer:
    """He/Kaiming uniform: U[-a, a), a = gain * sqrt(3 / fan_in) (gain sqrt(2) suits ReLU)."""
    return _variance_scaling(gain**2, "fan_in", "uniform", in_axis, out_axis)


def he_normal(
    gain: float = math.sqrt(2.0), in_axis: int | None = None, out_axis: int | None = None
) -> Initializer:
    """He/Kaiming normal: N(0, s^2), s = gain / sqrt(fan_in) (gain sqrt(2) suits ReLU)."""
    return _variance_scaling(gain**2, "fan_in", "normal", in_axis, out_axis)


glorot_uniform = xavier_uniform
glorot_normal = xavier_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal
