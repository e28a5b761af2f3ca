"""The bounds of every optimizer hyperparameter, in one place.

The optimizers' constructors and the command line's config checks both call
:func:`check_hyperparameters`, so a value is accepted or refused, with the same words,
wherever it comes from:

============  =================  ===========================================================
name          bound              why
============  =================  ===========================================================
lr            > 0, finite        lr = 0 never moves; lr < 0 climbs the loss
momentum      in [0, 1)          mu = 1 never forgets a gradient: v grows without bound
b1, b2        in [0, 1)          b = 1 makes the bias correction 1 - b^t zero
eps           > 0, finite        eps = 0 gives 0 / 0 = NaN where a gradient is 0 from the start
weight_decay  >= 0, finite       a negative decay pushes weights away from 0
============  =================  ===========================================================

A schedule may return 0 (cosine decay ends there); its values are checked at each update
against ``>= 0, finite`` instead.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

__all__ = [
    "BOUNDS",
    "HYPERPARAMETERS",
    "Bound",
    "HyperparameterError",
    "check_hyperparameter",
    "check_hyperparameters",
]


class Bound(NamedTuple):
    """An interval ``low .. high`` of allowed values (``*_closed``: the end point is allowed)."""

    low: float
    high: float
    low_closed: bool
    high_closed: bool

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return above and below and math.isfinite(value)

    def __str__(self) -> str:
        if self.high == math.inf:
            return f"{'>=' if self.low_closed else '>'} {self.low:g}, finite"
        left, right = "[" if self.low_closed else "(", "]" if self.high_closed else ")"
        return f"in {left}{self.low:g}, {self.high:g}{right}"


BOUNDS: dict[str, Bound] = {
    "lr": Bound(0.0, math.inf, False, False),
    "momentum": Bound(0.0, 1.0, True, False),
    "b1": Bound(0.0, 1.0, True, False),
    "b2": Bound(0.0, 1.0, True, False),
    "eps": Bound(0.0, math.inf, False, False),
    "weight_decay": Bound(0.0, math.inf, True, False),
}
"""Every hyperparameter's allowed values, by name."""

HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "sgd": ("lr", "momentum", "weight_decay"),
    "adam": ("lr", "b1", "b2", "eps", "weight_decay"),
    "adamw": ("lr", "b1", "b2", "eps", "weight_decay"),
}
"""The hyperparameters each optimizer takes (a command line offers only these)."""


class HyperparameterError(ValueError):
    """A hyperparameter outside its bound: ``"sgd: momentum must be in [0, 1), got 1.0"``.

    ``optimizer``, ``name``, ``value`` and ``expected`` (the bound, as words) are kept as
    attributes, so that a command line can word the same fact as ``--momentum must be ...``.
    """

    def __init__(self, optimizer: str, name: str, value: object, expected: str) -> None:
        super().__init__(f"{optimizer}: {name} must be {expected}, got {value!r}")
        self.optimizer, self.name, self.value, self.expected = optimizer, name, value, expected


def check_hyperparameter(optimizer: str, name: str, value: object) -> float:
    """``value`` as a float if it lies in ``BOUNDS[name]``, else a :class:`HyperparameterError`.

    A value that is not a real number (a string, a bool, ``None``) is a ``TypeError``.
    """
    bound = BOUNDS[name]
    if not _is_real(value):
        raise TypeError(f"{optimizer}: {name} must be a real number {bound}, got {value!r}")
    number = float(value)  # type: ignore[arg-type]
    if number not in bound:
        raise HyperparameterError(optimizer, name, value, str(bound))
    return number


def check_hyperparameters(optimizer: str, **values: object) -> dict[str, float]:
    """Check hyperparameters of ``optimizer`` (``"sgd"``, ``"adam"``, ``"adamw"``).

    >>> check_hyperparameters("sgd", lr=0.1, momentum=0.9)
    {'lr': 0.1, 'momentum': 0.9}

    Returns the values as floats. Raises :class:`HyperparameterError` (a ``ValueError``)
    for a value outside its bound (see the module's table), ``ValueError`` for an unknown
    optimizer, and ``TypeError`` for a value that is not a real number or a name the
    optimizer does not take (``momentum`` for ``adam``).
    """
    if optimizer not in HYPERPARAMETERS:
        raise ValueError(
            f"unknown optimizer {optimizer!r}: expected one of {', '.join(HYPERPARAMETERS)}"
        )
    takes = HYPERPARAMETERS[optimizer]
    for name in values:
        if name not in takes:
            raise TypeError(f"{optimizer} has no hyperparameter {name!r}: it takes {takes}")
    return {name: check_hyperparameter(optimizer, name, v) for name, v in values.items()}


def _is_real(value: object) -> bool:
    """A real number (Python's or NumPy's int or float), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
