"""The 1-D convolution layer over sequences ``(N, L, C)`` (cross-correlation, channels last)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from fnnet import initializers
from fnnet.initializers import Initializer
from fnnet.layers.base import Array, Layer, Params, Pullback, Shape, as_input, fmt_shape, stateless
from fnnet.random import Key, split
from fnnet.tree import freeze

__all__ = ["Conv1d"]


def Conv1d(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    *,
    w_init: Initializer | None = None,
    b_init: Initializer = initializers.zeros,
    dtype: DTypeLike = np.float32,
) -> Layer:
    """1-D convolution (cross-correlation) of ``X (N, L, Cin)`` with ``W (k, Cin, Cout)``.

    With ``Xp`` the input zero-padded by ``p`` steps at both ends, stride ``s`` and
    ``Lo = floor((L + 2 p - k) / s) + 1`` outputs (PyTorch's ``F.conv1d``, channels last)::

        Z[n, l, f] = sum_{i, c} Xp[n, s l + i, c] W[i, c, f] + b[f]

    im2col makes it one matrix product: the windows ``P[(n, l), (i, c)] = Xp[n, s l + i, c]``,
    an ``(N Lo, k Cin)`` matrix, give ``Z = P W_mat + 1 b^T`` with ``W_mat`` the
    ``(k Cin, Cout)`` reshape of ``W``. Backward, given ``dL/dZ`` as ``(N Lo, Cout)``::

        dL/dW_mat = P^T dL/dZ                                  (k Cin, Cout)
        dL/db     = dL/dZ^T 1                                  (Cout,)
        dL/dP     = dL/dZ W_mat^T                              (N Lo, k Cin)
        dL/dXp[n, s l + i, c] += dL/dP[(n, l), (i, c)]         (col2im, one offset i at a time)

    and ``dL/dX`` is ``dL/dXp`` without its padding. ``W`` defaults to He-uniform (fan-in
    ``k Cin``), ``b`` to zeros.
    """
    name = "Conv1d"
    sizes = {"in_channels": in_channels, "out_channels": out_channels, "kernel_size": kernel_size}
    for what, v in {**sizes, "stride": stride}.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"{name}: padding must be an int >= 0, got {padding!r}")
    Cin, Cout, k, s, p = in_channels, out_channels, kernel_size, stride, padding
    w_init = w_init if w_init is not None else initializers.he_uniform()

    def out_length(shape: tuple[int, ...]) -> int:
        """Check an input shape ``(N, L, Cin)``; return ``Lo``."""
        if len(shape) != 3 or shape[2] != Cin:
            raise ValueError(f"{name}: expected input (N, L, {Cin}), got {fmt_shape(shape)}")
        Lo = (shape[1] + 2 * p - k) // s + 1
        if Lo < 1:
            raise ValueError(
                f"{name}: input length {shape[1]} (padded {shape[1] + 2 * p}) is shorter "
                f"than the kernel ({k})"
            )
        return Lo

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        Lo = out_length(tuple(input_shape))
        k_w, k_b = split(key)
        params = {"W": w_init(k_w, (k, Cin, Cout), dtype), "b": b_init(k_b, (Cout,), dtype)}
        return (input_shape[0], Lo, Cout), freeze(params)

    def windows(params: Params, x: Any) -> tuple[Array, Array, int]:
        """``X`` as a float array and its im2col matrix ``P (N Lo, k Cin)``; and ``Lo``."""
        for key_, shape in (("W", (k, Cin, Cout)), ("b", (Cout,))):
            if np.shape(params[key_]) != shape:
                got = fmt_shape(np.shape(params[key_]))
                raise ValueError(f"{name}: params[{key_!r}] expected {fmt_shape(shape)}, got {got}")
        X = as_input(name, x)
        Lo = out_length(X.shape)
        Xp = np.pad(X, ((0, 0), (p, p), (0, 0)))
        # P[(n, l), (i, c)] = Xp[n, s l + i, c]: the k shifted copies side by side
        P = np.stack([Xp[:, i : i + s * (Lo - 1) + 1 : s] for i in range(k)], axis=2)
        return X, P.reshape(-1, k * Cin), Lo

    def forward(params: Params, P: Array, N: int, Lo: int) -> Array:
        # Z = P W_mat + 1 b^T
        Z = P @ params["W"].reshape(k * Cin, Cout) + params["b"]
        return Z.reshape(N, Lo, Cout)

    def apply(params: Params, x: Array) -> Array:
        X, P, Lo = windows(params, x)
        return forward(params, P, X.shape[0], Lo)

    def vjp(params: Params, x: Array) -> tuple[Array, Pullback]:
        X, P, Lo = windows(params, x)
        Z = forward(params, P, X.shape[0], Lo)
        W, b = params["W"], params["b"]
        N, L, _ = X.shape

        def pullback(dLdZ: Array, input_grad: bool = True) -> tuple[Params, Array | None]:
            dLdZ = np.asarray(dLdZ).reshape(N * Lo, Cout)
            # dL/dW_mat = P^T dL/dZ
            dLdW = (P.T @ dLdZ).reshape(k, Cin, Cout)
            # dL/db = dL/dZ^T 1
            dLdb = dLdZ.sum(axis=0)
            grads = {"W": dLdW.astype(W.dtype), "b": dLdb.astype(b.dtype)}
            if not input_grad:
                return grads, None
            # dL/dP = dL/dZ W_mat^T, as (N, Lo, k, Cin)
            dLdP = (dLdZ @ W.reshape(k * Cin, Cout).T).reshape(N, Lo, k, Cin)
            # dL/dXp[n, s l + i, c] += dL/dP[n, l, i, c], for each offset i
            dLdXp = np.zeros((N, L + 2 * p, Cin), dLdP.dtype)
            for i in range(k):
                dLdXp[:, i : i + s * (Lo - 1) + 1 : s] += dLdP[:, :, i]
            # dL/dX = dL/dXp without the padding
            return grads, dLdXp[:, p : p + L]

        return Z, pullback

    return stateless(init, apply, vjp, name=name, skips_input_grad=True)
