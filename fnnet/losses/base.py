"""The loss protocol: ``Loss(apply, vjp)``, two pure functions.

```
apply(pred, target)  -> value              (a Python float)
vjp(pred, target)    -> (value, pullback)
pullback(g=1.0)      -> dpred              (same shape and dtype as pred)
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["Loss", "LossPullback", "as_float_array"]

Array = NDArray[Any]
LossPullback = Callable[..., Array]


class Loss(NamedTuple):
    """A loss: ``apply(pred, target) -> float`` and ``vjp(pred, target) -> (float, pullback)``."""

    apply: Callable[[Array, Array], float]
    vjp: Callable[[Array, Array], tuple[float, LossPullback]]


def as_float_array(name: str, what: str, x: Any) -> Array:
    """``x`` as a floating array (ints become float64), or a ``TypeError`` naming the loss."""
    a = np.asarray(x)
    if a.dtype.kind == "f":
        return a
    if a.dtype.kind in "iub":
        return a.astype(np.float64)
    raise TypeError(f"{name}: {what} must be numeric, got dtype {a.dtype}")


def check_same_shape(name: str, pred: Array, target: Array) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: target shape {target.shape} does not match prediction shape {pred.shape}"
        )
