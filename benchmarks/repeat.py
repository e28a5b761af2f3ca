"""Run ``bench.py`` several times, each in fresh processes, and summarise its ratios.

On a shared or virtual machine the same code can run 20-40% faster or slower in one
process than in the next (memory placement, cache aliasing, the host's load), while
the interleaved rounds inside one run keep the libraries comparable only within that
run. A ratio such as ``new/base`` or ``fnnet/PyTorch`` is therefore a sample per run;
this script takes several and prints, per workload and ratio, the median over runs
and the range::

    python benchmarks/repeat.py --runs 5 -- --baseline ../old --rounds 8 --workloads tiny,bn_mlp
    python benchmarks/repeat.py --runs 5 -- --rounds 8 --workloads resnet

Everything after ``--`` goes to ``bench.py`` unchanged. Each run's own output is kept
in ``--log`` (default: not kept) for inspection.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().with_name("bench.py")
# the columns of bench.py's table that are ratios (a value per workload and run)
RATIOS = ("new/base", "fnnet/PyTorch", "fnnet/JAX", "floor/fnnet")


def median_table(output: str) -> dict[str, dict[str, float]]:
    """``{workload: {ratio column: value}}`` from the first table after "median time"."""
    lines = output.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("median time"))
    except StopIteration:
        raise ValueError("no 'median time per step' table in bench.py's output") from None
    rows = [line for line in lines[start + 1 :] if line.startswith("|")]
    table: dict[str, dict[str, float]] = {}
    head: list[str] = []
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not head:
            head = cells
            continue
        if set(cells[0]) <= {"-", " "}:  # the |---| line
            continue
        if cells[0] == "workload" or len(cells) != len(head):  # the next table begins
            break
        table[cells[0]] = {
            name: float(value)
            for name, value in zip(head, cells)
            if name in RATIOS and value not in ("-", "")
        }
    return table


def summarise(runs: list[dict[str, dict[str, float]]]) -> str:
    """A Markdown table: per workload and ratio, ``median [min-max]`` over the runs."""
    workloads = list(dict.fromkeys(w for run in runs for w in run))
    columns = [c for c in RATIOS if any(c in run.get(w, {}) for run in runs for w in workloads)]
    lines = [
        "| workload | " + " | ".join(columns) + " |",
        "|" + " --- |" * (len(columns) + 1),
    ]
    for w in workloads:
        cells = [w]
        for c in columns:
            values = [run[w][c] for run in runs if c in run.get(w, {})]
            if not values:
                cells.append("-")
                continue
            cells.append(f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ours, bench_args = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh runs of bench.py")
    parser.add_argument("--log", type=Path, help="append every run's full output to this file")
    args = parser.parse_args(ours)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    runs = []
    for k in range(args.runs):
        done = subprocess.run(
            [sys.executable, str(BENCH), *bench_args], capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"bench.py failed (run {k + 1}):\n{done.stderr.strip()}")
        if args.log is not None:
            with args.log.open("a") as log:
                log.write(f"\n===== run {k + 1} of {args.runs}: bench.py {' '.join(bench_args)}\n")
                log.write(done.stdout)
        head = next((line for line in done.stdout.splitlines() if line.startswith("machine:")), "")
        runs.append(median_table(done.stdout))
        ratios = "; ".join(
            f"{w} " + ", ".join(f"{c} {v:.2f}" for c, v in r.items()) for w, r in runs[-1].items()
        )
        print(f"run {k + 1}/{args.runs}: {ratios}", flush=True)
    print(f"\n{head}\nratios over {args.runs} runs, median [min-max] of the runs' medians:\n")
    print(summarise(runs))


if __name__ == "__main__":
    main()
