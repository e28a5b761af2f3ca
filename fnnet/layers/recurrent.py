"""Recurrent layers: ``RNNCell``, ``GRUCell``, ``LSTMCell``, and ``RNN(cell)`` over a sequence.

A cell is a layer whose input is ``(x_t, h)`` (the LSTM's ``(x_t, (h, c))``) and whose
output is the next state. Its two affine maps ``gi = x W_ih^T + b_ih`` and
``gh = h W_hh^T + b_hh`` stack the ``G`` gates (``G = 1, 3, 4``) in PyTorch's order; the
equations that follow, forward and backward, are in ``fnnet.layers.cell_equations``, shared
by the cell layers and ``RNN``.

``RNN`` computes ``gi`` of all time steps with one product, runs the steps, and its
pullback is backpropagation through time: the loop over ``t`` in reverse with the carried
``dL/dh`` (and ``dL/dc``); the weight gradients are one product each after the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from fnnet.layers.base import (
    Array,
    Layer,
    Params,
    Pullback,
    Shape,
    State,
    as_input,
    fmt_shape,
    stateless,
)
from fnnet.layers.cell_equations import (
    GRU,
    LSTM,
    RNN_RELU,
    RNN_TANH,
    CellMath,
    Cells,
    affine,
    param_grads,
    state_grad,
)
from fnnet.layers.combinators import serial
from fnnet.layers.linear import Linear
from fnnet.random import Key, split, uniform
from fnnet.tree import freeze

__all__ = ["RNN", "GRUCell", "LSTMCell", "LastTimeStep", "RNNCell", "sequence_classifier"]


# ---- the cell layers -------------------------------------------------------------------


@dataclass(frozen=True)
class _CellInit:
    """A cell's ``init``, carrying the cell's equations and sizes (read by ``RNN``)."""

    math: CellMath
    input_size: int
    hidden_size: int
    dtype: Any

    @property
    def lstm(self) -> bool:
        return self.math.gates == 4

    def __call__(self, key: Key, input_shape: Any) -> tuple[Any, Params, State]:
        C, H, G = self.input_size, self.hidden_size, self.math.gates
        x_shape, s_shapes = self.split_shapes(input_shape)
        _check_shape(self.math.name, "x", x_shape, ("N", C))
        for name, shape in zip(("h", "c"), s_shapes):
            _check_shape(self.math.name, name, shape, ("N", H))
        # uniform(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, as PyTorch
        bound = 1.0 / np.sqrt(H)
        shapes = {"W_ih": (G * H, C), "W_hh": (G * H, H), "b_ih": (G * H,), "b_hh": (G * H,)}
        keys = split(key, 4)
        params = {
            k: uniform(kk, s, self.dtype, -bound, bound) for kk, (k, s) in zip(keys, shapes.items())
        }
        out = ((x_shape[0], H), (x_shape[0], H)) if self.lstm else (x_shape[0], H)
        return out, freeze(params), {}

    def split_shapes(self, shapes: Any) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
        """``(x_shape, [h_shape])`` or ``(x_shape, [h_shape, c_shape])`` from the input."""
        want = "((N, C), ((N, H), (N, H)))" if self.lstm else "((N, C), (N, H))"
        try:
            x_shape, s_shape = shapes
            states = list(s_shape) if self.lstm else [s_shape]
            if len(states) != (2 if self.lstm else 1):
                raise ValueError
            return tuple(x_shape), [tuple(s) for s in states]
        except (TypeError, ValueError):
            message = f"{self.math.name}: expected input shapes {want}, got {shapes!r}"
            raise ValueError(message) from None


def _unpack(spec: _CellInit, xs: Any) -> tuple[Array, Cells]:
    """``x`` and the state tuple ``(h,)`` or ``(h, c)`` of a cell's input, as float arrays."""
    name = spec.math.name
    want = "(x, (h, c))" if spec.lstm else "(x, h)"
    if not isinstance(xs, (tuple, list)) or len(xs) != 2:
        raise TypeError(f"{name}: expected the input pair {want}, got {type(xs).__name__}")
    x, s = xs
    if spec.lstm and (not isinstance(s, (tuple, list)) or len(s) != 2):
        raise TypeError(f"{name}: expected the input {want}, got a state {type(s).__name__}")
    state = tuple(s) if spec.lstm else (s,)
    return as_input(name, x), tuple(as_input(name, a) for a in state)


def _check_shape(name: str, what: str, shape: tuple[int, ...], want: tuple[int | str, ...]) -> None:
    """Raise unless ``shape`` matches ``want``, whose named dims (``"N"``) match any size."""
    ok = len(shape) == len(want) and all(isinstance(w, str) or w == s for s, w in zip(shape, want))
    if not ok:
        raise ValueError(
            f"{name}: expected {what} of shape {fmt_shape(want)}, got {fmt_shape(shape)}"
        )


def _check_params(spec: _CellInit, params: Params) -> None:
    """Raise unless ``params`` holds the four arrays of the cell's shapes."""
    C, H, G = spec.input_size, spec.hidden_size, spec.math.gates
    want = {"W_ih": (G * H, C), "W_hh": (G * H, H), "b_ih": (G * H,), "b_hh": (G * H,)}
    for k, shape in want.items():
        if k not in params:
            raise ValueError(f"{spec.math.name}: params has no {k!r} (expected {fmt_shape(shape)})")
        if np.shape(params[k]) != shape:
            got = fmt_shape(np.shape(params[k]))
            raise ValueError(
                f"{spec.math.name}: params[{k!r}] expected {fmt_shape(shape)}, got {got}"
            )


def _cell(spec: _CellInit) -> Layer:
    """A cell's layer: input ``(x, h)``, output ``h'``; LSTM ``(x, (h, c))`` -> ``(h', c')``."""
    name, math = spec.math.name, spec.math

    def inputs(params: Params, xs: Any) -> tuple[Array, Cells]:
        _check_params(spec, params)
        x, state = _unpack(spec, xs)
        _check_shape(name, "x", x.shape, ("N", spec.input_size))
        for what, s in zip(("h", "c"), state):
            _check_shape(name, what, s.shape, (x.shape[0], spec.hidden_size))
        return x, state

    def run(params: Params, xs: Any) -> tuple[Any, Array, Cells, Any]:
        x, state = inputs(params, xs)
        gi = affine(x, params["W_ih"], params["b_ih"])
        gh = affine(state[0], params["W_hh"], params["b_hh"])
        new_state, cache = math.step(gi, gh, state)
        return (new_state if spec.lstm else new_state[0]), x, state, cache

    def apply(
        params: Params, state: State, xs: Any, *, key: Key | None = None, train: bool = False
    ) -> tuple[Any, State]:
        return run(params, xs)[0], state

    def vjp(
        params: Params, state: State, xs: Any, *, key: Key | None = None, train: bool = True
    ) -> tuple[Any, State, Pullback]:
        y, x, cells, cache = run(params, xs)
        h = cells[0]

        def pullback(dy: Any) -> tuple[Params, Any]:
            d_new = tuple(np.asarray(d) for d in dy) if spec.lstm else (np.asarray(dy),)
            # the cell's equations backwards: dL/dgi, dL/dgh and the direct paths to the state
            dgi, dgh, d_state = math.back(d_new, cache)
            # dL/dx = dL/dgi W_ih
            dx = dgi @ params["W_ih"]
            # dL/dh = dL/dgh W_hh (+ the direct path); the LSTM's dL/dc as the cell gave it
            d_cells = state_grad(d_state, dgh, params["W_hh"])
            # dL/dW_ih = dL/dgi^T x, dL/dW_hh = dL/dgh^T h, the biases' the column sums
            grads = param_grads(dgi, dgh, x, h, params)
            return grads, (dx, d_cells if spec.lstm else d_cells[0])

        return y, state, pullback

    return Layer(spec, apply, vjp, name)  # type: ignore[arg-type]


def _sizes(name: str, input_size: int, hidden_size: int) -> None:
    for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")


def RNNCell(
    input_size: int, hidden_size: int, nonlinearity: str = "tanh", *, dtype: DTypeLike = np.float32
) -> Layer:
    """Elman cell ``h' = f(x W_ih^T + b_ih + h W_hh^T + b_hh)``, ``f`` = ``"tanh"`` or ``"relu"``.

    Input ``(x (N, C), h (N, H))``, output ``h' (N, H)``; params ``W_ih (H, C)``,
    ``W_hh (H, H)``, ``b_ih (H,)``, ``b_hh (H,)``, uniform in ``+-1/sqrt(H)`` (PyTorch's
    ``nn.RNNCell``). The pullback of ``dL/dh'`` returns ``(grads, (dL/dx, dL/dh))``.
    """
    _sizes("RNNCell", input_size, hidden_size)
    maths = {"tanh": RNN_TANH, "relu": RNN_RELU}
    if nonlinearity not in maths:
        raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return _cell(_CellInit(maths[nonlinearity], input_size, hidden_size, np.dtype(dtype)))


def GRUCell(input_size: int, hidden_size: int, *, dtype: DTypeLike = np.float32) -> Layer:
    """Gated recurrent unit, PyTorch's ``nn.GRUCell`` (equations in the module docstring).

    Input ``(x (N, C), h (N, H))``, output ``h' (N, H)``; params ``W_ih (3H, C)``,
    ``W_hh (3H, H)``, ``b_ih (3H,)``, ``b_hh (3H,)``, gates stacked ``r, z, n``. The
    pullback of ``dL/dh'`` returns ``(grads, (dL/dx, dL/dh))``; see ``cell_equations.gru_back``.
    """
    _sizes("GRUCell", input_size, hidden_size)
    return _cell(_CellInit(GRU, input_size, hidden_size, np.dtype(dtype)))


def LSTMCell(input_size: int, hidden_size: int, *, dtype: DTypeLike = np.float32) -> Layer:
    """Long short-term memory cell, PyTorch's ``nn.LSTMCell`` (module docstring).

    Input ``(x (N, C), (h (N, H), c (N, H)))``, output ``(h', c')``; params ``W_ih (4H, C)``,
    ``W_hh (4H, H)``, ``b_ih (4H,)``, ``b_hh (4H,)``, gates stacked ``i, f, g, o``. The
    pullback of ``(dL/dh', dL/dc')`` returns ``(grads, (dL/dx, (dL/dh, dL/dc)))``.
    """
    _sizes("LSTMCell", input_size, hidden_size)
    return _cell(_CellInit(LSTM, input_size, hidden_size, np.dtype(dtype)))


# ---- RNN: a cell over a sequence -------------------------------------------------------


def RNN(cell: Layer) -> Layer:
    """Run ``cell`` over a sequence ``X (N, T, C)`` from a zero state; all ``h_t`` ``(N, T, H)``.

    Forward, for ``t = 1 .. T`` from ``h_0 = 0`` (and ``c_0 = 0`` for the LSTM)::

        GI = X W_ih^T + b_ih                      all time steps in one product  (N, T, G H)
        gh_t = h_{t-1} W_hh^T + b_hh              one product per step
        h_t (, c_t) = cell equations(GI[:, t], gh_t, h_{t-1} (, c_{t-1}))

    Backward, given ``dL/dY (N, T, H)`` (backpropagation through time), with the carried
    ``dL/dh_T = 0`` (and ``dL/dc_T = 0``), for ``t = T .. 1``::

        dL/dh_t += dL/dY[:, t]                    the output at t and the step t+1 both read h_t
        dL/dgi_t, dL/dgh_t, ... = the cell's pullback at step t
        dL/dh_{t-1} = dL/dgh_t W_hh (+ the cell's direct path)

    then, with the ``dL/dgi_t``, ``dL/dgh_t`` stacked over ``t``::

        dL/dX = dL/dGI W_ih
        dL/dW_ih = sum_t dL/dgi_t^T x_t           dL/db_ih = sum_t dL/dgi_t^T 1
        dL/dW_hh = sum_t dL/dgh_t^T h_{t-1}       dL/db_hh = sum_t dL/dgh_t^T 1

    Params are the cell's (the same dict, not nested): ``init(key, (N, T, C))`` gives the
    params that ``cell.init`` would with the same key. ``T`` may be ``-1`` at ``init``.
    The LSTM returns its ``h_t`` only.
    """
    spec = cell.init
    if not isinstance(cell, Layer) or not isinstance(spec, _CellInit):
        raise TypeError(
            f"RNN: expected a cell made by RNNCell, GRUCell or LSTMCell, got {cell!r:.80}"
        )
    name, math = "RNN", spec.math
    C, H = spec.input_size, spec.hidden_size

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params, State]:
        _check_shape(name, "input", tuple(input_shape), ("N", "T", C))
        N = input_shape[0]
        states = ((N, H), (N, H)) if spec.lstm else (N, H)
        _, params, _ = spec(key, ((N, C), states))
        return (N, input_shape[1], H), params, {}

    def forward(params: Params, X: Array) -> tuple[Array, list[Any], Array]:
        _check_params(spec, params)
        _check_shape(name, "input", X.shape, ("N", "T", C))
        N, T, _ = X.shape
        if T == 0:
            raise ValueError(
                f"{name}: expected a sequence of length T >= 1, got {fmt_shape(X.shape)}"
            )
        W_hh, b_hh = params["W_hh"], params["b_hh"]
        # GI = X W_ih^T + b_ih: the input projections of all time steps at once
        GI = affine(X.reshape(N * T, C), params["W_ih"], params["b_ih"]).reshape(N, T, -1)
        h0 = np.zeros((N, H), GI.dtype)
        state: Cells = (h0, h0) if spec.lstm else (h0,)
        hs, caches = [], []
        for t in range(T):
            # gh_t = h_{t-1} W_hh^T + b_hh
            gh = affine(state[0], W_hh, b_hh)
            state, cache = math.step(GI[:, t], gh, state)
            hs.append(state[0])
            caches.append(cache)
        Y = np.stack(hs, axis=1)
        return Y, caches, h0

    def apply(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = False
    ) -> tuple[Array, State]:
        return forward(params, as_input(name, x))[0], state

    def vjp(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = True
    ) -> tuple[Array, State, Pullback]:
        X = as_input(name, x)
        Y, caches, h0 = forward(params, X)
        W_ih, W_hh = params["W_ih"], params["W_hh"]
        N, T, _ = X.shape

        def pullback(dY: Array, input_grad: bool = True) -> tuple[Params, Array | None]:
            dY = np.asarray(dY)
            _check_shape(name, "output gradient", dY.shape, (N, T, H))
            zero = np.zeros((N, H), np.result_type(dY, Y))
            d_state: Cells = (zero, zero) if spec.lstm else (zero,)
            dgis, dghs = [], []
            for t in reversed(range(T)):
                # dL/dh_t = dL/dY[:, t] + dL/dh_t carried back from step t+1
                d_state = (dY[:, t] + d_state[0], *d_state[1:])
                dgi, dgh, d_direct = math.back(d_state, caches[t])
                # dL/dh_{t-1} = dL/dgh_t W_hh (+ the direct path), and dL/dc_{t-1}
                d_state = state_grad(d_direct, dgh, W_hh)
                dgis.append(dgi)
                dghs.append(dgh)
            # dL/dgi_t, dL/dgh_t as rows (n, t), like X and the h_{t-1}
            dGI = _rows(dgis[::-1], N * T)
            # the RNN and LSTM cells have dL/dgh_t = dL/dgi_t: one stack serves both
            dGH = dGI if dghs[0] is dgis[0] else _rows(dghs[::-1], N * T)
            # h_{t-1} for t = 1 .. T: h_0 = 0, then the outputs but the last
            H_prev = np.concatenate((h0[:, None], Y[:, :-1]), axis=1).reshape(N * T, H)
            # dL/dW_ih = sum_t dL/dgi_t^T x_t,  dL/dW_hh = sum_t dL/dgh_t^T h_{t-1}, and the
            # biases' column sums: one product each over the N T rows
            grads = param_grads(dGI, dGH, X.reshape(N * T, C), H_prev, params)
            # dL/dX = dL/dGI W_ih
            dX = (dGI @ W_ih).reshape(N, T, C) if input_grad else None
            return grads, dX

        return Y, state, pullback

    return Layer(init, apply, vjp, name, skips_input_grad=True)


def _rows(per_step: list[Array], rows: int) -> Array:
    """The ``(N, k)`` arrays of steps ``t = 1 .. T`` as one ``(N T, k)`` array, row ``n T + t``."""
    return np.stack(per_step, axis=1).reshape(rows, -1)


def LastTimeStep() -> Layer:
    """The last step of a sequence: ``Y = X[:, T - 1]``, ``(N, T, H) -> (N, H)``.

    Backward: ``dL/dX[:, T - 1] = dL/dY`` and zeros at the other steps. The output is a
    read-only view of the input.
    """
    name = "LastTimeStep"

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params]:
        if len(input_shape) != 3:
            raise ValueError(f"{name}: expected an input (N, T, H), got {fmt_shape(input_shape)}")
        return (input_shape[0], input_shape[2]), {}

    def apply(params: Params, x: Array) -> Array:
        X = as_input(name, x)
        if X.ndim != 3 or X.shape[1] == 0:
            raise ValueError(
                f"{name}: expected an input (N, T, H) with T >= 1, got {fmt_shape(X.shape)}"
            )
        # Y = X[:, T - 1]
        Y = X[:, -1]
        Y.flags.writeable = False
        return Y

    def vjp(params: Params, x: Array) -> tuple[Array, Pullback]:
        Y = apply(params, x)
        x_shape, dtype = np.shape(x), Y.dtype

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            # dL/dX[:, t] = dL/dY at t = T - 1, and 0 elsewhere
            dLdX = np.zeros(x_shape, np.result_type(dLdY, dtype))
            dLdX[:, -1] = dLdY
            return {}, dLdX

        return Y, pullback

    return stateless(init, apply, vjp, name=name)


def sequence_classifier(
    kind: str, hidden: int, input_size: int, num_classes: int, *, dtype: DTypeLike = np.float32
) -> Layer:
    """``RNN(cell) -> LastTimeStep() -> Linear(hidden, num_classes)``: a sequence to class scores.

    ``kind`` is ``"rnn"`` (tanh), ``"gru"`` or ``"lstm"``; inputs ``(N, T, input_size)``,
    outputs ``(N, num_classes)`` logits. E.g. 8x8 digits read as 8 rows of 8 pixels:
    ``sequence_classifier("gru", 64, 8, 10)`` on inputs ``(N, 8, 8)``.
    """
    cells = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}
    if kind not in cells:
        raise ValueError(f"sequence_classifier: kind must be 'rnn', 'gru' or 'lstm', got {kind!r}")
    cell = cells[kind](input_size, hidden, dtype=dtype)
    return serial(RNN(cell), LastTimeStep(), Linear(hidden, num_classes, dtype=dtype))
