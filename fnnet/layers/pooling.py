"""Pooling layers over NHWC images: max, average and global average pooling."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnnet import kernels
from fnnet.layers.base import Array, Layer, Params, Pullback, Shape, as_input, stateless
from fnnet.layers.spatial import check_image, check_params, output_size, pair
from fnnet.random import Key

__all__ = ["AvgPool2d", "GlobalAvgPool2d", "MaxPool2d"]


def MaxPool2d(
    kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
) -> Layer:
    """Max pooling: ``Y[n, y, x, c] = max_{i, j} X[n, s y + i, s x + j, c]``.

    Shapes: ``X (N, H, W, C)``, ``Y (N, Ho, Wo, C)``, ``Ho = floor((H - kh) / sh) + 1``;
    ``stride`` defaults to ``kernel_size``. No padding; rows and columns that no window
    reaches are ignored (and get zero gradient).

    Backward: the max of a window changes with its largest input alone, so each
    ``dLdY[n, y, x, c]`` goes to the input that won its window, all others get nothing::

        dLdX[n, s y + i, s x + j, c] += won[i, j, n, y, x, c] dLdY[n, y, x, c]

    where ``won`` marks the winning offset ``(i, j)`` of each window: on ties the first
    maximum in window order (row by row), as in PyTorch. Overlapping windows
    (``stride < kernel``) add up their contributions. A NaN input makes its window's
    maximum NaN (as in PyTorch), but that window then passes no gradient.
    """
    name = "MaxPool2d"
    kernel, strides = _pool_args(name, kernel_size, stride)

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        return _pool_init(name, input_shape, kernel, strides), {}

    def forward(X: Array) -> Array:
        _pool_check(name, X, kernel, strides)
        # Y[n, y, x, c] = max_{i, j} X[n, s y + i, s x + j, c]
        return kernels.window_max(X, kernel, strides)

    def apply(params: Params, X: Array) -> Array:
        check_params(name, params, {})
        return forward(as_input(name, X))

    def vjp(params: Params, X: Array) -> tuple[Array, Pullback]:
        check_params(name, params, {})
        X = as_input(name, X)
        Y = forward(X)
        # won[i, j, n, y, x, c] = 1 where X[n, s y + i, s x + j, c] is the window's first maximum
        won = kernels.first_max_mask(X, Y, kernel, strides)
        x_shape, x_dtype = X.shape, X.dtype  # the pullback keeps the mask, not X

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            dtype = np.result_type(x_dtype, dLdY)
            # dL/dX[n, s y + i, s x + j, c] += won[i, j, n, y, x, c] dL/dY[n, y, x, c]
            dLdX = kernels.scatter_to_winners(np.asarray(dLdY, dtype), won, x_shape, strides)
            return {}, dLdX

        return Y, pullback

    return stateless(init, apply, vjp, name=name)


def AvgPool2d(
    kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
) -> Layer:
    """Average pooling: ``Y[n, y, x, c] = (1 / (kh kw)) sum_{i, j} X[n, s y + i, s x + j, c]``.

    Shapes and stride as :func:`MaxPool2d`. Backward: every input of a window gets an
    equal share of its gradient, and an input sums the shares of the windows it is in::

        dLdP[(n, y, x), (i, j, c)] = dLdY[n, y, x, c] / (kh kw)
        dLdX = col2im(dLdP)

    the col2im of :class:`~fnnet.layers.Conv2d`: average pooling is a convolution of each
    channel with a constant ``1 / (kh kw)`` filter.
    """
    name = "AvgPool2d"
    kernel, strides = _pool_args(name, kernel_size, stride)
    kh_kw = kernel[0] * kernel[1]

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        return _pool_init(name, input_shape, kernel, strides), {}

    def apply(params: Params, X: Array) -> Array:
        check_params(name, params, {})
        X = as_input(name, X)
        _pool_check(name, X, kernel, strides)
        # Y[n, y, x, c] = (1 / (kh kw)) sum_{i, j} X[n, s y + i, s x + j, c]
        return kernels.window_sum(X, kernel, strides) / X.dtype.type(kh_kw)

    def vjp(params: Params, X: Array) -> tuple[Array, Pullback]:
        X = as_input(name, X)
        Y = apply(params, X)
        x_shape, x_dtype = X.shape, X.dtype  # not X itself

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            N, Ho, Wo, C = np.shape(dLdY)
            dtype = np.result_type(x_dtype, dLdY)
            # dL/dP[(n, y, x), (i, j, c)] = dL/dY[n, y, x, c] / (kh kw), for every offset (i, j)
            dLdP = np.broadcast_to(
                (np.asarray(dLdY, dtype) / dtype.type(kh_kw))[:, :, :, None, None, :],
                (N, Ho, Wo, *kernel, C),
            )
            # dL/dX[n, a, b, c] = sum of dL/dP[(n, y, x), (i, j, c)] over s y + i = a, s x + j = b
            dLdX = kernels.col2im(dLdP, x_shape, kernel, strides)
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
        check_params(name, params, {})
        X = as_input(name, X)
        check_image(name, X.shape, None)
        # Y[n, c] = (1 / (H W)) sum_{y, x} X[n, y, x, c]
        return X.mean(axis=(1, 2))

    def vjp(params: Params, X: Array) -> tuple[Array, Pullback]:
        X = as_input(name, X)
        Y = apply(params, X)
        x_shape, x_dtype = X.shape, X.dtype  # not X itself
        H_W = x_shape[1] * x_shape[2]

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            dtype = np.result_type(x_dtype, dLdY)
            # dL/dX[n, y, x, c] = dL/dY[n, c] / (H W), the same for every pixel
            dLdX = np.broadcast_to(
                (np.asarray(dLdY, dtype) / dtype.type(H_W))[:, None, None, :], x_shape
            ).copy()
            return {}, dLdX

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


def _pool_check(name: str, X: Array, kernel: tuple[int, int], strides: tuple[int, int]) -> None:
    check_image(name, X.shape, None)
    output_size(name, X.shape, kernel, strides)
