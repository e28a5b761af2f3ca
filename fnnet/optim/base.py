"""The optimizer protocol, and the one helper that lifts a per-array update to trees.

An optimizer is ``Optimizer(init, update)``, two pure functions::

    opt_state = init(params)
    new_params, new_opt_state = update(params, grads, opt_state)

``opt_state`` is a readable pytree: ``"count"`` (updates made so far; the learning rate of
the next update is ``schedule(count)``) and per-parameter trees that mirror the params
(``"velocity"``, ``"m"``, ``"v"``). It holds nothing an update does not read. All returned
arrays are fresh and read-only.

An optimizer writes its rule for one array, ``step(W, g, *state) -> (W_new, *state_new)``,
as the textbook equations; :func:`map_update` applies it to every leaf of the trees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from fnnet import tree
from fnnet.optim.hyperparameters import check_hyperparameter

__all__ = [
    "Optimizer",
    "Schedule",
    "clip_by_global_norm",
    "clipped",
    "global_norm",
]

Array = NDArray[Any]
PyTree = Any
Schedule = Callable[[int], float]
LearningRate = float | Schedule


class Optimizer(NamedTuple):
    """``init(params) -> state``; ``update(params, grads, state) -> (new_params, new_state)``."""

    init: Callable[[PyTree], PyTree]
    update: Callable[[PyTree, PyTree, PyTree], tuple[PyTree, PyTree]]


def as_schedule(name: str, lr: LearningRate) -> Schedule:
    """A schedule ``step -> lr`` from a schedule, or from a float checked against its bound."""
    if callable(lr):
        return lr
    value = check_hyperparameter(name, "lr", lr)
    return lambda step: value


def learning_rate(name: str, schedule: Schedule, count: int) -> float:
    """``schedule(count)``, checked: a learning rate must be >= 0 and finite."""
    lr = float(schedule(count))
    if not 0.0 <= lr < math.inf:
        raise ValueError(
            f"{name}: the schedule gave lr {lr} at step {count}; expected >= 0, finite"
        )
    return lr


def read_count(name: str, opt_state: PyTree, keys: frozenset[str]) -> int:
    """``opt_state["count"]``, after checking that ``opt_state`` has exactly ``keys``."""
    if not isinstance(opt_state, dict) or opt_state.keys() != keys:
        got = sorted(opt_state) if isinstance(opt_state, dict) else type(opt_state).__name__
        raise ValueError(
            f"{name}.update: expected an opt_state with keys {sorted(keys)} "
            f"(made by {name}'s init), got {got}"
        )
    return int(opt_state["count"])


def scalar(value: float | int, dtype: Any) -> Array:
    """A read-only 0-d array (the ``count`` of optimizer states)."""
    a = np.asarray(value, dtype=dtype)
    a.setflags(write=False)
    return a


def _cast_like(new: tuple[Array, ...], like: tuple[Array, ...]) -> tuple[Array, ...]:
    """Each array of ``new`` in the dtype of its counterpart in ``like``."""
    return tuple(a.astype(b.dtype, copy=False) for a, b in zip(new, like))


class _ShapeMismatchError(ValueError):
    """A gradient whose shape differs from its parameter's (reported with its path)."""


def map_update(
    name: str,
    step: Callable[..., tuple[Array, ...]],
    params: PyTree,
    grads: PyTree,
    states: tuple[PyTree, ...] = (),
    decay: PyTree | None = None,
) -> tuple[PyTree, ...]:
    """Apply a per-array update ``step`` to every leaf: ``(new_params, *new_states)``.

    ``step(W, g, *s)`` (or ``step(W, g, *s, wd)`` when a ``decay`` tree of per-leaf rates
    is given) gets one leaf of ``params``, ``grads`` and each tree of ``states``, and
    returns fresh arrays ``(W_new, *s_new)``. Around it, once for every optimizer:

    - a gradient must have its parameter's shape, and is taken in its parameter's dtype;
    - ``W_new`` and each ``s_new`` keep the dtype of ``W`` and of ``s``, and are read-only;
    - trees that do not match are a ``ValueError`` naming the path or the structures.
    """
    n_out = 1 + len(states)

    def leaf_step(W: Array, g: Array, *rest: Any) -> tuple[Array, ...]:
        try:
            same = g.shape == W.shape
        except AttributeError:
            g = np.asarray(g)
            same = g.shape == np.shape(W)
        if not same:
            raise _ShapeMismatchError
        if g.dtype != W.dtype:  # e.g. float64 gradients for float32 params
            g = g.astype(W.dtype)
        new = step(W, g, *rest)
        # one pass: each output read-only, until one needs its input's dtype back
        for a, like in zip(new, (W, *rest)):
            if a.dtype != like.dtype:  # e.g. a float64 step of a float32 parameter
                return tree.freeze(_cast_like(new, (W, *rest)))
            a.setflags(False)  # type: ignore[call-arg]  # write=False, as in tree.freeze
        return new

    trees = (params, grads, *states) + (() if decay is None else (decay,))
    try:
        return tree.map_n(leaf_step, n_out, *trees)
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
