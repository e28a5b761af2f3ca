"""Data sets that work offline.

- :func:`load_iris` and :func:`load_digits`: small files shipped in the package;
- :func:`make_moons`, :func:`make_circles`, :func:`make_spirals`: generated from a key;
- :func:`load_idx_folder` / :func:`read_idx`: MNIST or Fashion-MNIST from a folder the
  user gives (IDX files, raw or gzip); nothing is ever downloaded.

Features come as float32, labels as int64 class indices; images are NHWC in ``[0, 1]``.
"""

from fnnet.datasets.builtin import IRIS_CLASSES, IRIS_FEATURES, load_digits, load_iris
from fnnet.datasets.idx import IDX_FILES, load_idx_folder, read_idx, write_idx
from fnnet.datasets.synthetic import make_circles, make_moons, make_spirals

__all__ = [
    "IDX_FILES",
    "IRIS_CLASSES",
    "IRIS_FEATURES",
    "load_digits",
    "load_idx_folder",
    "load_iris",
    "make_circles",
    "make_moons",
    "make_spirals",
    "read_idx",
    "write_idx",
]
