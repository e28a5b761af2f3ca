"""Wall time of a sweep of 8 Iris runs: ``fnnet sweep --workers 1`` vs ``--workers 2``, and Dask.

Not a test and not part of ``bench.py``'s table: a script that runs the same sweep spec
(4 seeds x 2 learning rates on Iris, fresh output folders each time) through the
command line and prints

- the wall time with ``--workers 1`` and ``--workers 2`` and their ratio (on 2 cores the
  target is at most 0.6);
- with ``dask.distributed`` installed: the start-up time of a ``LocalCluster`` of 2
  single-threaded worker processes, the sweep's wall time on it (``--dask ADDRESS``),
  and the overhead per run against ``--workers 2``: ``(t_dask - t_workers2) / runs``.

    python benchmarks/sweep_bench.py                  # this checkout's fnnet
    python benchmarks/sweep_bench.py --epochs 200 --repeats 3

Skips with a note when the fnnet it finds has no ``fnnet.sweep``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """\
[sweep]
name = "iris-bench"
method = "grid"
seeds = [0, 1, 2, 3]

[base]
dataset = "iris"
epochs = {epochs}

[grid]
lr = [0.01, 0.03]
"""
RUNS = 8  # 4 seeds x 2 learning rates


def _sweep(root: Path, spec: Path, out: Path, extra: list[str]) -> float:
    """Wall time (s) of ``python -m fnnet sweep spec --out out *extra``; fails loudly."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "fnnet", "sweep", str(spec), "--out", str(out), *extra]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sweep_bench: {' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = Path(__file__).resolve().parents[1]
    parser.add_argument("--fnnet", type=Path, default=here, help="checkout holding fnnet/")
    parser.add_argument("--epochs", type=int, default=100, help="epochs per Iris run")
    parser.add_argument("--repeats", type=int, default=1, help="sweeps per setting")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask measurement")
    args = parser.parse_args(argv)

    root = args.fnnet.resolve()
    sys.path.insert(0, str(root))
    if importlib.util.find_spec("fnnet.sweep") is None:
        print(f"sweep_bench: skipped: the fnnet in {root} has no fnnet.sweep")
        return
    with tempfile.TemporaryDirectory(prefix="sweep_bench_") as tmp:
        spec = Path(tmp) / "spec.toml"
        spec.write_text(SPEC.format(epochs=args.epochs))
        print(f"sweep of {RUNS} Iris runs ({args.epochs} epochs each), fnnet from {root}")
        times: dict[str, list[float]] = {"1": [], "2": []}
        for r in range(args.repeats):  # alternate the settings, as bench.py's rounds do
            for workers in ("1", "2") if r % 2 == 0 else ("2", "1"):
                out = Path(tmp) / f"w{workers}-{r}"
                times[workers].append(_sweep(root, spec, out, ["--workers", workers]))
        t1, t2 = (statistics.median(times[w]) for w in ("1", "2"))
        print(f"  --workers 1: {t1:7.2f} s")
        print(f"  --workers 2: {t2:7.2f} s   ratio {t2 / t1:.2f} (target <= 0.6)")
        if args.no_dask:
            return
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            print("  dask: skipped (dask[distributed] not installed)")
            return
        start = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
        client = Client(cluster)
        client.wait_for_workers(2)
        t_start = time.perf_counter() - start
        try:
            t_dask = _sweep(root, spec, Path(tmp) / "dask", ["--dask", cluster.scheduler_address])
        finally:
            client.close()
            cluster.close()
        print(f"  dask LocalCluster (2 workers x 1 thread) start-up: {t_start:5.2f} s")
        print(
            f"  dask sweep: {t_dask:7.2f} s, overhead per run vs --workers 2: "
            f"{(t_dask - t2) / RUNS:+.3f} s"
        )


if __name__ == "__main__":
    main()
