"""Adam and AdamW."""

from __future__ import annotations

import math

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
    read_only,
    resolve_mask,
    scalar,
)

__all__ = ["adam", "adamw"]


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
    b1 = check_hyper(name, "b1", b1, 0.0, 1.0)
    b2 = check_hyper(name, "b2", b2, 0.0, 1.0)
    eps = check_hyper(name, "eps", eps, 0.0, float("inf"))
    wd = check_hyper(name, "weight_decay", weight_decay, 0.0, float("inf"))

    def init(params: PyTree) -> PyTree:
        return {
            "count": scalar(0, np.int64),
            "lr": scalar(schedule(0), np.float64),
            "m": tree.freeze(tree.zeros_like(params)),
            "v": tree.freeze(tree.zeros_like(params)),
        }

    def update(params: PyTree, grads: PyTree, opt_state: PyTree) -> tuple[PyTree, PyTree]:
        count = int(opt_state["count"])
        t = count + 1
        rate = float(schedule(count))
        # bias corrections 1 - b1^t and 1 - b2^t, folded into the step size
        step_size = rate / (1 - b1**t)
        inv_sqrt_c2 = 1 / math.sqrt(1 - b2**t)

        def step(
            W: Array, g: Array, m: Array, v: Array, decay: bool = False
        ) -> tuple[Array, Array, Array]:
            check_shape(W, g)
            shrink = 1.0
            if decay and decoupled:
                shrink = 1 - rate * wd
            elif decay:
                # Adam with L2: g := g + lambda W
                g = g + wd * W

            # the kernel returns fresh arrays; on blocks (see blockwise) it fills given ones
            def kernel(
                W: Array,
                g: Array,
                m: Array,
                v: Array,
                W_new: Array | None = None,
                m_new: Array | None = None,
                v_new: Array | None = None,
            ) -> tuple[Array, Array, Array]:
                # m := b1 m + (1 - b1) g
                m_new = np.multiply(m, b1, out=m_new)
                m_new += (1 - b1) * g
                # v := b2 v + (1 - b2) g^2
                v_new = np.multiply(v, b2, out=v_new)
                g2 = g * g
                g2 *= 1 - b2
                v_new += g2
                # W := W - lr m_hat / (sqrt(v_hat) + eps)
                #   with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
                denom = np.sqrt(v_new)
                denom *= inv_sqrt_c2
                denom += eps
                W_new = np.divide(m_new, denom, out=W_new)
                W_new *= -step_size
                # AdamW: W (1 - lr lambda) in place of W, the decay apart from the gradient
                W_new += W * shrink if shrink != 1 else W
                return W_new, m_new, v_new

            W_new, m_new, v_new = blockwise(kernel, (W, g, m, v), like=(m, m, v))
            return read_only(W_new.astype(W.dtype, copy=False)), read_only(m_new), read_only(v_new)

        masks = [resolve_mask(name, mask, params)] if wd > 0 else []
        new_params, new_m, new_v = map_update(
            name, step, 3, params, grads, opt_state["m"], opt_state["v"], *masks
        )
        count_next, lr_next = next_count_and_lr(schedule, count)
        new_state = {"count": count_next, "lr": lr_next, "m": new_m, "v": new_v}
        return new_params, new_state

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

        g := g + weight_decay * W                 (L2, where mask is True)
        m := b1 m + (1 - b1) g
        v := b2 v + (1 - b2) g^2
        W := W - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    State: ``{"count", "lr", "m": tree like params, "v": tree like params}``.
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

    Adam with decoupled weight decay: ``W := W (1 - lr * weight_decay)`` before the Adam
    step, where ``mask`` is True (all parameters by default; ``fnnet.optim.decay_mask``
    skips biases and norm scales). Same state as :func:`adam`.
    """
    return _adam("adamw", lr, b1, b2, eps, weight_decay, decoupled=True, mask=mask)
