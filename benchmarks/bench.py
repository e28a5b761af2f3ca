"""Side-by-side timings: fnnet, PyTorch (eager, CPU) and JAX (jit, CPU), and the GEMM floor.

Not a test: a script that prints median times of one full training step (forward, loss,
pullback, optimizer update) per workload, and of inference (``apply`` on 1,024 samples),
with the ratios fnnet / PyTorch and fnnet / JAX, and the *GEMM floor*: the time of only
the step's matrix products in NumPy (the forward and backward products of the shapes
fnnet computes, float32), with fnnet's share of it (floor / fnnet; 1.0 would mean fnnet
spends no time outside the products).

    python benchmarks/bench.py                        # every workload, 2 threads
    python benchmarks/bench.py --workloads tiny,cnn   # a chosen few (comma-separated)
    python benchmarks/bench.py --quick                # smoke run (CI): a few calls
    python benchmarks/bench.py --threads 1            # BLAS / OpenMP / XLA threads

Threads are fixed for every library: with ``threadpoolctl`` when it is installed,
otherwise through ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS``
(set before NumPy is imported); ``torch.set_num_threads`` gets the same number; XLA runs
single-threaded for ``--threads 1`` (``XLA_FLAGS``) and otherwise sizes its pool to the
cores it may use (printed). PyTorch and JAX columns are left empty when not installed.

Every library is warmed up (JAX compiles then); then come interleaved rounds: each round
times every library in turn, in a rotating order, so that a change of load on the machine
hits all of them alike. A library's turn starts with a busy pause (``--settle-ms``) and one
untimed call, then takes ``--samples`` timings: OpenBLAS's worker threads keep spinning
for about 0.1 s after NumPy's last matrix product, and PyTorch's threads, sharing the
cores with them, would run many times slower right after a NumPy step (the pause lets
them sleep; every library is timed in its own steady state, as when it runs alone; the
pause is busy, not a sleep, as the timings after an idle CPU come out up to 2x slower).
A timing of a fast step runs it several times in a row (enough for ``--sample-ms``) and
counts the mean.

The process keeps freed memory for reuse (``fnnet.runtime.keep_freed_memory``, glibc):
every library in it allocates from the same, tuned ``malloc``. fnnet, being pure,
allocates fresh arrays every step and gains most from it; ``--glibc-defaults`` times
all three with glibc's defaults instead.

A workload is a function registered with ``@workload("name")``: it builds the steps
(fnnet, and PyTorch / JAX / the GEMM floor where it can; same model, same initial
weights, same batch) and returns them as a :class:`Steps`; each step callable runs once
and returns the loss (or the output). Add a workload by writing one more such function.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_THREADS = 2


def _threads_from_argv(argv: list[str]) -> int:
    """Peek at ``--threads`` before NumPy is imported (env vars must be set first)."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return DEFAULT_THREADS


THREADS = _threads_from_argv(sys.argv[1:])
if THREADS == 1:  # XLA's only thread switch: one thread for its Eigen pool
    flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
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

try:
    import torch
    from torch import nn
except ImportError:
    torch = nn = None
try:
    import jax
    import jax.numpy as jnp
except ImportError:
    jax = jnp = None

Array = Any
Step = Callable[[], Any]
LIBS = ("fnnet", "torch", "jax", "floor")
LR, MOMENTUM = 0.01, 0.9  # SGD with momentum everywhere
BN_ALPHA, BN_EPS = 0.9, 1e-5  # PyTorch's BatchNorm defaults (momentum 0.1), in fnnet's terms


@dataclass
class Steps:
    """The steps of a workload (``None`` where a library is missing), and what they run."""

    description: str
    fnnet_step: Step
    torch_step: Step | None = None
    jax_step: Step | None = None
    floor_step: Step | None = None

    def step(self, lib: str) -> Step | None:
        return getattr(self, f"{lib}_step")  # type: ignore[no-any-return]


Builder = Callable[[], Steps]
WORKLOADS: dict[str, Builder] = {}


def workload(name: str) -> Callable[[Builder], Builder]:
    """Register a workload builder under ``name``."""

    def register(build: Builder) -> Builder:
        WORKLOADS[name] = build
        return build

    return register


# ---------------------------------------------------------------------------------------
# fnnet
# ---------------------------------------------------------------------------------------


def _fnnet_trainer(
    model: layers.Layer,
    loss: losses.Loss,
    opt: optim.Optimizer,
    params: Any,
    state: Any,
    x: Array,
    y: Array,
) -> Step:
    """A closure doing one step: value_and_grad, then the optimizer update."""
    grad_fn = fnnet.value_and_grad(model, loss)
    carry = {"params": params, "state": state, "opt": opt.init(params)}

    def step() -> float:
        value, grads, carry["state"] = grad_fn(carry["params"], carry["state"], x, y)
        carry["params"], carry["opt"] = opt.update(carry["params"], grads, carry["opt"])
        return value

    return step


def _fnnet_predictor(model: layers.Layer, params: Any, state: Any, x: Array) -> Step:
    def step() -> Array:
        return model.apply(params, state, x)[0]

    return step


# ---------------------------------------------------------------------------------------
# PyTorch (eager)
# ---------------------------------------------------------------------------------------


def _tensor(a: Array) -> Any:
    return torch.tensor(np.array(a))  # a writable copy of a (read-only) parameter


def _torch_trainer(module: Any, loss_name: str, x: Array, y: Array) -> Step:
    from torch.nn import functional

    loss_fn = functional.mse_loss if loss_name == "mse" else functional.cross_entropy
    opt = torch.optim.SGD(module.parameters(), lr=LR, momentum=MOMENTUM)
    module.train()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(module(xt), yt)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def _torch_predictor(module: Any, x: Array) -> Step:
    module.eval()
    xt = torch.from_numpy(x)

    def step() -> Array:
        with torch.inference_mode():
            return module(xt).numpy()

    return step


def _torch_mlp(params: Any, kinds: list[str]) -> Any:
    """The fnnet MLP ``kinds`` (``"linear"``, ``"bn"``, ``"relu"``) with its weights."""
    mods = []
    with torch.no_grad():
        for i, kind in enumerate(kinds):
            p = params[str(i)]
            if kind == "linear":
                mod = nn.Linear(p["W"].shape[1], p["W"].shape[0])
                mod.weight.copy_(_tensor(p["W"]))
                mod.bias.copy_(_tensor(p["b"]))
            elif kind == "bn":
                mod = nn.BatchNorm1d(p["gamma"].shape[0], eps=BN_EPS, momentum=1 - BN_ALPHA)
            else:
                mod = nn.ReLU()
            mods.append(mod)
    return nn.Sequential(*mods)


def _torch_cnn(params: Any) -> Any:
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
    with torch.no_grad():  # the same initial weights: HWIO -> OIHW, (h, w, c) -> (c, h, w)
        for i in (0, 3):
            module[i].weight.copy_(_tensor(params[str(i)]["W"].transpose(3, 2, 0, 1)))
            module[i].bias.copy_(_tensor(params[str(i)]["b"]))
        W = params["7"]["W"].reshape(10, 5, 5, 32).transpose(0, 3, 1, 2).reshape(10, -1)
        module[7].weight.copy_(_tensor(W))
        module[7].bias.copy_(_tensor(params["7"]["b"]))
    return module


def _nchw(x: Array) -> Array:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # PyTorch's native layout


# ---------------------------------------------------------------------------------------
# JAX (jit of the whole step, models written with jax.numpy)
# ---------------------------------------------------------------------------------------

# forward(params, state, x, train) -> (output, new_state), params and state JAX pytrees
Forward = Callable[[Any, Any, Any, bool], tuple[Any, Any]]


def _jax_loss(loss_name: str, out: Any, y: Any) -> Any:
    if loss_name == "mse":
        return jnp.mean((out - y) ** 2)
    # cross-entropy on logits, integer labels
    logp = out - jax.nn.logsumexp(out, axis=1, keepdims=True)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def _jax_trainer(
    forward: Forward, loss_name: str, params: Any, state: Any, x: Array, y: Array
) -> Step:
    """``jax.jit`` of forward, loss, gradient and the SGD-momentum update, all in one."""

    def loss_fn(p: Any, s: Any, xb: Any, yb: Any) -> tuple[Any, Any]:
        out, new_s = forward(p, s, xb, True)
        return _jax_loss(loss_name, out, yb), new_s

    def train_step(p: Any, v: Any, s: Any, xb: Any, yb: Any) -> tuple[Any, Any, Any, Any]:
        (value, new_s), g = jax.value_and_grad(loss_fn, has_aux=True)(p, s, xb, yb)
        # v := mu v + g;  W := W - lr v   (as torch.optim.SGD and fnnet.optim.sgd)
        v = jax.tree_util.tree_map(lambda vi, gi: MOMENTUM * vi + gi, v, g)
        p = jax.tree_util.tree_map(lambda pi, vi: pi - LR * vi, p, v)
        return p, v, new_s, value

    jitted = jax.jit(train_step, donate_argnums=(0, 1, 2))  # update the buffers in place
    p = jax.tree_util.tree_map(jnp.asarray, params)
    carry = {
        "p": p,
        "v": jax.tree_util.tree_map(jnp.zeros_like, p),
        "s": jax.tree_util.tree_map(jnp.asarray, state),
    }
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def step() -> float:
        carry["p"], carry["v"], carry["s"], value = jitted(
            carry["p"], carry["v"], carry["s"], xj, yj
        )
        return float(value)  # waits for the result, as float(loss) does in PyTorch

    return step


def _jax_predictor(forward: Forward, params: Any, state: Any, x: Array) -> Step:
    jitted = jax.jit(lambda p, s, xb: forward(p, s, xb, False)[0])
    p = jax.tree_util.tree_map(jnp.asarray, params)
    s = jax.tree_util.tree_map(jnp.asarray, state)
    xj = jnp.asarray(x)

    def step() -> Array:
        return np.asarray(jitted(p, s, xj))  # waits for the result

    return step


def _jax_mlp(kinds: list[str]) -> Forward:
    def forward(params: Any, state: Any, x: Any, train: bool) -> tuple[Any, Any]:
        new_state = dict(state)
        for i, kind in enumerate(kinds):
            p = params[str(i)]
            if kind == "linear":
                x = x @ p["W"].T + p["b"]
            elif kind == "relu":
                x = jnp.maximum(x, 0)
            elif train:  # BatchNorm in train mode: batch statistics, new running ones
                mean, var = x.mean(axis=0), x.var(axis=0)
                x = (x - mean) / jnp.sqrt(var + BN_EPS) * p["gamma"] + p["beta"]
                s = state[str(i)]
                new_state[str(i)] = {
                    "mean": BN_ALPHA * s["mean"] + (1 - BN_ALPHA) * mean,
                    "var": BN_ALPHA * s["var"] + (1 - BN_ALPHA) * var,
                }
            else:
                s = state[str(i)]
                x = (x - s["mean"]) / jnp.sqrt(s["var"] + BN_EPS) * p["gamma"] + p["beta"]
        return x, new_state

    return forward


def _jax_cnn(params: Any, state: Any, x: Any, train: bool) -> tuple[Any, Any]:
    from jax import lax

    def conv_relu_pool(x: Any, p: Any) -> Any:
        z = lax.conv_general_dilated(
            x, p["W"], (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        a = jnp.maximum(z + p["b"], 0)
        return lax.reduce_window(a, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    x = conv_relu_pool(conv_relu_pool(x, params["0"]), params["3"])
    x = x.reshape(x.shape[0], -1)  # (h, w, c) order, as fnnet's Flatten
    return x @ params["7"]["W"].T + params["7"]["b"], state


# ---------------------------------------------------------------------------------------
# The GEMM floor: only the step's matrix products, in NumPy
# ---------------------------------------------------------------------------------------

Product = tuple[Array, Array]


def _floor(products: list[Product]) -> Step:
    """Run ``a @ b`` for every pair: the matrix products alone, nothing around them."""

    def step() -> None:
        for a, b in products:
            a @ b  # the product is the point; its result is dropped

    return step


def _rand(rng: np.random.Generator, *shape: int) -> Array:
    return rng.standard_normal(shape, dtype=np.float32)


def _linear_products(
    rng: np.random.Generator, n: int, c_in: int, c_out: int, *, train: bool, input_grad: bool
) -> list[Product]:
    """Linear's products, laid out as fnnet computes them (W stored (C_out, C_in))."""
    A, W, dLdZ = _rand(rng, n, c_in), _rand(rng, c_out, c_in), _rand(rng, n, c_out)
    products = [(A, W.T)]  # Z = A W^T
    if train:
        products.append((dLdZ.T, A))  # dL/dW = dL/dZ^T A
        if input_grad:
            products.append((dLdZ, W))  # dL/dA = dL/dZ W
    return products


def _conv_products(
    rng: np.random.Generator,
    n: int,
    out: tuple[int, int],
    k: int,
    c_in: int,
    c_out: int,
    *,
    train: bool,
    input_grad: bool,
) -> list[Product]:
    """Conv2d's products (im2col), as fnnet computes them: P W_mat, P^T dLdZ, dLdZ W[i,j]^T."""
    rows = n * out[0] * out[1]
    P, dLdZ = _rand(rng, rows, k * k * c_in), _rand(rng, rows, c_out)
    W = _rand(rng, k, k, c_in, c_out)
    products = [(P, W.reshape(-1, c_out))]  # Z = P W_mat
    if train:
        products.append((P.T, dLdZ))  # dL/dW = P^T dL/dZ
        if input_grad:  # dL/dP, one kernel offset at a time
            products += [(dLdZ, W[i, j].T) for i in range(k) for j in range(k)]
    return products


def _mlp_floor(sizes: list[int], batch: int, train: bool) -> Step:
    rng = np.random.default_rng(1)
    products = []
    for i, (c_in, c_out) in enumerate(itertools.pairwise(sizes)):
        products += _linear_products(rng, batch, c_in, c_out, train=train, input_grad=i > 0)
    return _floor(products)


def _cnn_floor(batch: int, train: bool) -> Step:
    rng = np.random.default_rng(1)
    products = _conv_products(rng, batch, (26, 26), 3, 1, 16, train=train, input_grad=False)
    products += _conv_products(rng, batch, (11, 11), 3, 16, 32, train=train, input_grad=True)
    products += _linear_products(rng, batch, 800, 10, train=train, input_grad=True)
    return _floor(products)


# ---------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------

INFER_BATCH = 1024


def _mlp_kinds(sizes: list[int], bn: bool) -> list[str]:
    kinds = []
    for i in range(len(sizes) - 1):
        kinds.append("linear")
        if i < len(sizes) - 2:
            kinds += ["bn", "relu"] if bn else ["relu"]
    return kinds


def _fnnet_mlp(sizes: list[int], kinds: list[str]) -> layers.Layer:
    widths = iter(sizes[1:])
    stack = []
    width = sizes[0]
    for kind in kinds:
        if kind == "linear":
            c_in, width = width, next(widths)
            stack.append(layers.Linear(c_in, width))
        elif kind == "bn":
            stack.append(layers.BatchNorm1d(width, alpha=BN_ALPHA, eps=BN_EPS))
        else:
            stack.append(layers.ReLU())
    return layers.serial(*stack)


def _mlp_train(sizes: list[int], batch: int, loss_name: str, bn: bool = False) -> Steps:
    """All the training steps of an MLP ``sizes`` (ReLU between layers), SGD momentum."""
    kinds = _mlp_kinds(sizes, bn)
    model = _fnnet_mlp(sizes, kinds)
    _, params, state = model.init(fnnet.random.key(0), (-1, sizes[0]))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    if loss_name == "mse":
        y: Array = rng.standard_normal((batch, sizes[-1]), dtype=np.float32)
        loss = losses.mse
    else:
        y = rng.integers(0, sizes[-1], batch)
        loss = losses.cross_entropy
    steps = Steps(
        f"MLP {'-'.join(map(str, sizes))}{', BatchNorm (train)' if bn else ''}, ReLU, "
        f"batch {batch}, {loss_name}, SGD momentum",
        _fnnet_trainer(model, loss, optim.sgd(LR, momentum=MOMENTUM), params, state, x, y),
        floor_step=_mlp_floor(sizes, batch, train=True),
    )
    if torch is not None:
        steps.torch_step = _torch_trainer(_torch_mlp(params, kinds), loss_name, x, y)
    if jax is not None:
        steps.jax_step = _jax_trainer(_jax_mlp(kinds), loss_name, params, state, x, y)
    return steps


@workload("tiny")
def tiny() -> Steps:
    """MLP 2-4-8-8-4-2, batch 32, MSE: per-layer overhead dominates."""
    return _mlp_train([2, 4, 8, 8, 4, 2], 32, "mse")


@workload("mnist_mlp")
def mnist_mlp() -> Steps:
    """MLP 784-256-256-10, batch 128, cross-entropy."""
    return _mlp_train([784, 256, 256, 10], 128, "cross-entropy")


@workload("wide_mlp")
def wide_mlp() -> Steps:
    """MLP 1024-2048-2048-10, batch 256, cross-entropy: matrix products dominate."""
    return _mlp_train([1024, 2048, 2048, 10], 256, "cross-entropy")


@workload("bn_mlp")
def bn_mlp() -> Steps:
    """MLP 784-256-BN-ReLU-256-BN-ReLU-10, batch 128, train mode, cross-entropy."""
    return _mlp_train([784, 256, 256, 10], 128, "cross-entropy", bn=True)


def _cnn_setup(batch: int) -> tuple[layers.Layer, Any, Any, Array, Array]:
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
    x = rng.standard_normal((batch, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    return model, params, state, x, y


@workload("cnn")
def cnn() -> Steps:
    """28x28x1 -> Conv 3x3 (16) -> ReLU -> MaxPool 2 -> Conv 3x3 (32) -> ReLU -> MaxPool 2
    -> Flatten -> Linear 10; batch 64, float32, cross-entropy, SGD momentum 0.9."""
    model, params, state, x, y = _cnn_setup(64)
    opt = optim.sgd(LR, momentum=MOMENTUM)
    steps = Steps(
        "28x28x1, conv3x3(16)-pool-conv3x3(32)-pool-linear(10), batch 64, cross-entropy, "
        "SGD momentum",
        _fnnet_trainer(model, losses.cross_entropy, opt, params, state, x, y),
        floor_step=_cnn_floor(64, train=True),
    )
    if torch is not None:
        steps.torch_step = _torch_trainer(_torch_cnn(params), "cross-entropy", _nchw(x), y)
    if jax is not None:
        steps.jax_step = _jax_trainer(_jax_cnn, "cross-entropy", params, state, x, y)
    return steps


@workload("mnist_mlp_infer")
def mnist_mlp_infer() -> Steps:
    """Inference: ``apply`` of the MLP 784-256-256-10 on 1,024 samples."""
    sizes = [784, 256, 256, 10]
    kinds = _mlp_kinds(sizes, bn=False)
    model = _fnnet_mlp(sizes, kinds)
    _, params, state = model.init(fnnet.random.key(0), (-1, sizes[0]))
    x = np.random.default_rng(0).standard_normal((INFER_BATCH, sizes[0]), dtype=np.float32)
    steps = Steps(
        f"inference (apply) of MLP 784-256-256-10 on {INFER_BATCH} samples",
        _fnnet_predictor(model, params, state, x),
        floor_step=_mlp_floor(sizes, INFER_BATCH, train=False),
    )
    if torch is not None:
        steps.torch_step = _torch_predictor(_torch_mlp(params, kinds), x)
    if jax is not None:
        steps.jax_step = _jax_predictor(_jax_mlp(kinds), params, state, x)
    return steps


@workload("cnn_infer")
def cnn_infer() -> Steps:
    """Inference: ``apply`` of the cnn workload's model on 1,024 images."""
    model, params, state, x, _ = _cnn_setup(INFER_BATCH)
    steps = Steps(
        f"inference (apply) of the cnn model on {INFER_BATCH} images",
        _fnnet_predictor(model, params, state, x),
        floor_step=_cnn_floor(INFER_BATCH, train=False),
    )
    if torch is not None:
        steps.torch_step = _torch_predictor(_torch_cnn(params), _nchw(x))
    if jax is not None:
        steps.jax_step = _jax_predictor(_jax_cnn, params, state, x)
    return steps


# ---------------------------------------------------------------------------------------
# Timing and report
# ---------------------------------------------------------------------------------------


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
    name: str
    median_ms: dict[str, float]
    min_ms: dict[str, float]


def _once(fn: Step) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _busy_wait(seconds: float) -> None:
    """Keep this thread busy for ``seconds``: a sleep would let the (virtual) CPU idle,
    and the timings right after it ran up to 2x slower until the CPU got back to speed."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _sample(fn: Step, inner: int) -> float:
    """Mean time of ``inner`` calls in a row (seconds)."""
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def _agreement(steps: Steps, libs: list[str]) -> str:
    """Training: the loss at the first and the last step; inference: the largest difference."""
    outs = {lib: steps.step(lib)() for lib in libs if lib != "floor"}  # type: ignore[misc]
    if all(isinstance(v, float) for v in outs.values()):
        return "loss now: " + ", ".join(f"{lib} {v:.4f}" for lib, v in outs.items())
    ref = outs["fnnet"]
    diffs = [f"{lib} {np.max(np.abs(np.asarray(v) - ref)):.1e}" for lib, v in outs.items()]
    return "max |output - fnnet's|: " + ", ".join(diffs[1:]) if len(diffs) > 1 else ""


def run(name: str, timing: Timing) -> Result:
    """Warm up, then time the libraries in interleaved rounds; return medians and minima."""
    steps = WORKLOADS[name]()
    libs = [lib for lib in LIBS if steps.step(lib) is not None]
    fns: dict[str, Step] = {lib: steps.step(lib) for lib in libs}  # type: ignore[misc]
    first = {lib: fns[lib]() for lib in libs}  # the first call: JAX compiles here
    inner = {}
    for lib in libs:
        t = min(_once(fns[lib]) for _ in range(max(timing.warmup, 1)))
        inner[lib] = max(1, math.ceil(timing.sample_ms / 1e3 / max(t, 1e-7)))
    times: dict[str, list[float]] = {lib: [] for lib in libs}
    for r in range(timing.rounds):  # rotate the order: no library always runs first
        for lib in libs[r % len(libs) :] + libs[: r % len(libs)]:
            _busy_wait(timing.settle_ms / 1e3)  # the previous library's threads go to sleep
            fns[lib]()  # one untimed call: this library's threads and data are back
            times[lib] += [_sample(fns[lib], inner[lib]) for _ in range(timing.samples)]
    print(f"\n[{name}] {steps.description}")
    losses_first = {k: v for k, v in first.items() if isinstance(v, float)}
    if losses_first:
        print("  loss at step 1: " + ", ".join(f"{k} {v:.4f}" for k, v in losses_first.items()))
    print("  " + _agreement(steps, libs))
    for lib in libs:
        t = times[lib]
        print(
            f"  {lib:<6} median {1e3 * statistics.median(t):9.3f} ms  min {1e3 * min(t):9.3f} ms"
            f"  ({len(t)} timings of {inner[lib]} calls)"
        )
    return Result(
        name,
        {lib: 1e3 * statistics.median(times[lib]) for lib in libs},
        {lib: 1e3 * min(times[lib]) for lib in libs},
    )


def _fmt_ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}"


def table(results: list[Result]) -> str:
    """A Markdown table of medians (ms), ratios and the floor's share of fnnet's time."""
    head = (
        "| workload | fnnet ms | PyTorch ms | JAX ms | fnnet/PyTorch | fnnet/JAX "
        "| GEMM floor ms | floor/fnnet |"
    )
    lines = [head, "|" + " --- |" * 8]
    for r in results:
        m = r.median_ms
        f, t, j, fl = (m.get(lib) for lib in LIBS)
        cells = [r.name, _fmt_ms(f), _fmt_ms(t), _fmt_ms(j)]
        cells += [_ratio(f, t), _ratio(f, j), _fmt_ms(fl), _ratio(fl, f)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> str:
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def header(threads: int) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {_cpu_name()}, {cores} cores usable, {platform.system()} {platform.release()}")
    print(f"load average (1, 5, 15 min): {_load()}")
    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    versions.append(f"torch {torch.__version__}" if torch is not None else "torch not installed")
    versions.append(f"jax {jax.__version__}" if jax is not None else "jax not installed")
    print(", ".join(versions))
    pinned = "threadpoolctl" if threadpoolctl is not None else "environment variables"
    print(f"threads: {threads} (BLAS/OpenMP pinned via {pinned})")
    if torch is not None:
        print(f"  torch.get_num_threads() = {torch.get_num_threads()}")
    if jax is not None:
        xla_flags = os.environ.get("XLA_FLAGS", "")
        print(f"  jax: {jax.devices()[0].platform}, XLA_FLAGS = {xla_flags!r}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        print(f"  {var} = {os.environ.get(var, '(not set)')}")
    if threadpoolctl is not None:
        for pool in threadpoolctl.threadpool_info():
            arch = pool.get("architecture", "")
            print(
                f"  {pool['internal_api']} {pool.get('version') or ''} {arch} "
                f"threads={pool['num_threads']} ({Path(pool['filepath']).name})"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated names")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 2 calls")
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="BLAS / OpenMP / XLA threads"
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
        "--glibc-defaults",
        action="store_true",
        help="leave glibc's malloc as it is (by default freed memory is kept for reuse, "
        "for every library: fnnet.runtime.keep_freed_memory)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {sorted(WORKLOADS)}")
    if args.quick:
        timing = Timing(warmup=1, rounds=1, samples=2, sample_ms=0.0, settle_ms=args.settle_ms)
        print("quick smoke run: a few calls each, the timings below are only indicative")
    else:
        timing = Timing(args.warmup, args.rounds, args.samples, args.sample_ms, args.settle_ms)

    if args.glibc_defaults:
        malloc = "glibc defaults (--glibc-defaults)"
    elif fnnet.runtime.keep_freed_memory():
        malloc = "freed memory kept for reuse, for every library (fnnet.runtime.keep_freed_memory)"
    else:
        malloc = "the C library's defaults (not glibc)"
    if torch is not None:
        torch.set_num_threads(args.threads)
    if threadpoolctl is not None:
        threadpoolctl.threadpool_limits(limits=args.threads)
    header(args.threads)
    print(f"malloc: {malloc}")
    print(
        f"per workload and library: {timing.warmup} untimed calls, then {timing.rounds} "
        f"interleaved rounds of {timing.samples} timings (>= {timing.sample_ms:g} ms each), "
        f"each round after a {timing.settle_ms:g} ms pause"
    )
    start = time.perf_counter()
    results = [run(name, timing) for name in names]
    print(f"\nmedian time per step (ms); {time.perf_counter() - start:.0f} s in all, ", end="")
    print(f"load average now: {_load()}\n")
    print(table(results))


if __name__ == "__main__":
    main()
