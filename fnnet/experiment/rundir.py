"""Run-folder I/O: what a run writes, how it reads it back, and who may write it.

A run folder holds

- ``config.json``: every option (the seed and ``threads`` included) and the versions;
  written once when the run starts, never rewritten to claim another run;
- ``metrics.csv``: one row per finished epoch (rewritten atomically each epoch);
- ``checkpoint.npz``: params, state, optimizer state, the epoch and the run's config
  (canonical JSON, as ``uint8`` bytes), rewritten atomically at the end of every epoch;
- ``loss.png`` and ``accuracy.png`` (with matplotlib);
- ``.lock``: the lock a running process holds (``fcntl.flock``; the OS releases it when
  the process ends, however it ends, so a crash never leaves the folder locked);
- ``done``: written last, when every epoch is trained.

fnnet only ever deletes or replaces these files (:data:`RUN_FILES`) and its own
temporary files (``.NAME.*.tmp``); a non-empty folder without a ``config.json`` of fnnet
is refused.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

import fnnet
from fnnet import checkpoint, tree
from fnnet.checkpoint import CheckpointError
from fnnet.experiment.build import Experiment, canonical_json

__all__ = [
    "METRICS_COLUMNS",
    "RUN_FILES",
    "RunFolderError",
    "RunLockedError",
    "checkpoint_tree",
    "figure",
    "is_run_folder",
    "load_checkpoint",
    "lock",
    "plot",
    "read_metrics",
    "remove_stale_temporaries",
    "save_checkpoint",
    "versions",
    "write_config",
    "write_metrics",
    "write_text_atomic",
]

PyTree = Any

METRICS_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")
RUN_FILES = (
    "config.json",
    "metrics.csv",
    "checkpoint.npz",
    "loss.png",
    "accuracy.png",
    "done",
    ".lock",
)


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (the message says why and what to do)."""


class RunLockedError(RunFolderError):
    """Another process holds the run folder's lock."""


def versions() -> dict[str, str]:
    """The versions that a run's numbers depend on: fnnet, NumPy, Python."""
    return {
        "fnnet": fnnet.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


@contextlib.contextmanager
def lock(folder: Path) -> Iterator[IO[str]]:
    """Hold ``folder/.lock`` exclusively (``fcntl.flock``) for the ``with`` block.

    Raises :class:`RunLockedError` at once when another process holds it. The lock
    belongs to the open file: the OS drops it when the process exits, even on ``kill -9``.
    """
    import fcntl

    f = open(folder / ".lock", "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(
                f"{folder} is in use by another fnnet process (it holds {folder / '.lock'}); "
                "wait for it to finish or choose another --out"
            ) from None
        yield f
    finally:
        f.close()


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a ``config.json`` written by fnnet (with its versions)."""
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("versions"), dict)


def remove_stale_temporaries(folder: Path) -> list[str]:
    """Delete the temporary files an interrupted save left (``.config.json.*.tmp`` ...).

    Safe only while holding the folder's lock (no other process is mid-save).
    """
    removed = []
    for name in RUN_FILES:
        for tmp in folder.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp.name)
    return removed


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
    """``config.json``: the options, sorted, with :func:`versions`."""
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
    """The rows of ``metrics.csv`` as written (strings, so a resumed run rewrites them exactly).

    Row ``i`` must be epoch ``i`` (1-based) with finite numbers in every other column;
    otherwise a ``ValueError`` names the file and the line.
    """
    path = folder / "metrics.csv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows or tuple(rows[0]) != METRICS_COLUMNS:
        raise ValueError(f"{path}: unexpected header {rows[:1]}")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(METRICS_COLUMNS) or row[0] != str(line - 1) or not _finite(row[1:]):
            raise ValueError(f"{path}, line {line}: not a row of epoch {line - 1}: {row}")
    return rows[1:]


def _finite(cells: list[str]) -> bool:
    try:
        return all(math.isfinite(float(c)) for c in cells)
    except ValueError:
        return False


def checkpoint_tree(
    params: PyTree, state: PyTree, opt_state: PyTree, epoch: int, config: dict[str, Any]
) -> PyTree:
    """What ``checkpoint.npz`` holds: the trees, the epoch and the config's canonical JSON."""
    text = canonical_json(config).encode()
    return {
        "params": params,
        "state": state,
        "opt_state": opt_state,
        "epoch": np.asarray(epoch, dtype=np.int64),
        "config": np.frombuffer(text, dtype=np.uint8),
    }


def save_checkpoint(
    folder: Path, params: PyTree, state: PyTree, opt: PyTree, epoch: int, config: dict[str, Any]
) -> None:
    """Write ``checkpoint.npz`` atomically (see :func:`fnnet.checkpoint.save`)."""
    checkpoint.save(folder / "checkpoint.npz", checkpoint_tree(params, state, opt, epoch, config))


def load_checkpoint(
    folder: Path, exp: Experiment
) -> tuple[PyTree, PyTree, PyTree, int, dict[str, Any]]:
    """``(params, state, opt_state, epoch, config)`` of a run, checked against ``exp``.

    The trees must match ``exp``'s fresh trees in paths, shapes and dtypes; the config is
    the one the checkpoint was written under (compare it with the run's ``config.json``).
    """
    path = folder / "checkpoint.npz"
    arrays = checkpoint.read_arrays(path)
    if "config" not in arrays:
        raise CheckpointError(
            f"{path} records no config (written by an older fnnet): it cannot be checked "
            "against config.json; start a new run"
        )
    try:
        config = json.loads(arrays["config"].tobytes().decode())
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{path}: its config entry is damaged") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: its config entry is not a JSON object")
    template = checkpoint_tree(exp.params, exp.state, exp.opt_state, 0, config)
    del template["config"]
    arrays = {k: v for k, v in arrays.items() if k != "config"}
    trees = checkpoint.match(arrays, template, str(path))
    return trees["params"], trees["state"], trees["opt_state"], int(trees["epoch"]), config


def param_count(params: PyTree) -> int:
    """The number of scalars in a tree of arrays."""
    return sum(int(np.size(a)) for a in tree.leaves(params))


def plot(folder: Path, rows: list[list[str]]) -> None:
    """``loss.png`` and ``accuracy.png``: train vs validation per epoch (matplotlib)."""
    for metric in ("loss", "accuracy"):
        figure(folder.name, rows, metric).savefig(
            folder / f"{metric}.png", metadata={"Software": None}
        )


def figure(title: str, rows: list[list[str]], metric: str) -> Any:
    """The figure of ``metric`` (``"loss"`` or ``"accuracy"``) for the rows of metrics.csv.

    Points are marked (up to 30 epochs), so a 1-epoch run shows its one point; epoch
    ticks are integers. Draws on a bare ``matplotlib.figure.Figure`` with the Agg
    canvas, so the caller's pyplot backend (e.g. inline figures in a notebook) is left
    alone.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    ylabel = {"loss": "cross-entropy loss", "accuracy": "accuracy"}[metric]
    epochs = [int(r[0]) for r in rows]
    marker = "o" if len(rows) <= 30 else None
    col = METRICS_COLUMNS.index(f"train_{metric}")
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(epochs, [float(r[col]) for r in rows], marker=marker, ms=4, label="train")
    ax.plot(epochs, [float(r[col + 2]) for r in rows], marker=marker, ms=4, label="validation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}: {metric}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
