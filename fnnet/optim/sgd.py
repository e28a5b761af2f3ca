"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from fnnet import tree
from fnnet.optim.base import (
    LearningRate,
    Mask,
    Optimizer,
    PyTree,
    as_schedule,
    check_hyper,
    flat_params_and_grads,
    next_count_and_lr,
    resolve_mask,
    scalar,
)

__all__ = ["sgd"]


def sgd(
    lr: LearningRate,
    momentum: float = 0.0,
    *,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    mask: Mask = None,
) -> Optimizer:
    """SGD, as PyTorch's ``torch.optim.SGD`` (no dampening).

    Per parameter ``W`` with gradient ``g``::

        g := g + weight_decay * W            (L2 weight decay, where mask is True)
        W := W - lr * g                      (momentum == 0)
        v := momentum * v + g                (momentum > 0; v starts at 0)
        W := W - lr * v                      (or W - lr * (g + momentum * v) with nesterov)

    ``lr`` is a float or a schedule ``step -> lr`` (step = updates already made).
    ``mask`` (a tree of bools like the params, or a function of the params such as
    ``fnnet.optim.decay_mask``) limits weight decay to the leaves where it is True.

    State: ``{"count": int, "lr": float[, "velocity": tree like params]}``.
    """
    schedule = as_schedule("sgd", lr)
    mu = check_hyper("sgd", "momentum", momentum, 0.0, 1.0 + 1e-12)
    wd = check_hyper("sgd", "weight_decay", weight_decay, 0.0, float("inf"))
    if nesterov and mu == 0:
        raise ValueError("sgd: nesterov momentum needs momentum > 0")

    def init(params: PyTree) -> PyTree:
        state = {"count": scalar(0, np.int64), "lr": scalar(schedule(0), np.float64)}
        if mu > 0:
            state["velocity"] = tree.freeze(tree.zeros_like(params))
        return state

    def update(params: PyTree, grads: PyTree, opt_state: PyTree) -> tuple[PyTree, PyTree]:
        p_leaves, g_leaves, treedef = flat_params_and_grads("sgd", params, grads)
        count = int(opt_state["count"])
        rate = float(schedule(count))
        decay = resolve_mask("sgd", mask, params, treedef) if wd else None
        v_leaves = tree.leaves(opt_state["velocity"]) if mu > 0 else None
        new_p, new_v = [], []
        for i, (W, g) in enumerate(zip(p_leaves, g_leaves)):
            if decay is not None and decay[i]:
                # g := g + lambda W
                g = g + wd * W
            if v_leaves is not None:
                # v := mu v + g
                v = v_leaves[i] * mu
                v += g
                new_v.append(v)
                # nesterov: step along g + mu v instead of v
                step = g + mu * v if nesterov else v
            else:
                step = g
            # W := W - lr * step
            W_new = step * -rate
            W_new += W
            new_p.append(W_new.astype(W.dtype, copy=False))
        count_next, lr_next = next_count_and_lr(schedule, count)
        new_state = {"count": count_next, "lr": lr_next}
        if v_leaves is not None:
            new_state["velocity"] = tree.freeze(tree.unflatten(treedef, new_v))
        return tree.freeze(tree.unflatten(treedef, new_p)), new_state

    return Optimizer(init, update)
