"""Adam and AdamW."""

from __future__ import annotations

import numpy as np

from fnnet import tree
from fnnet.optim.base import (
    Array,
    LearningRate,
    Optimizer,
    PyTree,
    as_schedule,
    learning_rate,
    map_update,
    read_count,
    scalar,
)
from fnnet.optim.decay import Mask, add_decayed_weights, decay_rates
from fnnet.optim.hyperparameters import check_hyperparameter

__all__ = ["adam", "adamw"]

_KEYS = frozenset({"count", "m", "v"})


def _adam(
    name: str,
    lr: LearningRate,
    b1: float,
    b2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
    mask: Mask,
) -> Optimizer:
    schedule = as_schedule(name, lr)
    b1 = check_hyperparameter(name, "b1", b1)
    b2 = check_hyperparameter(name, "b2", b2)
    eps = check_hyperparameter(name, "eps", eps)
    wd = check_hyperparameter(name, "weight_decay", weight_decay)

    def init(params: PyTree) -> PyTree:
        m = tree.freeze(tree.zeros_like(params))
        v = tree.freeze(tree.zeros_like(params))
        return {"count": scalar(0, np.int64), "m": m, "v": v}

    def update(params: PyTree, grads: PyTree, opt_state: PyTree) -> tuple[PyTree, PyTree]:
        count = read_count(name, opt_state, _KEYS)
        lr = learning_rate(name, schedule, count)
        t = count + 1  # this update's number, from 1
        decay = decay_rates(name, wd, mask, params) if wd > 0 else None

        def step(W: Array, g: Array, m: Array, v: Array, wd: float = 0.0) -> tuple[Array, ...]:
            # g_L2 = g + wd W                             (Adam: coupled decay, through m and v)
            g_L2 = add_decayed_weights(g, W, 0.0 if decoupled else wd)
            # m := b1 m + (1 - b1) g
            m_new = b1 * m + (1 - b1) * g_L2
            # v := b2 v + (1 - b2) g^2
            v_new = b2 * v + (1 - b2) * g_L2**2
            # m_hat = m / (1 - b1^t)
            m_hat = m_new / (1 - b1**t)
            # v_hat = v / (1 - b2^t)
            v_hat = v_new / (1 - b2**t)
            # u = m_hat / (sqrt(v_hat) + eps)
            u = m_hat / (np.sqrt(v_hat) + eps)
            # u_wd = u + wd W                             (AdamW: decoupled decay, beside m and v)
            u_wd = add_decayed_weights(u, W, wd if decoupled else 0.0)
            # W := W - lr u
            W_new = W - lr * u_wd
            return W_new, m_new, v_new

        new_params, m, v = map_update(
            name, step, params, grads, (opt_state["m"], opt_state["v"]), decay
        )
        return new_params, {"count": scalar(t, np.int64), "m": m, "v": v}

    return Optimizer(init, update)


def adam(
    lr: LearningRate,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    weight_decay: float = 0.0,
    mask: Mask = None,
) -> Optimizer:
    """Adam (Kingma & Ba, 2015), as PyTorch's ``torch.optim.Adam``.

    With ``t`` the update number (1 for the first)::

        g_L2 = g + wd W                       (coupled weight decay, where mask is True)
        m := b1 m + (1 - b1) g_L2
        v := b2 v + (1 - b2) g_L2^2
        m_hat = m / (1 - b1^t)
        v_hat = v / (1 - b2^t)
        W := W - lr m_hat / (sqrt(v_hat) + eps)

    ``lr`` > 0 (or a schedule), ``b1``, ``b2`` in [0, 1), ``eps`` > 0 (a zero ``eps`` would
    give 0 / 0 where a gradient stays 0), ``weight_decay`` >= 0.
    State: ``{"count", "m": tree like params, "v": tree like params}``.
    """
    return _adam("adam", lr, b1, b2, eps, weight_decay, decoupled=False, mask=mask)


def adamw(
    lr: LearningRate,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    weight_decay: float = 0.01,
    mask: Mask = None,
) -> Optimizer:
    """AdamW (Loshchilov & Hutter, 2019), as PyTorch's ``torch.optim.AdamW``.

    Adam with decoupled weight decay: the moments see ``g`` alone, and the decay joins the
    step, ``W := W - lr (m_hat / (sqrt(v_hat) + eps) + wd W)`` (PyTorch writes the same
    as ``W (1 - lr wd)`` before the Adam step), where ``mask`` is True (every parameter by
    default; ``fnnet.optim.decay_mask`` skips biases and norm scales). Bounds and state as
    :func:`adam`.
    """
    return _adam("adamw", lr, b1, b2, eps, weight_decay, decoupled=True, mask=mask)
