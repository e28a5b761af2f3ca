"""Loop versions of convolution and pooling: the math as a student first writes it.

This is reference code, not library code: every output element is computed by looping
over samples, output pixels and channels, exactly as in the equations (NHWC layout,
``W (kh, kw, Cin, Cout)``, cross-correlation). The fast im2col layers in
``fnnet.layers`` are tested against these functions. Padding is given explicitly as
``((top, bottom), (left, right))``; strides as ``(sh, sw)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]
Pair = tuple[int, int]
Pads = tuple[Pair, Pair]


def pad(X: Array, pads: Pads) -> Array:
    """Zero-pad the two spatial axes of an NHWC image."""
    return np.pad(X, ((0, 0), pads[0], pads[1], (0, 0)))


def out_size(n: int, k: int, s: int) -> int:
    """Number of window positions: ``floor((n - k) / s) + 1`` (``n`` already padded)."""
    return (n - k) // s + 1


def conv2d_forward(X: Array, W: Array, b: Array, stride: Pair, pads: Pads) -> Array:
    """``Z[n, y, x, f] = sum_{i, j, c} Xp[n, sh y + i, sw x + j, c] W[i, j, c, f] + b[f]``."""
    Xp = pad(X, pads)
    N, Hp, Wp, _ = Xp.shape
    kh, kw, _, F = W.shape
    Ho, Wo = out_size(Hp, kh, stride[0]), out_size(Wp, kw, stride[1])
    Z = np.zeros((N, Ho, Wo, F), np.result_type(X, W))
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                window = Xp[
                    n, y * stride[0] : y * stride[0] + kh, x * stride[1] : x * stride[1] + kw
                ]
                for f in range(F):
                    Z[n, y, x, f] = np.sum(window * W[:, :, :, f]) + b[f]
    return Z


def conv2d_backward(
    X: Array, W: Array, dLdZ: Array, stride: Pair, pads: Pads
) -> tuple[Array, Array, Array]:
    """``(dLdW, dLdb, dLdX)`` by the chain rule, one output element at a time.

    Each ``Z[n, y, x, f]`` received ``W[:, :, :, f]`` times its window of ``Xp`` (plus
    ``b[f]``), so its gradient ``g = dLdZ[n, y, x, f]`` flows back as::

        dLdb[f]                += g
        dLdW[:, :, :, f]       += g * window
        dLdXp[n, window rows/cols, :] += g * W[:, :, :, f]
    """
    Xp = pad(X, pads)
    N, Ho, Wo, F = dLdZ.shape
    kh, kw = W.shape[:2]
    dLdW = np.zeros_like(W)
    dLdb = np.zeros(F, W.dtype)
    dLdXp = np.zeros_like(Xp)
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                rows = slice(y * stride[0], y * stride[0] + kh)
                cols = slice(x * stride[1], x * stride[1] + kw)
                for f in range(F):
                    g = dLdZ[n, y, x, f]
                    dLdb[f] += g
                    dLdW[:, :, :, f] += g * Xp[n, rows, cols]
                    dLdXp[n, rows, cols] += g * W[:, :, :, f]
    (top, _), (left, _) = pads
    dLdX = dLdXp[:, top : top + X.shape[1], left : left + X.shape[2]]
    return dLdW, dLdb, dLdX


def maxpool2d_forward(X: Array, kernel: Pair, stride: Pair) -> Array:
    """``Y[n, y, x, c] = max`` of the window ``X[n, sh y : sh y + kh, sw x : sw x + kw, c]``."""
    N, H, W, C = X.shape
    Ho, Wo = out_size(H, kernel[0], stride[0]), out_size(W, kernel[1], stride[1])
    Y = np.zeros((N, Ho, Wo, C), X.dtype)
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                for c in range(C):
                    window = X[
                        n,
                        y * stride[0] : y * stride[0] + kernel[0],
                        x * stride[1] : x * stride[1] + kernel[1],
                        c,
                    ]
                    Y[n, y, x, c] = window.max()
    return Y


def maxpool2d_backward(X: Array, dLdY: Array, kernel: Pair, stride: Pair) -> Array:
    """Route each ``dLdY[n, y, x, c]`` to the input that won its window.

    ``np.argmax`` of the flattened window returns the first maximum in row-major
    (window) order: on ties the first winner takes the whole gradient.
    """
    N, Ho, Wo, C = dLdY.shape
    dLdX = np.zeros(X.shape, np.result_type(X, dLdY))
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                for c in range(C):
                    y0, x0 = y * stride[0], x * stride[1]
                    window = X[n, y0 : y0 + kernel[0], x0 : x0 + kernel[1], c]
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    dLdX[n, y0 + i, x0 + j, c] += dLdY[n, y, x, c]
    return dLdX


def avgpool2d_forward(X: Array, kernel: Pair, stride: Pair) -> Array:
    """``Y[n, y, x, c] = mean`` of the window ``X[n, sh y : sh y + kh, sw x : sw x + kw, c]``."""
    N, H, W, C = X.shape
    Ho, Wo = out_size(H, kernel[0], stride[0]), out_size(W, kernel[1], stride[1])
    Y = np.zeros((N, Ho, Wo, C), X.dtype)
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                y0, x0 = y * stride[0], x * stride[1]
                Y[n, y, x, :] = X[n, y0 : y0 + kernel[0], x0 : x0 + kernel[1], :].mean(axis=(0, 1))
    return Y


def avgpool2d_backward(X: Array, dLdY: Array, kernel: Pair, stride: Pair) -> Array:
    """Every input of a window gets ``dLdY / (kh kw)`` of that window's gradient."""
    N, Ho, Wo, _ = dLdY.shape
    dLdX = np.zeros(X.shape, np.result_type(X, dLdY))
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                y0, x0 = y * stride[0], x * stride[1]
                dLdX[n, y0 : y0 + kernel[0], x0 : x0 + kernel[1], :] += dLdY[n, y, x, :] / (
                    kernel[0] * kernel[1]
                )
    return dLdX
