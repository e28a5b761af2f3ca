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
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "TreeDef",
    "combine",
    "flatten",
    "freeze",
    "leaves",
    "leaves_with_paths",
    "map",
    "map_n",
    "partition",
    "ravel",
    "structure_equal",
    "unflatten",
    "zeros_like",
]

PyTree = Any


class TreeDef(NamedTuple):
    """The structure of a pytree without its leaves (an immutable value; ``==`` compares).

    ``kind`` is one of ``"leaf"``, ``"none"``, ``"dict"``, ``"list"``, ``"tuple"``;
    ``keys`` holds dict keys (or a NamedTuple's type), ``children`` the sub-structures.
    """

    kind: str
    keys: tuple[Any, ...]
    children: tuple[TreeDef, ...]
    num_leaves: int

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


_LEAF = TreeDef("leaf", (), (), 1)
_NONE = TreeDef("none", (), (), 0)


def _is_namedtuple(node: Any) -> bool:
    return isinstance(node, tuple) and hasattr(node, "_fields")


def _check_keys(node: dict[Any, Any]) -> None:
    for k in node:
        if not isinstance(k, str):
            raise TypeError(f"pytree dict keys must be strings, got {k!r}")


def _children(node: Any) -> tuple[str, tuple[Any, ...], list[Any]] | None:
    """Split an inner node into (kind, keys, children); None for a leaf."""
    if node is None:
        return "none", (), []
    if isinstance(node, dict):
        _check_keys(node)
        return "dict", tuple(node), list(node.values())
    if isinstance(node, list):
        return "list", (), node
    if isinstance(node, tuple):
        keys = (type(node),) if _is_namedtuple(node) else ()
        return "tuple", keys, list(node)
    return None


def _flatten(node: Any, out: list[Any]) -> TreeDef:
    # the common case first: params and grads are dicts of dicts of arrays
    if isinstance(node, dict):
        _check_keys(node)
        defs = tuple([_flatten(c, out) for c in node.values()])
        return TreeDef("dict", tuple(node), defs, sum([d.num_leaves for d in defs]))
    split = _children(node)
    if split is None:
        out.append(node)
        return _LEAF
    kind, keys, kids = split
    if kind == "none":
        return _NONE
    defs = tuple([_flatten(c, out) for c in kids])
    return TreeDef(kind, keys, defs, sum([d.num_leaves for d in defs]))


def flatten(tree: PyTree) -> tuple[list[Any], TreeDef]:
    """Return the leaves of ``tree`` (depth first, dicts in insertion order) and its structure."""
    out: list[Any] = []
    treedef = _flatten(tree, out)
    return out, treedef


def _unflatten(d: TreeDef, it: Iterator[Any]) -> Any:
    if d.kind == "leaf":
        return next(it)
    if d.kind == "dict":
        return dict(zip(d.keys, [_unflatten(c, it) for c in d.children]))
    if d.kind == "none":
        return None
    kids = [_unflatten(c, it) for c in d.children]
    if d.kind == "list":
        return kids
    if d.keys:  # a NamedTuple
        return d.keys[0](*kids)
    return tuple(kids)


def unflatten(treedef: TreeDef, leaves: list[Any] | tuple[Any, ...]) -> PyTree:
    """Rebuild a pytree of structure ``treedef`` from ``leaves`` (inverse of :func:`flatten`)."""
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f"unflatten: structure has {treedef.num_leaves} leaves, got {len(leaves)}")
    return _unflatten(treedef, iter(leaves))


def _collect(node: Any, out: list[Any]) -> None:
    if isinstance(node, dict):
        _check_keys(node)
        for c in node.values():
            _collect(c, out)
    elif isinstance(node, (list, tuple)):
        for c in node:
            _collect(c, out)
    elif node is not None:
        out.append(node)


def leaves(tree: PyTree) -> list[Any]:
    """The leaves of ``tree`` in flattening order."""
    out: list[Any] = []
    _collect(tree, out)
    return out


class _MismatchError(Exception):
    """Raised inside :func:`map` where two trees differ; collects the path on the way out."""

    def __init__(self, first: Any, other: Any) -> None:
        super().__init__()
        self.first, self.other = first, other
        self.path: list[str] = []


def _make(kind: str, keys: Any, kids: list[Any]) -> Any:
    if kind == "list":
        return kids
    return keys[0](*kids) if keys else tuple(kids)


_CONTAINERS = (dict, list, tuple)


def _map_node(f: Callable[..., Any], nodes: list[Any], n_out: int | None) -> Any:
    first = nodes[0]
    if type(first) is np.ndarray:  # the commonest leaf, tested first: one cheap check
        for other in nodes:
            if type(other) is not np.ndarray and (other is None or isinstance(other, _CONTAINERS)):
                raise _MismatchError(first, other)
        return f(*nodes)
    if isinstance(first, dict):  # the common case, kept tight: params are dicts of dicts
        for other in nodes:  # same size and (below) every key of first: the same keys
            if not isinstance(other, dict) or len(other) != len(first):
                raise _MismatchError(first, other)
        if not first:  # e.g. an activation's params: nothing to map
            return {} if n_out is None else tuple(builtins.map(dict, repeat((), n_out)))
        rest = nodes[1:]
        kids = []
        # no comprehension in this loop: in Python 3.11 each one is a function call
        for k, node in first.items():
            kid_nodes = [node]
            try:
                for other in rest:
                    kid_nodes.append(other[k])
            except KeyError:  # another dict lacks the key k: they differ here
                raise _MismatchError(first, next(n for n in nodes if k not in n)) from None
            if type(node) is np.ndarray:  # an array leaf, handled here without a call
                for other in kid_nodes:
                    if type(other) is not np.ndarray:
                        break  # let the call below check it (and name the path)
                else:
                    kids.append(f(*kid_nodes))
                    continue
            try:
                kids.append(_map_node(f, kid_nodes, n_out))
            except _MismatchError as err:
                err.path.append(str(k))
                raise
        if n_out is None:
            return dict(zip(first, kids))
        # kids[i][j] is output j of key i: zip(*kids) gives, per output, its values by key
        return tuple(builtins.map(dict, builtins.map(zip, repeat(first), zip(*kids))))
    split = _children(first)
    if split is None:
        for other in nodes[1:]:
            if other is None or isinstance(other, (dict, list, tuple)):
                raise _MismatchError(first, other)
        return f(*nodes)
    kind, keys_, kid_nodes = split
    for other in nodes[1:]:
        other_split = _children(other)
        if (
            other_split is None
            or other_split[:2] != (kind, keys_)
            or len(other_split[2]) != len(kid_nodes)
        ):
            raise _MismatchError(first, other)
    if kind == "none":
        return None if n_out is None else (None,) * n_out
    try:
        kids = []
        for k in range(len(kid_nodes)):
            kids.append(_map_node(f, [n[k] for n in nodes], n_out))
    except _MismatchError as err:
        err.path.append(str(k))
        raise
    if n_out is None:
        return _make(kind, keys_, kids)
    return tuple(_make(kind, keys_, [kid[j] for kid in kids]) for j in range(n_out))


def _map(f: Callable[..., Any], trees: tuple[Any, ...], n_out: int | None, name: str) -> Any:
    try:
        return _map_node(f, list(trees), n_out)
    except _MismatchError as err:
        where = "/".join(reversed(err.path)) or "the root"
        raise ValueError(
            f"{name}: trees differ at {where}: {flatten(err.first)[1]!r} vs "
            f"{flatten(err.other)[1]!r}"
        ) from None


def map(f: Callable[..., Any], tree: PyTree, *rest: PyTree) -> PyTree:
    """Apply ``f`` leaf-wise to one or more trees of the same structure.

    Raises ``ValueError`` naming the first path where the structures differ.
    """
    return _map(f, (tree, *rest), None, "tree.map")


def map_n(
    f: Callable[..., tuple[Any, ...]], n: int, tree: PyTree, *rest: PyTree
) -> tuple[PyTree, ...]:
    """Like :func:`map` for an ``f`` that returns ``n`` values: returns ``n`` trees.

    >>> new_params, new_velocity = map_n(step, 2, params, grads, velocity)
    """
    return _map(f, (tree, *rest), n, "tree.map_n")


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
        # write=False, given positionally: half the cost of the keyword (numpy's stubs
        # accept only the keyword; the runtime signature is setflags(write, align, uic))
        x.setflags(False)  # type: ignore[call-arg]
    return x


def freeze(tree: PyTree) -> PyTree:
    """Mark every array leaf read-only and return the tree.

    Only use on arrays the caller just created: fnnet freezes the params, state and
    optimizer state it returns, never arrays it was given.
    """
    for leaf in leaves(tree):
        _freeze_leaf(leaf)
    return tree


def ravel(tree: PyTree) -> tuple[np.ndarray, Callable[[np.ndarray], PyTree]]:
    """All leaves in one 1-D vector, and the function that undoes it.

    ``vector`` is the leaves of :func:`leaves`, each flattened in C order, one after the
    other, in the dtype they promote to (float64 for a tree without leaves); a fresh array.
    ``unravel(v)`` takes a vector of that size and returns a new tree of the same
    structure, each leaf with its shape and dtype again (``unravel(ravel(t)[0]) == t``).
    As ``jax.flatten_util.ravel_pytree``.

    >>> v, unravel = ravel({"W": np.ones((2, 2)), "b": np.zeros(2)})   # v.shape == (6,)
    """
    flat, treedef = flatten(tree)
    arrays = [np.asarray(leaf) for leaf in flat]
    for (path, _), a in zip(leaves_with_paths(tree), arrays):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"tree.ravel: leaf {path!r} is not a real array (dtype {a.dtype})")
    dtype = np.result_type(*arrays) if arrays else np.dtype(np.float64)
    shapes = [a.shape for a in arrays]
    dtypes = [a.dtype for a in arrays]
    ends = np.cumsum([a.size for a in arrays], dtype=np.int64)
    size = int(ends[-1]) if arrays else 0
    # concatenate promotes the dtypes and copies: the vector owns its memory
    vector = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0, dtype)

    def unravel(v: np.ndarray) -> PyTree:
        v = np.asarray(v)
        if v.shape != (size,):
            raise ValueError(f"unravel: expected a vector of shape ({size},), got {v.shape}")
        starts = [0, *ends[:-1].tolist()] if arrays else []
        pieces = [
            v[start:end].reshape(shape).astype(dt)  # astype copies: leaves own their memory
            for start, end, shape, dt in zip(starts, ends.tolist(), shapes, dtypes)
        ]
        return unflatten(treedef, pieces)

    return vector, unravel


def partition(tree: PyTree, predicate: Callable[[str, Any], bool]) -> tuple[PyTree, PyTree]:
    """Split ``tree`` in two trees of its structure: ``(a, b)``.

    ``a`` holds the leaves for which ``predicate(path, leaf)`` is true and ``None``
    elsewhere, ``b`` the others (paths as :func:`leaves_with_paths` writes them). The
    leaves are the same objects, not copies; :func:`combine` puts the halves together.

    >>> trainable, frozen = partition(params, lambda path, leaf: not path.startswith("0/"))
    """
    picks = [bool(predicate(path, leaf)) for path, leaf in leaves_with_paths(tree)]
    flat, treedef = flatten(tree)
    a = unflatten(treedef, [leaf if pick else None for leaf, pick in zip(flat, picks)])
    b = unflatten(treedef, [None if pick else leaf for leaf, pick in zip(flat, picks)])
    return a, b


def combine(a: PyTree, b: PyTree) -> PyTree:
    """Merge two trees of one structure where each leaf is in one of them and ``None`` in the
    other (the halves of :func:`partition`): ``combine(*partition(t, p))`` equals ``t``.

    Raises ``ValueError`` naming the path where both hold a leaf or the structures differ.
    """
    return _combine(a, b, "")


def _combine(a: Any, b: Any, path: str) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    where = path or "the root"
    split_a, split_b = _children(a), _children(b)
    if split_a is None or split_b is None:
        if split_a is None and split_b is None:
            raise ValueError(f"tree.combine: both trees hold a leaf at {where}")
        raise ValueError(f"tree.combine: the trees differ at {where}")
    kind, keys, kids_a = split_a
    if split_b[:2] != (kind, keys) or len(split_b[2]) != len(kids_a):
        raise ValueError(
            f"tree.combine: the trees differ at {where}: {flatten(a)[1]!r} vs {flatten(b)[1]!r}"
        )
    names = keys if kind == "dict" else [str(i) for i in range(len(kids_a))]
    kids = [
        _combine(x, y, f"{path}/{name}" if path else str(name))
        for name, x, y in zip(names, kids_a, split_b[2])
    ]
    return dict(zip(keys, kids)) if kind == "dict" else _make(kind, keys, kids)
