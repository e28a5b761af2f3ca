"""Explicit random keys: the only source of randomness in fnnet.

A :class:`Key` is an immutable value. The same key always gives the same numbers;
to get new numbers, :func:`split` a key into fresh ones. Nothing here reads or
changes NumPy's global random state.

>>> k = key(0)
>>> k_init, k_data = split(k)
>>> normal(k_init, (2, 3))        # the same array every time for the same key
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = [
    "Key",
    "bernoulli",
    "fold_in",
    "generator",
    "key",
    "normal",
    "permutation",
    "randint",
    "split",
    "uniform",
]

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Key:
    """An immutable random key: two 64-bit words fed to NumPy's ``SeedSequence``."""

    words: tuple[int, int]

    def __repr__(self) -> str:
        return f"Key({self.words[0]:#x}, {self.words[1]:#x})"


def _check_key(k: Any, where: str) -> Key:
    if not isinstance(k, Key):
        raise TypeError(f"{where}: expected a fnnet.random.Key, got {type(k).__name__}")
    return k


def key(seed: int) -> Key:
    """Make a key from a non-negative integer seed."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"key: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"key: seed must be >= 0, got {seed}")
    seed = int(seed)
    return Key((0, seed & _MASK64) if seed <= _MASK64 else (seed >> 64 & _MASK64, seed & _MASK64))


def _words(k: Key, n: int, tag: int) -> NDArray[Any]:
    return np.random.SeedSequence([k.words[0], k.words[1], tag]).generate_state(n, dtype=np.uint64)


def split(k: Key, num: int = 2) -> tuple[Key, ...]:
    """Split ``k`` into ``num`` new, independent keys (deterministic)."""
    _check_key(k, "split")
    if num < 0:
        raise ValueError(f"split: num must be >= 0, got {num}")
    w = _words(k, 2 * num, 1)
    return tuple(Key((int(w[2 * i]), int(w[2 * i + 1]))) for i in range(num))


def fold_in(k: Key, data: int) -> Key:
    """A new key derived from ``k`` and an integer (e.g. a step number)."""
    _check_key(k, "fold_in")
    w = np.random.SeedSequence([k.words[0], k.words[1], 2, int(data) & _MASK64]).generate_state(
        2, dtype=np.uint64
    )
    return Key((int(w[0]), int(w[1])))


def generator(k: Key) -> np.random.Generator:
    """A fresh NumPy ``Generator`` determined by ``k`` alone (for sampling not covered below)."""
    _check_key(k, "generator")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([*k.words, 0])))


def _float_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"expected dtype float32 or float64, got {dt}")
    return dt


def normal(
    k: Key,
    shape: tuple[int, ...],
    dtype: DTypeLike = np.float32,
    mean: float = 0.0,
    std: float = 1.0,
) -> NDArray[Any]:
    """Samples from N(mean, std^2) of the given shape and dtype."""
    dt = _float_dtype(dtype)
    x = generator(k).standard_normal(shape, dtype=dt)
    if std != 1.0:
        x *= std
    if mean != 0.0:
        x += mean
    return x


def uniform(
    k: Key,
    shape: tuple[int, ...],
    dtype: DTypeLike = np.float32,
    minval: float = 0.0,
    maxval: float = 1.0,
) -> NDArray[Any]:
    """Samples from U[minval, maxval) of the given shape and dtype."""
    dt = _float_dtype(dtype)
    x = generator(k).random(shape, dtype=dt)
    x *= maxval - minval
    x += minval
    return x


def bernoulli(k: Key, p: float, shape: tuple[int, ...]) -> NDArray[np.bool_]:
    """Boolean samples that are True with probability ``p``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"bernoulli: p must be in [0, 1], got {p}")
    return generator(k).random(shape, dtype=np.float32) < np.float32(p)


def randint(k: Key, shape: tuple[int, ...], low: int, high: int) -> NDArray[np.int64]:
    """Integers drawn uniformly from ``[low, high)``."""
    return generator(k).integers(low, high, size=shape, dtype=np.int64)


def permutation(k: Key, n: int | NDArray[Any]) -> NDArray[Any]:
    """A random permutation of ``range(n)``, or of an array along its first axis (a new array)."""
    return generator(k).permutation(n)
