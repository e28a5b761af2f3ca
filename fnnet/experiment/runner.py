"""One run, from a resolved config to a run folder: the function ``fnnet train`` wraps.

``run(config, folder)`` checks everything it can before the first step (options,
data, model size, the folder), then trains epoch by epoch, saving ``metrics.csv`` and
``checkpoint.npz`` after each, and returns a summary. It prints nothing; callbacks
report progress. A run that was interrupted continues from its last checkpoint, and
gives the same bytes as an uninterrupted run.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fnnet import losses
from fnnet.checkpoint import CheckpointError
from fnnet.cli.config import COMPUTATION_KEYS, check, read_run_config
from fnnet.cli.specs import schedule_depends_on_epochs
from fnnet.experiment.build import Experiment, build, canonical_json, epoch_key
from fnnet.experiment.rundir import (
    METRICS_COLUMNS,
    RUN_FILES,
    RunFolderError,
    is_run_folder,
    load_checkpoint,
    lock,
    param_count,
    plot,
    read_metrics,
    remove_stale_temporaries,
    save_checkpoint,
    write_config,
    write_metrics,
    write_text_atomic,
)
from fnnet.experiment.threads import threads
from fnnet.training import NonFiniteLossError, evaluate, train_epoch

__all__ = ["checked_checkpoint", "config_differences", "run"]

PyTree = Any
Row = dict[str, Any]


def run(
    config: dict[str, Any],
    folder: str | Path,
    on_epoch: Callable[[Row], None] | None = None,
    *,
    resume: bool | None = None,
    on_start: Callable[[Row], None] | None = None,
    on_step: Callable[[int, int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Train ``config`` in ``folder``; returns a summary dict.

    ``resume``: ``None`` continues the run in ``folder`` when there is one (with the same
    config) and starts one otherwise; ``True`` requires a run to continue; ``False``
    starts afresh, replacing the files of an earlier run there. A continued run may be
    given more ``epochs`` than it was started with, unless its schedule depends on the
    total (``cosine``): then the result would differ from an uninterrupted run, and it
    is refused. The folder is locked for the whole call.

    ``on_start(info)`` is called before training (``start``, ``epochs``, ``params``,
    the ``model`` and its ``input_shape`` (batch axis ``-1``), ``train``/``val``/``test``
    sizes, ``replaced``, ``drop_last``), ``on_step(epoch, i,
    steps, loss)`` after each step, ``on_epoch(row)`` after each epoch is saved, with
    the row of ``metrics.csv`` as numbers and its ``seconds``.

    Summary: ``status`` (``"ok"``, or ``"diverged"`` when the loss became NaN or
    infinite: training stops, the last good checkpoint stays and ``error`` says where),
    ``epochs`` trained, ``final_val_loss``/``final_val_accuracy``, ``best_val_loss``/
    ``best_val_accuracy`` (and ``best_epoch``), ``test_loss``/``test_accuracy`` of the
    final params, ``wall_time`` (seconds of this call), ``threads``, ``plots``.

    Raises ``ValueError`` (``ConfigError``, ``RunFolderError``, ``CheckpointError``)
    for a config, data set or folder that cannot be used, before anything is written.
    """
    began = time.perf_counter()
    config = check(dict(config))
    if not str(folder).strip():  # Path("") would be the current folder
        raise RunFolderError(f"the run folder must be a path, got {str(folder)!r}")
    folder = Path(folder)
    with threads(config["threads"]) as effective:
        exp = build(config)
        _check_folder(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with lock(folder):
            remove_stale_temporaries(folder)
            start, trees, rows, replaced = _prepare(config, folder, exp, resume)
            if on_start is not None:
                on_start(_info(exp, start, config, trees[0], replaced))
            summary = _train(config, folder, exp, start, trees, rows, on_epoch, on_step)
            summary["threads"] = effective
            summary["wall_time"] = time.perf_counter() - began
            # written last, under the lock: the run is complete
            text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
            write_text_atomic(folder / "done", text)
    return summary


def _info(
    exp: Experiment, start: int, config: dict[str, Any], params: PyTree, replaced: bool
) -> Row:
    return {
        "start": start,
        "epochs": config["epochs"],
        "params": param_count(params),
        "model": exp.model,
        "input_shape": (-1, *exp.splits.train[0].shape[1:]),
        "train": len(exp.splits.train[0]),
        "val": len(exp.splits.val[0]),
        "test": len(exp.splits.test[0]),
        "replaced": replaced,
        "drop_last": exp.drop_last,
    }


def _check_folder(folder: Path) -> None:
    """Refuse a file, or a non-empty folder that fnnet did not write.

    A run writes its ``config.json`` first, so a folder without one holds at most the
    lock and temporary files of a run stopped while starting.
    """
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{folder} is a file, not a run folder")
    if not folder.is_dir() or is_run_folder(folder):
        return
    other = sorted(
        p.name
        for p in folder.iterdir()
        if p.name != ".lock" and not (p.name.startswith(".") and p.name.endswith(".tmp"))
    )
    if other:
        shown = ", ".join(other[:5]) + (", ..." if len(other) > 5 else "")
        raise RunFolderError(
            f"{folder} is not empty and holds no fnnet run (it has {shown}); "
            "fnnet writes only into a new or empty folder, or its own run folder"
        )


def config_differences(saved: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The computation keys on which two configs differ, each as ``key (a there, b here)``."""
    keys = [k for k in COMPUTATION_KEYS if saved.get(k) != config.get(k)]
    return [f"{k} ({saved.get(k)!r} there, {config.get(k)!r} here)" for k in keys]


def _fresh(config: dict[str, Any], folder: Path, exp: Experiment) -> None:
    """Start a run: remove an earlier run's files, write the config and epoch 0."""
    for name in RUN_FILES:
        if name != ".lock":
            (folder / name).unlink(missing_ok=True)
    write_config(folder, config)
    write_metrics(folder, [])
    save_checkpoint(folder, exp.params, exp.state, exp.opt_state, 0, config)


def _prepare(
    config: dict[str, Any], folder: Path, exp: Experiment, resume: bool | None
) -> tuple[int, tuple[PyTree, PyTree, PyTree], list[list[str]], bool]:
    """``(start epoch, (params, state, opt_state), metrics rows, replaced)``."""
    initial = (exp.params, exp.state, exp.opt_state)
    has_run = is_run_folder(folder)
    if resume is False or (resume is None and not has_run):
        _fresh(config, folder, exp)
        return 0, initial, [], has_run
    if not has_run:
        raise RunFolderError(f"{folder} holds no run to continue (no config.json of fnnet)")
    saved = read_run_config(folder)
    changed = config_differences(saved, config)
    if changed:
        raise RunFolderError(
            f"{folder}/config.json differs from this run's config in {', '.join(changed)}"
        )
    if not (folder / "checkpoint.npz").exists():
        rows = _read_rows(folder)
        if rows:
            raise RunFolderError(
                f"{folder} has {len(rows)} epochs in metrics.csv but no checkpoint.npz; "
                "it cannot be continued: start the run again"
            )
        # stopped while the run was being created, before its first checkpoint: the
        # initial trees are a function of the config, so the run simply starts
        _fresh(config, folder, exp)
        return 0, initial, [], False
    params, state, opt_state, epoch, written = checked_checkpoint(folder, exp, config)
    planned = written["epochs"]
    rows = _read_rows(folder)
    if len(rows) < epoch:
        raise RunFolderError(f"{folder}/metrics.csv has {len(rows)} rows for {epoch} epochs")
    if config["epochs"] < epoch:
        raise RunFolderError(
            f"epochs {config['epochs']} is fewer than the {epoch} epochs already trained"
        )
    if config["epochs"] != planned and epoch > 0 and schedule_depends_on_epochs(config["schedule"]):
        raise RunFolderError(
            f"the {config['schedule']} schedule of {folder} spreads its learning rates over "
            f"{planned} epochs; continuing to {config['epochs']} would not equal an "
            f"uninterrupted {config['epochs']}-epoch run: start a new run instead"
        )
    if config["epochs"] != saved["epochs"]:
        # a run extended with a schedule that ignores the total equals an uninterrupted
        # run of the new length, so its config says that length
        write_config(folder, config)
    (folder / "done").unlink(missing_ok=True)
    return epoch, (params, state, opt_state), rows[:epoch], False


def checked_checkpoint(
    folder: Path, exp: Experiment, config: dict[str, Any]
) -> tuple[PyTree, PyTree, PyTree, int, dict[str, Any]]:
    """The checkpoint of ``folder`` as :func:`load_checkpoint`, checked against ``config``.

    Its config must agree with ``config`` on every computation key, and its epoch must
    lie in ``0..epochs`` of the config it was written under; otherwise a ``ValueError``
    names the keys or the epoch.
    """
    params, state, opt_state, epoch, written = load_checkpoint(folder, exp)
    changed = config_differences(written, config)
    if changed:
        raise RunFolderError(
            f"{folder}/checkpoint.npz was written under another config: {', '.join(changed)}"
        )
    planned = written.get("epochs")
    if not isinstance(planned, int) or not 0 <= epoch <= planned:
        raise CheckpointError(
            f"{folder}/checkpoint.npz: epoch {epoch} is outside 0..{planned}, the run's epochs"
        )
    return params, state, opt_state, epoch, written


def _read_rows(folder: Path) -> list[list[str]]:
    try:
        return read_metrics(folder)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as err:
        raise RunFolderError(f"cannot continue the run in {folder}: {err}") from None


def _fmt(x: float) -> str:
    return repr(float(x))


def _train(
    config: dict[str, Any],
    folder: Path,
    exp: Experiment,
    start: int,
    trees: tuple[PyTree, PyTree, PyTree],
    rows: list[list[str]],
    on_epoch: Callable[[Row], None] | None,
    on_step: Callable[[int, int, int, float], None] | None,
) -> dict[str, Any]:
    """The epoch loop from ``start``; returns the summary without timing."""
    model, loss, epochs = exp.model, losses.cross_entropy, config["epochs"]
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = exp.splits[:3]
    params, state, opt_state = trees
    status, error = "ok", None
    for epoch in range(start, epochs):
        epoch_began = time.perf_counter()
        step_hook = None if on_step is None else functools.partial(on_step, epoch + 1)
        try:
            params, state, opt_state, train = train_epoch(
                model, loss, exp.optimizer, params, state, opt_state, x_tr, y_tr,
                epoch_key(config["seed"], epoch), batch_size=config["batch_size"],
                drop_last=exp.drop_last, on_step=step_hook,
            )  # fmt: skip
            val = evaluate(model, loss, params, state, x_va, y_va)
        except NonFiniteLossError as err:
            kept = f"epoch {epoch}" if epoch else "the initial one"
            status = "diverged"
            error = (
                f"non-finite loss ({err.value}) at epoch {epoch + 1}, step {err.step}; "
                f"the last good checkpoint ({kept}) is kept"
            )
            break
        if not math.isfinite(val.loss):
            status = "diverged"
            error = f"non-finite validation loss ({val.loss}) after epoch {epoch + 1}"
            break
        lr = exp.schedule(epoch * exp.steps_per_epoch)
        rows.append([str(epoch + 1), *map(_fmt, (*train, *val, lr))])
        write_metrics(folder, rows)
        save_checkpoint(folder, params, state, opt_state, epoch + 1, config)
        if on_epoch is not None:
            row: Row = {"epoch": epoch + 1}
            row.update({c: float(v) for c, v in zip(METRICS_COLUMNS[1:], rows[-1][1:])})
            row.update(epochs=epochs, seconds=time.perf_counter() - epoch_began)
            on_epoch(row)
    if status == "diverged":
        # the last good trees are those of the checkpoint: reload them for the test metrics
        params, state, opt_state, _, _ = load_checkpoint(folder, exp)
    test = evaluate(model, loss, params, state, x_te, y_te)
    try:
        plot(folder, rows)
        plots = True
    except ImportError:
        plots = False
    return _summary(rows, status, error, test.loss, test.accuracy, plots, folder, config)


def _summary(
    rows: list[list[str]],
    status: str,
    error: str | None,
    test_loss: float,
    test_accuracy: float,
    plots: bool,
    folder: Path,
    config: dict[str, Any],
) -> dict[str, Any]:
    val_loss = [float(r[3]) for r in rows]
    val_acc = [float(r[4]) for r in rows]
    best = min(range(len(rows)), key=val_loss.__getitem__) if rows else None
    return {
        "status": status,
        "error": error,
        "epochs": len(rows),
        "final_val_loss": val_loss[-1] if rows else None,
        "final_val_accuracy": val_acc[-1] if rows else None,
        "best_epoch": None if best is None else best + 1,
        "best_val_loss": None if best is None else val_loss[best],
        "best_val_accuracy": max(val_acc) if rows else None,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "plots": plots,
        "folder": str(folder),
        "config": json.loads(canonical_json(config)),
    }
