"""Helpers shared by the NHWC image layers (convolution and pooling).

Conventions: images are ``(N, H, W, C)``; a window of size ``(kh, kw)`` slides with
stride ``(sh, sw)`` over the (padded) image, and the output has
``Ho = floor((H + pad_top + pad_bottom - kh) / sh) + 1`` rows (columns alike).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from fnnet.layers.base import Array, _fmt, check_rank

__all__ = [
    "PaddingSpec",
    "Pads",
    "check_image",
    "check_padding",
    "offset_slices",
    "output_size",
    "pair",
    "resolve_padding",
    "windows",
]

Pair = tuple[int, int]
Pads = tuple[Pair, Pair]  # ((top, bottom), (left, right))
PaddingSpec = int | tuple[int, int] | str


def pair(name: str, what: str, value: Any, minimum: int) -> Pair:
    """``value`` (an int or a pair of ints) as ``(a, b)``, each at least ``minimum``."""
    items = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    ok = len(items) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in items
    )
    if not ok:
        raise ValueError(
            f"{name}: {what} must be an int >= {minimum} or a pair of them, got {value!r}"
        )
    return int(items[0]), int(items[1])


def check_padding(name: str, padding: Any) -> PaddingSpec:
    """Validate a padding spec: an int or pair >= 0, or ``"same"`` / ``"valid"``."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(
                f"{name}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
            )
        return padding
    return pair(name, "padding", padding, 0)


def resolve_padding(padding: PaddingSpec, size: Pair, kernel: Pair, stride: Pair) -> Pads:
    """The ``((top, bottom), (left, right))`` zero padding for an input of spatial ``size``.

    ``"valid"`` is no padding. ``"same"`` gives ``ceil(H / s)`` outputs per dimension
    (``H`` for stride 1): it pads ``total = max((ceil(H / s) - 1) s + k - H, 0)``, with
    ``total // 2`` before and the rest after, so an even kernel gets its extra row and
    column at the bottom and right, as TensorFlow and PyTorch do.
    """
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        pads = []
        for n, k, s in zip(size, kernel, stride, strict=True):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return pads[0], pads[1]
    assert isinstance(padding, tuple)
    return (padding[0], padding[0]), (padding[1], padding[1])


def check_image(name: str, shape: tuple[int, ...], channels: int | None) -> None:
    """Raise ``ValueError`` unless ``shape`` is ``(N, H, W, channels)`` with known ``H, W``."""
    check_rank(name, shape, 4, "(N, H, W, C)")
    if channels is not None and shape[3] != channels:
        raise ValueError(f"{name}: expected input (N, H, W, {channels}), got {_fmt(shape)}")
    if min(shape[1:]) <= 0:
        raise ValueError(f"{name}: expected positive H, W and C, got input {_fmt(shape)}")


def output_size(
    name: str, shape: tuple[int, ...], kernel: Pair, stride: Pair, pads: Pads = ((0, 0), (0, 0))
) -> Pair:
    """``(Ho, Wo)`` for an NHWC ``shape``; a ``ValueError`` if the kernel does not fit."""
    padded = (shape[1] + sum(pads[0]), shape[2] + sum(pads[1]))
    if padded[0] < kernel[0] or padded[1] < kernel[1]:
        padded_note = f" with padding {pads}" if pads != ((0, 0), (0, 0)) else ""
        raise ValueError(
            f"{name}: kernel {_fmt(kernel)} is larger than the {'padded ' if padded_note else ''}"
            f"input {_fmt(padded)}: input {_fmt(shape)}{padded_note}"
        )
    return (padded[0] - kernel[0]) // stride[0] + 1, (padded[1] - kernel[1]) // stride[1] + 1


def windows(Xp: Array, kernel: Pair, stride: Pair, out: Pair) -> Array:
    """A read-only view ``P[n, y, x, i, j, c] = Xp[n, sh y + i, sw x + j, c]`` (no copy).

    Shape ``(N, Ho, Wo, kh, kw, C)``: every output pixel's window, the patches of im2col.
    """
    sN, sH, sW, sC = Xp.strides
    return as_strided(
        Xp,
        shape=(Xp.shape[0], out[0], out[1], kernel[0], kernel[1], Xp.shape[3]),
        strides=(sN, sH * stride[0], sW * stride[1], sH, sW, sC),
        writeable=False,
    )


def offset_slices(kernel: Pair, stride: Pair, out: Pair) -> Iterator[tuple[int, int, Any]]:
    """For each kernel offset ``(i, j)``: the index of ``X[:, sh y + i, sw x + j, :]``.

    ``X[index]`` has shape ``(N, Ho, Wo, C)``: the input pixel at offset ``(i, j)`` of
    every window. Loops over offsets (``kh * kw`` steps), never over samples or pixels.
    """
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rows = slice(i, i + stride[0] * (out[0] - 1) + 1, stride[0])
            cols = slice(j, j + stride[1] * (out[1] - 1) + 1, stride[1])
            yield i, j, (slice(None), rows, cols, slice(None))
