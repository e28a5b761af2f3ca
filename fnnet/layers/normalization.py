"""Batch normalization: ``BatchNorm1d`` for ``(N, C)`` and ``BatchNorm2d`` for NHWC inputs.

Per feature (channel) ``j``, with ``Z`` the input seen as ``(rows, C)``:

```
train:  mu_j = mean_i Z_ij                       batch mean                  (69)
        s2_j = mean_i (Z_ij - mu_j)^2            biased batch variance       (70)
        NZ   = (Z - mu) / sqrt(s2 + eps)         normalised input, Z-hat     (71)
        BZ   = gamma * NZ + beta                 output, Z-tilde             (72)
        new running mean = alpha * mean + (1 - alpha) * mu                   (73)
        new running var  = alpha * var  + (1 - alpha) * s2                   (74)
eval:   NZ   = (Z - mean) / sqrt(var + eps),  BZ = gamma * NZ + beta         (75, 76)
```

Params ``{"gamma": (C,), "beta": (C,)}`` start at ones and zeros; state
``{"mean": (C,), "var": (C,)}`` starts at zeros and ones. Train mode returns the new
running statistics in ``new_state``; eval mode returns the state unchanged.

Compared with PyTorch: ``alpha = 1 - momentum`` (PyTorch's default momentum 0.1 is
``alpha = 0.9``), and PyTorch updates the running variance with the *unbiased* batch
variance ``N / (N - 1) * s2``, while fnnet (like the course equations) uses the biased
``s2``. The normalised output in train mode is the same in both. As in PyTorch, train
mode needs more than one value per feature (a variance of one value is undefined).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnnet import kernels
from fnnet.layers.base import (
    Array,
    Layer,
    Params,
    Pullback,
    Shape,
    State,
    as_input,
    check_features,
    check_params,
    check_rank,
)
from fnnet.random import Key
from fnnet.tree import freeze

__all__ = ["BatchNorm1d", "BatchNorm2d"]

# sum_i X_i: the sum over the batch axis of X (N, C), a named kernel
sum_i = kernels.batch_sum


def BatchNorm1d(num_features: int, alpha: float = 0.9, eps: float = 1e-8) -> Layer:
    """Batch normalization over the batch axis of ``Z (N, C)``, ``C = num_features``.

    ``BZ = gamma * (Z - mu) / sqrt(s2 + eps) + beta`` with the batch statistics
    ``mu, s2`` in train mode and the running ones in eval mode (see the module
    docstring for the equations and the differences from PyTorch).

    Backward in train mode, given ``dLdBZ (N, C)``, the course's equations (77)-(85),
    one line each in the code (``M = mu``, ``V = s2``, sums over the batch ``i``)::

        dLdbeta  = sum_i dLdBZ                                             (77)
        dLdgamma = sum_i dLdBZ * NZ                                        (78)
        dLdNZ    = dLdBZ * gamma                                           (79)
        dLdV     = -1/2 sum_i dLdNZ * (Z - M) * (V + eps)^(-3/2)           (80, 81)
        dLdM     = -sum_i dLdNZ * (V + eps)^(-1/2)
                   + dLdV * (-2/N) sum_i (Z - M)                           (82-84)
        dLdZ     = dLdNZ * (V + eps)^(-1/2) + dLdV * 2/N (Z - M) + dLdM / N   (85)

    (``dLdV`` sums ``dLdNZ``, the gradient at the normalised input; equation 81 as
    printed in the course writes ``dL/dZ-tilde`` there, which drops the factor gamma.)
    In eval mode the statistics are constants: ``dLdZ = dLdBZ * gamma / sqrt(var + eps)``.
    ``apply`` and ``vjp`` check that params hold exactly ``gamma, beta`` and state
    exactly ``mean, var``, each ``(C,)``.
    """
    return _batch_norm("BatchNorm1d", num_features, alpha, eps, rank=2, layout="(N, C)")


def BatchNorm2d(num_channels: int, alpha: float = 0.9, eps: float = 1e-8) -> Layer:
    """Batch normalization of NHWC images ``(N, H, W, C)``, ``C = num_channels``.

    Statistics are taken per channel over ``N``, ``H`` and ``W``: the input is seen as
    ``(N * H * W, C)`` rows and normalised exactly as in :func:`BatchNorm1d`; params and
    state have the same layout (``gamma``, ``beta``, ``mean``, ``var``, each ``(C,)``).
    """
    return _batch_norm("BatchNorm2d", num_channels, alpha, eps, rank=4, layout="(N, H, W, C)")


def _batch_norm(
    name: str, num_features: int, alpha: float, eps: float, rank: int, layout: str
) -> Layer:
    """The layer shared by BatchNorm1d/2d: inputs of ``rank`` dims, features on the last axis."""
    if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)):
        raise TypeError(f"{name}: num_features must be an int, got {num_features!r}")
    if num_features <= 0:
        raise ValueError(f"{name}: num_features must be positive, got {num_features}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{name}: alpha must be in [0, 1], got {alpha}")
    if not eps >= 0.0:
        raise ValueError(f"{name}: eps must be >= 0, got {eps}")
    C, alpha, eps = int(num_features), float(alpha), float(eps)
    # what init makes, for the one-line check in vjp: (len, shapes, dtype kinds)
    fits = (2, 2, (C,), (C,), (C,), (C,), "f", "f", "f", "f")

    def check(shape: Shape) -> None:
        check_rank(name, shape, rank, layout.replace("C)", f"{C})"))
        check_features(name, shape, -1, C)

    def check_trees(params: Params, state: State) -> None:
        """Raise unless params and state hold exactly what ``init`` made."""
        try:
            gamma, beta, mean, var = params["gamma"], params["beta"], state["mean"], state["var"]
            found: tuple[Any, ...] = (
                *(len(params), len(state), gamma.shape, beta.shape, mean.shape, var.shape),
                *(gamma.dtype.kind, beta.dtype.kind, mean.dtype.kind, var.dtype.kind),
            )
        except (KeyError, TypeError, AttributeError):
            found = ()
        if found != fits:
            check_params(name, params, {"gamma": (C,), "beta": (C,)}, "params")
            check_params(name, state, {"mean": (C,), "var": (C,)}, "state")

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params, State]:
        input_shape = tuple(input_shape)
        check(input_shape)
        params = {"gamma": np.ones(C, np.float32), "beta": np.zeros(C, np.float32)}
        state = {"mean": np.zeros(C, np.float32), "var": np.ones(C, np.float32)}
        return input_shape, freeze(params), freeze(state)

    def vjp(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = True
    ) -> tuple[Array, State, Pullback]:
        x = as_input(name, x)
        check(x.shape)
        check_trees(params, state)
        # (N, ..., C) -> (rows, C): one row per value of every feature
        Z = x.reshape(-1, C)
        if train:
            if Z.shape[0] < 2:
                raise ValueError(
                    f"{name}: train mode needs more than 1 value per feature to compute a "
                    f"batch variance, got input {x.shape}"
                )
            BZ, new_state, pullback = _train(Z, params, state, alpha, eps)
        else:
            BZ, pullback = _eval(Z, params, state, eps)
            new_state = state

        x_shape = x.shape  # the pullback keeps the shape, not x

        def pullback_nd(dLdBZ: Array) -> tuple[Params, Array]:
            dparams, dLdZ = pullback(np.asarray(dLdBZ).reshape(-1, C))
            return dparams, dLdZ.reshape(x_shape)

        return BZ.reshape(x_shape), new_state, pullback_nd

    def apply(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = False
    ) -> tuple[Array, State]:
        y, new_state, _ = vjp(params, state, x, key=key, train=train)
        return y, new_state

    return Layer(init, apply, vjp, name=name)


def _train(
    Z: Array, params: Params, state: State, alpha: float, eps: float
) -> tuple[Array, State, Pullback]:
    """Forward in train mode on ``Z (N, C)``: output, new running statistics, pullback."""
    gamma, beta = params["gamma"], params["beta"]
    N = Z.shape[0]
    # (69) M = 1/N sum_i Z_i
    M = sum_i(Z) / N
    # (70) V = 1/N sum_i (Z_i - M)^2   (biased)
    Z_M = kernels.channel_subtract(Z, M)
    V = sum_i(Z_M * Z_M) / N
    # (71) NZ = (Z - M) / sqrt(V + eps)
    NZ = kernels.channel_divide(Z_M, np.sqrt(V + eps))
    # (72) BZ = gamma * NZ + beta
    BZ = kernels.channel_affine(NZ, gamma, beta)
    # (73, 74) running statistic = alpha * running statistic + (1 - alpha) * batch statistic
    new_state = {
        "mean": (alpha * state["mean"] + (1.0 - alpha) * M).astype(state["mean"].dtype),
        "var": (alpha * state["var"] + (1.0 - alpha) * V).astype(state["var"].dtype),
    }

    def pullback(dLdBZ: Array) -> tuple[Params, Array]:
        # (77) dL/dbeta = sum_i dL/dBZ_i
        dLdbeta = sum_i(dLdBZ)
        # (78) dL/dgamma = sum_i dL/dBZ_i * NZ_i
        dLdgamma = sum_i(dLdBZ * NZ)
        # (79) dL/dNZ = dL/dBZ * gamma
        dLdNZ = kernels.channel_scale(dLdBZ, gamma)
        # (80, 81) dL/dV = -1/2 sum_i dL/dNZ_i * (Z_i - M) * (V + eps)^(-3/2)
        dLdV = -0.5 * sum_i(dLdNZ * Z_M) * (V + eps) ** -1.5
        # (82-84) dL/dM = -sum_i dL/dNZ_i * (V + eps)^(-1/2) + dL/dV * (-2/N) sum_i (Z_i - M)
        dLdM = -sum_i(dLdNZ) * (V + eps) ** -0.5 + dLdV * (-2 / N) * sum_i(Z_M)
        # (85) dL/dZ = dL/dNZ * (V + eps)^(-1/2) + dL/dV * 2/N (Z - M) + dL/dM / N
        dLdZ = kernels.batch_norm_dLdZ(dLdNZ, dLdV, dLdM, Z_M, V, eps)
        # the gradients, in the dtype of their params
        grads = {"gamma": dLdgamma.astype(gamma.dtype), "beta": dLdbeta.astype(beta.dtype)}
        return grads, dLdZ

    return BZ, freeze(new_state), pullback


def _eval(Z: Array, params: Params, state: State, eps: float) -> tuple[Array, Pullback]:
    """Forward in eval mode on ``Z (N, C)`` with the running statistics; output and pullback."""
    gamma, beta = params["gamma"], params["beta"]
    mean, var = state["mean"], state["var"]
    # (75) NZ = (Z - E[Z]) / sqrt(Var[Z] + eps)
    NZ = (Z - mean) / np.sqrt(var + eps)
    # (76) BZ = gamma * NZ + beta
    BZ = gamma * NZ + beta

    def pullback(dLdBZ: Array) -> tuple[Params, Array]:
        # (77) dL/dbeta = sum_i dL/dBZ_i
        dLdbeta = sum_i(dLdBZ)
        # (78) dL/dgamma = sum_i dL/dBZ_i * NZ_i
        dLdgamma = sum_i(dLdBZ * NZ)
        # (79) dL/dNZ = dL/dBZ * gamma
        dLdNZ = dLdBZ * gamma
        # (75) with constant statistics: dL/dZ = dL/dNZ / sqrt(Var[Z] + eps)
        dLdZ = dLdNZ / np.sqrt(var + eps)
        # the gradients, in the dtype of their params
        grads = {"gamma": dLdgamma.astype(gamma.dtype), "beta": dLdbeta.astype(beta.dtype)}
        return grads, dLdZ

    return BZ, pullback
