"""Learning-rate schedules: functions ``step -> lr``, usable wherever ``lr`` is expected.

``step`` counts the updates already made (0 for the first update). Every argument is
checked: ``lr`` as in ``fnnet.optim.hyperparameters`` (> 0, finite), decay factors > 0 and
finite, numbers of steps integers >= 1, so that no schedule gives a negative or NaN rate.
"""

from __future__ import annotations

import math
import numbers

from fnnet.optim.base import Schedule
from fnnet.optim.hyperparameters import check_hyperparameter

__all__ = ["constant", "cosine_decay", "exponential_decay", "step_decay", "warmup"]


def _positive(name: str, what: str, value: float) -> None:
    """A factor of the learning rate: > 0 and finite."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: {what} must be a number > 0, got {value!r}")
    if not 0 < value < math.inf:
        raise ValueError(f"{name}: {what} must be > 0, finite, got {value}")


def _steps(name: str, what: str, value: int) -> None:
    """A number of updates: an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: {what} must be an integer >= 1, got {value!r}")


def constant(lr: float) -> Schedule:
    """``lr`` at every step."""
    check_hyperparameter("constant", "lr", lr)
    return lambda step: float(lr)


def exponential_decay(
    lr: float, decay_rate: float, decay_steps: int = 1, staircase: bool = False
) -> Schedule:
    """``lr * decay_rate ** (step / decay_steps)`` (``step // decay_steps`` with ``staircase``)."""
    check_hyperparameter("exponential_decay", "lr", lr)
    _positive("exponential_decay", "decay_rate", decay_rate)
    _steps("exponential_decay", "decay_steps", decay_steps)

    def schedule(step: int) -> float:
        p = step // decay_steps if staircase else step / decay_steps
        return float(lr * decay_rate**p)

    return schedule


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """``lr * gamma ** (step // step_size)``: multiply by ``gamma`` every ``step_size`` updates."""
    check_hyperparameter("step_decay", "lr", lr)
    _steps("step_decay", "step_size", step_size)
    _positive("step_decay", "gamma", gamma)
    return lambda step: float(lr * gamma ** (step // step_size))


def cosine_decay(lr: float, decay_steps: int, alpha: float = 0.0) -> Schedule:
    """Cosine from ``lr`` down to ``alpha * lr`` over ``decay_steps``, then flat.

    ``lr * ((1 - alpha) * (1 + cos(pi * min(step, T) / T)) / 2 + alpha)``.
    """
    check_hyperparameter("cosine_decay", "lr", lr)
    _steps("cosine_decay", "decay_steps", decay_steps)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ValueError(f"cosine_decay: alpha must be in [0, 1], got {alpha!r}")

    def schedule(step: int) -> float:
        t = min(step, decay_steps) / decay_steps
        return float(lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * t)) + alpha))

    return schedule


def warmup(schedule: Schedule, warmup_steps: int) -> Schedule:
    """Linear warm-up from ``schedule(0) / warmup_steps`` to ``schedule(0)``, then ``schedule``.

    During warm-up the rate is ``schedule(0) * (step + 1) / warmup_steps``; afterwards
    ``schedule(step - warmup_steps)``.
    """
    _steps("warmup", "warmup_steps", warmup_steps)
    if not callable(schedule):
        raise TypeError(f"warmup: expected a schedule step -> lr, got {schedule!r}")

    def warmed(step: int) -> float:
        if step < warmup_steps:
            return float(schedule(0) * (step + 1) / warmup_steps)
        return float(schedule(step - warmup_steps))

    return warmed
