"""Side-by-side timings: one full training step in fnnet and in PyTorch (eager, CPU).

Not a test: a script that prints median step times and the ratio fnnet / PyTorch.

    python benchmarks/bench.py                      # every workload
    python benchmarks/bench.py --workloads cnn      # a chosen few (comma-separated)
    python benchmarks/bench.py --quick              # smoke run: few repeats
    python benchmarks/bench.py --threads 2          # BLAS / OpenMP threads (default 1)

Threads are fixed for both libraries: with ``threadpoolctl`` when it is installed,
otherwise through ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS``,
set before NumPy is imported; ``torch.set_num_threads`` gets the same number.

A workload is a function registered with ``@workload("name")``: it builds both steps
(fnnet and PyTorch, same model, same initial weights, same batch) and returns them as
a :class:`Steps`; each step callable runs forward, loss, backward and optimizer update
and returns the loss. Add a workload by writing one more such function.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _threads_from_argv(argv: list[str]) -> int:
    """Peek at ``--threads`` before NumPy is imported (env vars must be set first)."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 1


THREADS = _threads_from_argv(sys.argv[1:])
try:
    import threadpoolctl
except ImportError:  # pin the thread pools through the environment instead
    threadpoolctl = None
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(THREADS)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import fnnet  # noqa: E402
from fnnet import layers, losses, optim  # noqa: E402

Array = Any


@dataclass
class Steps:
    """The two training steps of a workload, and a line describing it."""

    description: str
    fnnet_step: Callable[[], float]
    torch_step: Callable[[], float]


Builder = Callable[[], Steps]
WORKLOADS: dict[str, Builder] = {}


def workload(name: str) -> Callable[[Builder], Builder]:
    """Register a workload builder under ``name``."""

    def register(build: Builder) -> Builder:
        WORKLOADS[name] = build
        return build

    return register


def _fnnet_trainer(
    model: layers.Layer,
    loss: losses.Loss,
    opt: optim.Optimizer,
    params: Any,
    state: Any,
    x: Array,
    y: Array,
) -> Callable[[], float]:
    """A closure doing one step: value_and_grad, then the optimizer update."""
    grad_fn = fnnet.value_and_grad(model, loss)
    carry = {"params": params, "state": state, "opt": opt.init(params)}

    def step() -> float:
        value, grads, carry["state"] = grad_fn(carry["params"], carry["state"], x, y)
        carry["params"], carry["opt"] = opt.update(carry["params"], grads, carry["opt"])
        return value

    return step


def _torch_trainer(module: Any, opt: Any, x: Any, y: Any) -> Callable[[], float]:
    from torch.nn.functional import cross_entropy

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = cross_entropy(module(x), y)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


@workload("cnn")
def cnn() -> Steps:
    """28x28x1 -> Conv 3x3 (16) -> ReLU -> MaxPool 2 -> Conv 3x3 (32) -> ReLU -> MaxPool 2
    -> Flatten -> Linear 10; batch 64, float32, cross-entropy, SGD momentum 0.9."""
    import torch
    from torch import nn

    batch, lr = 64, 0.01
    model = layers.serial(
        layers.Conv2d(1, 16, 3),
        layers.ReLU(),
        layers.MaxPool2d(2),
        layers.Conv2d(16, 32, 3),
        layers.ReLU(),
        layers.MaxPool2d(2),
        layers.Flatten(),
        layers.Linear(None, 10),
    )
    _, params, state = model.init(fnnet.random.key(0), (-1, 28, 28, 1))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    fnnet_step = _fnnet_trainer(
        model, losses.cross_entropy, optim.sgd(lr, momentum=0.9), params, state, x, y
    )

    module = nn.Sequential(
        nn.Conv2d(1, 16, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 5 * 5, 10),
    )

    def tensor(a: Array) -> Any:
        return torch.tensor(np.array(a))  # a writable copy of a (read-only) parameter

    with torch.no_grad():  # the same initial weights: HWIO -> OIHW, (h, w, c) -> (c, h, w)
        for i in (0, 3):
            module[i].weight.copy_(tensor(params[str(i)]["W"].transpose(3, 2, 0, 1)))
            module[i].bias.copy_(tensor(params[str(i)]["b"]))
        W = params["7"]["W"].reshape(10, 5, 5, 32).transpose(0, 3, 1, 2).reshape(10, -1)
        module[7].weight.copy_(tensor(W))
        module[7].bias.copy_(tensor(params["7"]["b"]))
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())  # PyTorch's native NCHW
    yt = torch.from_numpy(y)
    torch_step = _torch_trainer(
        module, torch.optim.SGD(module.parameters(), lr=lr, momentum=0.9), xt, yt
    )
    return Steps(
        "28x28x1, conv3x3(16)-pool-conv3x3(32)-pool-linear(10), batch 64, float32, SGD momentum",
        fnnet_step,
        torch_step,
    )


def _median_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times)


def run(name: str, warmup: int, repeats: int) -> tuple[float, float]:
    """Warm up, then time fnnet and PyTorch steps alternately; return the medians (ms)."""
    steps = WORKLOADS[name]()
    losses_seen: dict[str, list[float]] = {"fnnet": [], "torch": []}
    for _ in range(warmup):
        losses_seen["fnnet"].append(steps.fnnet_step())
        losses_seen["torch"].append(steps.torch_step())
    t_fnnet, t_torch = [], []
    for _ in range(repeats):  # alternate, so both see the same machine load
        start = time.perf_counter()
        losses_seen["fnnet"].append(steps.fnnet_step())
        t_fnnet.append(time.perf_counter() - start)
        start = time.perf_counter()
        losses_seen["torch"].append(steps.torch_step())
        t_torch.append(time.perf_counter() - start)
    m_fnnet, m_torch = _median_ms(t_fnnet), _median_ms(t_torch)
    print(f"\n[{name}] {steps.description}")
    print(
        f"  loss, first -> last step: fnnet {losses_seen['fnnet'][0]:.4f} -> "
        f"{losses_seen['fnnet'][-1]:.4f}, torch {losses_seen['torch'][0]:.4f} -> "
        f"{losses_seen['torch'][-1]:.4f}"
    )
    print(f"  fnnet  median {m_fnnet:8.2f} ms/step  (min {1e3 * min(t_fnnet):.2f})")
    print(f"  torch  median {m_torch:8.2f} ms/step  (min {1e3 * min(t_torch):.2f})")
    ratio_min = min(t_fnnet) / min(t_torch)  # less sensitive to other load on the machine
    print(f"  ratio fnnet / torch: {m_fnnet / m_torch:.2f}x (medians), {ratio_min:.2f}x (minima)")
    return m_fnnet, m_torch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated names")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 warm-up, 3 repeats")
    parser.add_argument("--threads", type=int, default=1, help="BLAS / OpenMP threads")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {sorted(WORKLOADS)}")
    warmup, repeats = (1, 3) if args.quick else (args.warmup, args.repeats)

    import torch

    torch.set_num_threads(args.threads)
    if threadpoolctl is not None:
        threadpoolctl.threadpool_limits(limits=args.threads)
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}")
    print(
        f"threads: {args.threads} (torch.get_num_threads() = {torch.get_num_threads()}), "
        f"pinned via {'threadpoolctl' if threadpoolctl else 'environment variables'}"
    )
    print(f"OPENBLAS_CORETYPE = {os.environ.get('OPENBLAS_CORETYPE', '(not set)')}")
    if threadpoolctl is not None:
        for pool in threadpoolctl.threadpool_info():
            arch = pool.get("architecture", "")
            print(
                f"  {pool['internal_api']} {pool.get('version') or ''} {arch} "
                f"threads={pool['num_threads']} ({Path(pool['filepath']).name})"
            )
    print(f"warm-up {warmup} steps, {repeats} timed steps per library")
    for name in names:
        run(name, warmup, repeats)


if __name__ == "__main__":
    main()
