"""Optimizers: ``Optimizer(init, update)`` pairs of pure functions, schedules and wrappers."""

from fnnet.optim.adam import adam, adamw
from fnnet.optim.base import (
    Optimizer,
    Schedule,
    clip_by_global_norm,
    clipped,
    global_norm,
)
from fnnet.optim.decay import add_decayed_weights, decay_mask
from fnnet.optim.hyperparameters import (
    BOUNDS,
    HYPERPARAMETERS,
    HyperparameterError,
    check_hyperparameters,
)
from fnnet.optim.schedules import constant, cosine_decay, exponential_decay, step_decay, warmup
from fnnet.optim.sgd import sgd
from fnnet.optim.wrappers import accumulate, masked, multi

__all__ = [
    "BOUNDS",
    "HYPERPARAMETERS",
    "HyperparameterError",
    "Optimizer",
    "Schedule",
    "accumulate",
    "adam",
    "adamw",
    "add_decayed_weights",
    "check_hyperparameters",
    "clip_by_global_norm",
    "clipped",
    "constant",
    "cosine_decay",
    "decay_mask",
    "exponential_decay",
    "global_norm",
    "masked",
    "multi",
    "sgd",
    "step_decay",
    "warmup",
]
