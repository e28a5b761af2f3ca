"""From a resolved config to data, model, optimizer and freshly initialised trees.

All randomness derives from ``config["seed"]``::

    root = key(seed);  data: fold_in(root, 0);  init: fold_in(root, 1)
    epoch e (0-based): fold_in(fold_in(root, 2), e)

so any epoch can be re-run, or a run resumed, from the seed and the epoch number alone.
Everything here is checked before a single step is taken: a config that cannot train
raises ``ValueError`` (a :class:`fnnet.cli.config.ConfigError` for the options) here,
not after an epoch.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from fnnet import random
from fnnet.cli.config import COMPUTATION_KEYS, check
from fnnet.cli.specs import (
    build_model,
    build_optimizer,
    build_schedule,
    count_params,
    parse_model,
)
from fnnet.data import fit_standardizer, standardize, train_val_test_split
from fnnet.datasets import DATASETS, load_dataset, parse_dataset
from fnnet.layers import Layer
from fnnet.optim import Optimizer
from fnnet.random import Key

__all__ = [
    "MAX_PARAMS",
    "Experiment",
    "Splits",
    "build",
    "canonical_json",
    "epoch_key",
    "fingerprint",
    "load_splits",
]

Array = NDArray[Any]
PyTree = Any

# the largest model fnnet trains: 100 million float32 parameters take 400 MB, and Adam
# keeps two more trees of that size
MAX_PARAMS = 100_000_000


class Splits(NamedTuple):
    """Standardised train / validation / test data and what the model needs to know."""

    train: tuple[Array, Array]
    val: tuple[Array, Array]
    test: tuple[Array, Array]
    num_classes: int


class Experiment(NamedTuple):
    """Everything built from a config: data, model, optimizer and the initial trees.

    ``drop_last`` is true when the last mini-batch of an epoch is skipped: a model with
    BatchNorm whose last batch would hold one row (its batch variance is 0, eq. (78)).
    """

    splits: Splits
    model: Layer
    optimizer: Optimizer
    params: PyTree
    state: PyTree
    opt_state: PyTree
    steps_per_epoch: int
    schedule: Any
    drop_last: bool = False


def canonical_json(data: Any) -> str:
    """``data`` (a config, a sweep spec, ...) as JSON with sorted keys and no spaces:
    equal data give equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def fingerprint(config: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the keys that define the computation.

    ``COMPUTATION_KEYS``: every option but ``epochs`` (a run may be extended where that
    gives the same numbers, see :func:`fnnet.experiment.run`) and the run folder.
    """
    keys = {k: config[k] for k in COMPUTATION_KEYS if k in config}
    return hashlib.sha256(canonical_json(keys).encode()).hexdigest()


def load_splits(spec: str, key: Key, flatten: bool) -> Splits:
    """Load, split and standardise a dataset; the statistics come from the train split only.

    The registry's split fractions apply per class (stratified; Iris 60/20/20, the others
    70/15/15); an IDX folder keeps its test files and gives 10% of its training files to
    validation. Tabular features are standardised per feature, images with one mean and
    std. ``flatten`` turns images into vectors for an MLP. Raises ``ValueError`` when a
    split is empty or the test images differ in shape from the training images.
    """
    name, _ = parse_dataset(spec)
    info = DATASETS[name]
    k_make, k_split = random.split(key)
    (x, y), test = load_dataset(spec, k_make)
    if info.split is not None:
        val_frac, test_frac = info.split
        train, val, test = train_val_test_split(
            k_split, x, y, val=val_frac, test=test_frac, stratify=True
        )
    else:
        assert test is not None
        if len(x) and test[0].shape[1:] != x.shape[1:]:
            raise ValueError(
                f"dataset {spec}: test images have shape {test[0].shape[1:]}, "
                f"training images {x.shape[1:]}"
            )
        train, val, _ = train_val_test_split(k_split, x, y, val=0.1, test=0.0, stratify=True)
    sizes = {"train": len(train[0]), "validation": len(val[0]), "test": len(test[0])}
    empty = [what for what, n in sizes.items() if n == 0]
    if empty:
        counts = ", ".join(f"{n} {what}" for what, n in sizes.items())
        raise ValueError(
            f"dataset {spec}: too few examples to split ({counts}); "
            f"the {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty"
        )
    for what, (xs, _) in (("training", train), ("validation", val), ("test", test)):
        if not np.isfinite(xs).all():
            raise ValueError(f"dataset {spec}: the {what} data holds NaN or infinite values")
    image = train[0].ndim == 4
    scaler = fit_standardizer(train[0], axis=None if image else 0)

    def prep(xy: tuple[Array, Array]) -> tuple[Array, Array]:
        z = standardize(scaler, xy[0]).astype(np.float32)
        return (z.reshape(len(z), -1) if flatten else z), xy[1]

    num_classes = int(max(train[1].max(), val[1].max(), test[1].max())) + 1
    return Splits(prep(train), prep(val), prep(test), num_classes)


def build(config: dict[str, Any]) -> Experiment:
    """Data, model, optimizer and freshly initialised trees for a resolved ``config``.

    The config is checked first (:func:`fnnet.cli.config.check`); a model larger than
    :data:`MAX_PARAMS` parameters, or a BatchNorm model trained one row per batch, is a
    ``ValueError`` before anything large is allocated.
    """
    config = check(dict(config))
    root = random.key(config["seed"])
    spec = parse_model(config["model"])
    splits = load_splits(config["dataset"], random.fold_in(root, 0), not spec.needs_images)
    x_train = splits.train[0]
    size = count_params(spec, x_train.shape[1:], splits.num_classes)
    if size > MAX_PARAMS:
        raise ValueError(
            f"model {config['model']} on {config['dataset']} ({splits.num_classes} classes) "
            f"has {size:,} parameters; fnnet trains at most {MAX_PARAMS:,}"
        )
    batch_size, n = config["batch_size"], len(x_train)
    if spec.bn and min(batch_size, n) == 1:
        raise ValueError(
            f"model {config['model']}: BatchNorm needs at least 2 rows per batch "
            f"(batch size {batch_size}, {n} training examples)"
        )
    drop_last = spec.bn and n % batch_size == 1
    model = build_model(spec, x_train.shape[1:], splits.num_classes)
    _, params, state = model.init(random.fold_in(root, 1), (-1, *x_train.shape[1:]))
    steps = n // batch_size if drop_last else -(-n // batch_size)
    schedule = build_schedule(config["schedule"], config["lr"], config["epochs"], steps)
    opt = build_optimizer(
        config["optimizer"], schedule, config.get("momentum", 0.0), config["weight_decay"]
    )
    return Experiment(
        splits, model, opt, params, state, opt.init(params), steps, schedule, drop_last
    )


def epoch_key(seed: int, epoch: int) -> Key:
    """The key of epoch ``epoch`` (0-based): a function of the seed and the epoch alone."""
    return random.fold_in(random.fold_in(random.key(seed), 2), epoch)
