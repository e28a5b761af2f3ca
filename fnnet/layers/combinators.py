"""Combinators: layers built from layers."""

from __future__ import annotations

from typing import Any, NoReturn

from fnnet.layers.base import (
    Array,
    Layer,
    Params,
    Pullback,
    Shape,
    State,
    commutes_with_max_pool,
    is_max_pool,
    layer_name,
    named,
    skips_input_grad,
)
from fnnet.random import Key, split

__all__ = ["serial"]


def _reraise(err: Exception, index: int, name: str) -> NoReturn:
    """Re-raise ``err`` (ValueError/TypeError) with the place inside ``serial`` in front."""
    message = str(err)
    if message.startswith(f"{name}: "):  # the layer already named its kind
        message = message[len(name) + 2 :]
    prefix = f"serial layer {index} ({name}): "
    cls = type(err)
    try:
        new = cls(prefix + message)
    except Exception:  # an exception type with another signature: keep its family
        new = (TypeError if isinstance(err, TypeError) else ValueError)(prefix + message)
    raise new from err


def _evaluation_order(layers: tuple[Layer, ...]) -> list[int]:
    """The layers' indices in the order ``serial`` runs them: as written, except that
    element-wise layers that commute with max pooling (ReLU) move after a max-pool that
    follows them (see :func:`~fnnet.layers.base.commutes_with_max_pool`)."""
    order: list[int] = []
    run: list[int] = []  # commuting layers just before the current one
    for i, layer in enumerate(layers):
        if commutes_with_max_pool(layer):
            run.append(i)
        elif is_max_pool(layer):  # pool first: max_w f(x) = f(max_w x)
            order += [i, *run]
            run = []
        else:
            order += [*run, i]
            run = []
    return order + run


def serial(*layers: Layer) -> Layer:
    """Compose ``layers`` in order: ``y = f_{n-1}(... f_1(f_0(x)))``.

    Params and state are dicts keyed by position: ``{"0": ..., "1": ..., ...}``.
    ``key`` (when given) is split so that each layer gets its own; the state of every
    layer is threaded through and a new state tree is returned. The pullback runs
    the layers' pullbacks in reverse order; ``pullback(dy, input_grad=False)`` returns
    ``(grads, None)`` and lets the first layer skip its input gradient where it can.
    A shape error inside names the layer:
    ``serial layer 2 (Linear): expected input (..., 256), got (128, 255)``.

    One exact rewrite: a ``ReLU`` (any layer declaring
    :func:`~fnnet.layers.base.commutes_with_max_pool`) followed by a ``MaxPool2d`` is
    evaluated as the max-pool then the ReLU, since ``MaxPool(ReLU(X)) = ReLU(MaxPool(X))``
    with the same gradient. Outputs, gradients and params are those of the order as
    written; the ReLU just works on a quarter of the values after a 2x2 pool.
    """
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"serial: argument {i} is not a Layer, got {type(layer).__name__}")
    names = [layer_name(layer) for layer in layers]
    n = len(layers)
    slots = [str(i) for i in range(n)]
    order = _evaluation_order(layers)  # apply and vjp run the layers in this order
    first_skips = bool(layers) and skips_input_grad(layers[order[0]])
    backward_order = order[:0:-1]  # the pullbacks of all but the first evaluated layer
    reordered = order != list(range(n))

    def in_slot_order(state: State) -> State:
        """A state dict filled in evaluation order, with its keys "0", "1", ... in order."""
        return {slot: state[slot] for slot in slots} if reordered else state

    def layer_keys(key: Key | None) -> tuple[Key | None, ...]:
        return split(key, n) if key is not None else (None,) * n

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params, State]:
        keys = split(key, n)
        params: Params = {}
        state: State = {}
        shape = tuple(input_shape)
        i = 0
        try:
            for i, (slot, layer) in enumerate(zip(slots, layers)):
                shape, params[slot], state[slot] = layer.init(keys[i], shape)
        except (ValueError, TypeError) as err:
            _reraise(err, i, names[i])
        return shape, params, state

    def apply(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = False
    ) -> tuple[Array, State]:
        keys = layer_keys(key)
        new_state: State = {}
        i = 0
        try:
            for i in order:
                slot = slots[i]
                x, new_state[slot] = layers[i].apply(
                    params[slot], state[slot], x, key=keys[i], train=train
                )
        except (ValueError, TypeError) as err:
            _reraise(err, i, names[i])
        return x, in_slot_order(new_state)

    def vjp(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = True
    ) -> tuple[Array, State, Pullback]:
        keys = layer_keys(key)
        new_state: State = {}
        pullbacks: dict[int, Pullback] = {}
        i = 0
        try:
            for i in order:
                slot = slots[i]
                x, new_state[slot], pullbacks[i] = layers[i].vjp(
                    params[slot], state[slot], x, key=keys[i], train=train
                )
        except (ValueError, TypeError) as err:
            _reraise(err, i, names[i])

        def pullback(dy: Array, input_grad: bool = True) -> tuple[Params, Array | None]:
            grads: list[Any] = [None] * n
            # chain rule, last layer first: dL/dx_i = pullback_i(dL/dx_{i+1})
            for i in backward_order:
                grads[i], dy = pullbacks[i](dy)
            if n:
                first = order[0]
                if input_grad or not first_skips:
                    grads[first], dy = pullbacks[first](dy)
                else:  # the model's input needs no gradient: let the first layer skip it
                    grads[first], dy = pullbacks[first](dy, input_grad=False)
            return dict(zip(slots, grads)), dy if input_grad else None

        return x, in_slot_order(new_state), pullback

    layer = named(Layer(init, apply, vjp), "serial")
    skips_input_grad(layer, True)
    return layer
