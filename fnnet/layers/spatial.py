"""Argument and shape checks shared by the NHWC image layers (convolution and pooling).

Conventions: images are ``(N, H, W, C)``; a window of size ``(kh, kw)`` slides with
stride ``(sh, sw)`` over the (padded) image, and the output has
``Ho = floor((H + pad_top + pad_bottom - kh) / sh) + 1`` rows (columns alike).
The loops over windows that make these layers fast live in :mod:`fnnet.kernels`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnnet.layers.base import Array, check_rank, fmt_shape

__all__ = [
    "PaddingSpec",
    "Pads",
    "check_image",
    "check_padding",
    "check_params",
    "output_size",
    "pair",
    "positive_int",
    "resolve_padding",
    "zero_pad",
]

Pair = tuple[int, int]
Pads = tuple[Pair, Pair]  # ((top, bottom), (left, right))
PaddingSpec = int | tuple[int, int] | str


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(name: str, what: str, value: Any, alternative: str = "") -> int:
    """``value`` as an int ``>= 1``, else a ``ValueError`` (``alternative``: what else fits)."""
    if not _is_int(value) or value < 1:
        expected = f"an int >= 1{alternative}"
        raise ValueError(f"{name}: {what} must be positive ({expected}), got {value!r}")
    return int(value)


def pair(name: str, what: str, value: Any, minimum: int) -> Pair:
    """``value`` (an int or a pair of ints) as ``(a, b)``, each at least ``minimum``."""
    items = (value, value) if _is_int(value) else value
    ok = isinstance(items, (tuple, list)) and len(items) == 2
    ok = ok and all(_is_int(v) and v >= minimum for v in items)
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


def zero_pad(X: Array, pads: Pads) -> Array:
    """``X`` with ``pads`` rows and columns of zeros around each image (``X`` itself if none)."""
    if pads == ((0, 0), (0, 0)):
        return X
    (top, bottom), (left, right) = pads
    N, H, W, C = X.shape
    Xp = np.zeros((N, top + H + bottom, left + W + right, C), X.dtype)
    Xp[:, top : top + H, left : left + W, :] = X
    return Xp


def check_image(name: str, shape: tuple[int, ...], channels: int | None) -> None:
    """Raise ``ValueError`` unless ``shape`` is ``(N, H, W, channels)``, ``H, W, C > 0``."""
    check_rank(name, shape, 4, "(N, H, W, C)")
    if channels is not None and shape[3] != channels:
        raise ValueError(f"{name}: expected input (N, H, W, {channels}), got {fmt_shape(shape)}")
    if min(shape[1:]) <= 0:
        raise ValueError(f"{name}: expected positive H, W and C, got input {fmt_shape(shape)}")


def output_size(
    name: str, shape: tuple[int, ...], kernel: Pair, stride: Pair, pads: Pads = ((0, 0), (0, 0))
) -> Pair:
    """``(Ho, Wo)`` for an NHWC ``shape``; a ``ValueError`` if the kernel does not fit."""
    padded = (shape[1] + sum(pads[0]), shape[2] + sum(pads[1]))
    if padded[0] < kernel[0] or padded[1] < kernel[1]:
        padded_note = f" with padding {pads}" if pads != ((0, 0), (0, 0)) else ""
        raise ValueError(
            f"{name}: kernel {fmt_shape(kernel)} is larger than the "
            f"{'padded ' if padded_note else ''}"
            f"input {fmt_shape(padded)}: input {fmt_shape(shape)}{padded_note}"
        )
    return (padded[0] - kernel[0]) // stride[0] + 1, (padded[1] - kernel[1]) // stride[1] + 1


def check_params(name: str, params: Any, expected: dict[str, tuple[int | None, ...]]) -> None:
    """Raise unless ``params`` has exactly the keys of ``expected``, each a float array of
    that shape (``None`` in a shape matches any size): the tree ``init`` made.

    A ``ValueError`` names the key, the shape expected and the shape that came; a
    ``TypeError`` a leaf that is not an array of floats.
    """
    if not isinstance(params, dict) or params.keys() != expected.keys():
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"{name}: expected params with keys {sorted(expected)}, got {got}")
    for key, shape in expected.items():
        value = params[key]
        got_shape = np.shape(value)
        if len(got_shape) != len(shape) or any(
            s is not None and g != s for g, s in zip(got_shape, shape)
        ):
            want = fmt_shape(tuple("*" if s is None else s for s in shape))
            raise ValueError(
                f"{name}: params[{key!r}] expected shape {want}, got {fmt_shape(got_shape)}"
            )
        if getattr(value, "dtype", np.dtype(object)).kind != "f":
            raise TypeError(
                f"{name}: params[{key!r}] expected a float array, got "
                f"{getattr(value, 'dtype', type(value).__name__)}"
            )
