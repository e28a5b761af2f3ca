"""Activation layers: no parameters, no state.

A scalar activation ``A = f(Z)`` acts element-wise, so its Jacobian is diagonal and
its pullback is ``dLdZ = dLdA * f'(Z)``. Each one below is written as two functions,
``forward(Z) -> A`` and ``backward(Z, A, dLdA) -> dLdZ``, lifted into a layer by
:func:`_elementwise`. Softmax and LogSoftmax mix a whole row; their pullbacks use the
Jacobian's structure instead of building the (C, C) matrix. All keep the input's shape
and dtype (integer and bool inputs become float32, see ``base.as_input``) and stay
finite for any finite input.
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
    as_input,
    read_only_view,
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

    def apply(params: Params, Z: Any) -> Array:
        return forward(as_input(name, Z))

    def vjp(params: Params, Z: Any) -> tuple[Array, Pullback]:
        Z = as_input(name, Z)
        A = forward(Z)
        saved_Z, saved_A = (Z if keep_Z else None), (A if keep_A else None)

        def pullback(dLdA: Array) -> tuple[Params, Array]:
            return {}, backward(saved_Z, saved_A, dLdA)

        return A, pullback

    return stateless(_no_params, apply, vjp, name=name)


def Identity() -> Layer:
    """``A = Z``; ``dLdZ = dLdA``.

    Both come back as read-only views of the arrays given (the output *is* the input).
    """

    def forward(Z: Array) -> Array:
        # A = Z
        return read_only_view(Z)

    def backward(Z: None, A: None, dLdA: Array) -> Array:
        # dL/dZ = dL/dA
        return read_only_view(np.asarray(dLdA))

    return _elementwise("Identity", forward, backward, keeps="")


def Sigmoid() -> Layer:
    """``A = 1 / (1 + exp(-Z))``; ``dLdZ = dLdA * A * (1 - A)``.

    Computed with ``scipy.special.expit``, stable for large negative ``Z``.
    """

    def forward(Z: Array) -> Array:
        # A = 1 / (1 + exp(-Z))
        return special.expit(Z)

    def backward(Z: None, A: Array, dLdA: Array) -> Array:
        # dA/dZ = A - A^2 = A (1 - A), so dL/dZ = dL/dA * A (1 - A)
        return dLdA * A * (1 - A)

    return _elementwise("Sigmoid", forward, backward, keeps="A")


def Tanh() -> Layer:
    """``A = tanh(Z)``; ``dLdZ = dLdA * (1 - A^2)``."""

    def forward(Z: Array) -> Array:
        # A = tanh(Z)
        return np.tanh(Z)

    def backward(Z: None, A: Array, dLdA: Array) -> Array:
        # dA/dZ = 1 - tanh(Z)^2 = 1 - A^2, so dL/dZ = dL/dA * (1 - A^2)
        return dLdA * (1 - A * A)

    return _elementwise("Tanh", forward, backward, keeps="A")


def ReLU() -> Layer:
    """``A = max(Z, 0)``; ``dLdZ = dLdA * [Z > 0]`` (the derivative at 0 is 0).

    The pullback keeps only the mask ``[Z > 0]`` (a byte per value), not ``Z`` or ``A``.
    """

    def apply(params: Params, Z: Any) -> Array:
        # A = max(Z, 0)
        return np.maximum(as_input("ReLU", Z), 0.0)

    def vjp(params: Params, Z: Any) -> tuple[Array, Pullback]:
        Z = as_input("ReLU", Z)
        # A = max(Z, 0)
        A = np.maximum(Z, 0.0)
        # dA/dZ = [Z > 0]
        dAdZ = Z > 0.0

        def pullback(dLdA: Array) -> tuple[Params, Array]:
            # dL/dZ = dL/dA * [Z > 0]
            return {}, dLdA * dAdZ

        return A, pullback

    return stateless(_no_params, apply, vjp, name="ReLU")


def LeakyReLU(negative_slope: float = 0.01) -> Layer:
    """``A = Z`` for ``Z > 0``, else ``negative_slope * Z``."""
    s = float(negative_slope)

    def forward(Z: Array) -> Array:
        # A = Z if Z > 0 else s Z
        return np.where(Z > 0, Z, Z * s)

    def backward(Z: Array, A: None, dLdA: Array) -> Array:
        # dA/dZ = 1 if Z > 0 else s
        return np.where(Z > 0, dLdA, dLdA * s)

    return _elementwise("LeakyReLU", forward, backward, keeps="Z")


def ELU(alpha: float = 1.0) -> Layer:
    """``A = Z`` for ``Z > 0``, else ``alpha * (exp(Z) - 1)``."""
    a = float(alpha)

    def forward(Z: Array) -> Array:
        # A = Z if Z > 0 else alpha (exp(Z) - 1)   (exp of min(Z, 0): no overflow)
        return np.where(Z > 0, Z, a * np.expm1(np.minimum(Z, 0)))

    def backward(Z: Array, A: Array, dLdA: Array) -> Array:
        # dA/dZ = 1 if Z > 0 else alpha exp(Z) = A + alpha
        return np.where(Z > 0, dLdA, dLdA * (A + a))

    return _elementwise("ELU", forward, backward, keeps="ZA")


_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def GELU() -> Layer:
    """Exact GELU: ``A = Z * Phi(Z) = Z/2 * (1 + erf(Z / sqrt(2)))``.

    ``dLdZ = dLdA * (Phi(Z) + Z * phi(Z))`` with ``Phi`` the standard normal CDF and
    ``phi`` its density.
    """

    def forward(Z: Array) -> Array:
        # A = Z Phi(Z),  Phi(Z) = (1 + erf(Z / sqrt(2))) / 2
        return 0.5 * Z * (1 + special.erf(Z * _INV_SQRT2))

    def backward(Z: Array, A: None, dLdA: Array) -> Array:
        # phi vanishes beyond |Z| = 40: clipping there keeps Z^2 finite in float32
        Zc = np.clip(Z, -40, 40)
        # Phi(Z) = (1 + erf(Z / sqrt(2))) / 2
        Phi = 0.5 * (1 + special.erf(Zc * _INV_SQRT2))
        # phi(Z) = exp(-Z^2 / 2) / sqrt(2 pi)
        phi = np.exp(-0.5 * Zc * Zc) * _INV_SQRT_2PI
        # dA/dZ = Phi(Z) + Z phi(Z)
        return dLdA * (Phi + Zc * phi)

    return _elementwise("GELU", forward, backward, keeps="Z")


def SiLU() -> Layer:
    """SiLU / swish: ``A = Z * sigmoid(Z)``; ``dA/dZ = s + Z s (1 - s)``, ``s = sigmoid(Z)``."""

    def forward(Z: Array) -> Array:
        # A = Z sigmoid(Z)
        return Z * special.expit(Z)

    def backward(Z: Array, A: None, dLdA: Array) -> Array:
        # s = sigmoid(Z)
        s = special.expit(Z)
        # dA/dZ = s + Z s (1 - s) = s (1 + Z (1 - s))
        return dLdA * s * (1 + Z * (1 - s))

    return _elementwise("SiLU", forward, backward, keeps="Z")


def Softplus() -> Layer:
    """``A = log(1 + exp(Z))`` (computed stably); ``dA/dZ = sigmoid(Z)``."""

    def forward(Z: Array) -> Array:
        # A = log(1 + exp(Z)) = log(exp(0) + exp(Z))
        return np.logaddexp(Z, 0)

    def backward(Z: Array, A: None, dLdA: Array) -> Array:
        # dA/dZ = exp(Z) / (1 + exp(Z)) = sigmoid(Z)
        return dLdA * special.expit(Z)

    return _elementwise("Softplus", forward, backward, keeps="Z")


def Softmax(axis: int = -1) -> Layer:
    """``A_i = exp(Z_i) / sum_j exp(Z_j)`` along ``axis``.

    The Jacobian of one row is ``J = diag(A) - A A^T``, so the pullback never forms it:
    ``dLdZ = dLdA J = A * (dLdA - sum(dLdA * A))`` (sum along ``axis``).
    """

    def forward(Z: Array) -> Array:
        # E = exp(Z - max Z): subtracting the row maximum leaves A unchanged, keeps E <= 1
        E = np.exp(Z - Z.max(axis=axis, keepdims=True))
        # A = E / sum_j E_j
        return E / E.sum(axis=axis, keepdims=True)

    def apply(params: Params, Z: Any) -> Array:
        return forward(as_input("Softmax", Z))

    def vjp(params: Params, Z: Any) -> tuple[Array, Pullback]:
        A = forward(as_input("Softmax", Z))

        def pullback(dLdA: Array) -> tuple[Params, Array]:
            # dL/dZ = dL/dA (diag(A) - A A^T) = A * (dL/dA - <dL/dA, A>)
            dLdZ = A * (dLdA - (dLdA * A).sum(axis=axis, keepdims=True))
            return {}, dLdZ

        return A, pullback

    return stateless(_no_params, apply, vjp, name="Softmax")


def LogSoftmax(axis: int = -1) -> Layer:
    """``A = Z - logsumexp(Z)`` along ``axis``; ``dLdZ = dLdA - softmax(Z) * sum(dLdA)``."""

    def forward(Z: Array) -> Array:
        # Zs = Z - max Z: the shift cancels in A and keeps exp(Zs) <= 1
        Zs = Z - Z.max(axis=axis, keepdims=True)
        # A = Zs - log sum_j exp(Zs_j)
        return Zs - np.log(np.exp(Zs).sum(axis=axis, keepdims=True))

    def apply(params: Params, Z: Any) -> Array:
        return forward(as_input("LogSoftmax", Z))

    def vjp(params: Params, Z: Any) -> tuple[Array, Pullback]:
        A = forward(as_input("LogSoftmax", Z))

        def pullback(dLdA: Array) -> tuple[Params, Array]:
            # dL/dZ = dL/dA - softmax(Z) sum_j dL/dA_j,  with softmax(Z) = exp(A)
            dLdZ = dLdA - np.exp(A) * dLdA.sum(axis=axis, keepdims=True)
            return {}, dLdZ

        return A, pullback

    return stateless(_no_params, apply, vjp, name="LogSoftmax")
