"""Activation layers: no parameters, no state.

A scalar activation ``A = f(Z)`` acts element-wise, so its Jacobian is diagonal and
its pullback is ``dLdZ = dLdA * f'(Z)``. Softmax and LogSoftmax mix a whole row; their
pullbacks use the Jacobian's structure instead of building the (C, C) matrix.
All keep the input's shape and dtype and stay finite for any finite input.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from fnnet.layers.base import (
    Array,
    Layer,
    Params,
    Pullback,
    Shape,
    stateless,
)
from fnnet.random import Key

__all__ = [
    "ELU",
    "GELU",
    "Identity",
    "LeakyReLU",
    "LogSoftmax",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
]


def _no_params(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
    return input_shape, {}


def _elementwise(
    name: str,
    forward: Callable[[Array], Array],
    backward: Callable[[Any, Any, Array], Array],
    keeps: str,
) -> Layer:
    """Lift ``A = forward(Z)`` with ``dLdZ = backward(Z, A, dLdA)`` into a layer.

    ``keeps`` says what the derivative needs: ``"Z"``, ``"A"``, ``"ZA"`` or ``""``. The
    pullback holds on to that alone (``backward`` gets ``None`` for the rest), so the
    memory of the other is free as soon as the neighbouring layers are done with it.
    """
    keep_Z, keep_A = "Z" in keeps, "A" in keeps

    def apply(params: Params, Z: Array) -> Array:
        return forward(np.asarray(Z))

    def vjp(params: Params, Z: Array) -> tuple[Array, Pullback]:
        Z = np.asarray(Z)
        A = forward(Z)
        saved_Z, saved_A = (Z if keep_Z else None), (A if keep_A else None)

        def pullback(dLdA: Array) -> tuple[Params, Array]:
            return {}, backward(saved_Z, saved_A, dLdA)

        return A, pullback

    return stateless(_no_params, apply, vjp, name=name)


def Identity() -> Layer:
    """``A = Z``; ``dLdZ = dLdA``."""
    return _elementwise("Identity", lambda Z: Z, lambda Z, A, dLdA: dLdA, keeps="")


def Sigmoid() -> Layer:
    """``A = 1 / (1 + exp(-Z))``; ``dLdZ = dLdA * A * (1 - A)``.

    Computed with ``scipy.special.expit``, stable for large negative ``Z``.
    """
    # dA/dZ = A - A^2 = A (1 - A)
    return _elementwise("Sigmoid", special.expit, lambda Z, A, dLdA: dLdA * A * (1 - A), keeps="A")


def Tanh() -> Layer:
    """``A = tanh(Z)``; ``dLdZ = dLdA * (1 - A^2)``."""
    # dA/dZ = 1 - tanh(Z)^2 = 1 - A^2
    return _elementwise("Tanh", np.tanh, lambda Z, A, dLdA: dLdA * (1 - A * A), keeps="A")


def ReLU() -> Layer:
    """``A = max(Z, 0)``; ``dLdZ = dLdA * [Z > 0]`` (the derivative at 0 is 0)."""

    def apply(params: Params, Z: Array) -> Array:
        # a float 0.0 is cheaper for NumPy to match than an int 0
        return np.maximum(np.asarray(Z), 0.0)

    def vjp(params: Params, Z: Array) -> tuple[Array, Pullback]:
        Z = np.asarray(Z)
        # dA/dZ = [Z > 0]: the pullback keeps this mask (a byte per value), not Z or A
        mask = Z > 0.0

        def pullback(dLdA: Array) -> tuple[Params, Array]:
            # dL/dZ = dL/dA * [Z > 0]
            return {}, dLdA * mask

        return apply(params, Z), pullback

    return stateless(_no_params, apply, vjp, name="ReLU")


def LeakyReLU(negative_slope: float = 0.01) -> Layer:
    """``A = Z`` for ``Z > 0``, else ``negative_slope * Z``."""
    s = float(negative_slope)
    return _elementwise(
        "LeakyReLU",
        lambda Z: np.where(Z > 0, Z, Z * s),
        # dA/dZ = 1 where Z > 0, else negative_slope
        lambda Z, A, dLdA: np.where(Z > 0, dLdA, dLdA * s),
        keeps="Z",
    )


def ELU(alpha: float = 1.0) -> Layer:
    """``A = Z`` for ``Z > 0``, else ``alpha * (exp(Z) - 1)``."""
    a = float(alpha)
    return _elementwise(
        "ELU",
        lambda Z: np.where(Z > 0, Z, a * np.expm1(np.minimum(Z, 0))),
        # dA/dZ = 1 where Z > 0, else alpha * exp(Z) = A + alpha
        lambda Z, A, dLdA: np.where(Z > 0, dLdA, dLdA * (A + a)),
        keeps="ZA",
    )


_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _gelu_backward(Z: Array, A: Array, dLdA: Array) -> Array:
    # dA/dZ = Phi(Z) + Z phi(Z), with Phi the standard normal CDF and phi its density;
    # phi vanishes beyond |Z| = 40, so clip first to keep Z^2 finite in float32
    Zc = np.clip(Z, -40, 40)
    Phi = 0.5 * (1 + special.erf(Zc * _INV_SQRT2))
    phi = np.exp(-0.5 * Zc * Zc) * _INV_SQRT_2PI
    return dLdA * (Phi + Zc * phi)


def GELU() -> Layer:
    """Exact GELU: ``A = Z * Phi(Z) = Z/2 * (1 + erf(Z / sqrt(2)))``.

    ``dLdZ = dLdA * (Phi(Z) + Z * phi(Z))`` with ``phi`` the standard normal density.
    """
    return _elementwise(
        "GELU",
        lambda Z: 0.5 * Z * (1 + special.erf(Z * _INV_SQRT2)),
        _gelu_backward,
        keeps="Z",
    )


def SiLU() -> Layer:
    """SiLU / swish: ``A = Z * sigmoid(Z)``; ``dA/dZ = s + Z s (1 - s)``, ``s = sigmoid(Z)``."""

    def backward(Z: Array, A: Array, dLdA: Array) -> Array:
        s = special.expit(Z)
        # dA/dZ = s + Z s (1 - s) = s (1 + Z (1 - s))
        return dLdA * s * (1 + Z * (1 - s))

    return _elementwise("SiLU", lambda Z: Z * special.expit(Z), backward, keeps="Z")


def Softplus() -> Layer:
    """``A = log(1 + exp(Z))`` (computed stably); ``dA/dZ = sigmoid(Z)``."""
    return _elementwise(
        "Softplus",
        lambda Z: np.logaddexp(Z, 0),
        lambda Z, A, dLdA: dLdA * special.expit(Z),
        keeps="Z",
    )


def _softmax(Z: Array, axis: int) -> Array:
    # subtracting the row maximum leaves softmax unchanged and keeps exp() <= 1
    E = np.exp(Z - Z.max(axis=axis, keepdims=True))
    E /= E.sum(axis=axis, keepdims=True)
    return E


def Softmax(axis: int = -1) -> Layer:
    """``A_i = exp(Z_i) / sum_j exp(Z_j)`` along ``axis``.

    The Jacobian of one row is ``J = diag(A) - A A^T``, so the pullback never forms it:
    ``dLdZ = dLdA J = A * (dLdA - sum(dLdA * A))`` (sum along ``axis``).
    """

    def apply(params: Params, Z: Array) -> Array:
        return _softmax(np.asarray(Z), axis)

    def vjp(params: Params, Z: Array) -> tuple[Array, Pullback]:
        A = _softmax(np.asarray(Z), axis)

        def pullback(dLdA: Array) -> tuple[Params, Array]:
            # dL/dZ = A * (dL/dA - <dL/dA, A>)
            dLdZ = A * (dLdA - (dLdA * A).sum(axis=axis, keepdims=True))
            return {}, dLdZ

        return A, pullback

    return stateless(_no_params, apply, vjp, name="Softmax")


def _log_softmax(Z: Array, axis: int) -> Array:
    shifted = Z - Z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def LogSoftmax(axis: int = -1) -> Layer:
    """``A = Z - logsumexp(Z)`` along ``axis``; ``dLdZ = dLdA - softmax(Z) * sum(dLdA)``."""

    def apply(params: Params, Z: Array) -> Array:
        return _log_softmax(np.asarray(Z), axis)

    def vjp(params: Params, Z: Array) -> tuple[Array, Pullback]:
        A = _log_softmax(np.asarray(Z), axis)

        def pullback(dLdA: Array) -> tuple[Params, Array]:
            # dL/dZ = dL/dA - softmax(Z) * sum_j dL/dA_j, with softmax(Z) = exp(A)
            dLdZ = dLdA - np.exp(A) * dLdA.sum(axis=axis, keepdims=True)
            return {}, dLdZ

        return A, pullback

    return stateless(_no_params, apply, vjp, name="LogSoftmax")
