"""The training loop as pure functions: one step, one epoch, evaluation.

Everything a step changes is passed in and returned: ``params``, ``state`` (e.g.
BatchNorm running statistics) and ``opt_state``; randomness comes from keys. A script
owns the loop over epochs, and can derive each epoch's key from the seed and the
epoch number (``random.fold_in(key, epoch)``), so training can resume mid-run and
still give the same numbers as an uninterrupted run::

    for epoch in range(epochs):
        params, state, opt_state, train = train_epoch(
            model, loss, opt, params, state, opt_state, x_tr, y_tr,
            random.fold_in(train_key, epoch), batch_size=32)
        val = evaluate(model, loss, params, state, x_va, y_va)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from fnnet import random
from fnnet.data import batches, num_batches
from fnnet.grad import param_grads
from fnnet.layers.base import Layer
from fnnet.losses.base import Loss
from fnnet.optim.base import Optimizer
from fnnet.random import Key

__all__ = [
    "Metrics",
    "NonFiniteLossError",
    "StepResult",
    "accuracy",
    "evaluate",
    "predict",
    "train_epoch",
    "train_step",
]

Array = NDArray[Any]
PyTree = Any


class StepResult(NamedTuple):
    """What one training step returns: the new trees, the batch loss and correct predictions."""

    params: PyTree
    state: PyTree
    opt_state: PyTree
    loss: float
    correct: int


class Metrics(NamedTuple):
    """Mean loss and accuracy over a data set (or, for training, over an epoch's batches)."""

    loss: float
    accuracy: float


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; ``step`` is the 1-based step within the epoch."""

    def __init__(self, step: int, value: float) -> None:
        super().__init__(f"non-finite loss ({value}) at step {step}")
        self.step = step
        self.value = value


def _num_correct(pred: Array, y: Array) -> int:
    pred, y = np.asarray(pred), np.asarray(y)
    if pred.ndim != 2 or len(y) != len(pred):
        raise ValueError(
            f"accuracy: expected scores (N, C) and N targets, got {pred.shape} and {y.shape}"
        )
    if y.ndim == 2:
        if y.shape != pred.shape:
            raise ValueError(
                f"accuracy: one-hot targets {y.shape} do not match scores {pred.shape}"
            )
        labels = np.argmax(y, axis=-1)
    elif y.ndim == 1 and y.dtype.kind in "iu":
        bad = (y < 0) | (y >= pred.shape[1])
        if bad.any():
            raise ValueError(
                f"accuracy: labels must be in [0, {pred.shape[1]}), got {y[bad][0]} "
                f"at index {int(np.argmax(bad))}"
            )
        labels = y
    else:
        raise ValueError(
            f"accuracy: targets must be integer labels (N,) or one-hot (N, C), got {y.dtype} "
            f"of shape {y.shape}"
        )
    return int(np.sum(np.argmax(pred, axis=-1) == labels))


def accuracy(pred: Array, y: Array) -> float:
    """Fraction of rows whose largest score is the true class.

    ``pred (N, C)`` scores; ``y`` integer labels ``(N,)`` in ``[0, C)`` or one-hot /
    probabilities ``(N, C)`` (the largest entry is the class). Other labels are a
    ``ValueError``.
    """
    return _num_correct(pred, y) / len(pred)


def train_step(
    model: Layer,
    loss: Loss,
    optimizer: Optimizer,
    params: PyTree,
    state: PyTree,
    opt_state: PyTree,
    x: Array,
    y: Array,
    key: Key | None = None,
) -> StepResult:
    """One gradient step on the batch ``(x, y)`` in train mode.

    Runs ``model.vjp`` (train mode, ``key`` for Dropout), ``loss.vjp``, the pullback
    and ``optimizer.update``. Raises :class:`NonFiniteLossError` (with ``step=1``)
    instead of applying an update computed from a NaN or infinite loss.
    """
    # overflow shows up as a non-finite loss, reported below rather than as warnings
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        pred, new_state, pullback = model.vjp(params, state, x, key=key, train=True)
        value, loss_pullback = loss.vjp(pred, y)
    if not math.isfinite(value):
        raise NonFiniteLossError(1, value)
    # dL/dparams: the loss's gradient pulled back through the model
    grads = param_grads(model, pullback, loss_pullback(1.0))
    new_params, new_opt_state = optimizer.update(params, grads, opt_state)
    return StepResult(new_params, new_state, new_opt_state, value, _num_correct(pred, y))


def train_epoch(
    model: Layer,
    loss: Loss,
    optimizer: Optimizer,
    params: PyTree,
    state: PyTree,
    opt_state: PyTree,
    x: Array,
    y: Array,
    key: Key,
    *,
    batch_size: int,
    drop_last: bool = False,
    on_step: Callable[[int, int, float], None] | None = None,
) -> tuple[PyTree, PyTree, PyTree, Metrics]:
    """One pass over ``(x, y)`` in shuffled mini-batches; returns the new trees and metrics.

    ``key`` fixes the shuffle and each step's key (``fold_in(step_key, i)``). The
    metrics are the batch-size-weighted mean loss and the accuracy of the train-mode
    predictions made along the way. ``on_step(i, num_steps, loss)`` (1-based ``i``) is
    called after each step, e.g. to update a progress bar. A NaN or infinite loss
    raises :class:`NonFiniteLossError` naming the step; nothing is returned then, so
    the caller still holds the last good trees.
    """
    k_shuffle, k_steps = random.split(key)
    steps = num_batches(len(x), batch_size, drop_last)
    total_loss, total_correct, seen = 0.0, 0, 0
    for i, (xb, yb) in enumerate(
        batches(k_shuffle, x, y, batch_size=batch_size, drop_last=drop_last), start=1
    ):
        try:
            result = train_step(
                model, loss, optimizer, params, state, opt_state, xb, yb, random.fold_in(k_steps, i)
            )
        except NonFiniteLossError as err:
            raise NonFiniteLossError(i, err.value) from None
        params, state, opt_state = result.params, result.state, result.opt_state
        total_loss += result.loss * len(xb)
        total_correct += result.correct
        seen += len(xb)
        if on_step is not None:
            on_step(i, steps, result.loss)
    if seen == 0:
        raise ValueError(f"train_epoch: no batches from {len(x)} rows with batch_size={batch_size}")
    return params, state, opt_state, Metrics(total_loss / seen, total_correct / seen)


def evaluate(
    model: Layer,
    loss: Loss,
    params: PyTree,
    state: PyTree,
    x: Array,
    y: Array,
    *,
    batch_size: int = 1000,
) -> Metrics:
    """Mean loss and accuracy of the model in eval mode (``apply``, ``train=False``).

    Works through ``x`` in batches of ``batch_size`` rows in order; the state is read,
    never updated.
    """
    if len(x) == 0:
        raise ValueError("evaluate: empty data set")
    total_loss, total_correct = 0.0, 0
    for xb, yb in batches(None, x, y, batch_size=batch_size, shuffle=False):
        pred, _ = model.apply(params, state, xb, train=False)
        total_loss += loss.apply(pred, yb) * len(xb)
        total_correct += _num_correct(pred, yb)
    return Metrics(total_loss / len(x), total_correct / len(x))


def predict(
    model: Layer, params: PyTree, state: PyTree, x: Array, *, batch_size: int = 256
) -> Array:
    """The model's outputs in eval mode on ``x``, computed ``batch_size`` rows at a time.

    ``model.apply(params, state, xb)`` for consecutive slices ``xb`` of ``x`` (views, no
    copies), joined into one array of ``len(x)`` rows. The same outputs as one
    ``model.apply`` on all of ``x`` up to rounding (a matrix product may add in another
    order for another number of rows), with the working memory of one batch: a CNN's
    feature maps and patch matrices for 10,000 images take gigabytes. For a CNN it is
    also faster, as a batch's feature maps stay in the CPU caches (the benchmark's CNN on
    1,024 images: about 75 ms in batches of 128, 100 ms in one ``apply``); an MLP is
    faster in one large product (there, pass a large ``batch_size``). The state is read,
    never updated.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"predict: batch_size must be a positive int, got {batch_size!r}")
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("predict: x must have a leading batch dimension, got a scalar")
    n = len(x)
    if n <= batch_size:
        return model.apply(params, state, x, train=False)[0]
    out: Array | None = None
    for start in range(0, n, batch_size):
        y, _ = model.apply(params, state, x[start : start + batch_size], train=False)
        if out is None:  # the output's shape and dtype, from the first batch
            out = np.empty((n, *np.shape(y)[1:]), np.result_type(y))
        out[start : start + len(y)] = y
    assert out is not None
    return out
