"""The timing harness: warm-up, interleaved rounds, busy pauses, worker processes, tables.

Every library is warmed up (JAX compiles then); then come interleaved rounds: each round
times every library in turn, in a rotating order, so that a change of load on the
machine hits all of them alike. A library's turn starts with a busy pause
(``settle_ms``) and one untimed call, then takes ``samples`` timings: OpenBLAS's worker
threads keep spinning for about 0.1 s after NumPy's last matrix product, and PyTorch's
threads, sharing the cores with them, would run many times slower right after a NumPy
step (the pause lets them sleep; every library is timed in its own steady state, as when
it runs alone; the pause is busy, not a sleep, as the timings after an idle CPU come out
up to 2x slower). A timing of a fast step runs it several times in a row (enough for
``sample_ms``) and counts the mean.

Steps are built and timed by a :class:`Bench`, either in this process
(:class:`LocalRunner`) or in a worker process (:class:`WorkerRunner`, ``worker.py``,
driven over a pipe): two checkouts of fnnet cannot be imported into one process, so each
flavour runs in its own worker, and the rounds still interleave every runner's steps.
This module imports no library: the runners are given a way to build the steps.
"""

from __future__ import annotations

import math
import os
import pickle
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from common import LIBS, MissingAPIError, Step, Steps

BuildFn = Callable[[str, frozenset[str]], Steps]


@dataclass
class Timing:
    """How to time: untimed calls first, then rounds of samples per library."""

    warmup: int
    rounds: int
    samples: int
    sample_ms: float
    settle_ms: float


@dataclass
class Result:
    """Medians and minima (ms) of one workload, by column label (``"fnnet@base"``, ...)."""

    name: str
    median_ms: dict[str, float]
    min_ms: dict[str, float]
    extra: list[str] = field(default_factory=list)  # labels reported below the table


def busy_wait(seconds: float) -> None:
    """Keep this thread busy for ``seconds``: a sleep would let the (virtual) CPU idle,
    and the timings right after it ran up to 2x slower until the CPU got back to speed."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def once(fn: Step) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sample(fn: Step, inner: int) -> float:
    """Mean time of ``inner`` calls in a row (seconds)."""
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


class Bench:
    """Builds one workload's steps for ``libs`` in this process and times them on request.

    Every method takes and returns plain values, so that a worker process can serve it
    over a pipe."""

    def __init__(self, build: BuildFn, libs: Sequence[str]) -> None:
        self._build, self._libs = build, frozenset(libs)
        self._steps: dict[str, Step] = {}

    def build(self, name: str) -> dict[str, Any]:
        """Build ``name`` and call every step once (JAX compiles here)."""
        self._steps = {}
        try:
            steps = self._build(name, self._libs)
        except MissingAPIError as missing:
            return {"description": "", "notes": [f"no {missing}: skipped"], "first": {}}
        self._steps = steps.all()
        first = {label: step() for label, step in self._steps.items()}
        return {
            "description": steps.description,
            "notes": steps.notes,
            "first": first,
            "extra": list(steps.extra),
        }

    def warm(self, label: str, warmup: int) -> float:
        """The fastest of ``warmup`` untimed calls (seconds)."""
        return min(once(self._steps[label]) for _ in range(max(warmup, 1)))

    def turn(self, label: str, settle_ms: float, inner: int, samples: int) -> list[float]:
        """One library's turn in a round: busy pause, one untimed call, ``samples`` timings."""
        busy_wait(settle_ms / 1e3)  # the previous library's threads go to sleep
        fn = self._steps[label]
        fn()  # one untimed call: this library's threads and data are back
        return [sample(fn, inner) for _ in range(samples)]

    def output(self, label: str) -> Any:
        """One more call's result (the loss now, or the output), to compare libraries."""
        return self._steps[label]()


class LocalRunner:
    """A :class:`Bench` in this process; its labels get ``suffix``."""

    def __init__(self, bench: Bench, suffix: str = "") -> None:
        self.bench, self.suffix = bench, suffix
        self.name = "this process"

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.bench, method)(*args)

    def close(self) -> None:
        pass


class WorkerRunner:
    """A :class:`Bench` in a worker process (``worker.py``) importing fnnet from ``root``.

    Requests ``(method, args)`` and replies ``("ok", value)`` / ``("error", text)`` are
    pickled over the worker's stdin and stdout; its prints go to stderr."""

    def __init__(self, root: Path, libs: Sequence[str], suffix: str, args: list[str]) -> None:
        self.suffix = suffix
        self.name = f"fnnet{suffix} worker"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [env.get("PYTHONPATH", "")])])
        worker = Path(__file__).with_name("worker.py")
        cmd = [sys.executable, str(worker), "--fnnet", str(root), "--libs", ",".join(libs)]
        self.proc = subprocess.Popen(
            [*cmd, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._send: IO[bytes] = self.proc.stdin
        self._recv: IO[bytes] = self.proc.stdout
        self.hello: dict[str, str] = self.call("hello")

    def call(self, method: str, *args: Any) -> Any:
        pickle.dump((method, args), self._send)
        self._send.flush()
        try:
            status, value = pickle.load(self._recv)
        except EOFError:
            raise RuntimeError(f"{self.name} exited (see its stderr)") from None
        if status == "error":
            raise RuntimeError(f"{self.name}: {value}")
        return value

    def close(self) -> None:
        if self.proc.poll() is None:
            pickle.dump(("close", ()), self._send)
            self._send.flush()
            self.proc.wait(timeout=30)


Runner = LocalRunner | WorkerRunner


def _agreement(outs: dict[str, Any]) -> str:
    """Training: the loss now per library; inference: the largest difference to fnnet's."""
    if all(isinstance(v, float) for v in outs.values()):
        return "loss now: " + ", ".join(f"{lib} {v:.4f}" for lib, v in outs.items())
    ref = outs.get("fnnet")
    if ref is None:
        return ""
    others = {lib: v for lib, v in outs.items() if lib != "fnnet"}
    diffs = [f"{lib} {np.max(np.abs(np.asarray(v) - ref)):.1e}" for lib, v in others.items()]
    return "max |output - fnnet's|: " + ", ".join(diffs) if diffs else ""


def run(name: str, runners: list[Runner], timing: Timing) -> Result:
    """Build ``name`` in every runner, then time all its steps in interleaved rounds."""
    entries: list[tuple[Runner, str, str]] = []  # (runner, its label, column label)
    first: dict[str, Any] = {}
    description, notes, extra = "", [], []
    for runner in runners:
        try:
            info = runner.call("build", name)
        except RuntimeError as err:  # e.g. an older fnnet without a name the workload needs
            notes.append(f"{runner.name}: {str(err).splitlines()[-1]}")
            continue
        description = description or info["description"]
        notes += [f"{runner.name}: {note}" for note in info["notes"]]
        for label, value in info["first"].items():
            column = label + runner.suffix
            entries.append((runner, label, column))
            first[column] = value
            if label in info.get("extra", []):
                extra.append(column)
    inner = {}
    for runner, label, column in entries:
        t = runner.call("warm", label, timing.warmup)
        inner[column] = max(1, math.ceil(timing.sample_ms / 1e3 / max(t, 1e-7)))
    times: dict[str, list[float]] = {column: [] for _, _, column in entries}
    # rotate the order: no library always runs first
    for r in range(timing.rounds if entries else 0):
        for runner, label, column in entries[r % len(entries) :] + entries[: r % len(entries)]:
            times[column] += runner.call(
                "turn", label, timing.settle_ms, inner[column], timing.samples
            )
    print(f"\n[{name}] {description}")
    for note in dict.fromkeys(notes):
        print(f"  note: {note}")
    losses_first = {k: v for k, v in first.items() if isinstance(v, float)}
    if losses_first:
        print("  loss at step 1: " + ", ".join(f"{k} {v:.4f}" for k, v in losses_first.items()))
    outs = {c: r.call("output", label) for r, label, c in entries if not c.startswith("floor")}
    if outs:
        print("  " + _agreement(outs))
    for column, t in times.items():
        print(
            f"  {column:<12} median {1e3 * statistics.median(t):9.3f} ms  "
            f"min {1e3 * min(t):9.3f} ms  ({len(t)} timings of {inner[column]} calls)"
        )
    return Result(
        name,
        {c: 1e3 * statistics.median(t) for c, t in times.items()},
        {c: 1e3 * min(t) for c, t in times.items()},
        extra,
    )


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}"


def table(results: list[Result], baseline: bool, stat: str = "median") -> str:
    """A Markdown table of medians (``stat="min"``: minima) in ms, ratios and the floor's
    share of fnnet's time; with ``baseline``, the older fnnet's column and new / base."""
    head = ["workload", "fnnet ms"]
    if baseline:
        head += ["fnnet@base ms", "new/base"]
    head += ["PyTorch ms", "JAX ms", "fnnet/PyTorch", "fnnet/JAX", "GEMM floor ms", "floor/fnnet"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in results:
        ms = r.median_ms if stat == "median" else r.min_ms
        f, t, j, fl = (ms.get(lib) for lib in LIBS)
        cells = [r.name, fmt_ms(f)]
        if baseline:
            base = ms.get("fnnet@base")
            cells += [fmt_ms(base), ratio(f, base)]
        cells += [fmt_ms(t), fmt_ms(j), ratio(f, t), ratio(f, j), fmt_ms(fl), ratio(fl, f)]
        lines.append("| " + " | ".join(cells) + " |")
    extras = [(r, label) for r in results for label in r.extra]
    if extras:
        lines += ["", "| workload | compared with | its ms | fnnet ms | fnnet/it |"]
        lines.append("|" + " --- |" * 5)
        for r, label in extras:
            ms = r.median_ms if stat == "median" else r.min_ms
            f, e = ms.get("fnnet"), ms.get(label)
            lines.append(f"| {r.name} | {label} | {fmt_ms(e)} | {fmt_ms(f)} | {ratio(f, e)} |")
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def header(threads: int, pinned: str, versions: list[str]) -> None:
    """CPU, load, versions and the thread pools (BLAS, OpenMP, PyTorch, XLA)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cpu_name()}, {cores} cores usable, {platform.system()} {platform.release()}")
    print(f"load average (1, 5, 15 min): {load()}")
    print(", ".join([f"python {platform.python_version()}", f"numpy {np.__version__}", *versions]))
    print(f"threads: {threads} (BLAS/OpenMP pinned via {pinned})")
    for var in ("XLA_FLAGS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        print(f"  {var} = {os.environ.get(var, '(not set)')}")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return
    for pool in threadpool_info():
        print(
            f"  {pool['internal_api']} {pool.get('version') or ''} "
            f"{pool.get('architecture', '')} threads={pool['num_threads']} "
            f"({Path(pool['filepath']).name})"
        )
