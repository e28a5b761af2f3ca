"""The recurrent cells' equations, forward and backward, shared by the cell layers and ``RNN``.

A cell maps an input ``x_t (N, C)`` and a state to the next state. Every cell starts from
the same two affine maps, which stack its ``G`` gates (``G = 1, 3, 4``) in PyTorch's order:

```
gi = x W_ih^T + b_ih        (N, G H)     the input's contribution to each gate
gh = h W_hh^T + b_hh        (N, G H)     the hidden state's contribution
```

and then applies its own equations to ``gi`` and ``gh`` (``sigma`` is the logistic sigmoid,
``*`` the element-wise product; PyTorch's equations):

```
RNNCell:  h' = f(gi + gh)                               f = tanh or relu
GRUCell:  r  = sigma(gi_r + gh_r)                       reset gate
          z  = sigma(gi_z + gh_z)                       update gate
          n  = tanh(gi_n + r * gh_n)                    candidate state
          h' = (1 - z) * n + z * h
LSTMCell: i, f, o = sigma(gi_. + gh_.)                  input, forget, output gates
          g  = tanh(gi_g + gh_g)                        candidate cell
          c' = f * c + i * g
          h' = o * tanh(c')
```

Each cell's equations live in one pair of functions below, ``<cell>_step`` (forward) and
``<cell>_back`` (its pullback, the derivation line by line), which work on ``gi`` and
``gh``; the cell layers and ``RNN`` (``fnnet.layers.recurrent``) both use them, so each
equation is written once. Since ``gi`` and ``gh`` are affine, the rest of every pullback
is shared (``state_grad``, ``param_grads``):

```
dL/dx    = dL/dgi W_ih           dL/dW_ih = dL/dgi^T x      dL/db_ih = dL/dgi^T 1
dL/dh    = dL/dgh W_hh (+ the path of h through the gates, the GRU's z * h)
dL/dW_hh = dL/dgh^T h            dL/db_hh = dL/dgh^T 1
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit as sigmoid

from fnnet.kernels import batch_sum

Array = NDArray[Any]
Params = dict[str, Any]
# a cell's state: (h,) or, for the LSTM, (h, c); a step's cache: what its pullback reads
Cells = tuple[Array, ...]


class CellMath(NamedTuple):
    """The equations of one kind of cell, on ``gi = x W_ih^T + b_ih``, ``gh = h W_hh^T + b_hh``.

    ``step(gi, gh, state) -> (new_state, cache)``; ``back(d_new_state, cache) -> (dgi, dgh,
    d_state)`` where ``d_state`` is the gradient reaching the old state by any path but
    ``gh`` (``None`` where there is none). States are tuples ``(h,)`` or ``(h, c)``.
    """

    name: str
    gates: int
    step: Callable[[Array, Array, Cells], tuple[Cells, Any]]
    back: Callable[[Cells, Any], tuple[Array, Array, tuple[Array | None, ...]]]


def gates(a: Array, G: int) -> list[Array]:
    """The ``G`` gate blocks ``a[:, k H:(k + 1) H]`` of an ``(N, G H)`` array (views)."""
    H = a.shape[1] // G
    return [a[:, k * H : (k + 1) * H] for k in range(G)]


# ---- RNNCell: h' = f(gi + gh) ---------------------------------------------------------


def rnn_tanh_step(gi: Array, gh: Array, state: Cells) -> tuple[Cells, Any]:
    # h' = tanh(gi + gh)
    h_new = np.tanh(gi + gh)
    return (h_new,), h_new


def rnn_tanh_back(d_state: Cells, h_new: Array) -> tuple[Array, Array, tuple[None]]:
    (dh_new,) = d_state
    # dL/da = dL/dh' * (1 - h'^2)      (a = gi + gh, so dL/dgi = dL/dgh = dL/da)
    da = dh_new * (1 - h_new * h_new)
    return da, da, (None,)


def rnn_relu_step(gi: Array, gh: Array, state: Cells) -> tuple[Cells, Any]:
    # h' = max(gi + gh, 0)
    h_new = np.maximum(gi + gh, 0)
    return (h_new,), h_new


def rnn_relu_back(d_state: Cells, h_new: Array) -> tuple[Array, Array, tuple[None]]:
    (dh_new,) = d_state
    # dL/da = dL/dh' * [a > 0]          (a > 0 exactly where h' > 0; relu'(0) = 0)
    da = dh_new * (h_new > 0)
    return da, da, (None,)


# ---- GRUCell --------------------------------------------------------------------------


def gru_step(gi: Array, gh: Array, state: Cells) -> tuple[Cells, Any]:
    (h,) = state
    gi_r, gi_z, gi_n = gates(gi, 3)
    gh_r, gh_z, gh_n = gates(gh, 3)
    # r = sigma(W_ir x + b_ir + W_hr h + b_hr)              reset gate
    r = sigmoid(gi_r + gh_r)
    # z = sigma(W_iz x + b_iz + W_hz h + b_hz)              update gate
    z = sigmoid(gi_z + gh_z)
    # n = tanh(W_in x + b_in + r * (W_hn h + b_hn))         candidate state
    n = np.tanh(gi_n + r * gh_n)
    # h' = (1 - z) * n + z * h
    h_new = (1 - z) * n + z * h
    return (h_new,), (h, r, z, n, gh_n)


def gru_back(d_state: Cells, cache: Any) -> tuple[Array, Array, tuple[Array]]:
    (dh_new,) = d_state
    h, r, z, n, gh_n = cache
    # h' = (1 - z) * n + z * h:
    # dL/dn = dL/dh' * (1 - z)
    dn = dh_new * (1 - z)
    # dL/dz = dL/dh' * (h - n)
    dz = dh_new * (h - n)
    # dL/dh = dL/dh' * z                     (the direct path; the path through gh is shared)
    dh = dh_new * z
    # n = tanh(a_n), a_n = gi_n + r * gh_n:  dL/da_n = dL/dn * (1 - n^2)
    da_n = dn * (1 - n * n)
    # dL/dr = dL/da_n * gh_n
    dr = da_n * gh_n
    # dL/dgh_n = dL/da_n * r
    dgh_n = da_n * r
    # z = sigma(a_z):  dL/da_z = dL/dz * z (1 - z)
    da_z = dz * z * (1 - z)
    # r = sigma(a_r):  dL/da_r = dL/dr * r (1 - r)
    da_r = dr * r * (1 - r)
    # dL/dgi = [dL/da_r, dL/da_z, dL/da_n],  dL/dgh = [dL/da_r, dL/da_z, dL/dgh_n]
    dgi = np.concatenate((da_r, da_z, da_n), axis=1)
    dgh = np.concatenate((da_r, da_z, dgh_n), axis=1)
    return dgi, dgh, (dh,)


# ---- LSTMCell -------------------------------------------------------------------------


def lstm_step(gi: Array, gh: Array, state: Cells) -> tuple[Cells, Any]:
    _, c = state
    gi_i, gi_f, gi_g, gi_o = gates(gi, 4)
    gh_i, gh_f, gh_g, gh_o = gates(gh, 4)
    # i = sigma(W_ii x + b_ii + W_hi h + b_hi)              input gate
    i = sigmoid(gi_i + gh_i)
    # f = sigma(W_if x + b_if + W_hf h + b_hf)              forget gate
    f = sigmoid(gi_f + gh_f)
    # g = tanh(W_ig x + b_ig + W_hg h + b_hg)               candidate cell
    g = np.tanh(gi_g + gh_g)
    # o = sigma(W_io x + b_io + W_ho h + b_ho)              output gate
    o = sigmoid(gi_o + gh_o)
    # c' = f * c + i * g
    c_new = f * c + i * g
    # h' = o * tanh(c')
    tanh_c_new = np.tanh(c_new)
    h_new = o * tanh_c_new
    return (h_new, c_new), (c, i, f, g, o, tanh_c_new)


def lstm_back(d_state: Cells, cache: Any) -> tuple[Array, Array, tuple[None, Array]]:
    dh_new, dc_new = d_state
    c, i, f, g, o, tanh_c_new = cache
    # h' = o * tanh(c'):  dL/do = dL/dh' * tanh(c')
    do = dh_new * tanh_c_new
    # dL/dc' (total) = dL/dc' + dL/dh' * o * (1 - tanh(c')^2)
    dc_total = dc_new + dh_new * o * (1 - tanh_c_new * tanh_c_new)
    # c' = f * c + i * g:  dL/df = dL/dc' * c
    df = dc_total * c
    # dL/di = dL/dc' * g
    di = dc_total * g
    # dL/dg = dL/dc' * i
    dg = dc_total * i
    # dL/dc = dL/dc' * f
    dc = dc_total * f
    # through the gates' nonlinearities: sigma' = s (1 - s), tanh' = 1 - t^2
    da_i = di * i * (1 - i)
    da_f = df * f * (1 - f)
    da_g = dg * (1 - g * g)
    da_o = do * o * (1 - o)
    # dL/dgi = dL/dgh = [dL/da_i, dL/da_f, dL/da_g, dL/da_o]; h reaches h' only through gh
    da = np.concatenate((da_i, da_f, da_g, da_o), axis=1)
    return da, da, (None, dc)


RNN_TANH = CellMath("RNNCell", 1, rnn_tanh_step, rnn_tanh_back)
RNN_RELU = CellMath("RNNCell", 1, rnn_relu_step, rnn_relu_back)
GRU = CellMath("GRUCell", 3, gru_step, gru_back)
LSTM = CellMath("LSTMCell", 4, lstm_step, lstm_back)


# ---- the affine maps all cells share ---------------------------------------------------


def affine(A: Array, W: Array, b: Array) -> Array:
    """``A W^T + 1 b^T``: ``gi`` from ``x`` (or from all ``x_t`` at once), ``gh`` from ``h``."""
    return A @ W.T + b


def state_grad(d_state: tuple[Array | None, ...], dgh: Array, W_hh: Array) -> Cells:
    """``dL/dh = dL/dgh W_hh`` plus the cell's direct path; other state parts as they are."""
    # dL/dh = dL/dgh W_hh (+ dL/dh by the path that skips gh)
    dh = dgh @ W_hh if d_state[0] is None else d_state[0] + dgh @ W_hh
    return (dh, *d_state[1:])  # type: ignore[arg-type]


def param_grads(dGI: Array, dGH: Array, X: Array, Hs: Array, params: Params) -> Params:
    """The four weight gradients, given ``dL/dgi`` and ``dL/dgh`` stacked as rows."""
    W_ih = params["W_ih"]
    # dL/dW_ih = dL/dgi^T x,  dL/db_ih = dL/dgi^T 1
    dW_ih = dGI.T @ X
    db_ih = batch_sum(dGI)
    # dL/dW_hh = dL/dgh^T h,  dL/db_hh = dL/dgh^T 1
    dW_hh = dGH.T @ Hs
    db_hh = batch_sum(dGH)
    grads = {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": db_hh}
    return {k: g.astype(W_ih.dtype, copy=False) for k, g in grads.items()}
