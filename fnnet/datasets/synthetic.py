"""Synthetic 2-D classification data, generated from a key (same key, same data).

=================  ===================================================================
``make_moons``     two interleaving half circles (2 classes)
``make_circles``   a small circle inside a large one (2 classes)
``make_spirals``   K spiral arms winding out from the origin (K classes)
=================  ===================================================================

Each returns ``x (n, 2)`` float32 and ``y (n,)`` int64, with Gaussian noise of standard
deviation ``noise`` added to the points (spirals: to the angle).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fnnet import random
from fnnet.random import Key

__all__ = ["make_circles", "make_moons", "make_spirals"]

Array = NDArray[Any]


def _check(name: str, n: int, noise: float, per_class: int = 2) -> None:
    if n < per_class:
        raise ValueError(f"{name}: n must be at least {per_class}, got {n}")
    if noise < 0:
        raise ValueError(f"{name}: noise must be >= 0, got {noise}")


def _class_sizes(n: int, k: int) -> list[int]:
    """``n`` rows shared as evenly as possible among ``k`` classes."""
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def make_moons(key: Key, n: int = 1000, noise: float = 0.1) -> tuple[Array, Array]:
    """Two moons: class 0 on ``(cos t, sin t)``, class 1 on ``(1 - cos t, 1/2 - sin t)``.

    ``t ~ U[0, pi)``, then Gaussian noise on both coordinates.
    """
    _check("make_moons", n, noise)
    k_t, k_noise = random.split(key)
    n0, n1 = _class_sizes(n, 2)
    t = random.uniform(k_t, (n,), np.float64, 0.0, math.pi)
    t0, t1 = t[:n0], t[n0:]
    x = np.concatenate(
        [np.stack([np.cos(t0), np.sin(t0)], 1), np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)]
    )
    x += random.normal(k_noise, x.shape, np.float64, std=noise)
    y = np.repeat(np.arange(2), [n0, n1])
    return x.astype(np.float32), y.astype(np.int64)


def make_circles(
    key: Key, n: int = 1000, noise: float = 0.05, factor: float = 0.5
) -> tuple[Array, Array]:
    """Concentric circles: class 0 on the unit circle, class 1 on a circle of radius ``factor``."""
    _check("make_circles", n, noise)
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must be in (0, 1), got {factor}")
    k_t, k_noise = random.split(key)
    n0, n1 = _class_sizes(n, 2)
    t = random.uniform(k_t, (n,), np.float64, 0.0, 2 * math.pi)
    radius = np.repeat([1.0, factor], [n0, n1])
    x = radius[:, None] * np.stack([np.cos(t), np.sin(t)], 1)
    x += random.normal(k_noise, x.shape, np.float64, std=noise)
    y = np.repeat(np.arange(2), [n0, n1])
    return x.astype(np.float32), y.astype(np.int64)


def make_spirals(
    key: Key, n: int = 900, num_classes: int = 3, noise: float = 0.2, turns: float = 0.65
) -> tuple[Array, Array]:
    """``num_classes`` spiral arms: point ``i`` of arm ``c`` at radius ``r`` and angle ``theta``.

    ``r = i / (m - 1)`` runs from 0 to 1 along an arm of ``m`` points and
    ``theta = 2 pi (c / K + turns * r) + noise * N(0, 1)``: each arm turns ``turns``
    times around the origin, the arms rotated by ``2 pi / K`` from each other.
    """
    _check("make_spirals", n, noise, per_class=2 * max(num_classes, 1))
    if num_classes < 2:
        raise ValueError(f"make_spirals: num_classes must be at least 2, got {num_classes}")
    sizes = _class_sizes(n, num_classes)
    r = np.concatenate([np.linspace(0.0, 1.0, m) for m in sizes])
    y = np.repeat(np.arange(num_classes), sizes)
    theta = 2 * math.pi * (y / num_classes + turns * r)
    theta += random.normal(key, theta.shape, np.float64, std=noise)
    x = r[:, None] * np.stack([np.cos(theta), np.sin(theta)], 1)
    return x.astype(np.float32), y.astype(np.int64)
