"""``residual(f)``: ``x + f(x)``, the skip connection of ResNets."""

from __future__ import annotations

from typing import Any

from fnnet.layers.activations import Identity
from fnnet.layers.base import (
    Array,
    Layer,
    Params,
    Pullback,
    Shape,
    State,
    as_input,
    fmt_shape,
    is_shapes,
    layer_name,
)
from fnnet.layers.branches import fan_in_sum, fan_out, same_shape
from fnnet.layers.combinators import (
    check_layers,
    check_slots,
    keys_differ,
    parallel,
    reraise_at,
    serial,
)
from fnnet.random import Key, split

__all__ = ["residual"]


def residual(layer: Layer) -> Layer:
    """``y = x + f(x)``: a skip connection around ``layer`` (``f``), as in ResNets.

    The same function as ``serial(fan_out(2), parallel(layer, Identity()), fan_in_sum())``,
    with the same params and state layout, so that trees (and ``init`` with the same key)
    are interchangeable between the two::

        params = {"0": {}, "1": {"0": <layer's params>, "1": {}}, "2": {}}

    (``params["1"]["0"]`` are the layer's params.) ``key`` reaches ``layer`` as it would
    through that ``serial``. Pullback, given ``dL/dy``::

        dL/dx = dL/dy + J_f(x)^T dL/dy

    the skip path and the branch meet at ``x``, so their gradients add (``fan_out``'s
    rule). ``f`` must keep the shape of its input: otherwise a ``ValueError`` at ``init``
    names the branch and both shapes. Where the shapes differ (channels change), put a
    projection in the skip path with ``serial(fan_out(2), parallel(f, projection),
    fan_in_sum())``.
    """
    check_layers("residual", (layer,))
    name = layer_name(layer)
    equivalent = serial(fan_out(2), parallel(layer, Identity()), fan_in_sum())

    def init(key: Key, input_shape: Shape) -> tuple[Shape, Params, State]:
        if is_shapes(input_shape):
            raise ValueError(
                f"residual: expected one input shape, got the shapes {fmt_shape(input_shape)}"
            )
        try:
            out_shape, params, state = layer.init(_branch_key_of(key), tuple(input_shape))
        except (ValueError, TypeError) as err:
            reraise_at(err, "residual branch 0", name)
        if is_shapes(out_shape) or not same_shape(out_shape, input_shape):
            raise ValueError(
                f"residual: branch 0 ({name}) outputs {fmt_shape(out_shape)}, but the skip "
                f"branch 1 carries the input {fmt_shape(input_shape)}; x + f(x) needs equal shapes"
            )
        return tuple(input_shape), _layout(params), _layout(state)

    def branch_trees(params: Params, state: State) -> tuple[Params, State]:
        """The layer's own params and state, out of the serial-equivalent layout."""
        if keys_differ(params, state, _SLOTS3):
            check_slots("residual", params, state, _SLOTS3)
        p1, s1 = params["1"], state["1"]
        if keys_differ(p1, s1, _SLOTS2):
            check_slots("residual", p1, s1, _SLOTS2, at="['1']")
        return p1["0"], s1["0"]

    def skip_input(x: Any) -> Array:
        if isinstance(x, (tuple, list)) and len(x) and hasattr(x[0], "shape"):
            raise TypeError(f"residual: expected one array, got a {type(x).__name__} of {len(x)}")
        return as_input("residual", x)

    def check_output(X: Array, F: Any) -> None:
        if getattr(F, "shape", None) != X.shape:
            raise ValueError(
                f"residual: branch 0 ({name}) outputs {fmt_shape(getattr(F, 'shape', ()))}, "
                f"but the skip branch 1 carries the input {fmt_shape(X.shape)}"
            )

    def apply(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = False
    ) -> tuple[Array, State]:
        theta, s = branch_trees(params, state)
        X = skip_input(x)
        try:
            F, new_s = layer.apply(theta, s, X, key=_branch_key(key), train=train)
        except (ValueError, TypeError) as err:
            reraise_at(err, "residual branch 0", name)
        check_output(X, F)
        # y = x + f(x)
        Y = X + F
        return Y, _layout(new_s)

    def vjp(
        params: Params, state: State, x: Array, *, key: Key | None = None, train: bool = True
    ) -> tuple[Array, State, Pullback]:
        theta, s = branch_trees(params, state)
        X = skip_input(x)
        try:
            F, new_s, pullback_f = layer.vjp(theta, s, X, key=_branch_key(key), train=train)
        except (ValueError, TypeError) as err:
            reraise_at(err, "residual branch 0", name)
        check_output(X, F)
        # y = x + f(x)
        Y = X + F

        def pullback(dLdY: Array) -> tuple[Params, Array]:
            # the branch: dL/dtheta and J_f^T dL/dy, from the layer's own pullback
            dLdtheta, dLdX_f = pullback_f(dLdY)
            # the skip path and the branch meet at x: dL/dx = dL/dy + J_f^T dL/dy
            dLdX = dLdY + dLdX_f
            return _layout(dLdtheta), dLdX

        return Y, _layout(new_s), pullback

    return Layer(init, apply, vjp, name="residual", children=equivalent.children)


_SLOTS3 = ("0", "1", "2")
_SLOTS2 = ("0", "1")


def _layout(tree: Any) -> dict[str, Any]:
    """A residual branch's tree placed as in ``serial(fan_out, parallel(f, Identity), ...)``."""
    return {"0": {}, "1": {"0": tree, "1": {}}, "2": {}}


def _branch_key_of(key: Key) -> Key:
    """The key that ``serial(fan_out(2), parallel(f, Identity()), fan_in_sum())`` gives ``f``:
    the second of serial's three keys, then the first of parallel's two."""
    return split(split(key, 3)[1], 2)[0]


def _branch_key(key: Key | None) -> Key | None:
    return None if key is None else _branch_key_of(key)
