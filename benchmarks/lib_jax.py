"""JAX's side of the workloads: ``jax.jit`` of the whole step, models in ``jax.numpy``.

Optional: :mod:`workloads` imports this module only when JAX is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from common import BN_ALPHA, BN_EPS, LR, MOMENTUM, Array, Step
from jax import lax

VERSION = jax.__version__

# forward(params, state, x, train) -> (output, new_state), params and state JAX pytrees
Forward = Callable[[Any, Any, Any, bool], tuple[Any, Any]]


def _loss(loss_name: str, out: Any, y: Any) -> Any:
    if loss_name == "mse":
        return jnp.mean((out - y) ** 2)
    # cross-entropy on logits, integer labels
    logp = out - jax.nn.logsumexp(out, axis=1, keepdims=True)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def trainer(forward: Forward, loss_name: str, params: Any, state: Any, x: Array, y: Array) -> Step:
    """``jax.jit`` of forward, loss, gradient and the SGD-momentum update, all in one."""

    def loss_fn(p: Any, s: Any, xb: Any, yb: Any) -> tuple[Any, Any]:
        out, new_s = forward(p, s, xb, True)
        return _loss(loss_name, out, yb), new_s

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


def predictor(forward: Forward, params: Any, state: Any, x: Array) -> Step:
    jitted = jax.jit(lambda p, s, xb: forward(p, s, xb, False)[0])
    p = jax.tree_util.tree_map(jnp.asarray, params)
    s = jax.tree_util.tree_map(jnp.asarray, state)
    xj = jnp.asarray(x)

    def step() -> Array:
        return np.asarray(jitted(p, s, xj))  # waits for the result

    return step


def _batch_norm(x: Any, p: Any, s: Any, train: bool, axes: tuple[int, ...]) -> tuple[Any, Any]:
    """BatchNorm over ``axes`` (batch statistics and new running ones in train mode)."""
    if not train:
        return (x - s["mean"]) / jnp.sqrt(s["var"] + BN_EPS) * p["gamma"] + p["beta"], s
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    new_s = {
        "mean": BN_ALPHA * s["mean"] + (1 - BN_ALPHA) * mean,
        "var": BN_ALPHA * s["var"] + (1 - BN_ALPHA) * var,
    }
    return (x - mean) / jnp.sqrt(var + BN_EPS) * p["gamma"] + p["beta"], new_s


def mlp(kinds: list[str]) -> Forward:
    def forward(params: Any, state: Any, x: Any, train: bool) -> tuple[Any, Any]:
        new_state = dict(state)
        for i, kind in enumerate(kinds):
            p = params[str(i)]
            if kind == "linear":
                x = x @ p["W"].T + p["b"]
            elif kind == "relu":
                x = jnp.maximum(x, 0)
            else:
                x, new_state[str(i)] = _batch_norm(x, p, state[str(i)], train, (0,))
        return x, new_state

    return forward


def _conv(x: Any, p: Any, padding: str) -> Any:
    z = lax.conv_general_dilated(
        x, p["W"], (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return z + p["b"]


def cnn(params: Any, state: Any, x: Any, train: bool) -> tuple[Any, Any]:
    """Conv-MaxPool-ReLU twice, Flatten, Linear: the graph of ``lib_fnnet.cnn``."""

    def conv_pool_relu(x: Any, p: Any) -> Any:
        z = _conv(x, p, "VALID")
        pooled = lax.reduce_window(z, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        return jnp.maximum(pooled, 0)

    x = conv_pool_relu(conv_pool_relu(x, params["0"]), params["3"])
    x = x.reshape(x.shape[0], -1)  # (h, w, c) order, as fnnet's Flatten
    return x @ params["7"]["W"].T + params["7"]["b"], state


def _block(x: Any, p: Any, s: Any, train: bool) -> tuple[Any, Any]:
    """Conv-BN-ReLU-Conv-BN (padding 1); params and state as fnnet's ``serial``."""
    axes = (0, 1, 2)
    z, s1 = _batch_norm(_conv(x, p["0"], "SAME"), p["1"], s["1"], train, axes)
    z, s4 = _batch_norm(_conv(jnp.maximum(z, 0), p["3"], "SAME"), p["4"], s["4"], train, axes)
    return z, {**s, "1": s1, "4": s4}


def resnet(params: Any, state: Any, x: Any, train: bool) -> tuple[Any, Any]:
    """The graph of ``lib_fnnet.resnet`` on its params and state by part (``resnet_parts``)."""
    s = dict(state)
    stem = _conv(x, params["stem"], "SAME")
    z, s["stem_bn"] = _batch_norm(stem, params["stem_bn"], state["stem_bn"], train, (0, 1, 2))
    a = jnp.maximum(z, 0)
    for name in ("block1", "block2"):
        f, s[name] = _block(a, params[name], state[name], train)
        a = jnp.maximum(a + f, 0)
    f, s["block3"] = _block(a, params["block3"], state["block3"], train)
    a = jnp.maximum(f + _conv(a, params["proj"], "VALID"), 0)
    pooled = a.mean(axis=(1, 2))
    return pooled @ params["fc"]["W"].T + params["fc"]["b"], s


def gru(params: Any, state: Any, x: Any, train: bool) -> tuple[Any, Any]:
    """The graph of ``lib_fnnet.gru``: a GRU (PyTorch's equations) over ``lax.scan``."""
    p = params["0"]
    H = p["W_hh"].shape[1]
    gi = x @ p["W_ih"].T + p["b_ih"]  # (N, T, 3H): every step's input projections

    def cell(h: Any, gi_t: Any) -> tuple[Any, Any]:
        gh = h @ p["W_hh"].T + p["b_hh"]
        r = jax.nn.sigmoid(gi_t[:, :H] + gh[:, :H])
        z = jax.nn.sigmoid(gi_t[:, H : 2 * H] + gh[:, H : 2 * H])
        n = jnp.tanh(gi_t[:, 2 * H :] + r * gh[:, 2 * H :])
        h_new = (1 - z) * n + z * h
        return h_new, None

    h0 = jnp.zeros((x.shape[0], H), x.dtype)
    h_last, _ = lax.scan(cell, h0, jnp.swapaxes(gi, 0, 1))
    return h_last @ params["2"]["W"].T + params["2"]["b"], state
