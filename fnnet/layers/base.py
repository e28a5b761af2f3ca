"""The layer protocol: a ``Layer`` is three pure functions.

```
init(key, input_shape)                            -> (output_shape, params, state)
apply(params, state, x, *, key=None, train=False) -> (y, new_state)
vjp(params, state, x, *, key=None, train=True)    -> (y, new_state, pullback)
pullback(dy)                                      -> (dparams, dx)
```

Shapes include the batch dimension, which may be ``-1`` in ``input_shape``.
Where a model branches, an input or output is a tuple of arrays (an input shape a
tuple of shapes), and a pullback's cotangent has the structure of the output, its
input gradient that of the input (see :mod:`fnnet.layers.branches`).
``dparams`` has exactly the structure of ``params``. Layers without parameters or
state use ``{}``. Simple layers are written without state and lifted with
:func:`stateless`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, overload

import numpy as np
from numpy.typing import NDArray

from fnnet.random import Key

__all__ = [
    "Branches",
    "Layer",
    "Pullback",
    "Shape",
    "as_input",
    "check_features",
    "check_params",
    "check_rank",
    "layer_name",
    "named",
    "read_only_view",
    "skips_input_grad",
    "stateless",
]

Array = NDArray[Any]
Shape = tuple[int, ...]
Params = dict[str, Any]
State = dict[str, Any]
# a layer's input or output: an array, or a tuple of arrays where a graph branches (and an
# input shape: a shape, or a tuple of shapes)
Data = Any
# pullback(dy) -> (dparams, dx); some also take input_grad=False (see Layer.skips_input_grad)
Pullback = Callable[..., tuple[Params, Any]]


class InitFn(Protocol):
    def __call__(self, key: Key, input_shape: Shape) -> tuple[Shape, Params, State]: ...


class ApplyFn(Protocol):
    def __call__(
        self, params: Params, state: State, x: Data, *, key: Key | None = None, train: bool = False
    ) -> tuple[Data, State]: ...


class VjpFn(Protocol):
    def __call__(
        self, params: Params, state: State, x: Data, *, key: Key | None = None, train: bool = True
    ) -> tuple[Data, State, Pullback]: ...


class _Functions(NamedTuple):
    init: InitFn
    apply: ApplyFn
    vjp: VjpFn


class Layer(_Functions):
    """A layer: ``(init, apply, vjp)``, three pure functions (see the module docstring).

    The NamedTuple's fields are exactly ``init``, ``apply``, ``vjp`` (a layer unpacks as
    ``init, apply, vjp = layer``). Three optional attributes describe the layer; they are
    plain values given to the constructor or to ``layer._replace(...)`` (which returns a
    new layer), read-only afterwards, and never stored on the functions (two layers may
    share one ``init``, as parameter-free layers often do):

    - ``name``: the kind shown in error messages and summaries (``"Linear"``); ``None``
      falls back to the name of the function that built ``init``.
    - ``skips_input_grad``: ``True`` when every pullback of this layer also accepts
      ``pullback(dy, input_grad=False)`` and then returns ``(dparams, None)`` without
      computing ``dL/dx``. Training never needs the gradient of the model's input, and
      for a first ``Linear`` or ``Conv2d`` it is the largest product of the backward
      pass. A hand-built ``Layer(init, apply, vjp)`` leaves it ``False`` and is called
      with ``pullback(dy)`` only.
    - ``children``: for a combinator, the layers it is built from, whose params sit
      under the keys ``"0"``, ``"1"``, ... of its params (``serial``, ``parallel``;
      ``residual`` lists its serial equivalent). :func:`fnnet.summary` walks them to
      show one row per leaf layer. A plain tuple means the children run one after the
      other (a chain); :class:`Branches` means child ``i`` takes part ``i`` of a tuple
      input. ``()`` (the default) marks a leaf layer.
    """

    name: str | None
    skips_input_grad: bool
    children: tuple[Layer, ...]

    def __new__(
        cls,
        init: InitFn,
        apply: ApplyFn,
        vjp: VjpFn,
        name: str | None = None,
        skips_input_grad: bool = False,
        children: tuple[Layer, ...] = (),
    ) -> Layer:
        self = super().__new__(cls, init, apply, vjp)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "skips_input_grad", bool(skips_input_grad))
        object.__setattr__(self, "children", children)
        return self

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError(f"a Layer is a value: use layer._replace({attr}=...) for a new one")

    def _replace(self, **changes: Any) -> Layer:
        """A new layer with some of ``init``, ``apply``, ``vjp``, ``name``,
        ``skips_input_grad``, ``children`` replaced."""
        fields: dict[str, Any] = {
            "init": self.init,
            "apply": self.apply,
            "vjp": self.vjp,
            "name": self.name,
            "skips_input_grad": self.skips_input_grad,
            "children": self.children,
        }
        unknown = sorted(set(changes) - set(fields))
        if unknown:
            raise ValueError(f"Layer._replace: unknown fields {unknown}")
        fields.update(changes)
        return Layer(**fields)

    def __repr__(self) -> str:
        return f"Layer({layer_name(self)})"


class Branches(tuple):
    """The ``children`` of a layer that runs them side by side (``parallel``): child ``i``
    takes part ``i`` of a tuple input. A plain tuple of children is a chain."""

    __slots__ = ()


def named(layer: Layer, name: str) -> Layer:
    """A copy of ``layer`` that error messages (e.g. inside ``serial``) call ``name``."""
    return layer._replace(name=str(name))


@overload
def skips_input_grad(layer: Layer) -> bool: ...


@overload
def skips_input_grad(layer: Layer, value: bool) -> Layer: ...


def skips_input_grad(layer: Layer, value: bool | None = None) -> bool | Layer:
    """Whether ``layer``'s pullbacks accept ``pullback(dy, input_grad=False)``.

    Given ``value``, return a copy of ``layer`` that declares it (``layer`` itself is
    unchanged): ``skips_input_grad(my_layer, True)``. ``serial`` and ``value_and_grad``
    pass ``input_grad=False`` to a model's first layer when it declares it.
    """
    if value is None:
        return bool(getattr(layer, "skips_input_grad", False))
    return layer._replace(skips_input_grad=bool(value))


def layer_name(layer: Layer) -> str:
    """The kind of a layer for messages: its ``name``, else the name of its factory."""
    name = getattr(layer, "name", None)
    if name is not None:
        return str(name)
    qualname = getattr(layer.init, "__qualname__", "layer")
    return qualname.split(".<locals>")[0] if ".<locals>" in qualname else qualname


def stateless(
    init: Callable[[Key, Shape], tuple[Shape, Params]],
    apply: Callable[[Params, Array], Array],
    vjp: Callable[[Params, Array], tuple[Array, Pullback]],
    name: str | None = None,
    *,
    skips_input_grad: bool = False,
) -> Layer:
    """Lift a layer without state or randomness into the full protocol.

    ``init(key, shape) -> (shape, params)``, ``apply(params, x) -> y`` and
    ``vjp(params, x) -> (y, pullback)``; the lifted layer keeps ``state = {}``
    and ignores ``key`` and ``train``. ``name`` and ``skips_input_grad`` become the
    fields of the same names of the :class:`Layer`.
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

    kind = name or getattr(init, "__qualname__", "layer").split(".<locals>")[0]
    return Layer(full_init, full_apply, full_vjp, kind, skips_input_grad)


def as_input(name: str, x: Any) -> Array:
    """A layer's input as an array of real floating-point numbers (the dtype rule).

    - float16/32/64 arrays are used as they are (never copied);
    - bool and integer arrays, Python numbers and lists become **float32**, the default
      parameter dtype (a float64 model then computes in float64 by NumPy's promotion);
    - complex, object and string data are a ``TypeError`` naming the layer.
    """
    if isinstance(x, np.ndarray):
        A = x
    else:  # a list or a Python number: float32, the default parameter dtype
        A = np.asarray(x)
        if A.dtype.kind in "biuf" and not isinstance(x, np.generic):
            return A.astype(np.float32)
    kind = A.dtype.kind
    if kind == "f":
        return A
    if kind in "biu":
        return A.astype(np.float32)
    raise TypeError(f"{name}: expected an array of real numbers, got dtype {A.dtype}")


def is_shapes(shape: Any) -> bool:
    """Whether ``shape`` is a tuple of shapes (a layer with several inputs), not one shape."""
    return (
        isinstance(shape, (tuple, list))
        and len(shape) > 0
        and all(isinstance(s, (tuple, list)) for s in shape)
    )


def fmt_shape(shape: Any) -> str:
    """``(-1, 4)``, or ``((-1, 4), (-1, 3))`` for a tuple of shapes."""
    if is_shapes(shape):
        return "(" + ", ".join(fmt_shape(s) for s in shape) + ")"
    dims = [str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def check_rank(name: str, shape: tuple[int, ...], rank: int, layout: str) -> None:
    """Raise ``ValueError`` unless ``shape`` has ``rank`` dimensions (``layout`` names them)."""
    if len(shape) != rank:
        raise ValueError(
            f"{name}: expected a {rank}-D input {layout}, got shape {fmt_shape(shape)}"
        )


def check_features(name: str, shape: tuple[int, ...], axis: int, expected: int) -> None:
    """Raise ``ValueError`` unless ``shape[axis] == expected`` (e.g. the feature count)."""
    if shape[axis] != expected:
        want = ["..."] * (len(shape) - 1)
        want.insert(axis % len(shape), str(expected))
        raise ValueError(f"{name}: expected input ({', '.join(want)}), got {fmt_shape(shape)}")


def read_only_view(x: Array) -> Array:
    """A read-only view of ``x``: what a layer returns when its output *is* its input.

    Identity, Flatten and Dropout in eval mode give back the caller's data; a read-only
    view lets the caller keep writing into ``x`` while a write into the output raises
    instead of silently changing ``x``.
    """
    view = x.view()
    view.flags.writeable = False
    return view


def check_params(name: str, params: Any, shapes: dict[str, tuple[int, ...]], what: str) -> None:
    """Raise unless ``params`` holds exactly ``shapes``'s keys, float arrays of those shapes.

    ``what`` names the tree (``"params"`` or ``"state"``). Layers call this only when
    their one-line check failed, to say what differs: a missing or extra key, a shape
    (``Linear: params W: expected shape (8, 4), got (16, 4)``) or a dtype.
    """
    if not isinstance(params, dict):
        raise TypeError(f"{name}: expected {what} as a dict, got {type(params).__name__}")
    if params.keys() != shapes.keys():
        raise ValueError(f"{name}: expected {what} with keys {list(shapes)}, got {list(params)}")
    for key, shape in shapes.items():
        leaf = params[key]
        if not isinstance(leaf, np.ndarray) or leaf.dtype.kind != "f":
            got = leaf.dtype if isinstance(leaf, np.ndarray) else type(leaf).__name__
            raise TypeError(f"{name}: {what} {key}: expected a float array, got {got}")
        if leaf.shape != shape:
            raise ValueError(
                f"{name}: {what} {key}: expected shape {fmt_shape(shape)}, "
                f"got {fmt_shape(leaf.shape)}"
            )
