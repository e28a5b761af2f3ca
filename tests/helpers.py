"""Small utilities shared by the tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from fnnet import random, tree


def randomize(params: Any, seed: int = 0, dtype: Any = np.float64, scale: float = 0.5) -> Any:
    """A copy of ``params`` with every leaf replaced by N(0, scale^2) values (non-zero biases,
    no ReLU input stuck at a kink); ``dtype=None`` keeps each leaf's dtype."""
    keys = iter(random.split(random.key(seed), len(tree.leaves(params))))
    return tree.map(
        lambda p: random.normal(next(keys), np.shape(p), dtype or p.dtype, std=scale), params
    )


def assert_all_read_only(t: Any) -> None:
    for path, leaf in tree.leaves_with_paths(t):
        assert isinstance(leaf, np.ndarray), path
        assert not leaf.flags.writeable, f"{path} is writeable"


def rand(shape: tuple[int, ...], seed: int = 0, dtype: Any = np.float64) -> Any:
    """Standard-normal values of ``shape`` from ``seed`` (NumPy's generator; tests only)."""
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def input_freed_after_vjp(layer: Any, params: Any, state: Any, x: Any, **kwargs: Any) -> bool:
    """Whether ``layer.vjp``'s pullback lets go of the input and output arrays.

    Runs the vjp on a private copy of ``x``, drops the copy and the output, and checks
    (by weak reference) that the copy is gone; then runs the pullback, which must still
    work. Layers whose backward needs their input (Linear) keep it, by design.
    """
    import gc
    import weakref

    x = np.array(x, copy=True)
    ref = weakref.ref(x)
    y, _, pullback = layer.vjp(params, state, x, **kwargs)
    dy = np.ones_like(y)
    del x, y
    gc.collect()
    freed = ref() is None
    pullback(dy)
    return freed


class ContractRow(NamedTuple):
    """One row of the layer contract table (``tests/test_layer_contract.py``).

    ``make_layer()`` builds a fresh layer; ``input_shape`` is the shape (or tuple of shapes,
    for layers whose input is a tuple) given to ``init``, batch dimension included (not -1);
    ``make_input(key, dtype)`` builds an input when random normal values of that shape will
    not do (integer ids, lengths); ``dtypes`` the float dtypes the layer supports;
    ``train`` whether the checks run the vjp in train mode (Dropout, BatchNorm) or not.
    """

    name: str
    make_layer: Callable[[], Any]
    input_shape: Any
    make_input: Callable[[Any, Any], Any] | None = None
    dtypes: tuple[Any, ...] = (np.float32, np.float64)
    train: bool = True
