"""The 2-D convolution layer (cross-correlation, NHWC), as one matrix product."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from fnnet import initializers
from fnnet.initializers import Initializer
from fnnet.layers.base import (
    Array,
    Layer,
    Params,
    Pullback,
    Shape,
    stateless,
)
from fnnet.layers.spatial import (
    PaddingSpec,
    Pads,
    check_image,
    check_padding,
    offset_slices,
    output_size,
    pair,
    resolve_padding,
    windows,
)
from fnnet.random import Key, split
from fnnet.tree import freeze

__all__ = ["Conv2d"]


def Conv2d(
    in_channels: int | None,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: PaddingSpec = 0,
    *,
    w_init: Initializer | None = None,
    b_init: Initializer = initializers.zeros,
    dtype: DTypeLike = np.float32,
) -> Layer:
    """2-D convolution (cross-correlation, as in ML practice) over NHWC images.

    Shapes: ``X (N, H, W, Cin)``, ``W (kh, kw, Cin, Cout)``, ``b (Cout,)``,
    ``Z (N, Ho, Wo, Cout)`` with ``Ho = floor((H + 2 p - kh) / s) + 1`` (PyTorch's rule)::

        Z[n, y, x, f] = sum_{i, j, c} Xp[n, s y + i, s x + j, c] W[i, j, c, f] + b[f]

    where ``Xp`` is ``X`` zero-padded. im2col turns this into one matrix product:
    the patches ``P[(n, y, x), (i, j, c)] = Xp[n, s y + i, s x + j, c]``, an
    ``(N Ho Wo, kh kw Cin)`` matrix, give ``Z = P W_mat + 1 b^T`` with ``W_mat`` the
    ``(kh kw Cin, Cout)`` reshape of ``W``. The code appends the column of ones to
    the patches, ``P1 = [P 1]``, so that one product also adds the bias:
    ``Z = P1 [W_mat; b^T]``. Backward, given ``dLdZ`` as ``(N Ho Wo, Cout)``::

        [dLdW_mat; dLdb^T] = P1^T dLdZ                       (kh kw Cin + 1, Cout)
        dLdP = dLdZ W_mat^T                                  (N Ho Wo, kh kw Cin)
        dLdXp[n, s y + i, s x + j, c] += dLdP[(n, y, x), (i, j, c)]     (col2im)

    (the last row of ``P1^T dLdZ`` is ``dLdb = dLdZ^T 1``) and ``dLdX`` is ``dLdXp``
    without its padding. Element-wise these are the course's
    ``dL/dW[i, j, c, f] = sum_{n, y, x} dL/dZ[n, y, x, f] Xp[n, s y + i, s x + j, c]`` and
    ``dL/dXp[n, a, b, c] = sum_{y, x, f} dL/dZ[n, y, x, f] W[a - s y, b - s x, c, f]``
    (over the ``y, x`` whose window covers ``(a, b)``). The code takes ``dLdP`` one
    kernel offset at a time, ``dLdZ W[i, j]^T`` (``(N Ho Wo, Cout) (Cout, Cin)``), and
    adds each block into ``dLdXp`` straight away: whole blocks add faster than the
    strided columns of one big ``dLdP``. No loop runs over samples or pixels.

    ``kernel_size``, ``stride`` and ``padding`` take an int or a pair ``(rows, cols)``;
    ``padding`` also takes ``"valid"`` (none) or ``"same"``: ``ceil(H / s)`` outputs,
    ``H`` for stride 1. ``"same"`` pads ``total = max((ceil(H / s) - 1) s + k - H, 0)``
    with ``total // 2`` before and the rest after, so an even kernel pads one more row
    and column at the bottom and right, as TensorFlow and PyTorch do (PyTorch allows
    ``"same"`` only with stride 1; for larger strides this is TensorFlow's rule).
    ``in_channels=None`` takes ``Cin`` from the input shape at ``init``. ``W`` defaults
    to He-uniform (fan-in ``kh kw Cin``), ``b`` to zeros.
    """
    name = "Conv2d"
    if in_channels is not None and in_channels <= 0:
        raise ValueError(f"{name}: in_channels must be positive or None, got {in_channels}")
    if out_channels <= 0:
        raise ValueError(f"{name}: out_channels must be positive, got {out_channels}")
    kernel = pair(name, "kernel_size", kernel_size, 1)
    strides = pair(name, "stride", stride, 1)
    pad_spec = check_padding(name, padding)
    w_init = w_init if w_init is not None else initializers.he_uniform()

    def geometry(shape: tuple[int, ...], c_in: int | None) -> tuple[Pads, tuple[int, int]]:
        """Check an input shape; return its padding and the output size ``(Ho, Wo)``."""
        check_image(name, shape, c_in)
        pads = resolve_padding(pad_spec, (shape[1], shape[2]), kernel, strides)
        return pads, output_size(name, shape, kernel, strides, pads)

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        _, (Ho, Wo) = geometry(input_shape, in_channels)
        c_in = input_shape[3]
        k_w, k_b = split(key)
        params = {
            "W": w_init(k_w, (*kernel, c_in, out_channels), dtype),
            "b": b_init(k_b, (out_channels,), dtype),
        }
        return (input_shape[0], Ho, Wo, out_channels), freeze(params)

    def patches(params: Params, X: Any) -> tuple[Array, Array, Pads, tuple[int, int]]:
        """Check ``X``; return it (as an array) and ``P1 = [P 1]``, its im2col matrix
        with a last column of ones (the bias's input)."""
        X = np.asarray(X)
        if X.dtype.kind != "f":
            X = X.astype(params["W"].dtype)
        pads, out = geometry(X.shape, params["W"].shape[2])
        Xp = np.pad(X, ((0, 0), *pads, (0, 0))) if pads != ((0, 0), (0, 0)) else X
        N, c_in = X.shape[0], X.shape[3]
        K = kernel[0] * kernel[1] * c_in
        if c_in > 2:
            # P[(n, y, x), (i, j, c)] = Xp[n, s y + i, s x + j, c]: one copy of a strided view
            P1 = np.empty((N * out[0] * out[1], K + 1), Xp.dtype)
            P = P1[:, :K].view()
            P.shape = (N, *out, *kernel, c_in)  # a view still (setting .shape never copies)
            np.copyto(P, windows(Xp, kernel, strides, out))
            P1[:, K] = 1
        else:  # with 1 or 2 channels a window row is too short to copy fast: build P1^T,
            # whose row (i, j, c) is the image shifted by (i, j), one long copy per offset
            P1T = np.empty((K + 1, N * out[0] * out[1]), Xp.dtype)
            PT = P1T[:K].reshape(*kernel, c_in, N, *out)  # contiguous rows: a view
            for i, j, index in offset_slices(kernel, strides, out):
                PT[i, j] = Xp[index].transpose(3, 0, 1, 2)
            P1T[K] = 1
            P1 = P1T.T  # a transposed view: P1 itself
        return X, P1, pads, out

    def forward(params: Params, P1: Array, N: int, out: tuple[int, int]) -> Array:
        W, b = params["W"], params["b"]
        c_out = W.shape[3]
        # Z = P W_mat + 1 b^T = [P 1] [W_mat; b^T]
        Z = P1 @ np.concatenate((W.reshape(-1, c_out), b[None, :]))
        return Z.reshape(N, *out, c_out)

    def apply(params: Params, X: Array) -> Array:
        X, P1, _, out = patches(params, X)
        return forward(params, P1, X.shape[0], out)

    def vjp(params: Params, X: Array) -> tuple[Array, Pullback]:
        X, P1, pads, out = patches(params, X)
        W, b = params["W"], params["b"]
        Z = forward(params, P1, X.shape[0], out)
        N, H, W_in, c_in = X.shape
        (top, bottom), (left, right) = pads

        def pullback(dLdZ: Array, input_grad: bool = True) -> tuple[Params, Array | None]:
            # (N, Ho, Wo, Cout) -> (N Ho Wo, Cout): one row per output pixel, as P
            dLdZ = np.asarray(dLdZ).reshape(-1, W.shape[3])
            # [dL/dW_mat; dL/db^T] = [P 1]^T dL/dZ, reusing the forward's patches
            dLdWb = P1.T @ dLdZ
            dLdW, dLdb = dLdWb[:-1].reshape(W.shape), dLdWb[-1]
            grads = {"W": dLdW.astype(W.dtype, copy=False), "b": dLdb.astype(b.dtype, copy=False)}
            if not input_grad:  # a first layer: training needs no gradient for the images
                return grads, None
            # dL/dP = dL/dZ W_mat^T, one kernel offset (i, j) at a time: its Cin columns of P
            # hold Xp[n, s y + i, s x + j, :], so they are added back there (col2im):
            # dL/dXp[n, s y + i, s x + j, :] += dL/dZ[n, y, x, :] W[i, j]^T
            dLdXp = np.zeros(
                (N, H + top + bottom, W_in + left + right, c_in), np.result_type(dLdZ, W)
            )
            for i, j, index in offset_slices(kernel, strides, out):
                dLdXp[index] += (dLdZ @ W[i, j].T).reshape(N, *out, c_in)
            # dL/dX = dL/dXp without the padding
            dLdX = dLdXp[:, top : top + H, left : left + W_in, :]
            return grads, dLdX

        return Z, pullback

    return stateless(init, apply, vjp, name=name, skips_input_grad=True)
