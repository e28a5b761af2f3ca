"""The IDX format of MNIST and Fashion-MNIST, raw or gzip-compressed.

An IDX file is a header and then the data, big-endian, in C order::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    then        d sizes, each a big-endian uint32
    then        prod(sizes) elements

:func:`load_idx_folder` reads the four files of an MNIST-style folder (the names
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each optionally ending in ``.gz``). Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["IDX_FILES", "load_idx_folder", "read_idx", "write_idx"]

Array = NDArray[Any]

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path: str | os.PathLike[str]) -> Array:
    """Read one IDX file, raw or gzip-compressed, into a native-endian array.

    Gzip is recognised by its magic bytes, whatever the file name. Raises
    ``ValueError`` naming the file when the header or the length is wrong.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: damaged gzip data ({err})") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (the first two bytes must be zero)")
    code, ndim = raw[2], raw[3]
    if code not in _DTYPES:
        raise ValueError(f"{path}: unknown IDX element type 0x{code:02X}")
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes for {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_DTYPES[code])
    # Python's integers: a header of huge sizes cannot overflow into a small product
    expected = header + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{path}: IDX header says shape {tuple(shape)} ({expected} bytes), "
            f"but the file has {len(raw)} bytes"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: Array) -> None:
    """Write ``array`` as an IDX file (gzip when the name ends in ``.gz``); for tests and tools."""
    path = Path(path)
    a = np.asarray(array)
    code = _CODES.get(a.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"write_idx: IDX cannot store dtype {a.dtype}")
    header = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    raw = header + a.astype(a.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)


def _find(folder: Path, stem: str) -> Path:
    names = [stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder}: missing {stem} (or {stem}.gz)")


def load_idx_folder(
    folder: str | os.PathLike[str],
) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """Load an MNIST-style folder: ``((x_train, y_train), (x_test, y_test))``.

    Images come back NHWC ``(N, H, W, 1)`` float32 scaled to ``[0, 1]`` (from uint8
    0..255), labels ``(N,)`` int64. Errors name the missing or malformed file.
    """
    folder = Path(folder)
    if folder.is_file():
        raise ValueError(
            f"{folder} is a file: give the folder that holds the four IDX files "
            f"({', '.join(IDX_FILES.values())}, each optionally .gz)"
        )
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    out = []
    for part in ("train", "test"):
        images_path = _find(folder, IDX_FILES[f"{part}_images"])
        labels_path = _find(folder, IDX_FILES[f"{part}_labels"])
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3:
            raise ValueError(f"{images_path}: expected images (N, H, W), got shape {images.shape}")
        if labels.ndim != 1:
            raise ValueError(f"{labels_path}: expected labels (N,), got shape {labels.shape}")
        if len(labels) != len(images):
            raise ValueError(
                f"{labels_path}: {len(labels)} labels for {len(images)} images "
                f"in {images_path.name}"
            )
        if labels.dtype.kind not in "iu" or (labels.size and labels.min() < 0):
            raise ValueError(f"{labels_path}: labels must be non-negative integers")
        scale = np.float32(255.0) if images.dtype == np.uint8 else np.float32(1.0)
        x = (images.astype(np.float32) / scale)[..., None]
        out.append((x, labels.astype(np.int64)))
    return out[0], out[1]
