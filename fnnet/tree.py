"""Pytrees: nested ``dict`` / ``list`` / ``tuple`` / ``None`` with array leaves.

Params, state, gradients and optimizer state are pytrees. Dicts keep insertion
order (``"10"`` follows ``"9"``), ``None`` is an empty subtree, and :func:`map`
rebuilds tuples as tuples and lists as lists.

>>> t = {"W": np.ones(2), "b": [np.zeros(3)]}
>>> leaves(t)                      # [array([1., 1.]), array([0., 0., 0.])]
>>> map(lambda a: a + 1, t)        # {"W": array([2., 2.]), "b": [array([1., 1., 1.])]}
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "TreeDef",
    "flatten",
    "freeze",
    "leaves",
    "leaves_with_paths",
    "map",
    "structure_equal",
    "unflatten",
    "zeros_like",
]

PyTree = Any


@dataclass(frozen=True)
class TreeDef:
    """The structure of a pytree without its leaves.

    ``kind`` is one of ``"leaf"``, ``"none"``, ``"dict"``, ``"list"``, ``"tuple"``;
    ``keys`` holds dict keys (or a NamedTuple's type), ``children`` the sub-structures.
    """

    kind: str
    keys: tuple[Any, ...] = ()
    children: tuple[TreeDef, ...] = ()
    num_leaves: int = 1

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children))
            return "{" + inner + "}"
        inner = ", ".join(repr(c) for c in self.children)
        return f"[{inner}]" if self.kind == "list" else f"({inner})"


def _is_namedtuple(node: Any) -> bool:
    return isinstance(node, tuple) and hasattr(node, "_fields")


def _children(node: Any) -> tuple[str, tuple[Any, ...], list[Any]] | None:
    """Split an inner node into (kind, keys, children); None for a leaf."""
    if node is None:
        return "none", (), []
    if isinstance(node, dict):
        for k in node:
            if not isinstance(k, str):
                raise TypeError(f"pytree dict keys must be strings, got {k!r}")
        return "dict", tuple(node), list(node.values())
    if isinstance(node, list):
        return "list", (), node
    if isinstance(node, tuple):
        keys = (type(node),) if _is_namedtuple(node) else ()
        return "tuple", keys, list(node)
    return None


def flatten(tree: PyTree) -> tuple[list[Any], TreeDef]:
    """Return the leaves of ``tree`` (depth first, dicts in insertion order) and its structure."""
    out: list[Any] = []

    def go(node: Any) -> TreeDef:
        split = _children(node)
        if split is None:
            out.append(node)
            return TreeDef("leaf")
        kind, keys, kids = split
        defs = tuple(go(c) for c in kids)
        return TreeDef(kind, keys, defs, sum(d.num_leaves for d in defs))

    treedef = go(tree)
    return out, treedef


def unflatten(treedef: TreeDef, leaves: list[Any] | tuple[Any, ...]) -> PyTree:
    """Rebuild a pytree of structure ``treedef`` from ``leaves`` (inverse of :func:`flatten`)."""
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f"unflatten: structure has {treedef.num_leaves} leaves, got {len(leaves)}")
    it = iter(leaves)

    def go(d: TreeDef) -> Any:
        if d.kind == "leaf":
            return next(it)
        if d.kind == "none":
            return None
        kids = [go(c) for c in d.children]
        if d.kind == "dict":
            return dict(zip(d.keys, kids))
        if d.kind == "list":
            return kids
        if d.keys:  # a NamedTuple
            return d.keys[0](*kids)
        return tuple(kids)

    return go(treedef)


def leaves(tree: PyTree) -> list[Any]:
    """The leaves of ``tree`` in flattening order."""
    return flatten(tree)[0]


def _map_node(f: Callable[..., Any], nodes: tuple[Any, ...], path: str) -> Any:
    first = nodes[0]
    split = _children(first)
    if split is None:
        return f(*nodes)
    kind, keys, kids = split
    for other in nodes[1:]:
        other_split = _children(other)
        if (
            other_split is None
            or other_split[0] != kind
            or other_split[1] != keys
            or len(other_split[2]) != len(kids)
        ):
            raise ValueError(
                f"tree.map: trees differ at {path or 'the root'}: "
                f"{flatten(first)[1]!r} vs {flatten(other)[1]!r}"
            )
    if kind == "none":
        return None
    if kind == "dict":
        return {
            k: _map_node(f, tuple(n[k] for n in nodes), f"{path}/{k}" if path else k) for k in keys
        }
    mapped = [
        _map_node(f, tuple(n[i] for n in nodes), f"{path}/{i}" if path else str(i))
        for i in range(len(kids))
    ]
    if kind == "list":
        return mapped
    return keys[0](*mapped) if keys else tuple(mapped)


def map(f: Callable[..., Any], tree: PyTree, *rest: PyTree) -> PyTree:
    """Apply ``f`` leaf-wise to one or more trees of the same structure.

    Raises ``ValueError`` naming the first path where the structures differ.
    """
    return _map_node(f, (tree, *rest), "")


def _paths(node: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    split = _children(node)
    if split is None:
        yield prefix, node
        return
    kind, keys, kids = split
    names = keys if kind == "dict" else builtins.map(str, range(len(kids)))
    for name, child in zip(names, kids):
        yield from _paths(child, f"{prefix}/{name}" if prefix else str(name))


def leaves_with_paths(tree: PyTree) -> list[tuple[str, Any]]:
    """``[(path, leaf), ...]``, paths such as ``"0/W"`` (keys and list indices joined by ``/``)."""
    return list(_paths(tree, ""))


def structure_equal(a: PyTree, b: PyTree) -> bool:
    """True when ``a`` and ``b`` have the same structure (keys and nesting), ignoring leaves."""
    return flatten(a)[1] == flatten(b)[1]


def zeros_like(tree: PyTree) -> PyTree:
    """The same structure with every leaf replaced by zeros of its shape and dtype."""
    return map(np.zeros_like, tree)


def _freeze_leaf(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        x.flags.writeable = False
    return x


def freeze(tree: PyTree) -> PyTree:
    """Mark every array leaf read-only and return the tree.

    Only use on arrays the caller just created: fnnet freezes the params, state and
    optimizer state it returns, never arrays it was given.
    """
    for leaf in flatten(tree)[0]:
        _freeze_leaf(leaf)
    return tree
