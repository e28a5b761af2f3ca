"""Data handling as pure functions of keys: mini-batches, splits, standardisation, one-hot.

Nothing here reads global random state: shuffling and splitting take a
:class:`fnnet.random.Key`, so the same key always gives the same batches.

>>> k_split, k_epoch = fnnet.random.split(fnnet.random.key(0))
>>> (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = train_val_test_split(k_split, x, y, stratify=True)
>>> scaler = fit_standardizer(x_tr)                  # fitted on the training split only
>>> for xb, yb in batches(k_epoch, standardize(scaler, x_tr), y_tr, batch_size=32):
...     ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from fnnet import random
from fnnet.random import Key

__all__ = [
    "batches",
    "fit_standardizer",
    "num_batches",
    "one_hot",
    "standardize",
    "train_val_test_split",
]

Array = NDArray[Any]


def _check_same_length(name: str, arrays: tuple[Array, ...]) -> int:
    if not arrays:
        raise ValueError(f"{name}: expected at least one array")
    n = len(arrays[0])
    for i, a in enumerate(arrays[1:], start=1):
        if len(a) != n:
            raise ValueError(
                f"{name}: all arrays need the same first dimension; array 0 has {n} rows, "
                f"array {i} has {len(a)}"
            )
    return n


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """How many batches :func:`batches` yields for ``n`` rows."""
    if batch_size <= 0:
        raise ValueError(f"batches: batch_size must be positive, got {batch_size}")
    return n // batch_size if drop_last else -(-n // batch_size)


def batches(
    key: Key | None,
    *arrays: Array,
    batch_size: int,
    shuffle: bool = True,
    drop_last: bool = False,
) -> Iterator[tuple[Array, ...]]:
    """Yield mini-batches ``(a[idx], b[idx], ...)`` of rows of ``arrays``.

    With ``shuffle`` the row order is ``permutation(key, n)``, the same for the same
    key; without it the rows come in order and ``key`` may be ``None``. The last batch
    may be smaller than ``batch_size`` unless ``drop_last``. The arrays are not changed.
    """
    n = _check_same_length("batches", arrays)
    count = num_batches(n, batch_size, drop_last)
    if shuffle:
        if key is None:
            raise ValueError("batches: shuffle=True needs a key")
        order = random.permutation(key, n)
    else:
        order = np.arange(n)
    for i in range(count):
        idx = order[i * batch_size : (i + 1) * batch_size]
        yield tuple(a[idx] for a in arrays)


def _split_sizes(n: int, val: float, test: float) -> tuple[int, int]:
    n_val = round(n * val)
    n_test = round(n * test)
    if n - n_val - n_test <= 0:
        raise ValueError(
            f"train_val_test_split: {n} rows leave no training rows with val={val}, test={test}"
        )
    return n_val, n_test


def train_val_test_split(
    key: Key,
    x: Array,
    y: Array,
    *,
    val: float = 0.15,
    test: float = 0.15,
    stratify: bool = False,
) -> tuple[tuple[Array, Array], tuple[Array, Array], tuple[Array, Array]]:
    """Split ``(x, y)`` at random into ``(train, validation, test)`` pairs.

    ``val`` and ``test`` are fractions of the rows (``round(n * fraction)`` rows each);
    the rest is the training split. With ``stratify`` (integer labels ``y``) every class
    is split in the same proportions, so small data sets such as Iris keep their class
    balance in each split. Each split keeps the rows in a random order fixed by ``key``.
    """
    n = _check_same_length("train_val_test_split", (x, y))
    for what, f in (("val", val), ("test", test)):
        if not 0.0 <= f < 1.0:
            raise ValueError(f"train_val_test_split: {what} must be in [0, 1), got {f}")
    k_perm, k_classes = random.split(key)
    if not stratify:
        n_val, n_test = _split_sizes(n, val, test)
        order = random.permutation(k_perm, n)
        parts = [order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test]]
    else:
        labels = np.asarray(y)
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(
                "train_val_test_split: stratify=True needs integer labels y of shape (N,)"
            )
        pieces: list[list[Array]] = [[], [], []]
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            rows = rows[random.permutation(random.fold_in(k_classes, int(c)), len(rows))]
            n_val, n_test = round(len(rows) * val), round(len(rows) * test)
            pieces[0].append(rows[n_val + n_test :])
            pieces[1].append(rows[:n_val])
            pieces[2].append(rows[n_val : n_val + n_test])
        mixed = [random.fold_in(k_perm, i) for i in range(3)]
        parts = []
        for k, p in zip(mixed, pieces, strict=True):
            rows = np.concatenate(p)
            parts.append(rows[random.permutation(k, len(rows))])
        if len(parts[0]) == 0:
            raise ValueError(
                f"train_val_test_split: {n} rows leave no training rows with val={val}, test={test}"
            )
    train, valid, tst = ((x[idx], y[idx]) for idx in parts)
    return train, valid, tst


def fit_standardizer(
    x: Array, axis: int | tuple[int, ...] | None = 0, eps: float = 1e-8
) -> dict[str, Array]:
    """Fit ``{"mean", "std"}`` on (training) data, reduced over ``axis``.

    ``axis=0`` gives per-feature statistics (tabular data); ``axis=None`` a single mean
    and standard deviation (images). A feature with ``std < eps`` (e.g. an always-blank
    pixel) gets ``std = 1``, so it is only centred. Returned arrays are read-only and
    keep the dtype of a floating ``x`` (float32 otherwise).
    """
    a = np.asarray(x)
    dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    if a.size == 0:
        raise ValueError("fit_standardizer: cannot fit on empty data")
    mean = np.mean(a, axis=axis, dtype=np.float64, keepdims=True)
    std = np.std(a, axis=axis, dtype=np.float64, keepdims=True)
    std = np.where(std < eps, 1.0, std)
    params = {"mean": mean.astype(dtype), "std": std.astype(dtype)}
    for v in params.values():
        v.flags.writeable = False
    return params


def standardize(params: dict[str, Array], x: Array) -> Array:
    """``(x - mean) / std`` with statistics from :func:`fit_standardizer` (a new array)."""
    a = np.asarray(x)
    if a.dtype.kind != "f":
        a = a.astype(params["mean"].dtype)
    return (a - params["mean"]) / params["std"]


def one_hot(labels: Array, num_classes: int, dtype: DTypeLike = np.float32) -> Array:
    """``(N,)`` integer labels in ``[0, num_classes)`` -> ``(N, num_classes)`` one-hot rows."""
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)].flat[0]
        raise ValueError(f"one_hot: label {bad} is outside [0, {num_classes})")
    out = np.zeros((*y.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out
