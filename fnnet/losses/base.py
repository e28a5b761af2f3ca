"""The loss protocol: ``Loss(apply, vjp)``, two pure functions.

```
apply(pred, target)  -> value              (a Python float)
vjp(pred, target)    -> (value, pullback)
pullback(g=1.0)      -> dpred              (same shape and dtype as pred)
```

fnnet's own losses are made by :func:`documented`: still a ``Loss`` (``isinstance``,
``loss.apply``, ``loss.vjp`` and tuple equality as ever), which also carries its own name
and docstring, so that ``help(fnnet.losses.mse)`` shows the formula of the MSE rather
than the docstring of the ``Loss`` type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["DocumentedLoss", "Loss", "LossPullback", "as_float_array", "documented"]

Array = NDArray[Any]
LossPullback = Callable[..., Array]


class Loss(NamedTuple):
    """A loss: ``apply(pred, target) -> float`` and ``vjp(pred, target) -> (float, pullback)``.

    ``pullback(g=1.0)`` returns ``g dL/dpred``, shaped like ``pred``. Build one by hand
    with ``Loss(apply, vjp)``, or with :func:`documented` to give it its own docstring.
    """

    apply: Callable[[Array, Array], float]
    vjp: Callable[[Array, Array], tuple[float, LossPullback]]


class DocumentedLoss(Loss):
    """A :class:`Loss` with its own ``__name__`` and ``__doc__`` (made by :func:`documented`)."""

    __name__: str

    def __repr__(self) -> str:
        name = self.__dict__.get("__name__")
        return f"<loss {name}>" if name else Loss.__repr__(self)


def documented(apply: Callable[..., float], vjp: Callable[..., Any], name: str, doc: str) -> Loss:
    """``Loss(apply, vjp)`` whose ``help()`` shows ``doc`` and whose repr names it ``name``."""
    loss = DocumentedLoss(apply, vjp)
    loss.__name__ = name
    loss.__doc__ = doc
    return loss


def as_float_array(name: str, what: str, x: Any) -> Array:
    """``x`` as a floating array (ints become float64), or a ``TypeError`` naming the loss."""
    a = np.asarray(x)
    if a.dtype.kind == "f":
        return a
    if a.dtype.kind in "iub":
        return a.astype(np.float64)
    raise TypeError(f"{name}: {what} must be numeric, got dtype {a.dtype}")


def check_same_shape(name: str, pred: Array, target: Array) -> None:
    """A ``ValueError`` naming the loss when ``target`` is not shaped like ``pred``."""
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: target shape {target.shape} does not match prediction shape {pred.shape}"
        )
