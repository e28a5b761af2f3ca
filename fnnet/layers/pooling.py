"""Pooling layers over NHWC images: max, average and global average pooling."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnnet.layers.base import Array, Layer, Params, Pullback, Shape, stateless
from fnnet.layers.spatial import check_image, offset_slices, output_size, pair
from fnnet.random import Key

__all__ = ["AvgPool2d", "GlobalAvgPool2d", "MaxPool2d"]


def MaxPool2d(
    kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
) -> Layer:
    """Max pooling: ``Y[n, y, x, c] = max_{i, j} X[n, s y + i, s x + j, c]``.

    Shapes: ``X (N, H, W, C)``, ``Y (N, Ho, Wo, C)``, ``Ho = floor((H - kh) / sh) + 1``;
    ``stride`` defaults to ``kernel_size``. No padding; rows and columns that no window
    reaches are ignored (and get zero gradient).

    Backward: each ``dLdY[n, y, x, c]`` goes to the one input that won its window::

        dLdX[n, s y + i*, s x + j*, c] += dLdY[n, y, x, c],   (i*, j*) = argmax_{i, j}

    On ties the first winner in window order (row by row) takes it, as in PyTorch.
    Overlapping windows (``stride < kernel``) add up their contributions. The forward
    is a running ``np.maximum`` over the ``kh kw`` kernel offsets; ``vjp`` also marks,
    once, which offset won each window, so the pullback only multiplies and places.
    A NaN input makes its window's maximum NaN (as in PyTorch), but that window then
    passes no gradient.
    """
    name = "MaxPool2d"
    kernel, strides = _pool_args(name, kernel_size, stride)

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        return _pool_init(name, input_shape, kernel, strides), {}

    def forward(X: Array) -> Array:
        """``Y = max`` over the kernel offsets ``(i, j)`` of ``X[n, s y + i, s x + j, c]``."""
        out = _pool_check(name, X, kernel, strides)
        Y: Array | None = None
        for _, _, index in offset_slices(kernel, strides, out):
            Y = X[index].copy() if Y is None else np.maximum(Y, X[index], out=Y)
        assert Y is not None
        return Y

    def apply(params: Params, X: Array) -> Array:
        return forward(np.asarray(X))

    def vjp(params: Params, X: Array) -> tuple[Array, Pullback]:
        X = np.asarray(X)
        Y = forward(X)
        index = [idx for _, _, idx in offset_slices(kernel, strides, Y.shape[1:3])]
        # won[o] marks the windows whose first maximum sits at offset o (in window order):
        # X at that offset equals the max, and no earlier offset has won already
        won: list[Array] = []
        taken: Array | None = None
        for o, idx in enumerate(index):
            hit = X[idx] == Y
            if taken is not None:
                np.greater(hit, taken, out=hit)  # hit and not taken (booleans: True > False)
            if o + 1 < len(index):  # windows taken so far (the last offset needs none)
                taken = hit.copy() if taken is None else np.logical_or(taken, hit, out=taken)
            won.append(hit)
        overlap = strides[0] < kernel[0] or strides[1] < kernel[1]
        # the windows cover every input exactly once: the pullback writes each input once
        tiled = not overlap and strides == kernel and X.shape[1] % kernel[0] == 0
        tiled = tiled and X.shape[2] % kernel[1] == 0
        # the pullback keeps the masks and X's shape and dtype, not X (see stateless)
        x_shape, x_dtype = X.shape, X.dtype

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            dLdY = np.asarray(dLdY)
            dtype = np.result_type(x_dtype, dLdY.dtype)
            dLdX = np.empty(x_shape, dtype) if tiled else np.zeros(x_shape, dtype)
            for idx, hit in zip(index, won, strict=True):
                # dL/dX[n, s y + i, s x + j, c] += dL/dY[n, y, x, c] where offset (i, j) won
                if overlap:
                    dLdX[idx] += dLdY * hit
                else:  # each input is in one window at most: plain assignment
                    np.multiply(dLdY, hit, out=dLdX[idx])
            return {}, dLdX

        return Y, pullback

    return stateless(init, apply, vjp, name=name)


def AvgPool2d(
    kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
) -> Layer:
    """Average pooling: ``Y[n, y, x, c] = (1 / (kh kw)) sum_{i, j} X[n, s y + i, s x + j, c]``.

    Shapes and stride as :func:`MaxPool2d`. Backward: every input of a window gets an
    equal share, ``dLdX[n, s y + i, s x + j, c] += dLdY[n, y, x, c] / (kh kw)``.
    """
    name = "AvgPool2d"
    kernel, strides = _pool_args(name, kernel_size, stride)
    scale = 1.0 / (kernel[0] * kernel[1])

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        return _pool_init(name, input_shape, kernel, strides), {}

    def apply(params: Params, X: Array) -> Array:
        X = np.asarray(X)
        out = _pool_check(name, X, kernel, strides)
        dtype = X.dtype if X.dtype.kind == "f" else np.float64
        Y = np.zeros((X.shape[0], *out, X.shape[3]), dtype)
        for _, _, index in offset_slices(kernel, strides, out):
            # Y = sum over offsets (i, j) of X[n, s y + i, s x + j, c], then / (kh kw)
            Y += X[index]
        Y *= scale
        return Y

    def vjp(params: Params, X: Array) -> tuple[Array, Pullback]:
        X = np.asarray(X)
        Y = apply(params, X)
        x_shape, out, y_dtype = X.shape, Y.shape[1:3], Y.dtype  # not X and Y themselves

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            # dL/dX[n, s y + i, s x + j, c] += dL/dY[n, y, x, c] / (kh kw)
            share = np.asarray(dLdY) * scale
            dLdX = np.zeros(x_shape, np.result_type(y_dtype, share.dtype))
            for _, _, index in offset_slices(kernel, strides, out):
                dLdX[index] += share
            return {}, dLdX

        return Y, pullback

    return stateless(init, apply, vjp, name=name)


def GlobalAvgPool2d() -> Layer:
    """Mean over all pixels: ``Y[n, c] = (1 / (H W)) sum_{y, x} X[n, y, x, c]``.

    Shapes: ``X (N, H, W, C)`` -> ``Y (N, C)``. Backward:
    ``dLdX[n, y, x, c] = dLdY[n, c] / (H W)`` for every pixel.
    """
    name = "GlobalAvgPool2d"

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        check_image(name, input_shape, None)
        return (input_shape[0], input_shape[3]), {}

    def apply(params: Params, X: Array) -> Array:
        X = np.asarray(X)
        check_image(name, X.shape, None)
        # Y = mean over the H and W axes
        return X.mean(axis=(1, 2))

    def vjp(params: Params, X: Array) -> tuple[Array, Pullback]:
        X = np.asarray(X)
        Y = apply(params, X)
        x_shape = X.shape  # not X itself

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            # dL/dX[n, y, x, c] = dL/dY[n, c] / (H W), the same for every pixel
            share = np.asarray(dLdY) * (1.0 / (x_shape[1] * x_shape[2]))
            return {}, np.broadcast_to(share[:, None, None, :], x_shape).copy()

        return Y, pullback

    return stateless(init, apply, vjp, name=name)


def _pool_args(name: str, kernel_size: Any, stride: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    kernel = pair(name, "kernel_size", kernel_size, 1)
    return kernel, kernel if stride is None else pair(name, "stride", stride, 1)


def _pool_init(
    name: str, shape: tuple[int, ...], kernel: tuple[int, int], strides: tuple[int, int]
) -> tuple[int, ...]:
    check_image(name, shape, None)
    Ho, Wo = output_size(name, shape, kernel, strides)
    return (shape[0], Ho, Wo, shape[3])


def _pool_check(
    name: str, X: Array, kernel: tuple[int, int], strides: tuple[int, int]
) -> tuple[int, int]:
    check_image(name, X.shape, None)
    return output_size(name, X.shape, kernel, strides)
