"""Combinators: layers built from layers.

``serial`` runs layers one after the other, ``parallel`` side by side on the parts of a
tuple input. Their params and state are dicts keyed by position, ``{"0": ..., "1": ...}``;
each checks, before running, that the trees it is given have exactly those keys. The
branch points ``fan_out``, ``fan_in_sum`` and ``fan_in_concat`` are in
:mod:`fnnet.layers.branches`, ``residual`` in :mod:`fnnet.layers.residual`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from fnnet.layers.base import (
    Array,
    Branches,
    Layer,
    Params,
    Pullback,
    Shape,
    State,
    fmt_shape,
    is_shapes,
    layer_name,
)
from fnnet.random import Key, split

__all__ = ["check_slots", "keys_differ", "parallel", "serial"]


def serial(*layers: Layer) -> Layer:
    """Compose ``layers`` in the order written: ``y = f_{n-1}(... f_1(f_0(x)))``.

    Params and state are dicts keyed by position: ``{"0": ..., "1": ..., ...}``.
    ``key`` (when given) is split so that each layer gets its own; the state of every
    layer is threaded through and a new state tree is returned. The pullback applies the
    chain rule, last layer first: ``dL/dx_i = pullback_i(dL/dx_{i+1})``.
    ``pullback(dy, input_grad=False)`` returns ``(grads, None)`` and lets the first layer
    skip its input gradient when it declares ``skips_input_grad``.
    Inputs and outputs between layers may be arrays or tuples of arrays (branches).
    Params or state without exactly the keys ``"0"..."n-1"`` are an error that names
    them: ``serial: params has keys ['0', '1'], expected ['0', '1', '2'] (missing '2')``.
    A shape error inside names the layer:
    ``serial layer 2 (Linear): expected input (..., 256), got (128, 255)``.
    """
    check_layers("serial", layers)
    names = [layer_name(layer) for layer in layers]
    slots = tuple(str(i) for i in range(len(layers)))
    first_skips = bool(layers) and layers[0].skips_input_grad

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params, State]:
        keys = split(key, len(layers))
        params: Params = {}
        state: State = {}
        shape = input_shape
        i = 0
        try:
            for i, (slot, layer) in enumerate(zip(slots, layers)):
                shape, params[slot], state[slot] = layer.init(keys[i], shape)
        except (ValueError, TypeError) as err:
            reraise_at(err, f"serial layer {i}", names[i])
        return shape, params, state

    def apply(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = False
    ) -> tuple[Array, State]:
        if keys_differ(params, state, slots):
            check_slots("serial", params, state, slots)
        keys = _layer_keys(key, len(layers))
        new_state: State = {}
        i = 0
        try:
            for i, (slot, layer) in enumerate(zip(slots, layers)):
                x, new_state[slot] = layer.apply(
                    params[slot], state[slot], x, key=keys[i], train=train
                )
        except (ValueError, TypeError) as err:
            reraise_at(err, f"serial layer {i}", names[i])
        return x, new_state

    def vjp(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = True
    ) -> tuple[Array, State, Pullback]:
        if keys_differ(params, state, slots):
            check_slots("serial", params, state, slots)
        keys = _layer_keys(key, len(layers))
        new_state: State = {}
        pullbacks: list[Pullback] = []
        i = 0
        try:
            for i, (slot, layer) in enumerate(zip(slots, layers)):
                x, new_state[slot], pullback_i = layer.vjp(
                    params[slot], state[slot], x, key=keys[i], train=train
                )
                pullbacks.append(pullback_i)
        except (ValueError, TypeError) as err:
            reraise_at(err, f"serial layer {i}", names[i])

        def pullback(dy: Any, input_grad: bool = True) -> tuple[Params, Any]:
            grads: dict[str, Any] = {}
            # chain rule, last layer first: dL/dx_i = pullback_i(dL/dx_{i+1})
            for i in reversed(range(1, len(layers))):
                grads[slots[i]], dy = pullbacks[i](dy)
            if layers:
                if input_grad or not first_skips:
                    grads["0"], dy = pullbacks[0](dy)
                else:  # the model's input needs no gradient: the first layer may skip it
                    grads["0"], dy = pullbacks[0](dy, input_grad=False)
            return {slot: grads[slot] for slot in slots}, dy if input_grad else None

        return x, new_state, pullback

    return Layer(init, apply, vjp, name="serial", skips_input_grad=True, children=tuple(layers))


def parallel(*layers: Layer) -> Layer:
    """Run ``layers`` side by side: ``(x_0, ..., x_{n-1}) -> (f_0(x_0), ..., f_{n-1}(x_{n-1}))``.

    The input is a tuple of ``n`` arrays (``init``: a tuple of ``n`` shapes), one per
    branch; the output is the tuple of the branches' outputs. Params and state are keyed
    by branch, ``{"0": ..., "1": ..., ...}`` as in ``serial``; ``key`` is split so that
    each branch gets its own, and every branch's state is threaded through. The pullback
    takes a tuple cotangent and pulls each part back through its own branch, as the
    branches share nothing: ``dL/dx_i = pullback_i(dL/dy_i)``. A wrong number of inputs
    is a ``ValueError`` at ``init`` (and at ``apply``); an error inside a branch names it:
    ``parallel branch 1 (Linear): expected input (..., 4), got (-1, 3)``.
    """
    check_layers("parallel", layers)
    if not layers:
        raise ValueError("parallel: expected at least one layer, got none")
    n = len(layers)
    names = [layer_name(layer) for layer in layers]
    slots = tuple(str(i) for i in range(n))

    def init(key: Key, input_shape: Any) -> tuple[Any, Params, State]:
        if not is_shapes(input_shape) or len(input_shape) != n:
            raise ValueError(
                f"parallel: expected a tuple of {n} input shapes (one per branch), "
                f"got {_count(input_shape, is_shapes(input_shape))} {fmt_shape(input_shape)}"
            )
        keys = split(key, n)
        shapes: list[Any] = []
        params: Params = {}
        state: State = {}
        i = 0
        try:
            for i, (slot, layer) in enumerate(zip(slots, layers)):
                shape, params[slot], state[slot] = layer.init(keys[i], tuple(input_shape[i]))
                shapes.append(shape)
        except (ValueError, TypeError) as err:
            reraise_at(err, f"parallel branch {i}", names[i])
        return tuple(shapes), params, state

    def inputs(x: Any) -> Any:
        if not isinstance(x, (tuple, list)) or len(x) != n:
            got = f"a {type(x).__name__} of {len(x)}" if isinstance(x, (tuple, list)) else "one"
            raise ValueError(
                f"parallel: expected a tuple of {n} inputs (one per branch), got {got}"
            )
        return x

    def apply(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = False
    ) -> tuple[tuple[Any, ...], State]:
        if keys_differ(params, state, slots):
            check_slots("parallel", params, state, slots)
        x = inputs(x)
        keys = _layer_keys(key, n)
        ys: list[Any] = []
        new_state: State = {}
        i = 0
        try:
            for i, (slot, layer) in enumerate(zip(slots, layers)):
                y_i, new_state[slot] = layer.apply(
                    params[slot], state[slot], x[i], key=keys[i], train=train
                )
                ys.append(y_i)
        except (ValueError, TypeError) as err:
            reraise_at(err, f"parallel branch {i}", names[i])
        return tuple(ys), new_state

    def vjp(
        params: Params, state: State, x: Any, *, key: Key | None = None, train: bool = True
    ) -> tuple[tuple[Any, ...], State, Pullback]:
        if keys_differ(params, state, slots):
            check_slots("parallel", params, state, slots)
        x = inputs(x)
        keys = _layer_keys(key, n)
        ys: list[Any] = []
        new_state: State = {}
        pullbacks: list[Pullback] = []
        i = 0
        try:
            for i, (slot, layer) in enumerate(zip(slots, layers)):
                y_i, new_state[slot], pullback_i = layer.vjp(
                    params[slot], state[slot], x[i], key=keys[i], train=train
                )
                ys.append(y_i)
                pullbacks.append(pullback_i)
        except (ValueError, TypeError) as err:
            reraise_at(err, f"parallel branch {i}", names[i])

        def pullback(dy: Any) -> tuple[Params, tuple[Any, ...]]:
            dy = inputs(dy)
            grads: Params = {}
            dx: list[Any] = []
            # the branches share nothing: dL/dx_i = pullback_i(dL/dy_i)
            for i, slot in enumerate(slots):
                grads[slot], dx_i = pullbacks[i](dy[i])
                dx.append(dx_i)
            return grads, tuple(dx)

        return tuple(ys), new_state, pullback

    return Layer(init, apply, vjp, name="parallel", children=Branches(layers))


def keys_differ(params: Any, state: Any, slots: tuple[str, ...]) -> bool:
    """The quick test: not two dicts whose keys are ``slots`` in order (then check slowly)."""
    return (
        type(params) is not dict
        or type(state) is not dict
        or tuple(params) != slots
        or tuple(state) != slots
    )


def check_slots(where: str, params: Any, state: Any, slots: tuple[str, ...], at: str = "") -> None:
    """Raise unless ``params`` and ``state`` are dicts with exactly the keys ``slots``.

    Called when a quick comparison of key tuples failed: keys in another order pass, a
    non-dict is a ``TypeError``, missing or extra keys a ``ValueError`` naming them.
    ``at`` names a subtree (``"['1']"``) for combinators whose slots are nested.
    """
    expected = list(slots)
    for what, tree in ((f"params{at}", params), (f"state{at}", state)):
        if not isinstance(tree, Mapping):
            raise TypeError(
                f"{where}: {what} must be a dict with keys {expected}, got {type(tree).__name__}"
            )
        keys = list(tree)
        if set(keys) != set(slots):
            missing = [k for k in slots if k not in tree]
            extra = [k for k in keys if k not in slots]
            detail = "; ".join(
                f"{label} {', '.join(repr(k) for k in ks)}"
                for label, ks in (("missing", missing), ("extra", extra))
                if ks
            )
            raise ValueError(f"{where}: {what} has keys {keys}, expected {expected} ({detail})")


def check_layers(where: str, layers: tuple[Any, ...]) -> None:
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"{where}: argument {i} is not a Layer, got {type(layer).__name__}")


def _count(shape: Any, several: bool) -> str:
    return f"{len(shape)} shapes" if several else "the single shape"


def _layer_keys(key: Key | None, n: int) -> tuple[Key | None, ...]:
    """One key per layer, or ``None`` for each when no key is given."""
    return split(key, n) if key is not None else (None,) * n


def reraise_at(err: Exception, where: str, name: str) -> NoReturn:
    """Re-raise ``err`` (ValueError/TypeError) with the place (``where`` and kind) in front."""
    message = str(err)
    if message.startswith(f"{name}: "):  # the layer already named its kind
        message = message[len(name) + 2 :]
    prefix = f"{where} ({name}): "
    cls = type(err)
    try:
        new = cls(prefix + message)
    except Exception:  # an exception type with another signature: keep its family
        new = (TypeError if isinstance(err, TypeError) else ValueError)(prefix + message)
    raise new from err
