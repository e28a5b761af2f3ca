"""Combinators: layers built from layers."""

from __future__ import annotations

from typing import Any, NoReturn

from fnnet.layers.base import Array, Layer, Params, Pullback, Shape, State, layer_name
from fnnet.random import Key, split

__all__ = ["serial"]


def serial(*layers: Layer) -> Layer:
    """Compose ``layers`` in the order written: ``y = f_{n-1}(... f_1(f_0(x)))``.

    Params and state are dicts keyed by position: ``{"0": ..., "1": ..., ...}``.
    ``key`` (when given) is split so that each layer gets its own; the state of every
    layer is threaded through and a new state tree is returned. The pullback applies the
    chain rule, last layer first: ``dL/dx_i = pullback_i(dL/dx_{i+1})``.
    ``pullback(dy, input_grad=False)`` returns ``(grads, None)`` and lets the first layer
    skip its input gradient when it declares ``skips_input_grad``.
    A shape error inside names the layer:
    ``serial layer 2 (Linear): expected input (..., 256), got (128, 255)``.
    """
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"serial: argument {i} is not a Layer, got {type(layer).__name__}")
    names = [layer_name(layer) for layer in layers]
    slots = [str(i) for i in range(len(layers))]
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
            _reraise(err, i, names[i])
        return shape, params, state

    def apply(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = False
    ) -> tuple[Array, State]:
        keys = _layer_keys(key, len(layers))
        new_state: State = {}
        i = 0
        try:
            for i, (slot, layer) in enumerate(zip(slots, layers)):
                x, new_state[slot] = layer.apply(
                    params[slot], state[slot], x, key=keys[i], train=train
                )
        except (ValueError, TypeError) as err:
            _reraise(err, i, names[i])
        return x, new_state

    def vjp(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = True
    ) -> tuple[Array, State, Pullback]:
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
            _reraise(err, i, names[i])

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

    return Layer(init, apply, vjp, name="serial", skips_input_grad=True)


def _layer_keys(key: Key | None, n: int) -> tuple[Key | None, ...]:
    """One key per layer, or ``None`` for each when no key is given."""
    return split(key, n) if key is not None else (None,) * n


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
