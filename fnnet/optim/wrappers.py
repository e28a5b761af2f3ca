"""Optimizers built from optimizers: frozen parameters, parameter groups, accumulated gradients.

- :func:`masked` updates only part of the params (freezing a layer);
- :func:`multi` gives each group of parameters its own optimizer;
- :func:`accumulate` steps once every ``k`` calls, with the mean of the ``k`` gradients.

Each returns an ordinary ``Optimizer(init, update)``; the trees are split and joined with
:func:`fnnet.tree.partition` and :func:`fnnet.tree.combine`, so a part that an optimizer
does not own is ``None`` in that optimizer's params, gradients and state.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fnnet import tree
from fnnet.optim.base import Array, Optimizer, PyTree, scalar

__all__ = ["accumulate", "masked", "multi"]

Predicate = Callable[[str, Any], bool]


def masked(opt: Optimizer, mask: PyTree | Predicate) -> Optimizer:
    """``opt`` applied only where ``mask`` is true; the other leaves stay as they are.

    ``mask`` is a tree of bools like the params, or a predicate ``(path, leaf) -> bool``
    (paths as :func:`fnnet.tree.leaves_with_paths` writes them, e.g. ``"0/W"``). Frozen
    leaves come back with the same values and have no optimizer state (``None`` there in
    ``opt``'s state), as optax's ``masked``.

    >>> freeze_first = optim.masked(optim.sgd(0.1), lambda path, leaf: not path.startswith("0/"))
    """

    def init(params: PyTree) -> PyTree:
        trainable, _ = tree.partition(params, _mask_predicate(mask, params))
        return opt.init(trainable)

    def update(params: PyTree, grads: PyTree, opt_state: PyTree) -> tuple[PyTree, PyTree]:
        _check_grads("masked", params, grads)
        train = _mask_predicate(mask, params)
        trainable, frozen = tree.partition(params, train)
        trainable_grads, _ = tree.partition(grads, train)
        new_trainable, new_state = opt.update(trainable, trainable_grads, opt_state)
        return tree.combine(new_trainable, tree.map(_read_only, frozen)), new_state

    return Optimizer(init, update)


def multi(opts_by_label: Mapping[str, Optimizer], labels: PyTree | Callable[..., Any]) -> Optimizer:
    """Another optimizer for each group of parameters (as optax's ``multi_transform``).

    ``labels`` is a tree like the params whose leaves are keys of ``opts_by_label`` (strings),
    or a function ``params -> labels``. Each optimizer sees only its group (the other leaves
    ``None``); the state is ``{label: that optimizer's state}``.

    >>> opt = optim.multi({"body": optim.sgd(0.01), "head": optim.adam(1e-3)},
    ...                   lambda params: {k: tree.map(lambda _: "head" if k == "4" else "body", p)
    ...                                   for k, p in params.items()})
    """
    if not opts_by_label:
        raise ValueError("multi: expected at least one optimizer, got an empty mapping")

    def groups(params: PyTree) -> dict[str, Predicate]:
        by_path = _labels_by_path(opts_by_label, labels, params)
        return {label: functools.partial(_has_label, by_path, label) for label in opts_by_label}

    def init(params: PyTree) -> PyTree:
        return {
            label: opts_by_label[label].init(tree.partition(params, in_group)[0])
            for label, in_group in groups(params).items()
        }

    def update(params: PyTree, grads: PyTree, opt_state: PyTree) -> tuple[PyTree, PyTree]:
        _check_grads("multi", params, grads)
        if not isinstance(opt_state, dict) or opt_state.keys() != opts_by_label.keys():
            got = sorted(opt_state) if isinstance(opt_state, dict) else type(opt_state).__name__
            raise ValueError(
                f"multi.update: expected an opt_state with keys {sorted(opts_by_label)}, got {got}"
            )
        parts, new_state = [], {}
        for label, in_group in groups(params).items():
            group_params = tree.partition(params, in_group)[0]
            group_grads = tree.partition(grads, in_group)[0]
            new_group, new_state[label] = opts_by_label[label].update(
                group_params, group_grads, opt_state[label]
            )
            parts.append(new_group)
        return functools.reduce(tree.combine, parts), new_state

    return Optimizer(init, update)


def accumulate(opt: Optimizer, k: int) -> Optimizer:
    """``opt`` stepping once every ``k`` calls, with the mean of the last ``k`` gradients.

    Calls 1 .. k-1 of each cycle return the params unchanged and add the gradient to a
    sum; call k updates with::

        g_mean = (g_1 + ... + g_k) / k

    For a loss that averages over the batch (``mse``, ``cross_entropy``) and a model
    without batch statistics (no BatchNorm), ``g_mean`` over k batches of equal size is
    the gradient of their union, so the result equals one step on a k-times larger batch
    (up to rounding). State: ``{"mini_step": calls since the last update, "grad_sum": tree
    like params, "inner": opt's state}``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"accumulate: k must be an integer >= 1, got {k!r}")
    keys = {"mini_step", "grad_sum", "inner"}

    def init(params: PyTree) -> PyTree:
        grad_sum = tree.freeze(tree.zeros_like(params))
        return {"mini_step": scalar(0, np.int64), "grad_sum": grad_sum, "inner": opt.init(params)}

    def update(params: PyTree, grads: PyTree, opt_state: PyTree) -> tuple[PyTree, PyTree]:
        _check_grads("accumulate", params, grads)
        if not isinstance(opt_state, dict) or opt_state.keys() != keys:
            got = sorted(opt_state) if isinstance(opt_state, dict) else type(opt_state).__name__
            raise ValueError(
                f"accumulate.update: expected an opt_state with keys {sorted(keys)}, got {got}"
            )
        i = int(opt_state["mini_step"]) + 1  # this call's number in the cycle, 1 .. k
        # G = g_1 + ... + g_i
        grad_sum = tree.freeze(tree.map(_add, opt_state["grad_sum"], grads))
        if i < k:
            new_state = {
                "mini_step": scalar(i, np.int64),
                "grad_sum": grad_sum,
                "inner": opt_state["inner"],
            }
            return tree.map(_read_only, params), new_state
        # g_mean = G / k
        g_mean = tree.map(lambda G: G / k, grad_sum)
        new_params, inner = opt.update(params, g_mean, opt_state["inner"])
        zeros = tree.freeze(tree.zeros_like(grad_sum))
        return new_params, {"mini_step": scalar(0, np.int64), "grad_sum": zeros, "inner": inner}

    return Optimizer(init, update)


def _add(G: Array, g: Array) -> Array:
    """``G + g`` in the dtype of the running sum ``G`` (the params' dtype)."""
    return np.add(G, g).astype(G.dtype, copy=False)


def _read_only(a: Any) -> Any:
    """``a`` itself if read-only, else a read-only view of it (an input is never changed)."""
    if isinstance(a, np.ndarray) and a.flags.writeable:
        a = a.view()
        a.setflags(write=False)
    return a


def _check_grads(name: str, params: PyTree, grads: PyTree) -> None:
    if not tree.structure_equal(params, grads):
        raise ValueError(
            f"{name}.update: the grads tree does not match the params tree:\n"
            f"  params {tree.flatten(params)[1]!r}\n  grads  {tree.flatten(grads)[1]!r}"
        )


def _by_path(name: str, what: str, t: PyTree, params: PyTree) -> dict[str, Any]:
    """The leaves of ``t`` by path, one for each leaf of ``params``.

    A ``None`` in ``params`` (a leaf that an outer wrapper owns, as when ``multi`` runs
    inside ``masked``) needs no entry; every other leaf does, or the error names its path.
    """
    entries = dict(tree.leaves_with_paths(t))
    for path, _ in tree.leaves_with_paths(params):
        if path not in entries:
            raise ValueError(
                f"{name}: the {what} tree does not match the params tree: no entry for "
                f"params[{path!r}]\n  params {tree.flatten(params)[1]!r}\n"
                f"  {what:6} {tree.flatten(t)[1]!r}"
            )
    return entries


def _mask_predicate(mask: PyTree | Predicate, params: PyTree) -> Predicate:
    """``mask`` as a predicate ``(path, leaf) -> bool``."""
    if callable(mask):
        return mask
    keep = _by_path("masked", "mask", mask, params)
    for path, flag in keep.items():
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"masked: mask[{path!r}] must be a bool, got {flag!r}")
    return lambda path, leaf: bool(keep[path])


def _labels_by_path(
    opts_by_label: Mapping[str, Optimizer], labels: Any, params: PyTree
) -> dict[str, str]:
    """The label of each leaf of ``params``, by path; errors name the path."""
    label_tree = labels(params) if callable(labels) else labels
    by_path = _by_path("multi", "labels", label_tree, params)
    for path, label in by_path.items():
        if not isinstance(label, str) or label not in opts_by_label:
            raise ValueError(
                f"multi: labels[{path!r}] is {label!r}, expected one of {sorted(opts_by_label)}"
            )
    return by_path


def _has_label(by_path: dict[str, str], label: str, path: str, leaf: Any) -> bool:
    return by_path[path] == label
