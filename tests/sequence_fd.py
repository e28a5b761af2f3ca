"""Central differences for layers whose input or output is a tuple (the recurrent cells).

``fnnet.check_grads`` perturbs an array input; a cell's input is ``(x, h)`` or
``(x, (h, c))``. :func:`check_tuple_layer` checks the pullback of ``<u, f(params, xs)>``
for a random cotangent ``u`` with the structure of the output, perturbing every leaf of
the params and of the input tree in turn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnnet import tree


def _numeric(f: Any, leaves: list[Any], i: int, eps: float) -> Any:
    grad = np.zeros_like(leaves[i])
    for j in np.ndindex(leaves[i].shape):
        vals = []
        for sign in (1, -1):
            moved = [a.copy() for a in leaves]
            moved[i][j] += sign * eps
            vals.append(f(moved))
        grad[j] = (vals[0] - vals[1]) / (2 * eps)
    return grad


def check_tuple_layer(layer: Any, params: Any, xs: Any, seed: int = 0, eps: float = 1e-6) -> float:
    """Worst relative error of the pullback's params and input gradients (float64)."""
    params = tree.map(lambda a: np.asarray(a, np.float64), params)
    xs = tree.map(lambda a: np.asarray(a, np.float64), xs)
    y, _, pullback = layer.vjp(params, {}, xs)
    rng = np.random.default_rng(seed)
    u = tree.map(lambda a: rng.normal(size=np.shape(a)), y)
    dparams, dxs = pullback(u)
    p_leaves, p_def = tree.flatten(params)
    x_leaves, x_def = tree.flatten(xs)

    def objective(pl: list[Any], xl: list[Any]) -> float:
        out, _ = layer.apply(tree.unflatten(p_def, pl), {}, tree.unflatten(x_def, xl))
        return sum(float(np.vdot(a, b)) for a, b in zip(tree.leaves(u), tree.leaves(out)))

    worst = 0.0
    pairs = [(tree.leaves(dparams), p_leaves, lambda pl: objective(pl, x_leaves))]
    pairs.append((tree.leaves(dxs), x_leaves, lambda xl: objective(p_leaves, xl)))
    for analytic, leaves, f in pairs:
        assert len(analytic) == len(leaves)
        for i, a in enumerate(analytic):
            n = _numeric(f, leaves, i, eps)
            err = np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-300)
            worst = max(worst, float(err))
    return worst
