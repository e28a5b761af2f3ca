"""Optimizers: ``Optimizer(init, update)`` pairs of pure functions, and schedules."""

from fnnet.optim.adam import adam, adamw
from fnnet.optim.base import (
    Optimizer,
    Schedule,
    clip_by_global_norm,
    clipped,
    decay_mask,
    global_norm,
)
from fnnet.optim.schedules import constant, cosine_decay, exponential_decay, step_decay, warmup
from fnnet.optim.sgd import sgd

__all__ = [
    "Optimizer",
    "Schedule",
    "adam",
    "adamw",
    "clip_by_global_norm",
    "clipped",
    "constant",
    "cosine_decay",
    "decay_mask",
    "exponential_decay",
    "global_norm",
    "sgd",
    "step_decay",
    "warmup",
]
