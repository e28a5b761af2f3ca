"""An older fnnet and the current one in one process: new/base per workload, round by round.

``bench.py --baseline`` runs each fnnet in a worker process of its own. On a shared
virtual machine one process can run the same code 20-40% faster or slower than the next
(where its memory lands, which core, the host's load), which for a small step is more
than the difference being measured. Here the older checkout is loaded *beside* the
current one: its ``fnnet/`` is copied to a temporary folder as the package
``fnnet_base`` (its ``from fnnet...`` imports renamed), and the benchmark's own
``lib_fnnet`` and ``workloads`` modules are loaded a second time against it, so both
build the same workload from the same code, weights and batch. The two steps then take
turns, in alternating order, for ``--rounds`` rounds; each round gives one ratio
new/base, and the table shows each side's median ms and the median of the ratios with
its quartiles::

    python benchmarks/ab.py --baseline ../base --workloads tiny,bn_mlp --rounds 40

Only fnnet's training and inference steps run (no PyTorch or JAX); the process keeps
freed memory for reuse and pins the thread pools as ``bench.py`` does.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import threads

if "numpy" not in sys.modules:  # run as a script (imported by a test, NumPy is loaded)
    threads.pin_before_import(threads.threads_from_argv(sys.argv[1:]))

import allocator  # after the thread pools are pinned
import harness
import numpy as np

# `from fnnet.x import y`, `from fnnet import y` and `import fnnet`: the forms fnnet uses
_FROM = re.compile(r"\bfrom fnnet(?=[.\s])")
_IMPORT = re.compile(r"^(\s*)import fnnet$", re.MULTILINE)


def renamed_copy(checkout: Path, folder: Path) -> None:
    """Copy ``checkout/fnnet`` to ``folder/fnnet_base``, its imports renamed to match."""
    target = folder / "fnnet_base"
    shutil.copytree(checkout / "fnnet", target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.rglob("*.py"):
        text = _IMPORT.sub(
            r"\1import fnnet_base as fnnet", _FROM.sub("from fnnet_base", path.read_text())
        )
        if re.search(r"^\s*import fnnet\.", text, re.MULTILINE):
            raise SystemExit(f"ab.py: {path} has an `import fnnet.x` that is not renamed")
        path.write_text(text)


def workloads_for(package: ModuleType) -> ModuleType:
    """A fresh copy of the ``workloads`` module whose ``lib_fnnet`` builds with ``package``."""

    def ours(name: str) -> bool:
        return name in ("fnnet", "lib_fnnet", "workloads") or name.startswith("fnnet.")

    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    for name in saved:
        del sys.modules[name]
    try:
        sys.modules["fnnet"] = package  # what `import fnnet` in lib_fnnet finds, for now
        return importlib.import_module("workloads")
    finally:
        for name in [name for name in sys.modules if ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def base_workloads(checkout: Path, folder: Path) -> ModuleType:
    """The ``workloads`` module built with ``checkout``'s fnnet, loaded as ``fnnet_base``
    from a renamed copy in ``folder`` (which must outlive its use)."""
    renamed_copy(checkout.resolve(), folder)
    sys.path.insert(0, str(folder))
    return workloads_for(importlib.import_module("fnnet_base"))


def compare(new: Any, base: Any, rounds: int, sample_s: float) -> dict[str, float]:
    """Alternate the two steps for ``rounds`` rounds; medians and quartiles of new/base."""
    for step in (new, base):  # warm up, and size a sample to about sample_s
        step()
    inner = max(1, round(sample_s / max(harness.sample(new, 3), 1e-7)))
    ratios, t_new, t_base = [], [], []
    for r in range(rounds):
        order = [(new, t_new), (base, t_base)]
        for step, out in order if r % 2 == 0 else order[::-1]:
            out.append(harness.sample(step, inner))
        ratios.append(t_new[-1] / t_base[-1])
    q1, median, q3 = np.percentile(ratios, [25, 50, 75])
    return {
        "new_ms": float(np.median(t_new)) * 1e3,
        "base_ms": float(np.median(t_base)) * 1e3,
        "ratio": float(median),
        "q1": float(q1),
        "q3": float(q3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="an older checkout")
    parser.add_argument("--workloads", default="tiny,mnist_mlp,bn_mlp,wide_mlp,cnn")
    parser.add_argument("--rounds", type=int, default=30, help="alternating rounds")
    parser.add_argument("--sample-ms", type=float, default=20.0, help="time per turn")
    parser.add_argument("--threads", type=int, default=threads.DEFAULT_THREADS)
    args = parser.parse_args(argv)
    if not (args.baseline / "fnnet" / "__init__.py").is_file():
        parser.error(f"--baseline: expected a checkout holding fnnet/, got {args.baseline}")
    malloc = allocator.configure(glibc_defaults=False)
    pinned = threads.limit_after_import(args.threads)
    import workloads

    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in workloads.WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {sorted(workloads.WORKLOADS)}")
    with tempfile.TemporaryDirectory() as folder:
        older = base_workloads(args.baseline, Path(folder))
        print(f"machine: {harness.cpu_name()}, load average {harness.load()}")
        print(f"threads: {args.threads} ({pinned}); memory: {malloc}")
        print(
            f"base: {args.baseline} as fnnet_base; {args.rounds} rounds of ~{args.sample_ms:g} ms"
        )
        print("\n| workload | fnnet ms | fnnet@base ms | new/base (median of rounds) | quartiles |")
        print("| --- | --- | --- | --- | --- |")
        for name in names:
            only = frozenset({"fnnet"})
            new = workloads.WORKLOADS[name](only).steps.get("fnnet")
            base = older.WORKLOADS[name](only).steps.get("fnnet")
            if new is None or base is None:
                print(f"| {name} | - | - | skipped: the older fnnet lacks its API | - |")
                continue
            r = compare(new, base, args.rounds, args.sample_ms / 1e3)
            print(
                f"| {name} | {harness.fmt_ms(r['new_ms'])} | {harness.fmt_ms(r['base_ms'])} "
                f"| {r['ratio']:.2f} | {r['q1']:.2f}-{r['q3']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
