"""The one registry of data sets: name -> loader, description, input kind, defaults.

Every place that needs the list of data sets (the command line's ``--dataset`` and its
help, per-dataset defaults, :mod:`fnnet.experiment`, the README's table) reads it from
:data:`DATASETS`. A dataset spec is ``NAME`` or ``NAME:ARG`` (``spirals:5``,
``idx:~/data/mnist``); :func:`parse_dataset` checks it and :func:`load_dataset` loads it.

A loader takes the spec's argument and a key (for generated data) and returns
``(x, y), test``: the examples, and the data set's own test split or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from numpy.typing import NDArray

from fnnet.datasets.builtin import load_digits, load_iris
from fnnet.datasets.idx import load_idx_folder
from fnnet.datasets.synthetic import make_circles, make_moons, make_spirals
from fnnet.random import Key

__all__ = ["DATASETS", "DatasetInfo", "dataset_help", "load_dataset", "parse_dataset"]

Array = NDArray[Any]
XY = tuple[Array, Array]
Loader = Callable[[str, Key], tuple[XY, XY | None]]

# the generated data sets' sizes (fixed, so a spec names one data set)
SYNTHETIC_SIZE = {"moons": 1000, "circles": 1000, "spirals": 1500}
# spirals:K: each of the K arms needs 4 points so that 15% of it rounds to at least one
# validation and one test point
MAX_SPIRAL_ARMS = SYNTHETIC_SIZE["spirals"] // 4


class DatasetInfo(NamedTuple):
    """One data set: how to load it, what it is, and its suggested training options.

    ``kind`` is ``"tabular"`` (rows of features) or ``"images"`` (NHWC); ``argument`` the
    name of the spec's argument (``""``: none, ``"K"``, ``"FOLDER"``) and ``default_arg``
    its value when omitted (``""``: required). ``split`` is ``(val, test)`` as fractions
    of the rows, or ``None`` when the data set brings its own test split (then 10% of the
    training rows go to validation). ``defaults`` are the options ``fnnet train`` uses for
    it (model, optimizer, lr, batch_size, epochs).
    """

    name: str
    description: str
    kind: str
    load: Loader
    defaults: dict[str, Any]
    argument: str = ""
    default_arg: str = ""
    split: tuple[float, float] | None = (0.15, 0.15)


def _defaults(model: str, optimizer: str, lr: float, batch_size: int, epochs: int) -> dict:
    return {"model": model, "optimizer": optimizer, "lr": lr, "batch_size": batch_size,
            "epochs": epochs}  # fmt: skip


def _spirals(arg: str, key: Key) -> tuple[XY, None]:
    return make_spirals(key, SYNTHETIC_SIZE["spirals"], num_classes=int(arg)), None


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            "iris", "Fisher's Iris: 150 flowers, 4 features, 3 classes (shipped)", "tabular",
            lambda arg, key: (load_iris(), None), _defaults("mlp:16", "adam", 0.01, 16, 60),
            split=(0.2, 0.2),
        ),
        DatasetInfo(
            "digits", "8x8 handwritten digits: 1797 images, 10 classes (shipped)", "images",
            lambda arg, key: (load_digits(), None), _defaults("cnn", "adam", 0.002, 32, 15),
        ),
        DatasetInfo(
            "moons", "two interleaving half circles: 1000 points, 2 classes (generated)",
            "tabular", lambda arg, key: (make_moons(key, SYNTHETIC_SIZE["moons"], 0.2), None),
            _defaults("mlp:32,32", "adam", 0.01, 32, 40),
        ),
        DatasetInfo(
            "circles", "a circle inside a circle: 1000 points, 2 classes (generated)", "tabular",
            lambda arg, key: (make_circles(key, SYNTHETIC_SIZE["circles"], 0.1, 0.5), None),
            _defaults("mlp:32,32", "adam", 0.01, 32, 40),
        ),
        DatasetInfo(
            "spirals", "K spiral arms (default 3): 1500 points, K classes (generated)",
            "tabular", _spirals, _defaults("mlp:64,64", "adam", 0.01, 32, 60),
            argument="K", default_arg="3",
        ),
        DatasetInfo(
            "idx", "MNIST-style IDX files in FOLDER (raw or .gz), with their own test split",
            "images", lambda arg, key: load_idx_folder(arg),
            _defaults("cnn", "adam", 0.001, 64, 3), argument="FOLDER", split=None,
        ),
    )
}  # fmt: skip


def dataset_help() -> str:
    """The accepted specs in one line: ``iris, digits, ..., spirals[:K], idx:FOLDER``."""
    specs = []
    for d in DATASETS.values():
        if not d.argument:
            specs.append(d.name)
        elif d.default_arg:
            specs.append(f"{d.name}[:{d.argument}]")
        else:
            specs.append(f"{d.name}:{d.argument}")
    return ", ".join(specs)


def parse_dataset(spec: str) -> tuple[str, str]:
    """``(name, argument)`` of a dataset spec; a ``ValueError`` that quotes a bad one."""
    if not isinstance(spec, str):
        raise ValueError(f"dataset must be a string such as 'iris', got {spec!r}")
    name, sep, arg = spec.partition(":")
    info = DATASETS.get(name)
    if info is None:
        raise ValueError(f"unknown dataset {spec!r}: expected {dataset_help()}")
    if not info.argument:
        if sep:
            raise ValueError(f"dataset {spec!r}: {name} takes no argument (write {name})")
        return name, ""
    if sep and not arg:
        raise ValueError(f"dataset {spec!r}: empty {info.argument} after {name}:")
    if not arg and not info.default_arg:
        raise ValueError(f"dataset {spec!r}: expected {name}:{info.argument}")
    arg = arg or info.default_arg
    if name == "spirals" and not (
        arg.isdigit() and str(int(arg)) == arg and 2 <= int(arg) <= MAX_SPIRAL_ARMS
    ):
        raise ValueError(
            f"dataset {spec!r}: spirals:K needs a number of classes K from 2 to "
            f"{MAX_SPIRAL_ARMS} (its {SYNTHETIC_SIZE['spirals']} points give each arm at "
            "least 4, one each for validation and test)"
        )
    return name, arg


def load_dataset(spec: str, key: Key) -> tuple[XY, XY | None]:
    """The examples of the data set ``spec``, and its own test split when it has one."""
    name, arg = parse_dataset(spec)
    return DATASETS[name].load(arg, key)
