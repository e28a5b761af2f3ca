"""One experiment from a resolved config: data, model, optimizer, and its run folder.

Used by ``fnnet train`` and ``fnnet evaluate``; each function is usable from a script.
All randomness derives from ``config["seed"]``::

    root = key(seed);  data: fold_in(root, 0);  init: fold_in(root, 1)
    epoch e (0-based): fold_in(fold_in(root, 2), e)

so any epoch can be re-run, or a run resumed, from the seed and the epoch number alone.

A run folder holds ``config.json`` (every option, the seed and the versions),
``metrics.csv`` (one row per finished epoch), ``checkpoint.npz`` (params, state,
optimizer state and the epoch, saved at the end of every epoch) and, with matplotlib,
``loss.png`` and ``accuracy.png``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

import fnnet
from fnnet import checkpoint, datasets, random
from fnnet.data import fit_standardizer, standardize, train_val_test_split
from fnnet.layers import Layer
from fnnet.optim import Optimizer
from fnnet.random import Key
from fnnet.specs import build_model, build_optimizer, build_schedule, parse_model

__all__ = [
    "METRICS_COLUMNS",
    "Experiment",
    "Splits",
    "build",
    "load_splits",
    "parse_dataset",
    "read_metrics",
    "write_metrics",
]

Array = NDArray[Any]
PyTree = Any

METRICS_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")
SYNTHETIC = {"moons": 1000, "circles": 1000, "spirals": 1500}
DATASETS_HELP = "iris, digits, moons, circles, spirals[:K] or idx:FOLDER"


class Splits(NamedTuple):
    """Standardised train / validation / test data and what the model needs to know."""

    train: tuple[Array, Array]
    val: tuple[Array, Array]
    test: tuple[Array, Array]
    num_classes: int


class Experiment(NamedTuple):
    """Everything built from a config: data, model, optimizer and the initial trees."""

    splits: Splits
    model: Layer
    optimizer: Optimizer
    params: PyTree
    state: PyTree
    opt_state: PyTree
    steps_per_epoch: int
    schedule: Any


def parse_dataset(spec: str) -> tuple[str, str]:
    """``(name, argument)`` of a dataset spec; ``ValueError`` for an unknown one."""
    name, sep, arg = spec.partition(":")
    if name in ("iris", "digits", "moons", "circles") and not sep:
        return name, ""
    if name == "spirals":
        if arg and not (arg.isdigit() and int(arg) >= 2):
            raise ValueError(f"dataset {spec!r}: spirals:K needs a number of classes K >= 2")
        return name, arg or "3"
    if name == "idx" and arg:
        return name, arg
    raise ValueError(f"unknown dataset {spec!r}: expected {DATASETS_HELP}")


def _raw(spec: str, key: Key) -> tuple[tuple[Array, Array], tuple[Array, Array] | None]:
    """The examples of a dataset, and its own test split when it has one (IDX)."""
    name, arg = parse_dataset(spec)
    if name == "iris":
        return datasets.load_iris(), None
    if name == "digits":
        return datasets.load_digits(), None
    if name == "moons":
        return datasets.make_moons(key, SYNTHETIC[name], noise=0.2), None
    if name == "circles":
        return datasets.make_circles(key, SYNTHETIC[name], noise=0.1, factor=0.5), None
    if name == "spirals":
        return datasets.make_spirals(key, SYNTHETIC[name], num_classes=int(arg)), None
    return datasets.load_idx_folder(arg)


def load_splits(spec: str, key: Key, flatten: bool) -> Splits:
    """Load, split and standardise a dataset; the statistics come from the train split only.

    Built-in and synthetic data are split 70/15/15, stratified by class (Iris 60/20/20);
    an IDX folder keeps its test files and gives 10% of its training files to validation.
    Tabular features are standardised per feature, images with one mean and std.
    ``flatten`` turns images into vectors for an MLP.
    """
    k_make, k_split = random.split(key)
    (x, y), test = _raw(spec, k_make)
    if test is None:
        frac = 0.2 if spec == "iris" else 0.15
        train, val, test = train_val_test_split(k_split, x, y, val=frac, test=frac, stratify=True)
    else:
        train, val, _ = train_val_test_split(k_split, x, y, val=0.1, test=0.0, stratify=True)
    image = train[0].ndim == 4
    scaler = fit_standardizer(train[0], axis=None if image else 0)

    def prep(xy: tuple[Array, Array]) -> tuple[Array, Array]:
        z = standardize(scaler, xy[0]).astype(np.float32)
        return (z.reshape(len(z), -1) if flatten else z), xy[1]

    num_classes = int(max(train[1].max(), val[1].max(), test[1].max())) + 1
    return Splits(prep(train), prep(val), prep(test), num_classes)


def build(config: dict[str, Any]) -> Experiment:
    """Data, model, optimizer and freshly initialised trees for a resolved ``config``."""
    root = random.key(config["seed"])
    spec = parse_model(config["model"])
    splits = load_splits(config["dataset"], random.fold_in(root, 0), not spec.needs_images)
    x_train = splits.train[0]
    model = build_model(spec, x_train.shape[1:], splits.num_classes)
    _, params, state = model.init(random.fold_in(root, 1), (-1, *x_train.shape[1:]))
    steps = -(-len(x_train) // config["batch_size"])
    schedule = build_schedule(config["schedule"], config["lr"], config["epochs"], steps)
    opt = build_optimizer(config["optimizer"], schedule, config["momentum"], config["weight_decay"])
    return Experiment(splits, model, opt, params, state, opt.init(params), steps, schedule)


def epoch_key(seed: int, epoch: int) -> Key:
    """The key of epoch ``epoch`` (0-based): a function of the seed and the epoch alone."""
    return random.fold_in(random.fold_in(random.key(seed), 2), epoch)


def versions() -> dict[str, str]:
    return {
        "fnnet": fnnet.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_config(folder: Path, config: dict[str, Any]) -> None:
    payload = {**config, "versions": versions()}
    write_text_atomic(folder / "config.json", json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_metrics(folder: Path, rows: list[list[str]]) -> None:
    """``metrics.csv``: a header and one row of strings per epoch."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(METRICS_COLUMNS)
    writer.writerows(rows)
    write_text_atomic(folder / "metrics.csv", buf.getvalue())


def read_metrics(folder: Path) -> list[list[str]]:
    """The rows of ``metrics.csv`` as written (strings, so a resumed run rewrites them exactly)."""
    with open(folder / "metrics.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows or tuple(rows[0]) != METRICS_COLUMNS:
        raise ValueError(f"{folder / 'metrics.csv'}: unexpected header {rows[:1]}")
    return rows[1:]


def checkpoint_tree(params: PyTree, state: PyTree, opt_state: PyTree, epoch: int) -> PyTree:
    return {
        "params": params,
        "state": state,
        "opt_state": opt_state,
        "epoch": np.asarray(epoch, dtype=np.int64),
    }


def save_checkpoint(folder: Path, params: PyTree, state: PyTree, opt: PyTree, epoch: int) -> None:
    checkpoint.save(folder / "checkpoint.npz", checkpoint_tree(params, state, opt, epoch))


def load_checkpoint(folder: Path, exp: Experiment) -> tuple[PyTree, PyTree, PyTree, int]:
    """``(params, state, opt_state, epoch)`` of a run, checked against ``exp``'s fresh trees."""
    template = checkpoint_tree(exp.params, exp.state, exp.opt_state, 0)
    trees = checkpoint.load(folder / "checkpoint.npz", template)
    return trees["params"], trees["state"], trees["opt_state"], int(trees["epoch"])


def plot(folder: Path, rows: list[list[str]]) -> None:
    """``loss.png`` and ``accuracy.png``: train vs validation per epoch (matplotlib).

    Draws on a bare ``matplotlib.figure.Figure`` with the Agg canvas, so the caller's
    pyplot backend (e.g. inline figures in a notebook) is left alone.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [int(r[0]) for r in rows]
    for metric, ylabel in (("loss", "cross-entropy loss"), ("accuracy", "accuracy")):
        col = METRICS_COLUMNS.index(f"train_{metric}")
        fig = Figure(figsize=(6, 4), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot(epochs, [float(r[col]) for r in rows], label="train")
        ax.plot(epochs, [float(r[col + 2]) for r in rows], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{folder.name}: {metric}")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(folder / f"{metric}.png", metadata={"Software": None})
