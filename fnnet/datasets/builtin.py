"""Small data sets shipped inside the package: Iris and the 8x8 handwritten digits.

Both load offline from files beside this module (``data/``); see ``data/README.md``
for their sources and licence (CC BY 4.0, UCI Machine Learning Repository).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["IRIS_CLASSES", "IRIS_FEATURES", "load_digits", "load_iris"]

Array = NDArray[Any]

IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
IRIS_CLASSES = ("setosa", "versicolor", "virginica")


def _data_file(name: str) -> Any:
    return resources.files("fnnet.datasets").joinpath("data").joinpath(name)


def load_iris() -> tuple[Array, Array]:
    """Fisher's Iris: features ``(150, 4)`` float32 (cm) and labels ``(150,)`` int64.

    Features are ``IRIS_FEATURES`` (sepal length, sepal width, petal length, petal
    width); labels index ``IRIS_CLASSES`` (0 setosa, 1 versicolor, 2 virginica), 50 each.
    """
    text = _data_file("iris.csv").read_text(encoding="utf-8").splitlines()
    rows = [line.split(",") for line in text[1:] if line.strip()]
    x = np.array([[float(v) for v in row[:4]] for row in rows], dtype=np.float32)
    y = np.array([IRIS_CLASSES.index(row[4]) for row in rows], dtype=np.int64)
    return x, y


def load_digits() -> tuple[Array, Array]:
    """The 8x8 handwritten digits: images ``(1797, 8, 8, 1)`` float32 and labels ``(1797,)`` int64.

    Images are NHWC with one channel, scaled from the stored counts 0..16 to ``[0, 1]``;
    labels are the digits 0..9 (about 180 of each).
    """
    with _data_file("digits.npz").open("rb") as f, np.load(f, allow_pickle=False) as npz:
        images = npz["images"]
        labels = npz["labels"]
    x = (images.astype(np.float32) / np.float32(16.0))[..., None]
    return x, labels.astype(np.int64)
