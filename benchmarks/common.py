"""What every benchmark module shares: the :class:`Steps` of a workload and the constants.

This module imports nothing from the other benchmark modules (no import cycles: the
library modules and the workloads import it, the harness imports it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Array = Any
Step = Callable[[], Any]  # one call runs one step and returns the loss (or the output)

LIBS = ("fnnet", "torch", "jax", "floor")  # the columns of the table, in order
LR, MOMENTUM = 0.01, 0.9  # SGD with momentum everywhere
BN_ALPHA, BN_EPS = 0.9, 1e-5  # PyTorch's BatchNorm defaults (momentum 0.1), in fnnet's terms
INFER_BATCH = 1024


class MissingAPIError(Exception):
    """A workload needs an fnnet name that this checkout of fnnet does not have."""


@dataclass
class Steps:
    """The steps of one workload: one per library that could be built, and what they run.

    ``steps`` maps a library (``"fnnet"``, ``"torch"``, ``"jax"``, ``"floor"``) to its
    step; ``extra`` maps further labels to fnnet steps timed beside ``"fnnet"`` (e.g. the
    same layers without a combinator) and reported below the table; ``notes`` says why a
    library is missing.
    """

    description: str
    steps: dict[str, Step] = field(default_factory=dict)
    extra: dict[str, Step] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def all(self) -> dict[str, Step]:
        return {**self.steps, **self.extra}
