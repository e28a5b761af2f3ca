"""The 2-D convolution layer (cross-correlation, NHWC), as one matrix product (im2col)."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from fnnet import initializers, kernels
from fnnet.initializers import Initializer
from fnnet.layers.base import Array, Layer, Params, Pullback, Shape, as_input, stateless
from fnnet.layers.spatial import (
    PaddingSpec,
    Pads,
    check_image,
    check_padding,
    check_params,
    output_size,
    pair,
    positive_int,
    resolve_padding,
    zero_pad,
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
    ``Z (N, Ho, Wo, Cout)`` with ``Ho = floor((H + 2 p - kh) / s) + 1`` (PyTorch's rule).
    With ``Xp`` the zero-padded ``X``, the course's equation (1) with a stride::

        Z[n, y, x, f] = sum_{i, j, c} Xp[n, s y + i, s x + j, c] W[i, j, c, f] + b[f]

    im2col writes every window as a row of the patch matrix
    ``P[(n, y, x), (i, j, c)] = Xp[n, s y + i, s x + j, c]`` (``N Ho Wo`` rows,
    ``kh kw Cin`` columns) and the filters as the columns of ``W_mat (kh kw Cin, Cout)``,
    so that all the sums are one matrix product::

        Z = P W_mat + 1 b^T                                  (N Ho Wo, Cout)

    Backward, given ``dLdZ`` as an ``(N Ho Wo, Cout)`` matrix (``pullback(dLdZ,
    input_grad=False)`` skips the last three lines, as training does for a first layer)::

        dLdb = dLdZ^T 1       (sum over n, y, x)           (Cout,)
        dLdW_mat = P^T dLdZ                                  (kh kw Cin, Cout)
        dLdP = dLdZ W_mat^T                                  (N Ho Wo, kh kw Cin)
        dLdXp[n, a, b, c] = sum of dLdP[(n, y, x), (i, j, c)] over s y + i = a, s x + j = b
        dLdX = dLdXp without its padding

    The fourth line (col2im) adds each copy of a pixel in ``P`` back onto the pixel.
    Element-wise these are the course's ``dL/db[f] = sum_{n, y, x} dL/dZ[n, y, x, f]``,
    ``dL/dW[i, j, c, f] = sum_{n, y, x} dL/dZ[n, y, x, f] Xp[n, s y + i, s x + j, c]`` and
    ``dL/dXp[n, a, b, c] = sum_{y, x, f} dL/dZ[n, y, x, f] W[a - s y, b - s x, c, f]``;
    :mod:`fnnet.layers.naive` computes them by loops.

    With stride 1 the last of these is a correlation of ``dLdZ`` with the flipped
    filters, and when ``Cout <= Cin`` (and the padding is at most ``k - 1``) the pullback
    computes the last three lines as one, with ``dLdZq`` the ``dLdZ`` zero-padded by
    ``kh - 1 - top`` rows above, ``kh - 1 - bottom`` below (the same for the columns)::

        Q = im2col(dLdZq),  W_flip[(i, j, f), c] = W[kh-1-i, kw-1-j, c, f]
        dLdX = Q W_flip                                      (N H W, Cin)

    The same sums in another order: one product and one im2col of ``Cout`` channels
    instead of ``kh kw`` thin products and col2im's ``kh kw`` additions of ``Cin``
    channels. It is the faster form only while ``Cout <= Cin``: with ``Cout = 2 Cin``
    (16 to 32 channels) it took 1.4 times as long.

    ``kernel_size``, ``stride`` and ``padding`` take an int or a pair ``(rows, cols)``;
    ``padding`` also takes ``"valid"`` (none) or ``"same"``: ``ceil(H / s)`` outputs,
    ``H`` for stride 1. ``"same"`` pads ``total = max((ceil(H / s) - 1) s + k - H, 0)``
    with ``total // 2`` before and the rest after, so an even kernel pads one more row
    and column at the bottom and right, as TensorFlow and PyTorch do (PyTorch allows
    ``"same"`` only with stride 1; for larger strides this is TensorFlow's rule).
    ``in_channels=None`` takes ``Cin`` from the input shape at ``init``. ``W`` defaults
    to He-uniform (fan-in ``kh kw Cin``), ``b`` to zeros. Inputs follow
    :func:`fnnet.layers.base.as_input` (integers become float32).
    """
    name = "Conv2d"
    c_in_fixed = (
        None if in_channels is None else positive_int(name, "in_channels", in_channels, " or None")
    )
    c_out = positive_int(name, "out_channels", out_channels)
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
        _, (Ho, Wo) = geometry(input_shape, c_in_fixed)
        k_w, k_b = split(key)
        params = {
            "W": w_init(k_w, (*kernel, input_shape[3], c_out), dtype),
            "b": b_init(k_b, (c_out,), dtype),
        }
        return (input_shape[0], Ho, Wo, c_out), freeze(params)

    def forward(params: Params, X: Array) -> tuple[Array, Array, Pads]:
        """``(Z, P, pads)`` for an input ``X``, after checking both."""
        check_params(name, params, {"W": (*kernel, c_in_fixed, c_out), "b": (c_out,)})
        W, b = params["W"], params["b"]
        pads, (Ho, Wo) = geometry(X.shape, W.shape[2])
        # Xp = X zero-padded
        Xp = zero_pad(X, pads)
        # P[(n, y, x), (i, j, c)] = Xp[n, s y + i, s x + j, c]   (im2col)
        P = kernels.im2col(Xp, kernel, strides, (Ho, Wo))
        # W_mat[(i, j, c), f] = W[i, j, c, f]
        W_mat = W.reshape(-1, c_out)
        # Z = P W_mat + 1 b^T: equation (1) for every window at once
        Z = kernels.patches_matmul_bias(P, W_mat, b)
        return Z.reshape(X.shape[0], Ho, Wo, c_out), P, pads

    def apply(params: Params, X: Array) -> Array:
        Z, _, _ = forward(params, as_input(name, X))
        return Z

    def vjp(params: Params, X: Array) -> tuple[Array, Pullback]:
        X = as_input(name, X)
        Z, P, pads = forward(params, X)
        W, b = params["W"], params["b"]
        N, H, W_in, c_in = X.shape
        (top, bottom), (left, right) = pads
        Xp_shape = (N, H + top + bottom, W_in + left + right, c_in)
        Z_shape = Z.shape
        # the input gradient as a correlation (stride 1, at most Cin output channels, a
        # padding of at most k - 1): dL/dZ's zero padding for it
        kh, kw = kernel
        pads_back = ((kh - 1 - top, kh - 1 - bottom), (kw - 1 - left, kw - 1 - right))
        by_correlation = strides == (1, 1) and c_out <= c_in and min(min(pads_back)) >= 0

        def pullback(dLdZ: Array, input_grad: bool = True) -> tuple[Params, Array | None]:
            # dLdZ as an (N Ho Wo, Cout) matrix: one row per window, as in P
            dLdZ_mat = np.reshape(dLdZ, (-1, c_out))
            # dL/db = dL/dZ^T 1: the sum over n, y, x
            dLdb = kernels.batch_sum(dLdZ_mat)
            # dL/dW_mat = P^T dL/dZ
            dLdW_mat = P.T @ dLdZ_mat
            grads = {
                "W": dLdW_mat.reshape(W.shape).astype(W.dtype, copy=False),
                "b": dLdb.astype(b.dtype, copy=False),
            }
            if not input_grad:  # a first layer: training needs no gradient for the images
                return grads, None
            if by_correlation:
                # stride 1: col2im's sums (below) are a correlation of dL/dZ with the
                # flipped filters, dL/dX[n, a, b, c] =
                #   sum_{i, j, f} dL/dZq[n, a + i, b + j, f] W[kh-1-i, kw-1-j, c, f]
                # with dL/dZq = dL/dZ and kh-1-top, kh-1-bottom rows of zeros above and
                # below, kw-1-left, kw-1-right columns left and right
                dLdZq = zero_pad(np.reshape(dLdZ, Z_shape), pads_back)
                # Q[(n, a, b), (i, j, f)] = dL/dZq[n, a + i, b + j, f]   (im2col)
                Q = kernels.im2col(dLdZq, kernel, strides, (H, W_in))
                # W_flip[(i, j, f), c] = W[kh-1-i, kw-1-j, c, f]
                W_flip = W[::-1, ::-1].transpose(0, 1, 3, 2).reshape(-1, c_in)
                # dL/dX = Q W_flip
                dLdX_mat = Q @ W_flip
                return grads, dLdX_mat.reshape(N, H, W_in, c_in)
            # dL/dP = dL/dZ W_mat^T
            dLdP = kernels.patch_grads(dLdZ_mat, W)
            # dL/dXp[n, a, b, c] = sum of dL/dP[(n, y, x), (i, j, c)] over s y + i = a,
            # s x + j = b: every copy of a pixel in P adds its gradient to it (col2im)
            dLdXp = kernels.col2im(dLdP, Xp_shape, kernel, strides)
            # dL/dX = dL/dXp without the padding
            dLdX = dLdXp[:, top : top + H, left : left + W_in, :]
            return grads, dLdX

        return Z, pullback

    return stateless(init, apply, vjp, name=name, skips_input_grad=True)
