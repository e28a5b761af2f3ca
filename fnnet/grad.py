"""Gradients: ``value_and_grad`` for training, finite-difference checks for trust.

``value_and_grad(model, loss)`` runs the model's ``vjp`` in train mode, the loss's
``vjp`` and the pullback, and returns ``(loss_value, grads, new_state)``.

``check_grads`` compares a layer's or a loss's hand-written pullback with central
differences in float64. For a layer ``y = f(params, x)`` and a random cotangent ``u``
it checks the scalar ``<u, f(params, x)>``, whose gradient is exactly what the pullback
returns for ``dy = u``. A random ``u`` rather than ``sum(y)``: a summed output can hide
errors (the output of BatchNorm sums to a constant, whatever its input gradient).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fnnet import random, tree
from fnnet.layers.base import Layer, Pullback
from fnnet.losses.base import Loss
from fnnet.random import Key

__all__ = [
    "GradientCheckError",
    "check_grads",
    "check_layer_grads",
    "check_loss_grads",
    "param_grads",
    "value_and_grad",
]

Array = NDArray[Any]
PyTree = Any


def value_and_grad(model: Layer, loss: Loss) -> Callable[..., tuple[float, PyTree, PyTree]]:
    """A pure function ``(params, state, x, y, *, key=None) -> (loss_value, grads, new_state)``.

    Runs ``model.vjp`` in train mode, then ``loss.vjp(pred, y)``, then both pullbacks.
    ``grads`` has the structure of ``params``; ``new_state`` is the model's new state
    (e.g. BatchNorm running statistics). ``key`` is needed by models with Dropout.
    """

    def f(
        params: PyTree, state: PyTree, x: Array, y: Array, *, key: Key | None = None
    ) -> tuple[float, PyTree, PyTree]:
        pred, new_state, pullback = model.vjp(params, state, x, key=key, train=True)
        value, loss_pullback = loss.vjp(pred, y)
        # dL/dpred from the loss, then back through the model
        return value, param_grads(model, pullback, loss_pullback(1.0)), new_state

    return f


def param_grads(model: Layer, pullback: Pullback, dy: Array) -> PyTree:
    """The parameter gradients of ``pullback(dy)``, for a pullback of ``model.vjp``.

    Training needs no gradient for the model's input, so where the model allows it
    (``Layer.skips_input_grad``) its first layer skips computing it.
    """
    grads, _ = pullback(dy, input_grad=False) if model.skips_input_grad else pullback(dy)
    return grads


class GradientCheckError(AssertionError):
    """A pullback disagrees with finite differences; the message holds the full report."""


def _relative_error(analytic: Array, numeric: Array) -> float:
    """``||a - n|| / max(||a|| + ||n||, tiny)``: 0 when both are zero."""
    diff = float(np.linalg.norm((analytic - numeric).ravel()))
    scale = float(np.linalg.norm(analytic.ravel()) + np.linalg.norm(numeric.ravel()))
    return diff / scale if scale > 1e-300 else 0.0


def _numeric_grad(f: Callable[[Array], float], x: Array, eps: float) -> Array:
    """Central differences ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` for every element."""
    grad = np.zeros_like(x)
    xp = x.copy()
    flat, gflat = xp.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f(xp)
        flat[i] = old - eps
        down = f(xp)
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


Row = tuple[str, float, float]


def _failed(row: Row, tol: float, atol: float) -> bool:
    """A gradient fails when both its relative error and its largest difference are too big."""
    _, rel, absdiff = row
    return rel > tol and absdiff > atol


def _worst(rows: list[Row], tol: float, atol: float) -> float:
    """The worst relative error, ignoring gradients that are zero up to round-off (<= atol)."""
    worst = max((rel for _, rel, absdiff in rows if absdiff > atol), default=0.0)
    if any(_failed(r, tol, atol) for r in rows):
        lines = [
            "gradient check failed:",
            f"  {'gradient':<24}{'rel. error':>12}{'max |diff|':>14}",
        ]
        for row in rows:
            flag = "  <-- exceeds tol" if _failed(row, tol, atol) else ""
            lines.append(f"  {row[0]:<24}{row[1]:>12.3e}{row[2]:>14.3e}{flag}")
        lines.append(f"  tolerance: relative error {tol:.1e}, or max |diff| {atol:.1e}")
        raise GradientCheckError("\n".join(lines))
    return worst


def _to64(x: Any) -> Any:
    a = np.asarray(x)
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def check_layer_grads(
    layer: Layer,
    params: PyTree,
    state: PyTree,
    x: Array,
    *,
    key: Key | None = None,
    train: bool = True,
    eps: float = 1e-6,
    tol: float = 1e-6,
    atol: float = 1e-8,
    seed: int = 0,
) -> float:
    """Check ``layer.vjp``'s input and parameter gradients against central differences.

    Everything is cast to float64. The relative error of a gradient is
    ``||a - n|| / (||a|| + ||n||)`` (analytic ``a``, numeric ``n``). A gradient passes when
    its relative error is at most ``tol``, or when it differs from the numeric one by at
    most ``atol`` everywhere (a gradient that is zero up to round-off has a meaningless
    relative error). Returns the worst relative error over ``dx`` and every parameter
    (leaving out those within ``atol``); raises :class:`GradientCheckError` with a
    per-gradient report when one fails. ``key`` and ``train`` are passed to the layer
    (the same key in every evaluation, so Dropout keeps its mask). ``x`` and the output
    may be tuples of arrays (branches): the cotangent then has one random part per
    output, and every part of the input gradient is checked (rows ``dx/0``, ``dx/1``...).
    """
    params64 = tree.map(_to64, params)
    state64 = tree.map(_to64, state)
    # a tuple input (a layer with several inputs) is checked part by part
    x64 = tree.map(_to64, x) if isinstance(x, tuple) else _to64(x)
    y, _, pullback = layer.vjp(params64, state64, x64, key=key, train=train)
    u = _cotangent(y, seed)
    dparams, dx = pullback(u)

    def objective(p: PyTree, inp: Any) -> float:
        out, _ = layer.apply(p, state64, inp, key=key, train=train)
        # <u, y>, summed over the parts of a tuple output
        return sum(float(np.vdot(u_k, y_k)) for u_k, y_k in zip(tree.leaves(u), tree.leaves(out)))

    def row(name: str, analytic: Any, numeric: Array) -> tuple[str, float, float]:
        a = np.asarray(analytic)
        absdiff = float(np.max(np.abs(a - numeric), initial=0.0))
        return name, _relative_error(a, numeric), absdiff

    if isinstance(x64, tuple):
        x_leaves, x_def = tree.flatten(x64)
        dx_leaves, dx_def = tree.flatten(dx)
        if dx_def != x_def:
            raise GradientCheckError(f"dx structure {dx_def!r} differs from x {x_def!r}")
        x_paths = [path for path, _ in tree.leaves_with_paths(x64)]
        rows = []
        for j, (path, analytic) in enumerate(zip(x_paths, dx_leaves)):

            def f_input(a: Array, j: int = j) -> float:
                leaves = list(x_leaves)
                leaves[j] = a
                return objective(params64, tree.unflatten(x_def, leaves))

            rows.append(row(f"dx/{path}", analytic, _numeric_grad(f_input, x_leaves[j], eps)))
    else:
        rows = [row("dx", dx, _numeric_grad(lambda a: objective(params64, a), x64, eps))]
    p_leaves, p_def = tree.flatten(params64)
    paths = [path for path, _ in tree.leaves_with_paths(params64)]
    d_leaves, d_def = tree.flatten(dparams)
    if d_def != p_def:
        raise GradientCheckError(f"dparams structure {d_def!r} differs from params {p_def!r}")
    for i, (path, analytic) in enumerate(zip(paths, d_leaves)):

        def f_param(a: Array, i: int = i) -> float:
            leaves = list(p_leaves)
            leaves[i] = a
            return objective(tree.unflatten(p_def, leaves), x64)

        rows.append(row(f"params/{path}", analytic, _numeric_grad(f_param, p_leaves[i], eps)))
    return _worst(rows, tol, atol)


def _cotangent(y: Any, seed: int) -> Any:
    """A random normal cotangent of the structure of ``y`` (an array or a tuple of arrays)."""
    if not isinstance(y, tuple):
        return random.normal(random.key(seed), np.shape(y), np.float64)
    y_leaves, y_def = tree.flatten(y)
    keys = random.split(random.key(seed), len(y_leaves))
    return tree.unflatten(
        y_def, [random.normal(k, np.shape(y_k), np.float64) for k, y_k in zip(keys, y_leaves)]
    )


def check_loss_grads(
    loss: Loss,
    pred: Array,
    target: Array,
    *,
    eps: float = 1e-6,
    tol: float = 1e-6,
    atol: float = 1e-8,
) -> float:
    """Check ``loss.vjp``'s gradient with respect to ``pred`` against central differences.

    Returns the relative error; raises :class:`GradientCheckError` when it exceeds ``tol``
    and the largest difference exceeds ``atol``.
    A random cotangent is not needed: the loss is already a scalar.
    """
    pred64 = _to64(pred)
    target64 = _to64(target)
    _, pullback = loss.vjp(pred64, target64)
    analytic = np.asarray(pullback(1.0))
    numeric = _numeric_grad(lambda a: loss.apply(a, target64), pred64, eps)
    absdiff = float(np.max(np.abs(analytic - numeric), initial=0.0))
    return _worst([("dpred", _relative_error(analytic, numeric), absdiff)], tol, atol)


def check_grads(fn: Layer | Loss, *args: Any, **kwargs: Any) -> float:
    """Check a layer (``check_grads(layer, params, state, x, ...)``) or a loss
    (``check_grads(loss, pred, target, ...)``) against finite differences.

    See :func:`check_layer_grads` and :func:`check_loss_grads`.
    """
    if isinstance(fn, Layer):
        return check_layer_grads(fn, *args, **kwargs)
    if isinstance(fn, Loss):
        return check_loss_grads(fn, *args, **kwargs)
    raise TypeError(f"check_grads: expected a Layer or a Loss, got {type(fn).__name__}")
