"""Data sets that work offline.

- :func:`load_iris` and :func:`load_digits`: small files shipped in the package;
- :func:`make_moons`, :func:`make_circles`, :func:`make_spirals`: generated from a key;
- :func:`load_idx_folder` / :func:`read_idx`: MNIST or Fashion-MNIST from a folder the
  user gives (IDX files, raw or gzip); nothing is ever downloaded;
- :data:`DATASETS`: the one registry of them by name (loader, description, input kind,
  suggested training options), with :func:`parse_dataset` and :func:`load_dataset`.

Features come as float32, labels as int64 class indices; images are NHWC in ``[0, 1]``.
"""

from fnnet.datasets.builtin import IRIS_CLASSES, IRIS_FEATURES, load_digits, load_iris
from fnnet.datasets.idx import IDX_FILES, load_idx_folder, read_idx, write_idx
from fnnet.datasets.registry import (
    DATASETS,
    DatasetInfo,
    dataset_help,
    load_dataset,
    parse_dataset,
)
from fnnet.datasets.synthetic import make_circles, make_moons, make_spirals

__all__ = [
    "DATASETS",
    "IDX_FILES",
    "IRIS_CLASSES",
    "IRIS_FEATURES",
    "DatasetInfo",
    "dataset_help",
    "load_dataset",
    "load_digits",
    "load_idx_folder",
    "load_iris",
    "make_circles",
    "make_moons",
    "make_spirals",
    "parse_dataset",
    "read_idx",
    "write_idx",
]
