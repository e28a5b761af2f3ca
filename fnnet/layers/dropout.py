"""Dropout: randomly zero units in train mode, with inverted scaling."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnnet.layers.base import Array, Layer, Params, Pullback, Shape, State, as_input, read_only_view
from fnnet.random import Key, bernoulli

__all__ = ["Dropout"]


def Dropout(p: float) -> Layer:
    """Inverted dropout; ``p`` is the probability of *dropping* a unit (``0 <= p < 1``).

    Train mode, with a mask ``D`` of independent draws (``D_ij = 0`` with probability
    ``p``, else ``1``) made from ``key`` alone::

        Y = X * D / (1 - p)          forward, any input shape
        dLdX = dLdY * D / (1 - p)    backward, with the same mask

    Scaling the kept units by ``1 / (1 - p)`` keeps ``E[Y] = X``, so eval mode is the
    identity. The mask depends only on ``key`` and the input shape: ``apply(train=True)``
    and ``vjp`` with the same key drop the same units. Train mode without a key is a
    ``ValueError``. No params, no state. Eval mode returns a read-only view of ``X``.
    """
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"Dropout: p must be a float, got {p!r}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"Dropout: p (the drop probability) must be in [0, 1), got {p}")
    p = float(p)

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params, State]:
        return tuple(input_shape), {}, {}

    def keep_mask(X: Array, key: Key | None) -> Array:
        """``D`` (bool, ``X``'s shape): ``D_ij = 0`` with probability ``p``, else 1."""
        if key is None:
            raise ValueError(
                "Dropout: train mode needs a random key, e.g. apply(..., key=k, train=True)"
            )
        return ~bernoulli(key, p, X.shape)

    def vjp(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = True
    ) -> tuple[Array, State, Pullback]:
        X = as_input("Dropout", x)
        if not train:

            def identity_pullback(dLdY: Array) -> tuple[Params, Array]:
                # eval mode: Y = X, so dL/dX = dL/dY
                return {}, read_only_view(np.asarray(dLdY))

            # eval mode: Y = X
            return read_only_view(X), state, identity_pullback
        D = keep_mask(X, key)
        # Y = X * D / (1 - p)
        Y = X * D / (1 - p)

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            # dL/dX = dL/dY * D / (1 - p)
            dLdX = dLdY * D / (1 - p)
            return {}, dLdX

        return Y, state, pullback

    def apply(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = False
    ) -> tuple[Array, State]:
        X = as_input("Dropout", x)
        if not train:
            # eval mode: Y = X
            return read_only_view(X), state
        D = keep_mask(X, key)
        # Y = X * D / (1 - p)
        return X * D / (1 - p), state

    return Layer(init, apply, vjp, name="Dropout")
