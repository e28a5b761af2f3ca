"""Named fast kernels: the speed techniques that would hide an equation in a layer.

A layer's forward pass and pullback read as the derivation, one equation per line. When
the plain NumPy form of an equation is measurably slow (it would need ``out=`` arguments,
blocks, a fused form or another memory trick to be fast), the fast form lives here
instead, as a function

- named after what it computes,
- whose docstring is the equation it computes, with shapes,
- which ``tests/test_kernels.py`` compares with the plain formula,

and the layer calls it in one line under the equation's comment. Nothing else belongs
here: a kernel has no state, never mutates its arguments and knows nothing of layers.

The kernels are grouped by the layers that use them, one delimited block per family.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided
from numpy.typing import NDArray

Array = NDArray[Any]
Pair = tuple[int, int]


__all__ = [
    "affine",
    "batch_norm_dLdZ",
    "batch_sum",
    "channel_affine",
    "channel_divide",
    "channel_scale",
    "channel_subtract",
    "col2im",
    "first_max_mask",
    "im2col",
    "offset_index",
    "patch_grads",
    "patches_matmul_bias",
    "scaled_add",
    "scatter_to_winners",
    "window_max",
    "window_sum",
    "windows",
]


# ---------------------------------------------------------------------------------------
# Dense layers (Linear, BatchNorm)
# ---------------------------------------------------------------------------------------


def affine(A: Array, W: Array, b: Array) -> Array:
    """The linear layer's output ``Z = A W^T + 1 b^T``, ``Z_ij = sum_k A_ik W_jk + b_j``.

    ``A (N, C_in)``, ``W (C_out, C_in)``, ``b (C_out,)``, ``Z (N, C_out)``. The product,
    then ``b`` added in place to it, instead of a second ``(N, C_out)`` array for the sum
    (the same roundings as ``A @ W.T + b``).
    """
    Z = A @ W.T
    if b.dtype != Z.dtype:  # another dtype: NumPy's promotion decides, in a new array
        return Z + b
    Z += b
    return Z


# Below this many elements the reduction's set-up costs less than the product's.
_BATCH_SUM_MIN_SIZE = 4096


def batch_sum(X: Array) -> Array:
    """The sum over the batch axis: ``s = 1_N^T X``, ``s_j = sum_i X_ij``.

    ``X (N, C) -> s (C,)``, in ``X``'s dtype. Computed as the matrix-vector product
    ``1_N^T X`` (BLAS) when ``X`` is large: ``X.sum(axis=0)`` walks short rows one at a
    time, which is several times slower when ``C`` is small (a bias gradient over
    ``N * H * W`` pixels of 16 channels), while both add each column in turn.
    """
    if X.size <= _BATCH_SUM_MIN_SIZE:
        return X.sum(axis=0)
    return np.ones(X.shape[0], X.dtype) @ X


# Rows of at least this many elements make a fast inner loop for a per-channel operation.
_WIDE_ROW = 1024
# The wide views pay off only for few channels (short rows) in a large array: measured
# on (R, C) float32, 16-64 channels gain 10-40% from 32768 elements up; 128 and more
# channels, or small arrays, lose to NumPy's own broadcasting.
_WIDE_MAX_C = 64
_WIDE_MIN_SIZE = 32768


def _wide(X: Array, v: Array) -> tuple[Array, Array] | None:
    """``X (R, C)`` seen as ``(R / m, m C)`` rows and ``v (C,)`` tiled ``m`` times, or ``None``.

    ``X[i, j] op v[j]`` on these views is ``X op 1 v^T`` element for element: row ``r``
    of the wide view holds ``m`` rows of ``X`` one after the other, and the tiled ``v``
    lines up with each of them. ``m`` is the largest divisor of ``R`` with ``m C`` at
    most ``_WIDE_ROW``; ``None`` when ``X`` is not a C-contiguous matrix, ``m = 1``, or
    the array is too small or has too many channels to gain from it.
    """
    if X.ndim != 2 or v.shape != X.shape[1:] or not X.flags.c_contiguous:
        return None
    if X.shape[1] > _WIDE_MAX_C or X.size < _WIDE_MIN_SIZE:
        return None
    R, C = X.shape
    m = max(1, min(R, _WIDE_ROW // max(C, 1)))
    while R % m:
        m -= 1
    if m == 1:
        return None
    v_tiled = np.empty((m, C), v.dtype)
    v_tiled[...] = v
    return X.reshape(R // m, m * C), v_tiled.reshape(m * C)


def _per_channel(op: Any, X: Array, v: Array) -> Array:
    """``op(X, 1 v^T)`` for ``X (R, C)``, ``v (C,)``: a fresh ``(R, C)`` array.

    NumPy broadcasts ``v`` over the rows with an inner loop of ``C`` elements, slow for
    the few channels of a convolution; the same operation on the wide views of
    :func:`_wide` runs loops of about ``_WIDE_ROW`` elements, with the same arithmetic.
    """
    wide = _wide(X, v)
    if wide is None:
        return op(X, v)
    return op(*wide).reshape(X.shape)


def _add_per_channel_in_place(Y: Array, v: Array) -> Array:
    """``Y += 1 v^T`` on a fresh ``Y (R, C)`` (on its wide view when there is one); ``Y``."""
    wide = _wide(Y, v)
    if wide is None:
        np.add(Y, v, out=Y)
    else:
        np.add(wide[0], wide[1], out=wide[0])
    return Y


def channel_subtract(X: Array, v: Array) -> Array:
    """``Y = X - 1 v^T``, ``Y_ij = X_ij - v_j``: ``X (R, C)``, ``v (C,)``, ``Y (R, C)``."""
    return _per_channel(np.subtract, X, v)


def channel_divide(X: Array, v: Array) -> Array:
    """``Y = X diag(v)^(-1)``, ``Y_ij = X_ij / v_j``: ``X (R, C)``, ``v (C,)``, ``Y (R, C)``."""
    return _per_channel(np.true_divide, X, v)


def channel_scale(X: Array, v: Array) -> Array:
    """``Y = X diag(v)``, ``Y_ij = X_ij v_j``: ``X (R, C)``, ``v (C,)``, ``Y (R, C)``."""
    return _per_channel(np.multiply, X, v)


def channel_affine(X: Array, a: Array, c: Array) -> Array:
    """``Y = X diag(a) + 1 c^T``, ``Y_ij = X_ij a_j + c_j``: ``X (R, C)``; ``a``, ``c (C,)``.

    The product, then ``c`` added in place to it (the same two roundings as ``X * a + c``).
    """
    Y = channel_scale(X, a)
    if c.dtype != Y.dtype:  # another dtype: NumPy's promotion decides, in a new array
        return Y + c
    return _add_per_channel_in_place(Y, c)


def batch_norm_dLdZ(
    dLdNZ: Array, dLdV: Array, dLdM: Array, Z_M: Array, V: Array, eps: float
) -> Array:
    """BatchNorm's input gradient, the course's equation (85)::

        dLdZ = dLdNZ (V + eps)^(-1/2) + dLdV 2/N (Z - M) + dLdM / N

    ``dLdNZ``, ``Z_M = Z - M``: ``(N, C)``; ``V``, ``dLdV``, ``dLdM``: ``(C,)``; returns
    ``(N, C)``. The plain expression makes four ``(N, C)`` arrays; this makes one, with
    ``s = (V + eps)^(-1/2)`` factored out of the first two terms::

        dLdZ = s (dLdNZ + (Z - M) * (2/N dLdV / s)) + dLdM / N
    """
    N = Z_M.shape[0]
    s = (V + eps) ** -0.5
    dLdZ = channel_scale(Z_M, dLdV * (2 / N) / s)
    dLdZ += dLdNZ
    # the two per-channel steps in place, on the wide view when there is one
    wide_s, wide_dLdM = _wide(dLdZ, s), _wide(dLdZ, dLdM / N)
    if wide_s is None or wide_dLdM is None:
        dLdZ *= s
        dLdZ += dLdM / N
        return dLdZ
    rows = wide_s[0]
    rows *= wide_s[1]
    rows += wide_dLdM[1]
    return dLdZ


# ---------------------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------------------


# Below this many elements an in-place add saves less than its checks cost.
_IN_PLACE_MIN_SIZE = 1024


def scaled_add(a: float, X: Array, Y: Array) -> Array:
    """``Z = a X + Y`` (BLAS's axpy), element-wise, for arrays ``X``, ``Y`` of one shape.

    The product ``a X`` into a fresh array, then ``Y`` added in place: one temporary
    fewer than ``a * X + Y``, with the same roundings. ``W - lr v`` is ``scaled_add(-lr,
    v, W)`` exactly (negating ``lr v`` rounds nothing). Small arrays (a bias, a tiny
    model's weights) take the plain expression, which has less overhead per call.
    """
    Z = a * X
    if Z.size < _IN_PLACE_MIN_SIZE or Y.dtype != Z.dtype or Y.shape != Z.shape:
        return Z + Y  # NumPy's promotion and broadcasting decide, as in the formula
    Z += Y
    return Z


# ---------------------------------------------------------------------------------------
# (append new kernel families below, each in its own block like the one above)
# ---------------------------------------------------------------------------------------


# =======================================================================================
# Convolution and pooling (NHWC images; windows of size (kh, kw) with stride (sh, sw))
# =======================================================================================
#
# Notation: a window ``(n, y, x)`` of an image ``X (N, H, W, C)`` holds the pixels
# ``X[n, sh y + i, sw x + j, :]`` for the kernel offsets ``0 <= i < kh``, ``0 <= j < kw``;
# there are ``Ho x Wo`` windows per image, ``Ho = floor((H - kh) / sh) + 1``.


def windows(X: Array, kernel: Pair, stride: Pair, out: Pair) -> Array:
    """The windows of ``X`` as a read-only view, shape ``(N, Ho, Wo, kh, kw, C)``::

        V[n, y, x, i, j, c] = X[n, sh y + i, sw x + j, c]

    No copy: the view's strides step ``sh`` rows for ``y`` and one row for ``i``.
    """
    sN, sH, sW, sC = X.strides
    return as_strided(
        X,
        shape=(X.shape[0], out[0], out[1], kernel[0], kernel[1], X.shape[3]),
        strides=(sN, sH * stride[0], sW * stride[1], sH, sW, sC),
        writeable=False,
    )


def offset_index(i: int, j: int, stride: Pair, out: Pair) -> tuple[slice, ...]:
    """The index of the pixels at kernel offset ``(i, j)`` of every window::

        X[offset_index(i, j, ...)][n, y, x, c] = X[n, sh y + i, sw x + j, c]

    an ``(N, Ho, Wo, C)`` view: one such slice per offset lets a kernel loop over the
    ``kh kw`` offsets instead of the ``N Ho Wo`` windows.
    """
    rows = slice(i, i + stride[0] * (out[0] - 1) + 1, stride[0])
    cols = slice(j, j + stride[1] * (out[1] - 1) + 1, stride[1])
    return (slice(None), rows, cols, slice(None))


def im2col(Xp: Array, kernel: Pair, stride: Pair, out: Pair) -> Array:
    """The patch matrix of im2col, a fresh ``(N Ho Wo, kh kw C)`` array::

        P[(n, y, x), (i, j, c)] = Xp[n, sh y + i, sw x + j, c]

    one row per window, its pixels in the order of ``W.reshape(kh kw C, Cout)``'s rows.
    With ``C >= 3`` a window row is long enough to copy fast from the strided view of the
    windows; with 1 or 2 channels the kernel fills ``P^T`` instead, whose row ``(i, j, c)``
    is one long copy of the image shifted by ``(i, j)``, and returns its transposed view
    (a matrix product reads either layout).
    """
    N, C = Xp.shape[0], Xp.shape[3]
    rows, cols = N * out[0] * out[1], kernel[0] * kernel[1] * C
    if C > 2:
        P = np.empty((N, out[0], out[1], kernel[0], kernel[1], C), Xp.dtype)
        np.copyto(P, windows(Xp, kernel, stride, out))
        return P.reshape(rows, cols)
    PT = np.empty((kernel[0], kernel[1], C, N, out[0], out[1]), Xp.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            PT[i, j] = Xp[offset_index(i, j, stride, out)].transpose(3, 0, 1, 2)
    return PT.reshape(cols, rows).T


def patches_matmul_bias(P: Array, W_mat: Array, b: Array) -> Array:
    """The convolution as one matrix product, ``Z = P W_mat + 1 b^T``::

        Z[(n, y, x), f] = sum_{(i, j, c)} P[(n, y, x), (i, j, c)] W_mat[(i, j, c), f] + b[f]

    ``P (R, K)``, ``W_mat (K, F)``, ``b (F,)``, ``Z (R, F)``. A convolution has few
    output channels ``F`` (16, 32) and many rows, and NumPy adds ``b`` to the rows of
    ``Z`` with an inner loop of ``F`` elements; the kernel adds it in place to the fresh
    product, to ``m`` rows at once: ``Z`` seen as ``(R / m, m F)`` plus ``b`` tiled ``m``
    times (``m`` a divisor of ``R``, ``m F`` about 1024; :func:`_wide`).
    """
    Z = P @ W_mat
    return _add_per_channel_in_place(Z, b)


def patch_grads(dLdZ: Array, W: Array) -> Array:
    """The gradient of the patch matrix, ``dLdP = dLdZ W_mat^T``::

        dLdP[(n, y, x), (i, j, c)] = sum_f dLdZ[(n, y, x), f] W[i, j, c, f]

    with ``dLdZ (N Ho Wo, Cout)`` and ``W (kh, kw, Cin, Cout)``; returned as an
    ``(N Ho Wo, kh, kw, Cin)`` view (the columns ``(i, j, c)`` on three axes). It is
    computed one kernel offset at a time, ``dLdZ W[i, j]^T``, into an array that stores
    each offset's ``(N Ho Wo, Cin)`` block whole, so that :func:`col2im` adds whole
    blocks instead of gathering ``Cin`` columns out of every row.
    """
    kh, kw, c_in, c_out = W.shape
    blocks = np.matmul(dLdZ, W.reshape(kh * kw, c_in, c_out).transpose(0, 2, 1))
    return blocks.reshape(kh, kw, -1, c_in).transpose(2, 0, 1, 3)


def col2im(dLdP: Array, shape: tuple[int, ...], kernel: Pair, stride: Pair) -> Array:
    """Add every window's entries back onto the pixels they came from (the adjoint of im2col)::

        G[n, a, b, c] = sum over (y, x, i, j) with sh y + i = a, sw x + j = b
                        of dLdP[(n, y, x), (i, j, c)]

    ``dLdP`` is ``(N Ho Wo, kh kw C)`` or ``(N, Ho, Wo, kh, kw, C)``, any memory layout
    (a broadcast view too); ``G`` has ``shape`` ``(N, H, W, C)`` and the dtype of ``dLdP``.
    Loops over the ``kh kw`` offsets, each adding an ``(N, Ho, Wo, C)`` block at once;
    when no two windows overlap each pixel is written once (assigned, not added).
    """
    N, H, W, C = shape
    out = ((H - kernel[0]) // stride[0] + 1, (W - kernel[1]) // stride[1] + 1)
    D = dLdP.reshape(N, out[0], out[1], kernel[0], kernel[1], C)
    disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]
    covered = stride == kernel and (out[0] * stride[0], out[1] * stride[1]) == (H, W)
    G = np.empty(shape, dLdP.dtype) if covered else np.zeros(shape, dLdP.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            index = offset_index(i, j, stride, out)
            if disjoint:
                G[index] = D[:, :, :, i, j, :]
            else:
                G[index] += D[:, :, :, i, j, :]
    return G


def window_max(X: Array, kernel: Pair, stride: Pair) -> Array:
    """``Y[n, y, x, c] = max_{i, j} X[n, sh y + i, sw x + j, c]``, shape ``(N, Ho, Wo, C)``.

    A running maximum over the ``kh kw`` offsets, into one output array. A NaN in a
    window makes its maximum NaN, as in PyTorch.
    """
    return _window_reduce(np.maximum, X, kernel, stride)


def first_max_mask(X: Array, Y: Array, kernel: Pair, stride: Pair) -> Array:
    """Which offset won each window: a boolean ``(kh, kw, N, Ho, Wo, C)`` array::

        won[i, j, n, y, x, c] = (X[n, sh y + i, sw x + j, c] == Y[n, y, x, c])
                                and no earlier offset (row by row) of the window won

    with ``Y`` the windows' maxima. Exactly one offset wins a window (the first maximum, as
    in PyTorch), none when the window holds a NaN.
    """
    out = Y.shape[1:3]
    offsets = [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]
    won = np.empty((kernel[0], kernel[1], *Y.shape), bool)
    taken: Array | None = None  # the windows won at an earlier offset
    for o, (i, j) in enumerate(offsets):
        hit = won[i, j]
        np.equal(X[offset_index(i, j, stride, out)], Y, out=hit)
        if taken is not None:
            np.greater(hit, taken, out=hit)  # equal and not taken yet (True > False)
        if o + 1 < len(offsets):
            taken = hit.copy() if taken is None else np.logical_or(taken, hit, out=taken)
    return won


def scatter_to_winners(dLdY: Array, won: Array, shape: tuple[int, ...], stride: Pair) -> Array:
    """Send each window's gradient to the input that won it::

        G[n, sh y + i, sw x + j, c] += won[i, j, n, y, x, c] dLdY[n, y, x, c]

    summed over the windows, an array of ``shape`` ``(N, H, W, C)``; ``won`` as made by
    :func:`first_max_mask`. This is ``col2im`` of ``won dLdY``, without forming the product.
    """
    kh, kw = won.shape[:2]
    out = dLdY.shape[1:3]
    disjoint = stride[0] >= kh and stride[1] >= kw
    covered = stride == (kh, kw) and (out[0] * kh, out[1] * kw) == tuple(shape[1:3])
    G = np.empty(shape, dLdY.dtype) if covered else np.zeros(shape, dLdY.dtype)
    for i in range(kh):
        for j in range(kw):
            index = offset_index(i, j, stride, out)
            if disjoint:
                np.multiply(dLdY, won[i, j], out=G[index])
            else:
                G[index] += dLdY * won[i, j]
    return G


def window_sum(X: Array, kernel: Pair, stride: Pair) -> Array:
    """``S[n, y, x, c] = sum_{i, j} X[n, sh y + i, sw x + j, c]``, shape ``(N, Ho, Wo, C)``.

    A running sum over the ``kh kw`` offsets, into one output array of ``X``'s dtype.
    """
    return _window_reduce(np.add, X, kernel, stride)


def _window_reduce(op: np.ufunc, X: Array, kernel: Pair, stride: Pair) -> Array:
    """``op`` folded over the ``kh kw`` offsets of every window, offset (0, 0) first,
    row by row, into one output array ``(N, Ho, Wo, C)``."""
    out = ((X.shape[1] - kernel[0]) // stride[0] + 1, (X.shape[2] - kernel[1]) // stride[1] + 1)
    R = X[offset_index(0, 0, stride, out)].copy()
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            if i or j:
                op(R, X[offset_index(i, j, stride, out)], out=R)
    return R
