"""Side-by-side timings: fnnet, PyTorch (eager, CPU) and JAX (jit, CPU), and the GEMM floor.

Not a test: a script that prints median times of one full training step (forward, loss,
pullback, optimizer update) per workload, and of inference (``apply`` on 1,024 samples),
with the ratios fnnet / PyTorch and fnnet / JAX, and the *GEMM floor*: the time of only
the step's matrix products in NumPy (``lib_floor``), with fnnet's share of it.

    python benchmarks/bench.py                        # every workload, 2 threads
    python benchmarks/bench.py --workloads tiny,cnn   # a chosen few (comma-separated)
    python benchmarks/bench.py --quick                # smoke run (CI): a few calls
    python benchmarks/bench.py --threads 1            # BLAS / OpenMP / XLA threads
    python benchmarks/bench.py --baseline ../old      # + an older fnnet checkout, side by side
    python benchmarks/bench.py --baseline ../old --same-process

With ``--baseline PATH`` (a checkout or worktree holding an older ``fnnet/``), the
current fnnet and the older one each run in a worker process of their own and are
timed in the same interleaved rounds as PyTorch, JAX and the floor (which stay in this
process); the table gets the columns ``fnnet@base`` and ``new/base``. With
``--same-process`` the older fnnet is loaded in this process instead, beside the current
one, as the package ``fnnet_base`` (``ab.py``): both then share the process's luck (a
shared machine can run the same code 20-40% faster in one process than in the next).
A workload that needs a name an fnnet lacks is skipped for it with a one-line note.

Modules: ``harness`` (timing, rounds, workers, table, header), ``workloads`` (what each
computes, shapes and data), ``lib_fnnet`` / ``lib_torch`` / ``lib_jax`` / ``lib_floor``
(one per library), ``threads`` (thread pools), ``allocator`` (glibc malloc: freed memory
kept for reuse in every process, for every library; ``--glibc-defaults`` leaves it),
``worker`` (a worker process's loop). PyTorch and JAX columns stay empty when not
installed.
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import threads

threads.pin_before_import(threads.threads_from_argv(sys.argv[1:]))

import allocator  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's fnnet
import harness  # noqa: E402
import workloads  # noqa: E402

import fnnet  # noqa: E402


def _git_head(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.stdout.strip()[:72] or "not a git checkout"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--workloads", default=",".join(workloads.WORKLOADS), help="comma-separated names"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 2 calls")
    parser.add_argument(
        "--threads", type=int, default=threads.DEFAULT_THREADS, help="BLAS / OpenMP / XLA threads"
    )
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls per library")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds per workload")
    parser.add_argument("--samples", type=int, default=10, help="timings per library per round")
    parser.add_argument(
        "--sample-ms", type=float, default=5.0, help="repeat a fast step to fill this many ms"
    )
    parser.add_argument(
        "--settle-ms", type=float, default=150.0, help="pause before each library's turn"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="PATH",
        help="a checkout of an older fnnet: adds the column fnnet@base (worker processes)",
    )
    parser.add_argument(
        "--same-process",
        action="store_true",
        help="with --baseline: load the older fnnet beside this one, in this process "
        "(as fnnet_base, see ab.py), instead of one worker process per fnnet",
    )
    parser.add_argument(
        "--glibc-defaults",
        action="store_true",
        help="leave glibc's malloc as it is (by default freed memory is kept for reuse, "
        "in every process and for every library: benchmarks/allocator.py)",
    )
    return parser


def _runners(args: argparse.Namespace) -> list[harness.Runner]:
    """One runner for everything; with ``--baseline``, one worker per fnnet flavour."""

    def build(name: str, libs: frozenset[str]) -> workloads.Steps:
        return workloads.WORKLOADS[name](libs)

    if args.baseline is None:
        return [harness.LocalRunner(harness.Bench(build, workloads.LIBS))]
    if args.same_process:
        import ab  # the renamed copy of the older fnnet, and workloads built with it

        folder = Path(tempfile.mkdtemp(prefix="fnnet_base_"))
        atexit.register(shutil.rmtree, folder, True)
        base = ab.base_workloads(args.baseline, folder)

        def build_base(name: str, libs: frozenset[str]) -> workloads.Steps:
            return base.WORKLOADS[name](libs)

        older = harness.LocalRunner(harness.Bench(build_base, ["fnnet"]), "@base")
        older.name = "fnnet@base (this process)"
        return [harness.LocalRunner(harness.Bench(build, workloads.LIBS)), older]
    flags = ["--threads", str(args.threads)] + (["--glibc-defaults"] * args.glibc_defaults)
    here = Path(fnnet.__file__).resolve().parents[1]
    return [
        harness.WorkerRunner(here, ["fnnet"], "", flags),
        harness.WorkerRunner(args.baseline.resolve(), ["fnnet"], "@base", flags),
        harness.LocalRunner(harness.Bench(build, ["torch", "jax", "floor"])),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in workloads.WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {sorted(workloads.WORKLOADS)}")
    if args.baseline is not None and not (args.baseline / "fnnet" / "__init__.py").is_file():
        parser.error(f"--baseline: expected a checkout holding fnnet/, got {args.baseline}")
    if args.same_process and args.baseline is None:
        parser.error("--same-process: only with --baseline PATH")
    if args.quick:
        timing = harness.Timing(1, 1, 2, 0.0, min(args.settle_ms, 50.0))
        print("quick smoke run: a few calls each, the timings below are only indicative")
    else:
        timing = harness.Timing(
            args.warmup, args.rounds, args.samples, args.sample_ms, args.settle_ms
        )

    malloc = allocator.configure(args.glibc_defaults)
    versions = [f"fnnet {_git_head(Path(fnnet.__file__).resolve().parents[1]).split()[0]}"]
    for lib in ("torch", "jax"):
        module = workloads.library(lib)
        versions.append(f"{lib} {module.VERSION}" if module else f"{lib} not installed")
    pinned = threads.limit_after_import(args.threads)
    runners = _runners(args)
    try:
        harness.header(args.threads, pinned, versions)
        print(f"malloc: {malloc}")
        if args.same_process:
            print(
                f"fnnet@base: {args.baseline.resolve()} ({_git_head(args.baseline)}), "
                "loaded in this process as fnnet_base"
            )
        for runner in runners:
            if isinstance(runner, harness.WorkerRunner):
                root = Path(runner.hello["fnnet"]).parent
                print(
                    f"fnnet{runner.suffix}: {runner.hello['fnnet']} ({_git_head(root)}), "
                    f"worker process; malloc: {runner.hello['malloc']}"
                )
        print(
            f"per workload and library: {timing.warmup} untimed calls, then {timing.rounds} "
            f"interleaved rounds of {timing.samples} timings (>= {timing.sample_ms:g} ms each), "
            f"each turn after a {timing.settle_ms:g} ms pause"
        )
        start = time.perf_counter()
        results = [harness.run(name, runners, timing) for name in names]
    finally:
        for runner in runners:
            runner.close()
    elapsed = time.perf_counter() - start
    print(f"\n{elapsed:.0f} s in all, load average now: {harness.load()}")
    baseline = args.baseline is not None
    print(f"\nmedian time per step (ms):\n\n{harness.table(results, baseline)}")
    print(f"\nminimum (steadier on a loaded machine):\n\n{harness.table(results, baseline, 'min')}")


if __name__ == "__main__":
    main()
