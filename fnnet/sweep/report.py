"""A sweep's results: ``results.csv``, the summary table and ``summary.png``."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

__all__ = ["METRICS", "RESULT_COLUMNS", "group", "rows_to_csv", "table", "write_summary_plot"]

METRICS = ("final_val_loss", "final_val_accuracy", "best_val_loss", "best_val_accuracy",
           "test_loss", "test_accuracy")  # fmt: skip
RESULT_COLUMNS = ("run_id", "name", "status", "seed", *METRICS, "epochs", "wall_time", "error")

Row = dict[str, Any]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)  # shortest text that reads back as the same float
    return str(v)


def rows_to_csv(rows: list[Row], keys: list[str]) -> str:
    """``results.csv``: run_id, name, status, the swept options, seed, the metrics, epochs,
    wall time and error, one row per finished run."""
    columns = ["run_id", "name", "status", *keys, *RESULT_COLUMNS[3:]]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def group(rows: list[Row], keys: list[str]) -> list[dict[str, Any]]:
    """Per grid point (the swept options, seeds pooled): mean and sample std over seeds
    of each metric of the runs that did not fail; best point first (highest mean final
    validation accuracy, then lowest mean final validation loss)."""
    points: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        if row.get("status") in ("ok", "diverged") and row.get("final_val_loss") is not None:
            points.setdefault(tuple(_cell(row.get(k)) for k in keys), []).append(row)
    out = []
    for point, runs in points.items():
        entry: dict[str, Any] = dict(zip(keys, point))
        entry["runs"] = len(runs)
        for m in METRICS:
            values = [float(r[m]) for r in runs if r.get(m) is not None]
            entry[m] = _mean_std(values) if values else (math.nan, math.nan)
        out.append(entry)
    out.sort(key=lambda e: (-e["final_val_accuracy"][0], e["final_val_loss"][0]))
    return out


def table(rows: list[Row], keys: list[str]) -> str:
    """The summary table printed at the end of a sweep."""
    groups = group(rows, keys)
    head = [*keys, "runs", "val loss", "val acc", "test acc"]
    body = []
    for g in groups:
        stats = [f"{g[m][0]:.4f} ± {g[m][1]:.4f}"
                 for m in ("final_val_loss", "final_val_accuracy", "test_accuracy")]  # fmt: skip
        body.append([*(g[k] for k in keys), str(g["runs"]), *stats])
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in [head, *body]]
    failed = sum(1 for r in rows if r.get("status") == "failed")
    diverged = sum(1 for r in rows if r.get("status") == "diverged")
    lines.append(f"{len(rows)} runs: {len(rows) - failed - diverged} ok, "
                 f"{diverged} diverged, {failed} failed")  # fmt: skip
    return "\n".join(lines)


def _numeric(values: list[str]) -> bool:
    try:
        [float(v) for v in values]
    except ValueError:
        return False
    return True


def write_summary_plot(path: Path, rows: list[Row], keys: list[str]) -> None:
    """``summary.png``: final validation accuracy against each swept option, one line per
    combination of the other swept options, error bars one std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = group(rows, keys)
    if not groups:  # every run failed: nothing to draw
        path.unlink(missing_ok=True)
        return
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(4.5 * max(len(keys), 1), 3.5),
                             squeeze=False)  # fmt: skip
    for ax, key in zip(axes[0], keys):
        others = [k for k in keys if k != key]
        values = {g[key] for g in groups}
        xs_all = sorted(values, key=float) if _numeric(list(values)) else sorted(values)
        numeric = _numeric(xs_all)
        lines: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for g in groups:
            lines.setdefault(tuple(g[k] for k in others), []).append(g)
        for label, gs in sorted(lines.items()):
            gs = sorted(gs, key=lambda g: xs_all.index(g[key]))
            x = [float(g[key]) if numeric else xs_all.index(g[key]) for g in gs]
            y = [g["final_val_accuracy"][0] for g in gs]
            err = [g["final_val_accuracy"][1] for g in gs]
            name = ", ".join(f"{k}={v}" for k, v in zip(others, label)) or None
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name)
        if numeric and min(float(v) for v in xs_all) > 0 and len(xs_all) > 1:
            lo, hi = min(float(v) for v in xs_all), max(float(v) for v in xs_all)
            if hi / lo >= 10:
                ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(xs_all)), xs_all)
        ax.set_xlabel(key)
        ax.set_ylabel("final validation accuracy")
        if others:
            ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)
