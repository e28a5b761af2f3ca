"""Layer normalization: each sample normalised over its last axis, as PyTorch's ``LayerNorm``."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from fnnet.layers.base import Array, Layer, Params, Pullback, Shape, as_input, fmt_shape, stateless
from fnnet.random import Key
from fnnet.tree import freeze

__all__ = ["LayerNorm"]


def LayerNorm(normalized_size: int, eps: float = 1e-5, *, dtype: DTypeLike = np.float32) -> Layer:
    """Normalise ``X (..., D)`` over its last axis, then scale and shift per feature.

    For each row ``x`` of ``D`` values (every index but the last), as PyTorch's
    ``F.layer_norm(X, (D,), gamma, beta, eps)``::

        mu  = 1/D sum_j x_j                        row mean
        s2  = 1/D sum_j (x_j - mu)^2               biased row variance
        NX  = (x - mu) / sqrt(s2 + eps)            normalised row
        Y   = gamma * NX + beta                    gamma, beta: (D,)

    Backward, given ``dL/dY`` (BatchNorm's derivation with the roles of the axes swapped:
    the sums run over the features of a row instead of over the batch)::

        dL/dbeta  = sum over rows of dL/dY                                   (D,)
        dL/dgamma = sum over rows of dL/dY * NX                              (D,)
        dL/dNX    = dL/dY * gamma
        dL/ds2    = -1/2 sum_j dL/dNX_j (x_j - mu) (s2 + eps)^(-3/2)         per row
        dL/dmu    = -sum_j dL/dNX_j (s2 + eps)^(-1/2)                        per row
        dL/dx     = dL/dNX (s2 + eps)^(-1/2) + dL/ds2 2 (x - mu) / D + dL/dmu / D

    (``dL/dmu`` has no term through ``s2``: ``sum_j (x_j - mu) = 0``.) ``gamma`` starts at
    ones and ``beta`` at zeros.
    """
    name = "LayerNorm"
    if isinstance(normalized_size, bool) or not isinstance(normalized_size, (int, np.integer)):
        raise TypeError(f"{name}: normalized_size must be an int, got {normalized_size!r}")
    if normalized_size <= 0:
        raise ValueError(f"{name}: normalized_size must be positive, got {normalized_size}")
    if not eps >= 0.0:
        raise ValueError(f"{name}: eps must be >= 0, got {eps}")
    D, eps = int(normalized_size), float(eps)

    def check_shape(shape: tuple[int, ...]) -> None:
        if len(shape) < 1 or shape[-1] != D:
            raise ValueError(f"{name}: expected input (..., {D}), got {fmt_shape(shape)}")

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        check_shape(tuple(input_shape))
        params = {"gamma": np.ones(D, dtype), "beta": np.zeros(D, dtype)}
        return tuple(input_shape), freeze(params)

    def normalise(params: Params, x: Array) -> tuple[Array, Array, Array, Array]:
        for k in ("gamma", "beta"):
            if np.shape(params[k]) != (D,):
                got = fmt_shape(np.shape(params[k]))
                raise ValueError(f"{name}: params[{k!r}] expected ({D},), got {got}")
        X = as_input(name, x)
        check_shape(X.shape)
        # mu = 1/D sum_j x_j
        mu = X.mean(axis=-1, keepdims=True)
        # s2 = 1/D sum_j (x_j - mu)^2
        s2 = ((X - mu) ** 2).mean(axis=-1, keepdims=True)
        # NX = (x - mu) / sqrt(s2 + eps)
        NX = (X - mu) / np.sqrt(s2 + eps)
        # Y = gamma * NX + beta
        Y = params["gamma"] * NX + params["beta"]
        return Y, X, mu, s2

    def apply(params: Params, x: Array) -> Array:
        return normalise(params, x)[0]

    def vjp(params: Params, x: Array) -> tuple[Array, Pullback]:
        Y, X, mu, s2 = normalise(params, x)
        gamma, beta = params["gamma"], params["beta"]

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            dLdY = np.asarray(dLdY)
            NX = (X - mu) / np.sqrt(s2 + eps)
            rows = dLdY.reshape(-1, D)
            # dL/dbeta = sum over rows of dL/dY
            dLdbeta = rows.sum(axis=0)
            # dL/dgamma = sum over rows of dL/dY * NX
            dLdgamma = (rows * NX.reshape(-1, D)).sum(axis=0)
            # dL/dNX = dL/dY * gamma
            dLdNX = dLdY * gamma
            # dL/ds2 = -1/2 sum_j dL/dNX_j (x_j - mu) (s2 + eps)^(-3/2)
            dLds2 = -0.5 * (dLdNX * (X - mu)).sum(axis=-1, keepdims=True) * (s2 + eps) ** -1.5
            # dL/dmu = -sum_j dL/dNX_j (s2 + eps)^(-1/2)
            dLdmu = -dLdNX.sum(axis=-1, keepdims=True) / np.sqrt(s2 + eps)
            # dL/dx = dL/dNX (s2 + eps)^(-1/2) + dL/ds2 2 (x - mu) / D + dL/dmu / D
            dLdX = dLdNX / np.sqrt(s2 + eps) + dLds2 * 2 * (X - mu) / D + dLdmu / D
            grads = {"gamma": dLdgamma.astype(gamma.dtype), "beta": dLdbeta.astype(beta.dtype)}
            return grads, dLdX

        return Y, pullback

    return stateless(init, apply, vjp, name=name)
