"""Running a sweep: every run of a spec, each an ordinary run folder, on any executor.

Layout of a sweep folder ``DIR``::

    DIR/sweep.json        the spec, its fingerprint and the versions (written first)
    DIR/runs/<run_id>/    one ordinary run folder per config (what fnnet train writes)
    DIR/failed.json       the runs that raised, with their one-line errors
    DIR/results.csv       one row per finished run, rebuilt by the driver from the folders
    DIR/summary.png       the metric against each swept option (with matplotlib)

Only the driver (the process calling :func:`run`) writes the files of ``DIR`` itself;
a worker writes nothing but its own run folder. A run is a pure function of its config
(BLAS threads included), so its folder holds the same bytes whichever process ran it.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fnnet import experiment
from fnnet.cli.config import ConfigError, read_run_config
from fnnet.experiment.build import canonical_json
from fnnet.experiment.rundir import lock, read_metrics, write_text_atomic
from fnnet.sweep.report import METRICS, rows_to_csv, write_summary_plot
from fnnet.sweep.spec import (
    SweepError,
    check,
    check_extension,
    expand,
    fingerprint,
    run_id,
    run_name,
    swept_keys,
)

__all__ = ["Run", "plan", "run", "run_one"]

Row = dict[str, Any]


class Run(dict[str, Any]):
    """One planned run: ``config``, ``run_id``, ``name``, ``folder``, ``state``
    (``"done"``, ``"failed"``, ``"interrupted"`` or ``"new"``) and its ``row`` if finished."""


def run_one(config: dict[str, Any], folder: str) -> Row:
    """Train one run of a sweep (in a worker); its result row. Never raises for the run's
    own failures: an exception becomes ``status = "failed"`` with a one-line ``error``."""
    began = time.perf_counter()
    try:
        summary = experiment.run(config, folder)
    except Exception as err:  # a failed run is a result, not a crash of the sweep
        seconds = time.perf_counter() - began
        return {"status": "failed", "error": _one_line(err), "wall_time": seconds}
    return _row_from_summary(summary)


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".strip()


def _row_from_summary(summary: dict[str, Any]) -> Row:
    return {k: summary.get(k) for k in ("status", *METRICS, "epochs", "wall_time", "error")}


def _finished_row(folder: Path, config: dict[str, Any]) -> Row | None:
    """The row of a finished run in ``folder``: a ``done`` marker (written last), the same
    config and a complete ``metrics.csv``; else ``None``."""
    try:
        summary = json.loads((folder / "done").read_text(encoding="utf-8"))
        same = canonical_json(read_run_config(folder)) == canonical_json(config)
        rows = read_metrics(folder)
    except (OSError, ValueError, ConfigError):
        return None
    if not same or not isinstance(summary, dict) or len(rows) != summary.get("epochs"):
        return None
    if summary.get("status") == "ok" and len(rows) != config["epochs"]:
        return None
    return _row_from_summary(summary)


def plan(spec: dict[str, Any], out: str | Path) -> list[Run]:
    """The runs of ``spec`` in folder ``out`` and the state each is in (reads only)."""
    spec = check(spec)
    out = Path(out)
    failed = _read_failed(out)
    keys = swept_keys(spec)
    runs = []
    for config in expand(spec):
        rid = run_id(config)
        folder = out / "runs" / rid
        row = _finished_row(folder, config)
        if row is not None:
            state = "done"
        elif rid in failed:
            state, row = "failed", failed[rid]
        elif (folder / "config.json").exists():
            state = "interrupted"
        else:
            state = "new"
        runs.append(Run(config=config, run_id=rid, name=run_name(config, keys), folder=folder,
                        state=state, row=row))  # fmt: skip
    return runs


def _read_failed(out: Path) -> dict[str, Row]:
    try:
        data = json.loads((out / "failed.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _prepare_folder(spec: dict[str, Any], out: Path) -> None:
    """Create ``out`` with its ``sweep.json``, or check that an existing one may go on."""
    meta = out / "sweep.json"
    if meta.exists():
        try:
            old = json.loads(meta.read_text(encoding="utf-8"))["spec"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SweepError(f"cannot read {meta}: {err}") from None
        check_extension(old, spec)
    elif out.exists() and any(p.name != ".lock" for p in out.iterdir()):
        raise SweepError(
            f"{out} is not empty and holds no sweep (no sweep.json); "
            "fnnet writes a sweep only into a new or empty folder, or its own sweep folder"
        )
    body = {"spec": spec, "fingerprint": fingerprint(spec), "versions": experiment.versions()}
    write_text_atomic(meta, json.dumps(body, indent=2, sort_keys=True) + "\n")


def _default_executor(workers: int) -> cf.Executor:
    # a fresh interpreter per worker ("spawn"): no copy of the driver's threads or locks
    context = multiprocessing.get_context("spawn")
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=context)


def run(
    spec: dict[str, Any],
    out: str | Path,
    executor: cf.Executor | None = None,
    *,
    workers: int = 1,
    retry_failed: bool = False,
    fail_fast: bool = False,
    on_result: Callable[[Run, int, int], None] | None = None,
) -> list[Row]:
    """Run every run of ``spec`` into ``out``; returns the rows of ``results.csv``.

    Finished runs are skipped, interrupted ones continue from their checkpoint, failed
    ones are run again only with ``retry_failed``. ``executor``: any
    ``concurrent.futures.Executor`` (a Dask cluster's ``client.get_executor()``
    included); ``None`` runs in this process when ``workers == 1`` and in a pool of
    ``workers`` processes otherwise (started fresh, "spawn": a script calling this with
    ``workers > 1`` keeps the call under ``if __name__ == "__main__":``).
    ``on_result(run, finished, total)`` is called as runs finish. An exception in one
    run is a ``failed`` row and the sweep goes on (with ``fail_fast`` the remaining runs
    are cancelled). On ``KeyboardInterrupt`` the
    finished runs are kept, ``results.csv`` is written and the interrupt re-raised.
    """
    spec = check(spec)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SweepError(f"workers must be an integer >= 1, got {workers!r}")
    out = Path(out)
    if not str(out).strip():
        raise SweepError("the sweep folder must be a path, got ''")
    out.mkdir(parents=True, exist_ok=True)
    with lock(out):
        _prepare_folder(spec, out)
        runs = plan(spec, out)
        failed = {r["run_id"]: r["row"] for r in runs if r["state"] == "failed"}
        todo = [r for r in runs if r["state"] in ("new", "interrupted")
                or (r["state"] == "failed" and retry_failed)]  # fmt: skip
        finished = len(runs) - len(todo)
        try:
            for r, row in _execute(todo, executor, workers, fail_fast):
                r["row"] = row
                r["state"] = "failed" if row["status"] == "failed" else "done"
                if row["status"] == "failed":
                    failed[r["run_id"]] = row
                else:
                    failed.pop(r["run_id"], None)
                write_text_atomic(out / "failed.json", json.dumps(failed, indent=2) + "\n")
                finished += 1
                if on_result is not None:
                    on_result(r, finished, len(runs))
        finally:
            rows = _write_results(spec, out, runs)
    return rows


def _execute(todo: list[Run], executor: cf.Executor | None, workers: int, fail_fast: bool) -> Any:
    """Yield ``(run, row)`` as runs finish."""
    if not todo:
        return
    if executor is None and workers == 1:
        for r in todo:
            row = run_one(r["config"], str(r["folder"]))
            yield r, row
            if fail_fast and row["status"] == "failed":
                return
        return
    own = executor is None
    pool = _default_executor(workers) if executor is None else executor
    futures: dict[cf.Future[Row], Run] = {}
    try:
        for r in todo:
            futures[pool.submit(run_one, r["config"], str(r["folder"]))] = r
        for future in cf.as_completed(futures):
            r = futures.pop(future)
            try:
                row = future.result()
            except Exception as err:  # a lost worker, a pickling error: the run failed
                row = {"status": "failed", "error": _one_line(err)}
            yield r, row
            if fail_fast and row["status"] == "failed":
                break
    finally:
        for future in futures:
            future.cancel()
        if own:
            pool.shutdown(wait=True, cancel_futures=True)


def _write_results(spec: dict[str, Any], out: Path, runs: list[Run]) -> list[Row]:
    """Rebuild ``results.csv`` (and ``summary.png``) from the finished runs, atomically."""
    keys = swept_keys(spec)
    rows = []
    for r in runs:
        if r.get("row") is None or r["state"] not in ("done", "failed"):
            continue
        row = {"run_id": r["run_id"], "name": r["name"]}
        row.update({k: r["config"].get(k) for k in keys})
        row["seed"] = r["config"]["seed"]
        row.update(r["row"])
        rows.append(row)
    write_text_atomic(out / "results.csv", rows_to_csv(rows, keys))
    try:
        write_summary_plot(out / "summary.png", rows, keys)
    except ImportError:  # matplotlib is optional
        pass
    return rows
