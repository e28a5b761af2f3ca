"""The layer protocol: a ``Layer`` is three pure functions.

```
init(key, input_shape)                            -> (output_shape, params, state)
apply(params, state, x, *, key=None, train=False) -> (y, new_state)
vjp(params, state, x, *, key=None, train=True)    -> (y, new_state, pullback)
pullback(dy)                                      -> (dparams, dx)
```

Shapes include the batch dimension, which may be ``-1`` in ``input_shape``.
``dparams`` has exactly the structure of ``params``. Layers without parameters or
state use ``{}``. Simple layers are written without state and lifted with
:func:`stateless`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from fnnet.random import Key

__all__ = [
    "Layer",
    "Pullback",
    "Shape",
    "batch_sum",
    "check_features",
    "check_rank",
    "commutes_with_max_pool",
    "is_max_pool",
    "layer_name",
    "named",
    "skips_input_grad",
    "stateless",
]

Array = NDArray[Any]
Shape = tuple[int, ...]
Params = dict[str, Any]
State = dict[str, Any]
# pullback(dy) -> (dparams, dx); some also take input_grad=False (see skips_input_grad)
Pullback = Callable[..., tuple[Params, Any]]


class InitFn(Protocol):
    def __call__(self, key: Key, input_shape: Shape) -> tuple[Shape, Params, State]: ...


class ApplyFn(Protocol):
    def __call__(
        self, params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = False
    ) -> tuple[Array, State]: ...


class VjpFn(Protocol):
    def __call__(
        self, params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = True
    ) -> tuple[Array, State, Pullback]: ...


class Layer(NamedTuple):
    """A layer: ``(init, apply, vjp)``, three pure functions (see the module docstring)."""

    init: InitFn
    apply: ApplyFn
    vjp: VjpFn


def named(layer: Layer, name: str) -> Layer:
    """Give ``layer`` the name used in error messages (e.g. inside ``serial``); returns it."""
    setattr(layer.init, "layer_name", name)  # noqa: B010 - an attribute on a closure
    return layer


def _trait(layer: Layer, trait: str, value: bool | None) -> bool:
    """Read (or, given ``value``, set) a declared property of ``layer``."""
    if value is not None:
        setattr(layer.init, trait, value)  # an attribute on the init closure
    return bool(getattr(layer.init, trait, False))


def skips_input_grad(layer: Layer, value: bool | None = None) -> bool:
    """Whether ``layer``'s pullbacks accept ``pullback(dy, input_grad=False)``.

    Such a pullback returns ``(dparams, None)`` without computing ``dL/dx``, which
    training never needs for the model's input (for a first ``Linear`` it is the largest
    matrix product of the backward pass). ``serial`` and ``value_and_grad`` use it when
    the layer declares it; call with ``value=True`` to declare it for a layer of your own.
    """
    return _trait(layer, "skips_input_grad", value)


def is_max_pool(layer: Layer, value: bool | None = None) -> bool:
    """Whether ``layer`` is a max-pool: ``Y = max`` over windows, each ``dL/dY`` sent to
    one winner of its window (the first maximum). ``MaxPool2d`` declares it; see
    :func:`commutes_with_max_pool` for what ``serial`` does with it."""
    return _trait(layer, "is_max_pool", value)


def commutes_with_max_pool(layer: Layer, value: bool | None = None) -> bool:
    """Whether an element-wise ``layer`` may run after a max-pool that follows it.

    ``ReLU`` declares it: ``max_w ReLU(x) = ReLU(max_w x)`` for every window ``w``,
    value for value, and both orders give the same gradient. A window whose maximum is
    positive has the same winner either way (ReLU leaves positive values as they are);
    a window whose maximum is not positive passes no gradient either way (ReLU's
    derivative is 0 there). So ``serial`` evaluates ``ReLU`` then ``MaxPool2d`` as
    ``MaxPool2d`` then ``ReLU``: the same outputs and gradients, and ReLU's forward and
    backward passes run on the pooled values, a quarter of them for a 2x2 pool.

    Declare it (``value=True``) only for a layer that is exact in this sense. Strictly
    increasing maps such as LeakyReLU or Sigmoid commute with ``max`` in exact
    arithmetic, but rounding can make two different inputs tie and move the gradient
    to another position of the window, so they do not declare it.
    """
    return _trait(layer, "commutes_with_max_pool", value)


def layer_name(layer: Layer) -> str:
    """The kind of a layer for messages: set by :func:`named`, else the name of its factory."""
    name = getattr(layer.init, "layer_name", None)
    if name is not None:
        return str(name)
    qualname = getattr(layer.init, "__qualname__", "layer")
    return qualname.split(".<locals>")[0] if ".<locals>" in qualname else qualname


def stateless(
    init: Callable[[Key, Shape], tuple[Shape, Params]],
    apply: Callable[[Params, Array], Array],
    vjp: Callable[[Params, Array], tuple[Array, Pullback]],
    name: str | None = None,
) -> Layer:
    """Lift a layer without state or randomness into the full protocol.

    ``init(key, shape) -> (shape, params)``, ``apply(params, x) -> y`` and
    ``vjp(params, x) -> (y, pullback)``; the lifted layer keeps ``state = {}``
    and ignores ``key`` and ``train``.
    """

    def full_init(key: Key, input_shape: Shape) -> tuple[Shape, Params, State]:
        out_shape, params = init(key, tuple(input_shape))
        return out_shape, params, {}

    def full_apply(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = False
    ) -> tuple[Array, State]:
        return apply(params, x), state

    def full_vjp(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = True
    ) -> tuple[Array, State, Pullback]:
        y, pullback = vjp(params, x)
        return y, state, pullback

    layer = Layer(full_init, full_apply, full_vjp)
    return named(layer, name or getattr(init, "__qualname__", "layer").split(".<locals>")[0])


def _fmt(shape: tuple[Any, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_rank(name: str, shape: tuple[int, ...], rank: int, layout: str) -> None:
    """Raise ``ValueError`` unless ``shape`` has ``rank`` dimensions (``layout`` names them)."""
    if len(shape) != rank:
        raise ValueError(f"{name}: expected a {rank}-D input {layout}, got shape {_fmt(shape)}")


def check_features(name: str, shape: tuple[int, ...], axis: int, expected: int) -> None:
    """Raise ``ValueError`` unless ``shape[axis] == expected`` (e.g. the feature count)."""
    if shape[axis] != expected:
        want = ["..."] * (len(shape) - 1)
        want.insert(axis % len(shape), str(expected))
        raise ValueError(f"{name}: expected input ({', '.join(want)}), got {_fmt(shape)}")


def batch_sum(X: Array) -> Array:
    """Column sums ``1^T X`` of an ``(N, C)`` array: the sum over the batch axis.

    Computed as a matrix-vector product (BLAS), which is several times faster than
    ``X.sum(axis=0)`` when rows are short (e.g. a bias gradient over ``N * H * W``
    pixels of ``C = 16`` channels) and as accurate: both add each column in turn.
    """
    if X.size <= 4096:  # small: the reduction has less set-up cost than the product
        return X.sum(axis=0)
    return np.ones(X.shape[0], X.dtype) @ X
