"""Checkpoints: pytrees saved as ``.npz`` files keyed by tree path, written atomically.

A checkpoint holds any pytree of arrays, typically
``{"params": ..., "state": ..., "opt_state": ...}``; each leaf is stored under its path
from :func:`fnnet.tree.leaves_with_paths` (``"params/0/W"``, ``"opt_state/count"``), so
the file opens with plain ``numpy.load`` too.

- :func:`save` writes to a temporary file in the same folder, flushes and fsyncs it,
  then renames it over the old file (``os.replace``): a save that is interrupted never
  destroys the previous checkpoint. The bytes depend only on the tree (fixed zip
  timestamps), so the same tree gives the same file.
- :func:`load` reads with ``allow_pickle=False`` and checks the file against a template
  tree (e.g. the model's freshly initialised params): missing and unexpected keys and
  shape or dtype mismatches are reported by path in one :class:`CheckpointError`.
  The arrays it returns are read-only.

>>> save("run/checkpoint.npz", {"params": params, "state": state, "opt_state": opt_state})
>>> trees = load("run/checkpoint.npz", {"params": params0, "state": state0, "opt_state": o0})
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fnnet import tree

__all__ = ["CheckpointError", "load", "match", "read_arrays", "save"]

PyTree = Any
Array = NDArray[Any]

# zip entries carry a date; a fixed one makes the file a function of the tree alone
_EPOCH = (1980, 1, 1, 0, 0, 0)
_MAX_LISTED = 6


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or does not match the tree it is loaded into."""


def _arrays(trees: PyTree) -> list[tuple[str, Array]]:
    items = []
    seen: set[str] = set()
    for path, leaf in tree.leaves_with_paths(trees):
        a = np.asarray(leaf)
        if a.dtype.hasobject:
            raise TypeError(f"checkpoint.save: leaf {path!r} is not a numeric array")
        if path in seen:
            raise ValueError(f"checkpoint.save: two leaves share the path {path!r}")
        seen.add(path)
        items.append((path, a))
    return items


def save(path: str | os.PathLike[str], trees: PyTree) -> None:
    """Save the array leaves of ``trees`` to ``path`` (an ``.npz`` file), atomically."""
    items = _arrays(trees)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for name, a in items:
                    info = zipfile.ZipInfo(name + ".npy", date_time=_EPOCH)
                    info.external_attr = 0o644 << 16
                    with zf.open(info, "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, a, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_arrays(path: str | os.PathLike[str]) -> dict[str, Array]:
    """All arrays of a checkpoint by path, read-only, without checking them against a tree."""
    if os.path.isfile(path) and not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{os.fspath(path)}: not a readable checkpoint (damaged or not an .npz archive)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz archive")
            arrays = {name: npz[name] for name in npz.files}
    except FileNotFoundError as err:
        raise CheckpointError(f"{os.fspath(path)}: no such checkpoint file") from err
    except Exception as err:  # zip, npy-header and I/O errors alike mean a damaged file
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(
            f"{os.fspath(path)}: not a readable checkpoint (damaged or not an .npz: {reason})"
        ) from err
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:_MAX_LISTED])
    return shown + (f", ... ({len(paths) - _MAX_LISTED} more)" if len(paths) > _MAX_LISTED else "")


def _describe(a: Any) -> str:
    return f"{tuple(np.shape(a))} {np.asarray(a).dtype}"


def load(path: str | os.PathLike[str], template: PyTree) -> PyTree:
    """Load a checkpoint into a tree shaped like ``template``.

    Every leaf of ``template`` must be in the file with the same shape and dtype, and
    the file may hold nothing else; otherwise a :class:`CheckpointError` lists the
    missing keys, the unexpected keys and each shape or dtype mismatch by path.
    """
    return match(read_arrays(path), template, os.fspath(path))


def match(arrays: dict[str, Array], template: PyTree, where: str = "checkpoint") -> PyTree:
    """The arrays of :func:`read_arrays` as a tree shaped like ``template``, checked.

    ``where`` names the source in the :class:`CheckpointError` (as :func:`load`).
    """
    expected = tree.leaves_with_paths(template)
    wanted = {p for p, _ in expected}
    missing = [p for p, _ in expected if p not in arrays]
    unexpected = [p for p in arrays if p not in wanted]
    mismatched = [
        f"{p} is {_describe(arrays[p])}, expected {_describe(leaf)}"
        for p, leaf in expected
        if p in arrays
        and (arrays[p].shape != np.shape(leaf) or arrays[p].dtype != np.asarray(leaf).dtype)
    ]
    problems = []
    if missing:
        problems.append(f"missing {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected {_listing(unexpected)}")
    problems.extend(mismatched[:_MAX_LISTED])
    if len(mismatched) > _MAX_LISTED:
        problems.append(f"... ({len(mismatched) - _MAX_LISTED} more mismatches)")
    if problems:
        raise CheckpointError(f"{where} does not match the model: " + "; ".join(problems))
    return tree.unflatten(tree.flatten(template)[1], [arrays[p] for p, _ in expected])
