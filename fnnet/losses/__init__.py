"""Losses: ``Loss(apply, vjp)`` values (``fnnet.losses.mse`` is a loss, not a factory)."""

from fnnet.losses.base import Loss
from fnnet.losses.classification import binary_cross_entropy, cross_entropy
from fnnet.losses.ctc import ctc, ctc_loss
from fnnet.losses.regression import mse

__all__ = ["Loss", "binary_cross_entropy", "cross_entropy", "ctc", "ctc_loss", "mse"]
