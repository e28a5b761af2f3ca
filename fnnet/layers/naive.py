"""Loop versions of convolution and pooling: the math as a student first writes it.

Reference code, not the layers' code: every output element is computed by loops over
samples, output pixels and channels, exactly as the course's equations read (NHWC layout,
``W (kh, kw, Cin, Cout)``, cross-correlation), e.g. its equation (1) with a stride::

    Z[n, y, x, f] = sum_{i, j, c} Xp[n, sh y + i, sw x + j, c] W[i, j, c, f] + b[f]

The fast layers in :mod:`fnnet.layers` (im2col and the kernels of :mod:`fnnet.kernels`) are
tested against these functions, and notebook 08 shows them. Padding is given explicitly
as ``((top, bottom), (left, right))``; strides as ``(sh, sw)``. Slow: for small inputs only.
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


NO_PADDING: Pads = ((0, 0), (0, 0))


def conv2d_forward(
    X: Array, W: Array, b: Array, stride: Pair = (1, 1), pads: Pads = NO_PADDING
) -> Array:
    """``Z[n, y, x, f] = sum_{i, j, c} Xp[n, sh y + i, sw x + j, c] W[i, j, c, f] + b[f]``.

    The course's equation (1), one output element at a time: the dot product of filter
    ``f`` with the window whose top-left corner is at ``(sh y, sw x)``.
    """
    Xp = pad(X, pads)
    N, Hp, Wp, _ = Xp.shape
    kh, kw, _, F = W.shape
    sh, sw = stride
    Ho, Wo = out_size(Hp, kh, sh), out_size(Wp, kw, sw)
    Z = np.zeros((N, Ho, Wo, F), np.result_type(X, W))
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                window = Xp[n, sh * y : sh * y + kh, sw * x : sw * x + kw, :]
                for f in range(F):
                    Z[n, y, x, f] = np.sum(window * W[:, :, :, f]) + b[f]
    return Z


def conv2d_backward(
    X: Array, W: Array, dLdZ: Array, stride: Pair = (1, 1), pads: Pads = NO_PADDING
) -> tuple[Array, Array, Array]:
    """``(dLdW, dLdb, dLdX)`` by the chain rule, one output element at a time.

    Each ``Z[n, y, x, f]`` received ``W[:, :, :, f]`` times its window of ``Xp`` (plus
    ``b[f]``), so its gradient ``g = dLdZ[n, y, x, f]`` flows back as::

        dLdb[f]                       += g
        dLdW[:, :, :, f]              += g * window
        dLdXp[n, window rows/cols, :] += g * W[:, :, :, f]

    Summed over all outputs, these are the course's answers (5.1 (a)-(c)):
    ``dL/db[f] = sum_{n, y, x} dL/dZ[n, y, x, f]``,
    ``dL/dW[i, j, c, f] = sum_{n, y, x} dL/dZ[n, y, x, f] Xp[n, sh y + i, sw x + j, c]``,
    ``dL/dXp[n, a, b, c] = sum_{y, x, f} dL/dZ[n, y, x, f] W[a - sh y, b - sw x, c, f]``.
    """
    Xp = pad(X, pads)
    N, Ho, Wo, F = dLdZ.shape
    kh, kw = W.shape[:2]
    sh, sw = stride
    dLdW = np.zeros_like(W)
    dLdb = np.zeros(F, W.dtype)
    dLdXp = np.zeros_like(Xp)
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                rows, cols = slice(sh * y, sh * y + kh), slice(sw * x, sw * x + kw)
                for f in range(F):
                    g = dLdZ[n, y, x, f]
                    dLdb[f] += g
                    dLdW[:, :, :, f] += g * Xp[n, rows, cols, :]
                    dLdXp[n, rows, cols, :] += g * W[:, :, :, f]
    (top, _), (left, _) = pads
    dLdX = dLdXp[:, top : top + X.shape[1], left : left + X.shape[2], :]
    return dLdW, dLdb, dLdX


def maxpool2d_forward(X: Array, kernel: Pair, stride: Pair | None = None) -> Array:
    """``Y[n, y, x, c] = max`` of the window ``X[n, sh y : sh y + kh, sw x : sw x + kw, c]``.

    The course's ``MaxPool(X)[r1, r2, c] = max{X[r1 s : r1 s + k1, r2 s : r2 s + k2, c]}``;
    ``stride`` defaults to ``kernel``.
    """
    (kh, kw), (sh, sw) = kernel, stride or kernel
    N, H, W, C = X.shape
    Ho, Wo = out_size(H, kh, sh), out_size(W, kw, sw)
    Y = np.zeros((N, Ho, Wo, C), X.dtype)
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                for c in range(C):
                    Y[n, y, x, c] = X[n, sh * y : sh * y + kh, sw * x : sw * x + kw, c].max()
    return Y


def maxpool2d_backward(X: Array, dLdY: Array, kernel: Pair, stride: Pair | None = None) -> Array:
    """Route each ``dLdY[n, y, x, c]`` to the input that won its window.

    "The gradient from the next layer is passed back only to the neuron which achieved
    the max. All other neurons get zero gradient." (the course, 5.1, 2.) ``np.argmax`` of
    the flattened window returns the first maximum in row-major (window) order: on ties
    the first winner takes the whole gradient. Overlapping windows add up.
    """
    (kh, kw), (sh, sw) = kernel, stride or kernel
    N, Ho, Wo, C = dLdY.shape
    dLdX = np.zeros(X.shape, np.result_type(X, dLdY))
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                for c in range(C):
                    window = X[n, sh * y : sh * y + kh, sw * x : sw * x + kw, c]
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    dLdX[n, sh * y + i, sw * x + j, c] += dLdY[n, y, x, c]
    return dLdX


def avgpool2d_forward(X: Array, kernel: Pair, stride: Pair | None = None) -> Array:
    """``Y[n, y, x, c] = mean`` of the window ``X[n, sh y : sh y + kh, sw x : sw x + kw, c]``."""
    (kh, kw), (sh, sw) = kernel, stride or kernel
    N, H, W, C = X.shape
    Ho, Wo = out_size(H, kh, sh), out_size(W, kw, sw)
    Y = np.zeros((N, Ho, Wo, C), X.dtype)
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                for c in range(C):
                    Y[n, y, x, c] = X[n, sh * y : sh * y + kh, sw * x : sw * x + kw, c].mean()
    return Y


def avgpool2d_backward(X: Array, dLdY: Array, kernel: Pair, stride: Pair | None = None) -> Array:
    """Every input of a window gets ``1 / (kh kw)`` of that window's gradient."""
    (kh, kw), (sh, sw) = kernel, stride or kernel
    N, Ho, Wo, C = dLdY.shape
    dLdX = np.zeros(X.shape, np.result_type(X, dLdY))
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                for c in range(C):
                    share = dLdY[n, y, x, c] / (kh * kw)
                    dLdX[n, sh * y : sh * y + kh, sw * x : sw * x + kw, c] += share
    return dLdX
