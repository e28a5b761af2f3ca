"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from fnnet import kernels, tree
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

__all__ = ["sgd"]


def sgd(
    lr: LearningRate,
    momentum: float = 0.0,
    *,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    mask: Mask = None,
) -> Optimizer:
    """SGD, as the course's equations (62)-(67) and PyTorch's ``torch.optim.SGD`` (no dampening).

    Per parameter ``W`` with gradient ``g``::

        g_L2 = g + wd W             (coupled weight decay, where mask is True)
        W := W - lr g_L2            (momentum == 0)                      (62)
        v := mu v + g_L2            (momentum mu > 0; v starts at 0)     (64)
        W := W - lr v               (nesterov: W - lr (g_L2 + mu v))     (66)

    ``lr`` is a float > 0 or a schedule ``step -> lr`` (step = updates already made);
    ``momentum`` in [0, 1), ``weight_decay`` >= 0 (see ``fnnet.optim.hyperparameters``).
    ``mask`` (a tree of bools like the params, or a function of the params such as
    ``fnnet.optim.decay_mask``) limits weight decay to the leaves where it is True.

    State: ``{"count": int[, "velocity": tree like params]}``.
    """
    schedule = as_schedule("sgd", lr)
    mu = check_hyperparameter("sgd", "momentum", momentum)
    wd = check_hyperparameter("sgd", "weight_decay", weight_decay)
    if nesterov and mu == 0:
        raise ValueError("sgd: nesterov momentum needs momentum > 0")
    keys = frozenset({"count", "velocity"} if mu > 0 else {"count"})

    def init(params: PyTree) -> PyTree:
        if mu == 0:
            return {"count": scalar(0, np.int64)}
        return {"count": scalar(0, np.int64), "velocity": tree.freeze(tree.zeros_like(params))}

    def update(params: PyTree, grads: PyTree, opt_state: PyTree) -> tuple[PyTree, PyTree]:
        count = read_count("sgd", opt_state, keys)
        lr = learning_rate("sgd", schedule, count)
        decay = decay_rates("sgd", wd, mask, params) if wd > 0 else None

        def plain_step(W: Array, g: Array, wd: float = 0.0) -> tuple[Array]:
            # g_L2 = g + wd W              (coupled weight decay; g where wd = 0)
            g_L2 = add_decayed_weights(g, W, wd)
            # W := W - lr g                  (62)
            W_new = kernels.scaled_add(-lr, g_L2, W)
            return (W_new,)

        def momentum_step(W: Array, g: Array, v: Array, wd: float = 0.0) -> tuple[Array, Array]:
            # g_L2 = g + wd W
            g_L2 = add_decayed_weights(g, W, wd)
            # v := mu v + g                  (64)
            v_new = kernels.scaled_add(mu, v, g_L2)
            # W := W - lr v                  (66)
            W_new = kernels.scaled_add(-lr, v_new, W)
            return W_new, v_new

        def nesterov_step(W: Array, g: Array, v: Array, wd: float = 0.0) -> tuple[Array, Array]:
            # g_L2 = g + wd W
            g_L2 = add_decayed_weights(g, W, wd)
            # v := mu v + g
            v_new = mu * v + g_L2
            # W := W - lr (g + mu v)         (a step from where momentum is about to go)
            W_new = W - lr * (g_L2 + mu * v_new)
            return W_new, v_new

        count_next = scalar(count + 1, np.int64)
        if mu == 0:
            (new_params,) = map_update("sgd", plain_step, params, grads, decay=decay)
            return new_params, {"count": count_next}
        step = nesterov_step if nesterov else momentum_step
        new_params, velocity = map_update(
            "sgd", step, params, grads, (opt_state["velocity"],), decay
        )
        return new_params, {"count": count_next, "velocity": velocity}

    return Optimizer(init, update)
