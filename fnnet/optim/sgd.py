"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from fnnet import tree
from fnnet.optim.base import (
    Array,
    LearningRate,
    Mask,
    Optimizer,
    PyTree,
    as_schedule,
    blockwise,
    check_hyper,
    check_shape,
    map_update,
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
        count = int(opt_state["count"])
        rate = float(schedule(count))

        # the kernels return fresh arrays; on blocks (see blockwise) they fill given ones
        def plain_kernel(W: Array, g: Array, W_new: Array | None = None) -> tuple[Array]:
            # W := W - lr g
            W_new = np.multiply(g, -rate, out=W_new)
            W_new += W
            return (W_new,)

        def momentum_kernel(
            W: Array, g: Array, v: Array, W_new: Array | None = None, v_new: Array | None = None
        ) -> tuple[Array, Array]:
            # v := mu v + g
            v_new = np.multiply(v, mu, out=v_new)
            v_new += g
            # W := W - lr v   (nesterov: W - lr (g + mu v))
            W_new = np.multiply(g + mu * v_new if nesterov else v_new, -rate, out=W_new)
            W_new += W
            return W_new, v_new

        # one parameter's step; few calls inside, as a small model's update is mostly
        # Python overhead
        def plain_step(W: Array, g: Array, decay: bool = False) -> tuple[Array]:
            check_shape(W, g)
            if decay:  # g := g + lambda W   (where the mask is True)
                g = g + wd * W
            (W_new,) = blockwise(plain_kernel, (W, g), like=(W,))
            if W_new.dtype != W.dtype:  # e.g. float64 gradients for float32 params
                W_new = W_new.astype(W.dtype)
            W_new.setflags(write=False)  # read-only, as read_only(W_new)
            return (W_new,)

        def momentum_step(W: Array, g: Array, v: Array, decay: bool = False) -> tuple[Array, Array]:
            check_shape(W, g)
            if decay:  # g := g + lambda W   (where the mask is True)
                g = g + wd * W
            W_new, v_new = blockwise(momentum_kernel, (W, g, v), like=(W, v))
            if W_new.dtype != W.dtype:  # e.g. float64 gradients with nesterov
                W_new = W_new.astype(W.dtype)
            W_new.setflags(write=False)  # read-only, as read_only(W_new)
            v_new.setflags(write=False)
            return W_new, v_new

        masks = [resolve_mask("sgd", mask, params)] if wd > 0 else []
        if mu > 0:
            new_params, new_velocity = map_update(
                "sgd", momentum_step, 2, params, grads, opt_state["velocity"], *masks
            )
        else:
            (new_params,) = map_update("sgd", plain_step, 1, params, grads, *masks)
        count_next, lr_next = next_count_and_lr(schedule, count)
        new_state = {"count": count_next, "lr": lr_next}
        if mu > 0:
            new_state["velocity"] = new_velocity
        return new_params, new_state

    return Optimizer(init, update)
