"""``fnnet sweep SPEC.toml``: every run of a sweep spec, then a table of the results.

The work is :func:`fnnet.sweep.run`; this module parses the options, starts the
executor (a local process pool, or a Dask cluster through ``Client.get_executor()``),
shows progress and prints the table.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "command"]


def add_parser(sub: Any) -> None:
    """Add the ``sweep`` subcommand to the subparsers ``sub`` of ``fnnet``."""
    p = sub.add_parser(
        "sweep",
        help="run a grid (or random sample) of runs from a TOML spec",
        description=(
            "Run every run of a sweep spec into DIR/runs/<run_id>/ and write DIR/results.csv "
            "and DIR/summary.png. Rerunning the same command skips finished runs and "
            "continues interrupted ones; only grid values and seeds may be added to a spec."
        ),
    )
    p.add_argument("spec", metavar="SPEC.toml")
    p.add_argument("--out", metavar="DIR", help="sweep folder (default sweeps/<name>)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on a Dask cluster: a scheduler address, or local:N for a LocalCluster of "
        "N one-thread workers (needs fnnet[dask])",
    )
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed run")
    p.add_argument("--dry-run", action="store_true", help="list the runs and their state only")


@contextlib.contextmanager
def _dask_executor(address: str) -> Iterator[Executor]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("--dask needs Dask: pip install 'fnnet[dask]'") from None
    if address.startswith("local:"):
        n = address[len("local:") :]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"--dask local:N needs N >= 1, got {address!r}")
        cluster = LocalCluster(
            n_workers=int(n), threads_per_worker=1, processes=True, dashboard_address=None
        )
        with cluster, Client(cluster) as client:
            yield client.get_executor()
    else:
        with Client(address, timeout="10s") as client:
            yield client.get_executor()


def command(args: argparse.Namespace) -> int:
    """Run ``fnnet sweep``; returns the exit status (1 when a run failed)."""
    from fnnet import sweep

    spec = sweep.read_spec(args.spec)
    out = Path(args.out if args.out is not None else f"sweeps/{spec['sweep']['name']}")
    if not str(out).strip():
        raise ValueError("--out must name a folder, got ''")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.dask is not None and args.workers != 1:
        raise ValueError("give --workers or --dask, not both")
    keys = sweep.swept_keys(spec)
    if args.dry_run:
        runs = sweep.plan(spec, out)
        for r in runs:
            print(f"{r['run_id']}  {r['state']:<11}  {r['name']}")
        print(f"{len(runs)} runs in {out}")
        return 0
    bar = _Progress()
    with contextlib.ExitStack() as stack:
        executor = None if args.dask is None else stack.enter_context(_dask_executor(args.dask))
        try:
            rows = sweep.run(
                spec, out, executor, workers=args.workers, retry_failed=args.retry_failed,
                fail_fast=args.fail_fast, on_result=bar.update,
            )  # fmt: skip
        finally:
            bar.close()
    print(sweep.table(rows, keys))
    print(f"results in {out / 'results.csv'}")
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        print(
            f"fnnet: {len(failed)} runs failed (see {out / 'results.csv'}); "
            "rerun with --retry-failed to run them again",
            file=sys.stderr,
        )
        return 1
    return 0


class _Progress:
    """A bar over runs on a terminal, one line per finished run otherwise."""

    def __init__(self) -> None:
        self.bar: Any = None

    def update(self, run: Any, finished: int, total: int) -> None:
        row = run["row"]
        if sys.stderr.isatty():
            if self.bar is None:
                try:
                    from tqdm import tqdm
                except ImportError:
                    tqdm = None
                if tqdm is not None:
                    self.bar = tqdm(total=total, initial=finished - 1, desc="runs", file=sys.stderr)
            if self.bar is not None:
                self.bar.update(1)
                return
        acc = row.get("final_val_accuracy")
        shown = f"val acc {acc:.4f}" if isinstance(acc, float) else row.get("error") or ""
        print(f"[{finished}/{total}] {row['status']:<8} {run['name']}  {shown}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
