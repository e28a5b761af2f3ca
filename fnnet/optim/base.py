"""The optimizer protocol and what all optimizers share.

An optimizer is ``Optimizer(init, update)``, two pure functions::

    opt_state = init(params)
    new_params, new_opt_state = update(params, grads, opt_state)

``opt_state`` is a readable pytree: ``"count"`` (updates made so far), ``"lr"`` (the
learning rate the next update will use) and per-parameter trees that mirror the params
(``"velocity"``, ``"m"``, ``"v"``). All returned arrays are fresh and read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from fnnet import tree

__all__ = [
    "Mask",
    "Optimizer",
    "Schedule",
    "clip_by_global_norm",
    "clipped",
    "decay_mask",
    "global_norm",
]

Array = NDArray[Any]
PyTree = Any
Schedule = Callable[[int], float]
LearningRate = float | Schedule
Mask = PyTree | Callable[[PyTree], PyTree] | None


class Optimizer(NamedTuple):
    """``init(params) -> state``; ``update(params, grads, state) -> (new_params, new_state)``."""

    init: Callable[[PyTree], PyTree]
    update: Callable[[PyTree, PyTree, PyTree], tuple[PyTree, PyTree]]


def as_schedule(name: str, lr: LearningRate) -> Schedule:
    """Turn a float or a ``step -> lr`` callable into a schedule, validating a float."""
    if callable(lr):
        return lr
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name}: lr must be a float or a schedule step -> lr, got {lr!r}")
    if not np.isfinite(lr) or lr < 0:
        raise ValueError(f"{name}: lr must be a finite number >= 0, got {lr}")
    value = float(lr)
    return lambda step: value


def check_hyper(name: str, what: str, value: float, low: float, high: float) -> float:
    """Validate ``low <= value < high`` (``high`` excluded) and return it as a float."""
    if not (low <= value < high):
        raise ValueError(f"{name}: {what} must be in [{low}, {high}), got {value}")
    return float(value)


def scalar(value: float | int, dtype: Any) -> Array:
    """A read-only 0-d array (for ``count`` and ``lr`` in optimizer states)."""
    return read_only(np.asarray(value, dtype=dtype))


def read_only(a: Array) -> Array:
    """Mark a freshly made array read-only and return it."""
    a.setflags(write=False)  # as a.flags.writeable = False, at half the cost
    return a


BLOCK = 1 << 16  # elements: 256 KiB of float32 per array; the blocks of 5 arrays fit in L2


def blockwise(
    kernel: Callable[..., tuple[Array, ...]], inputs: tuple[Array, ...], like: tuple[Array, ...]
) -> tuple[Array, ...]:
    """``kernel(*inputs)``, computed block by block for large arrays.

    An update such as ``v := mu v + g; W := W - lr v`` takes several NumPy passes; on
    whole arrays each pass goes out to main memory, on blocks of ``BLOCK`` elements the
    later passes find the block in cache, so each array crosses the memory bus once.
    ``kernel(*inputs)`` returns fresh arrays; ``kernel(*input_blocks, *output_blocks)``
    writes into the given output blocks instead. Up to ``BLOCK`` elements (all arrays
    have one size) the kernel runs once on the whole arrays; beyond, the outputs are
    fresh arrays of the shapes and dtypes of ``like`` filled one block at a time.
    """
    size = inputs[0].size
    if size <= BLOCK:
        return kernel(*inputs)
    outputs = tuple(np.empty(a.shape, a.dtype) for a in like)
    flat = [a.reshape(-1) for a in inputs + outputs]  # views of the (contiguous) outputs
    for start in range(0, size, BLOCK):
        kernel(*[a[start : start + BLOCK] for a in flat])
    return outputs


class _ShapeMismatchError(ValueError):
    """A gradient whose shape differs from its parameter's (reported with its path)."""


def check_shape(W: Array, g: Array) -> None:
    """Inside an update: a gradient must have the shape of its parameter."""
    try:
        same = g.shape == W.shape  # arrays: one attribute each
    except AttributeError:
        same = np.shape(g) == np.shape(W)
    if not same:
        raise _ShapeMismatchError


def map_update(
    name: str,
    f: Callable[..., tuple[Array, ...]],
    n_out: int,
    params: PyTree,
    grads: PyTree,
    *state_trees: PyTree,
) -> tuple[PyTree, ...]:
    """``tree.map_n(f, n_out, params, grads, *state_trees)`` with errors that say what is wrong.

    ``f`` gets one leaf of each tree and returns ``n_out`` new arrays (new param first);
    it calls :func:`check_shape`, so a gradient whose shape differs from its parameter's
    is an error naming its path.
    """
    try:
        return tree.map_n(f, n_out, params, grads, *state_trees)
    except _ShapeMismatchError:
        for (path, p), g in zip(tree.leaves_with_paths(params), tree.leaves(grads)):
            if np.shape(g) != np.shape(p):
                raise ValueError(
                    f"{name}.update: grads[{path!r}] has shape {np.shape(g)}, "
                    f"params[{path!r}] has shape {np.shape(p)}"
                ) from None
        raise
    except ValueError as err:
        if not tree.structure_equal(params, grads):
            raise ValueError(
                f"{name}.update: the grads tree does not match the params tree:\n"
                f"  params {tree.flatten(params)[1]!r}\n  grads  {tree.flatten(grads)[1]!r}"
            ) from None
        raise ValueError(
            f"{name}.update: the optimizer state does not match the params: {err}"
        ) from None


def resolve_mask(name: str, mask: Mask, params: PyTree) -> PyTree:
    """The weight-decay mask as a tree of bools like ``params`` (all True for ``None``)."""
    if mask is None:
        return tree.map(lambda p: True, params)
    m = mask(params) if callable(mask) else mask
    if not tree.structure_equal(m, params):
        raise ValueError(
            f"{name}: the mask tree does not match the params tree:\n"
            f"  params {tree.flatten(params)[1]!r}\n  mask   {tree.flatten(m)[1]!r}"
        )
    return m


def decay_mask(params: PyTree) -> PyTree:
    """True for weight matrices and kernels (``ndim >= 2``), False for biases and norm scales.

    The usual choice for weight decay: ``sgd(0.1, weight_decay=1e-4, mask=decay_mask)``
    decays ``W`` but not ``b``, ``gamma`` or ``beta``.
    """
    return tree.map(lambda p: np.ndim(p) >= 2, params)


def global_norm(grads: PyTree) -> float:
    """``sqrt(sum of squares of every leaf)``, computed in float64."""
    total = 0.0
    for g in tree.leaves(grads):
        flat = np.asarray(g, dtype=np.float64).ravel()
        total += float(flat @ flat)
    return float(np.sqrt(total))


def clip_by_global_norm(grads: PyTree, max_norm: float) -> PyTree:
    """Scale all gradients by ``min(1, max_norm / global_norm(grads))`` (a new tree)."""
    if not max_norm > 0:
        raise ValueError(f"clip_by_global_norm: max_norm must be > 0, got {max_norm}")
    norm = global_norm(grads)
    if norm <= max_norm:
        return grads
    scale = max_norm / norm
    return tree.map(lambda g: g * scale, grads)


def clipped(optimizer: Optimizer, max_norm: float) -> Optimizer:
    """``optimizer`` applied to gradients clipped to a global norm of at most ``max_norm``."""
    if not max_norm > 0:
        raise ValueError(f"clipped: max_norm must be > 0, got {max_norm}")

    def update(params: PyTree, grads: PyTree, opt_state: PyTree) -> tuple[PyTree, PyTree]:
        return optimizer.update(params, clip_by_global_norm(grads, max_norm), opt_state)

    return Optimizer(optimizer.init, update)


def next_count_and_lr(schedule: Schedule, count: int) -> tuple[Array, Array]:
    """The state's ``count`` and ``lr`` after one more update."""
    return scalar(count + 1, np.int64), scalar(schedule(count + 1), np.float64)
