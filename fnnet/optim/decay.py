"""Weight decay, written once and shared by every optimizer.

Weight decay pulls every weight towards 0 by ``wd W`` per step. Where that pull enters
the update is the one difference between the two kinds (``u`` is the vector an optimizer
steps along, ``W := W - lr u``):

- **coupled** (L2 regularisation; ``sgd``, ``adam``): the gradient of the penalty
  ``(wd / 2) |W|^2`` joins the gradient before anything else, ``g_L2 = g + wd W``, so it
  flows through the momentum and through Adam's moment estimates (and Adam's scaling
  weakens it where gradients are large);
- **decoupled** (Loshchilov & Hutter; ``adamw``): the pull joins the optimizer's step
  after the moments, ``u_wd = u + wd W``, so ``W := W - lr u - lr wd W`` shrinks every
  weight by the same fraction ``lr wd``.

For plain SGD both are the same update. Both are :func:`add_decayed_weights` (as optax's
transform of that name), applied to ``g`` or to ``u``. ``mask`` limits the decay to some
leaves: :func:`decay_mask` decays weight matrices and kernels but not biases and norm
scales.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fnnet import tree

__all__ = ["Mask", "add_decayed_weights", "decay_mask", "decay_rates"]

Array = NDArray[Any]
PyTree = Any
Mask = PyTree | Callable[[PyTree], PyTree] | None


def add_decayed_weights(u: Array, W: Array, wd: float) -> Array:
    """``u + wd W``: weight decay added to a gradient (coupled) or to a step (decoupled).

    ``u`` itself where ``wd == 0`` (no decay on this leaf).
    """
    if wd == 0.0:
        return u
    return u + wd * W


def decay_mask(params: PyTree) -> PyTree:
    """True for weight matrices and kernels (``ndim >= 2``), False for biases and norm scales.

    The usual choice for weight decay: ``sgd(0.1, weight_decay=1e-4, mask=decay_mask)``
    decays ``W`` but not ``b``, ``gamma`` or ``beta``.
    """
    return tree.map(lambda p: np.ndim(p) >= 2, params)


def decay_rates(name: str, weight_decay: float, mask: Mask, params: PyTree) -> PyTree:
    """The decay of each leaf, a tree like ``params``: ``weight_decay`` where ``mask`` is True,
    0 elsewhere (``mask`` a tree of bools like the params, a function of the params, or None
    for every leaf)."""
    if mask is None:
        return tree.map(lambda p: weight_decay, params)
    bools = mask(params) if callable(mask) else mask
    if not tree.structure_equal(bools, params):
        raise ValueError(
            f"{name}: the mask tree does not match the params tree:\n"
            f"  params {tree.flatten(params)[1]!r}\n  mask   {tree.flatten(bools)[1]!r}"
        )
    return tree.map(lambda keep, p: weight_decay if keep else 0.0, bools, params)
