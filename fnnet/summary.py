"""``fnnet.summary(model, input_shape)``: a model's layers, output shapes and parameters.

One row per leaf layer, in the order the layers run, with its path in the param tree
(``"1.0.2"`` is ``params["1"]["0"]["2"]``), its kind, its output shape(s), its parameter
shapes and their count; then a total line with the number of parameters and their bytes::

    path   layer    output shape   params                  count
    0      Linear   (-1, 8)        W (8, 4), b (8,)           40
    1      ReLU     (-1, 8)                                    0
    2      Linear   (-1, 3)        W (3, 8), b (3,)           27
    total: 67 parameters, 268 bytes

Combinators are found through :attr:`fnnet.layers.Layer.children`: the summary walks a
chain (``serial``; ``residual`` shows its serial equivalent, ``fan_out``, ``parallel``
of the branch and ``Identity``, ``fan_in_sum``) feeding each child the output shape of
the one before, and :class:`~fnnet.layers.Branches` (``parallel``) feeding child ``i``
part ``i`` of the input shape. A layer without children, or whose params are not keyed
``"0"``, ``"1"``, ... by child, is one row.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from fnnet import random, tree
from fnnet.layers.base import Branches, Layer, fmt_shape, layer_name

__all__ = ["Row", "Summary", "summary"]


class Row(NamedTuple):
    """One leaf layer: ``path`` in the param tree, ``kind``, ``output_shape`` (a shape or a
    tuple of shapes), ``params`` (``[(name, shape), ...]``) and ``num_params`` (their size)."""

    path: str
    kind: str
    output_shape: Any
    params: list[tuple[str, tuple[int, ...]]]
    num_params: int


class Summary(str):
    """The summary table (a ``str``), with its numbers as attributes.

    ``rows`` (a list of :class:`Row`), ``num_params`` (the total number of parameters),
    ``num_bytes`` (their size in memory), ``output_shape`` (the model's).
    """

    rows: list[Row]
    num_params: int
    num_bytes: int
    output_shape: Any

    def __new__(
        cls, text: str, rows: list[Row], num_params: int, num_bytes: int, output_shape: Any
    ) -> Summary:
        self = super().__new__(cls, text)
        self.rows, self.num_params, self.num_bytes = rows, num_params, num_bytes
        self.output_shape = output_shape
        return self


def summary(model: Layer, input_shape: Any) -> Summary:
    """The table of ``model``'s leaf layers for inputs of ``input_shape`` (see the module).

    ``input_shape`` includes the batch dimension (``-1`` for any), as for ``init``; it
    may be a tuple of shapes for a model with several inputs. Returns a :class:`Summary`,
    a ``str`` that also carries ``num_params``, ``num_bytes`` and the ``rows``.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"summary: expected a Layer, got {type(model).__name__}")
    output_shape, params, _ = model.init(random.key(0), input_shape)
    rows: list[Row] = []
    _walk(model, input_shape, params, "", rows)
    leaves = [np.asarray(p) for p in tree.leaves(params)]
    num_params = sum(p.size for p in leaves)
    num_bytes = sum(p.nbytes for p in leaves)
    return Summary(_table(rows, num_params, num_bytes), rows, num_params, num_bytes, output_shape)


def _walk(layer: Layer, shape: Any, params: Any, path: str, rows: list[Row]) -> Any:
    """Append the rows of ``layer`` (at ``path``, input ``shape``); return its output shape."""
    children = getattr(layer, "children", ())
    slots = tuple(str(i) for i in range(len(children)))
    if children and isinstance(params, dict) and tuple(params) == slots:
        prefix = f"{path}." if path else ""
        if isinstance(children, Branches):  # child i takes part i of the input
            return tuple(
                _walk(child, part, params[slot], prefix + slot, rows)
                for slot, child, part in zip(slots, children, shape)
            )
        for slot, child in zip(slots, children):  # a chain: each child takes the last output
            shape = _walk(child, shape, params[slot], prefix + slot, rows)
        return shape
    output_shape, _, _ = layer.init(random.key(0), shape)
    leaves = [(name, np.shape(p)) for name, p in tree.leaves_with_paths(params)]
    count = sum(int(np.prod(s)) for _, s in leaves)
    rows.append(Row(path or "-", layer_name(layer), output_shape, leaves, count))
    return output_shape


def _table(rows: list[Row], num_params: int, num_bytes: int) -> str:
    header = ("path", "layer", "output shape", "params", "count")
    cells = [
        (
            r.path,
            r.kind,
            fmt_shape(r.output_shape),
            ", ".join(f"{name} {fmt_shape(s)}" for name, s in r.params),
            f"{r.num_params:,}",
        )
        for r in rows
    ]
    widths = [max(len(line[j]) for line in [header, *cells]) for j in range(5)]

    def line(c: tuple[str, ...]) -> str:
        left = "   ".join(c[j].ljust(widths[j]) for j in range(4))
        return f"{left}   {c[4].rjust(widths[4])}".rstrip()

    lines = [line(header), *(line(c) for c in cells)]
    lines.append(f"total: {num_params:,} parameters, {num_bytes:,} bytes")
    return "\n".join(lines)
