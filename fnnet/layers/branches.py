"""Branch points of a graph: ``fan_out`` splits one input, ``fan_in_*`` joins several.

With them (and :func:`fnnet.layers.parallel`) a model is a graph rather than a line: a
layer's input and output may be a tuple of arrays, its input shape a tuple of shapes, and
a pullback's cotangent has the structure of the output (``dL/dy_k`` for output ``k``)
while its input gradient has the structure of the input::

    serial(fan_out(2), parallel(f, g), fan_in_concat())   # x -> [f(x), g(x)]

None of these layers has params or state. Outputs that are the input itself (``fan_out``)
or the cotangent itself (the pullbacks of ``fan_in_sum`` and ``fan_in_concat``) are
read-only views, so that writing into one cannot change the caller's array.
"""

from __future__ import annotations

from functools import reduce
from operator import add
from typing import Any

import numpy as np

from fnnet.layers.base import (
    Array,
    Layer,
    Params,
    Pullback,
    State,
    as_input,
    fmt_shape,
    is_shapes,
    read_only_view,
)
from fnnet.random import Key

__all__ = ["fan_in_concat", "fan_in_sum", "fan_out", "same_shape"]


def fan_out(n: int) -> Layer:
    """``x -> (x, x, ..., x)``: ``n`` copies of the input, one per branch.

    Pullback: the cotangent is a tuple ``(dL/dy_0, ..., dL/dy_{n-1})`` and the input
    gradient is their **sum**, ``dL/dx = sum_k dL/dy_k``. This is the chain rule at a
    branch point: ``x`` influences the loss along ``n`` paths, so the loss's total
    derivative with respect to ``x`` adds the derivative along every path (the
    multivariable chain rule ``dL/dx = sum_k (dy_k/dx)^T dL/dy_k`` with ``dy_k/dx = I``).

    Input: an array; output: a tuple of ``n`` read-only views of it. No params or state.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"fan_out: n must be a positive int (the number of branches), got {n!r}")
    n = int(n)
    name = "fan_out"

    def init(key: Key, input_shape: Any) -> tuple[Any, Params, State]:
        if is_shapes(input_shape):
            raise ValueError(
                f"{name}: expected one array shape, got the shapes {fmt_shape(input_shape)}"
            )
        return (tuple(input_shape),) * n, {}, {}

    def forward(x: Any) -> tuple[Array, tuple[Array, ...]]:
        if isinstance(x, tuple):  # branches are tuples; a list is array data (as_input)
            raise TypeError(f"{name}: expected one array, got a tuple of {len(x)}")
        X = as_input(name, x)
        return X, (read_only_view(X),) * n

    def apply(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = False
    ) -> tuple[tuple[Array, ...], State]:
        return forward(x)[1], state

    def vjp(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = True
    ) -> tuple[tuple[Array, ...], State, Pullback]:
        X, Y = forward(x)
        x_shape = X.shape

        def pullback(dLdY: Any) -> tuple[Params, Array]:
            dLdY_k = _cotangents(name, dLdY, (x_shape,) * n)
            # the chain rule at a branch point: dL/dx = sum_k dL/dy_k
            dLdX = _sum(dLdY_k)
            return {}, dLdX

        return Y, state, pullback

    return Layer(init, apply, vjp, name=name)


def fan_in_sum() -> Layer:
    """``(x_0, ..., x_{n-1}) -> x_0 + ... + x_{n-1}``, for arrays of one shape.

    Pullback: every input gets the output's cotangent, ``dL/dx_k = dL/dy`` (each
    ``dy/dx_k = I``). Shapes that differ (no broadcasting) are a ``ValueError`` at
    ``init`` and at ``apply`` naming the branch and both shapes. No params or state.
    """
    name = "fan_in_sum"

    def init(key: Key, input_shape: Any) -> tuple[Any, Params, State]:
        shapes = _input_shapes(name, input_shape)
        for k, shape in enumerate(shapes[1:], start=1):
            if not same_shape(shape, shapes[0]):
                raise ValueError(
                    f"{name}: branch {k} has shape {fmt_shape(shape)}, expected "
                    f"{fmt_shape(shapes[0])} as branch 0"
                )
        # the batch size is known when any branch knows it
        return tuple(max(dims) for dims in zip(*shapes)), {}, {}

    def forward(x: Any) -> tuple[tuple[Array, ...], Array]:
        X = _inputs(name, x)
        for k, X_k in enumerate(X[1:], start=1):
            if X_k.shape != X[0].shape:
                raise ValueError(
                    f"{name}: branch {k} has shape {fmt_shape(X_k.shape)}, expected "
                    f"{fmt_shape(X[0].shape)} as branch 0"
                )
        # Y = sum_k X_k
        return X, _sum(X)

    def apply(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = False
    ) -> tuple[Array, State]:
        return forward(x)[1], state

    def vjp(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = True
    ) -> tuple[Array, State, Pullback]:
        X, Y = forward(x)
        n = len(X)

        def pullback(dLdY: Array) -> tuple[Params, tuple[Array, ...]]:
            # dL/dx_k = dL/dy for every branch k
            dLdX = (read_only_view(np.asarray(dLdY)),) * n
            return {}, dLdX

        return Y, state, pullback

    return Layer(init, apply, vjp, name=name)


def fan_in_concat(axis: int = -1) -> Layer:
    """``(x_0, ..., x_{n-1}) -> [x_0, ..., x_{n-1}]``, joined along ``axis``.

    The inputs agree on every axis but ``axis`` (``-1``: the features, or the channels of
    NHWC images); the output's size there is the sum of theirs. Pullback: the cotangent
    is split where the inputs were joined, ``dL/dx_k = dL/dy[..., o_k : o_k + c_k]``
    (``c_k`` the size of input ``k`` along ``axis``, ``o_k`` the sum of the sizes before
    it). Shapes that disagree elsewhere are a ``ValueError`` naming the branch and both
    shapes. No params or state.
    """
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"fan_in_concat: axis must be an int, got {axis!r}")
    axis = int(axis)
    name = "fan_in_concat"

    def check(shapes: tuple[tuple[int, ...], ...]) -> int:
        """The axis as a non-negative index, after checking that the shapes can be joined."""
        rank = len(shapes[0])
        if not -rank <= axis < rank:
            raise ValueError(f"{name}: axis {axis} is out of range for inputs of rank {rank}")
        a = axis % rank
        for k, shape in enumerate(shapes[1:], start=1):
            if len(shape) != rank or not same_shape(_drop(shape, a), _drop(shapes[0], a)):
                raise ValueError(
                    f"{name}: branch {k} has shape {fmt_shape(shape)}, which differs from "
                    f"branch 0's {fmt_shape(shapes[0])} outside axis {axis}"
                )
        return a

    def init(key: Key, input_shape: Any) -> tuple[Any, Params, State]:
        shapes = _input_shapes(name, input_shape)
        a = check(shapes)
        sizes = [shape[a] for shape in shapes]
        out = [max(dims) for dims in zip(*shapes)]
        out[a] = -1 if -1 in sizes else sum(sizes)
        return tuple(out), {}, {}

    def apply(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = False
    ) -> tuple[Array, State]:
        X = _inputs(name, x)
        a = check(tuple(X_k.shape for X_k in X))
        # Y = [X_0, ..., X_{n-1}] along the axis
        return np.concatenate(X, axis=a), state

    def vjp(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = True
    ) -> tuple[Array, State, Pullback]:
        X = _inputs(name, x)
        a = check(tuple(X_k.shape for X_k in X))
        # Y = [X_0, ..., X_{n-1}] along the axis
        Y = np.concatenate(X, axis=a)
        # o_k: where input k starts along the axis (o_1 = c_0, o_2 = c_0 + c_1, ...)
        offsets = np.cumsum([X_k.shape[a] for X_k in X[:-1]])

        def pullback(dLdY: Array) -> tuple[Params, tuple[Array, ...]]:
            # dL/dx_k = dL/dy[..., o_k : o_k + c_k]: the slice input k was copied to
            dLdX = tuple(read_only_view(d) for d in np.split(np.asarray(dLdY), offsets, axis=a))
            return {}, dLdX

        return Y, state, pullback

    return Layer(init, apply, vjp, name=name)


def same_shape(a: Any, b: Any) -> bool:
    """Equal shapes, where ``-1`` (an unknown batch size) matches any size."""
    return len(a) == len(b) and all(p == q or p == -1 or q == -1 for p, q in zip(a, b))


def _drop(shape: Any, a: int) -> tuple[int, ...]:
    return tuple(shape[:a]) + tuple(shape[a + 1 :])


def _input_shapes(name: str, input_shape: Any) -> tuple[tuple[int, ...], ...]:
    """The shapes of a fan-in's inputs: a tuple of at least one shape."""
    if not is_shapes(input_shape):
        raise ValueError(
            f"{name}: expected a tuple of input shapes (one per branch), got the single "
            f"shape {fmt_shape(input_shape)}"
        )
    return tuple(tuple(s) for s in input_shape)


def _inputs(name: str, x: Any) -> tuple[Array, ...]:
    """A fan-in's inputs as a tuple of float arrays (the dtype rule of ``as_input``)."""
    if not isinstance(x, (tuple, list)) or len(x) == 0:
        got = f"a {type(x).__name__} of {len(x)}" if isinstance(x, (tuple, list)) else "one array"
        raise TypeError(f"{name}: expected a tuple of arrays (one per branch), got {got}")
    return tuple(as_input(f"{name} branch {k}", x_k) for k, x_k in enumerate(x))


def _cotangents(name: str, dLdY: Any, shapes: tuple[tuple[int, ...], ...]) -> tuple[Array, ...]:
    """A tuple cotangent as arrays, after checking: one per output, of its output's shape."""
    if not isinstance(dLdY, (tuple, list)) or len(dLdY) != len(shapes):
        raise ValueError(
            f"{name}: the cotangent must be a tuple of {len(shapes)} arrays (one per "
            f"output), got {type(dLdY).__name__}"
        )
    for k, (d, shape) in enumerate(zip(dLdY, shapes)):
        if np.shape(d) != shape:
            raise ValueError(
                f"{name}: cotangent {k} has shape {fmt_shape(np.shape(d))}, "
                f"expected {fmt_shape(shape)}"
            )
    return tuple(np.asarray(d) for d in dLdY)


def _sum(arrays: Any) -> Array:
    """``a_0 + a_1 + ... + a_{n-1}``, a new array (a read-only view of ``a_0`` when n = 1)."""
    if len(arrays) == 1:
        return read_only_view(np.asarray(arrays[0]))
    return reduce(add, arrays)
