"""Learning-rate schedules: functions ``step -> lr``, usable wherever ``lr`` is expected.

``step`` counts the updates already made (0 for the first update).
"""

from __future__ import annotations

import math

from fnnet.optim.base import Schedule

__all__ = ["constant", "cosine_decay", "exponential_decay", "step_decay", "warmup"]


def _positive(name: str, what: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name}: {what} must be > 0, got {value}")


def constant(lr: float) -> Schedule:
    """``lr`` at every step."""
    _positive("constant", "lr", lr)
    return lambda step: float(lr)


def exponential_decay(
    lr: float, decay_rate: float, decay_steps: int = 1, staircase: bool = False
) -> Schedule:
    """``lr * decay_rate ** (step / decay_steps)`` (``step // decay_steps`` with ``staircase``)."""
    _positive("exponential_decay", "lr", lr)
    _positive("exponential_decay", "decay_rate", decay_rate)
    _positive("exponential_decay", "decay_steps", decay_steps)

    def schedule(step: int) -> float:
        p = step // decay_steps if staircase else step / decay_steps
        return float(lr * decay_rate**p)

    return schedule


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """``lr * gamma ** (step // step_size)``: multiply by ``gamma`` every ``step_size`` updates."""
    _positive("step_decay", "lr", lr)
    _positive("step_decay", "step_size", step_size)
    return lambda step: float(lr * gamma ** (step // step_size))


def cosine_decay(lr: float, decay_steps: int, alpha: float = 0.0) -> Schedule:
    """Cosine from ``lr`` down to ``alpha * lr`` over ``decay_steps``, then flat.

    ``lr * ((1 - alpha) * (1 + cos(pi * min(step, T) / T)) / 2 + alpha)``.
    """
    _positive("cosine_decay", "lr", lr)
    _positive("cosine_decay", "decay_steps", decay_steps)

    def schedule(step: int) -> float:
        t = min(step, decay_steps) / decay_steps
        return float(lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * t)) + alpha))

    return schedule


def warmup(schedule: Schedule, warmup_steps: int) -> Schedule:
    """Linear warm-up from ``schedule(0) / warmup_steps`` to ``schedule(0)``, then ``schedule``.

    During warm-up the rate is ``schedule(0) * (step + 1) / warmup_steps``; afterwards
    ``schedule(step - warmup_steps)``.
    """
    _positive("warmup", "warmup_steps", warmup_steps)

    def warmed(step: int) -> float:
        if step < warmup_steps:
            return float(schedule(0) * (step + 1) / warmup_steps)
        return float(schedule(step - warmup_steps))

    return warmed
