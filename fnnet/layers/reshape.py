"""Reshaping layers: Flatten (images into vectors) and RowsAsSequence (images into sequences)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fnnet.layers.base import (
    Array,
    Layer,
    Params,
    Pullback,
    Shape,
    as_input,
    fmt_shape,
    read_only_view,
    stateless,
)
from fnnet.random import Key

__all__ = ["Flatten", "RowsAsSequence"]


def Flatten() -> Layer:
    """Flatten every axis but the batch axis: ``(N, d1, d2, ...) -> (N, d1 d2 ...)``.

    For an NHWC image the features come in ``(h, w, c)`` order (C order, channels last).
    Backward: ``dLdX = dLdY`` reshaped to the input's shape. Both are read-only views
    of the arrays given (a reshape shares their memory).
    """
    name = "Flatten"

    def features(shape: tuple[int, ...]) -> int:
        if len(shape) < 2 or min(shape[1:]) <= 0:
            raise ValueError(
                f"{name}: expected an input (N, d1, ...) with known d1, ...; got {fmt_shape(shape)}"
            )
        return math.prod(shape[1:])

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        return (input_shape[0], features(input_shape)), {}

    def apply(params: Params, X: Any) -> Array:
        X = as_input(name, X)
        # Y = X with the axes after the batch axis merged: (N, d1, d2, ...) -> (N, d1 d2 ...)
        return read_only_view(X.reshape(X.shape[0], features(X.shape)))

    def vjp(params: Params, X: Any) -> tuple[Array, Pullback]:
        X = as_input(name, X)
        Y = apply(params, X)
        x_shape = X.shape  # the pullback keeps the shape, not X

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            # Y is X with its axes merged: dL/dX is dL/dY with them split again
            return {}, read_only_view(np.asarray(dLdY).reshape(x_shape))

        return Y, pullback

    return stateless(init, apply, vjp, name=name)


def RowsAsSequence() -> Layer:
    """Read an NHWC image as a sequence of its rows: ``(N, H, W, C) -> (N, T=H, W C)``.

    ``Y[n, t, w C + c] = X[n, t, w, c]``: time step ``t`` is image row ``t``, its features
    the row's pixels in ``(w, c)`` order. An 8x8 digit becomes 8 steps of 8 features (the
    "sequential MNIST" reading), the input of ``RNN``. Backward: ``dLdX = dLdY`` reshaped
    to ``(N, H, W, C)``. Both are read-only views of the arrays given.
    """
    name = "RowsAsSequence"

    def features(shape: tuple[int, ...]) -> int:
        if len(shape) != 4 or min(shape[1:]) <= 0:
            raise ValueError(
                f"{name}: expected images (N, H, W, C) with known H, W, C; got {fmt_shape(shape)}"
            )
        return shape[2] * shape[3]

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        return (input_shape[0], input_shape[1], features(input_shape)), {}

    def apply(params: Params, X: Any) -> Array:
        X = as_input(name, X)
        # Y[n, t, w C + c] = X[n, t, w, c]: (N, H, W, C) -> (N, H, W C)
        return read_only_view(X.reshape(X.shape[0], X.shape[1], features(X.shape)))

    def vjp(params: Params, X: Any) -> tuple[Array, Pullback]:
        X = as_input(name, X)
        Y = apply(params, X)
        x_shape = X.shape  # the pullback keeps the shape, not X

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            # dL/dX[n, t, w, c] = dL/dY[n, t, w C + c]: the same numbers, split again
            return {}, read_only_view(np.asarray(dLdY).reshape(x_shape))

        return Y, pullback

    return stateless(init, apply, vjp, name=name)
