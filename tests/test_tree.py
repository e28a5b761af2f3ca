from collections import namedtuple

import numpy as np
import pytest

from fnnet import tree


def test_leaves_follow_dict_insertion_order():
    t = {str(i): np.full(1, i) for i in range(12)}
    assert [int(x[0]) for x in tree.leaves(t)] == list(range(12))


def test_none_is_an_empty_subtree():
    t = {"a": None, "b": [np.ones(1), None]}
    assert len(tree.leaves(t)) == 1
    assert tree.map(lambda x: x * 2, t) == {"a": None, "b": [pytest.approx(np.full(1, 2.0)), None]}


def test_map_keeps_tuples_and_lists():
    t = {"t": (np.ones(1), np.zeros(1)), "l": [np.ones(2)]}
    m = tree.map(lambda x: x + 1, t)
    assert isinstance(m["t"], tuple) and isinstance(m["l"], list)
    np.testing.assert_array_equal(m["t"][1], [1.0])


def test_map_keeps_namedtuples():
    Pair = namedtuple("Pair", "a b")
    m = tree.map(lambda x: x * 3, Pair(np.ones(1), np.ones(1)))
    assert type(m) is Pair and float(m.b[0]) == 3.0


def test_map_over_several_trees():
    a = {"x": np.array([1.0]), "y": [np.array([2.0])]}
    b = {"x": np.array([10.0]), "y": [np.array([20.0])]}
    s = tree.map(lambda u, v: u + v, a, b)
    assert float(s["x"][0]) == 11.0 and float(s["y"][0][0]) == 22.0


def test_map_reports_where_structures_differ():
    with pytest.raises(ValueError, match="differ at 0/b"):
        tree.map(lambda u, v: u, {"0": {"a": 1, "b": [1]}}, {"0": {"a": 1, "b": 2}})


def test_flatten_unflatten_roundtrip():
    t = {"0": {"W": np.ones((2, 2)), "b": np.zeros(2)}, "1": {}, "2": [np.ones(1), (np.ones(3),)]}
    leaves, treedef = tree.flatten(t)
    assert len(leaves) == 4 and treedef.num_leaves == 4
    back = tree.unflatten(treedef, leaves)
    assert tree.structure_equal(back, t)
    assert back["2"][1][0] is leaves[3]


def test_unflatten_checks_leaf_count():
    _, treedef = tree.flatten({"a": 1, "b": 2})
    with pytest.raises(ValueError, match="2 leaves, got 1"):
        tree.unflatten(treedef, [1])


def test_structure_equal():
    assert tree.structure_equal({"a": np.ones(1)}, {"a": np.zeros(5)})
    assert not tree.structure_equal({"a": np.ones(1)}, {"b": np.ones(1)})
    assert not tree.structure_equal([1, 2], (1, 2))
    assert not tree.structure_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})


def test_zeros_like_keeps_shapes_and_dtypes():
    t = {"W": np.ones((2, 3), np.float32), "n": [np.ones(4, np.float64)]}
    z = tree.zeros_like(t)
    assert z["W"].dtype == np.float32 and z["W"].shape == (2, 3) and not z["W"].any()
    assert z["n"][0].dtype == np.float64


def test_leaves_with_paths():
    t = {"0": {"W": 1, "b": 2}, "1": {}, "2": [3, {"g": 4}]}
    assert tree.leaves_with_paths(t) == [("0/W", 1), ("0/b", 2), ("2/0", 3), ("2/1/g", 4)]


def test_freeze_marks_leaves_read_only():
    t = tree.freeze({"a": np.ones(2)})
    with pytest.raises(ValueError, match="read-only"):
        t["a"][0] = 5.0


def test_non_string_dict_keys_are_rejected():
    with pytest.raises(TypeError, match="strings"):
        tree.leaves({1: np.ones(1)})


def test_map_n_returns_several_trees():
    t = {"a": np.array([1.0, 2.0]), "b": [np.array([3.0])], "c": None}
    lo, hi = tree.map_n(lambda x: (x - 1, x + 1), 2, t)
    assert tree.structure_equal(lo, t) and tree.structure_equal(hi, t)
    np.testing.assert_array_equal(lo["a"], [0.0, 1.0])
    np.testing.assert_array_equal(hi["b"][0], [4.0])
    assert lo["c"] is None and hi["c"] is None


def test_map_n_reports_where_structures_differ():
    with pytest.raises(ValueError, match="differ at x/1"):
        tree.map_n(lambda a, b: (a, b), 2, {"x": [1, 2]}, {"x": [1, {"y": 2}]})


def test_map_reports_dicts_with_other_keys_of_the_same_count():
    a = {"x": {"a": np.ones(1), "b": np.ones(1)}}
    with pytest.raises(
        ValueError, match=r"differ at x: \{'a': \*, 'b': \*\} vs \{'a': \*, 'c': \*\}"
    ):
        tree.map(lambda u, v: u, a, {"x": {"a": np.ones(1), "c": np.ones(1)}})
    with pytest.raises(ValueError, match="differ at x"):
        tree.map_n(lambda u, v: (u, v), 2, a, {"x": {"b": np.ones(1), "c": np.ones(1)}})
    # a KeyError raised by the mapped function is not mistaken for a structure mismatch
    with pytest.raises(KeyError, match="inner"):
        tree.map(lambda u, v: {}["inner"], a, a)


def test_ravel_and_unravel():
    t = {
        "W": np.arange(6, dtype=np.float32).reshape(2, 3),
        "n": [np.array([7], np.int64)],
        "z": None,
    }
    v, unravel = tree.ravel(t)
    assert v.shape == (7,) and v.dtype == np.float64  # float32 and int64 promote to float64
    np.testing.assert_array_equal(v, [0, 1, 2, 3, 4, 5, 7])
    back = unravel(v * 2)
    assert tree.structure_equal(back, t)
    assert back["W"].dtype == np.float32 and back["W"].shape == (2, 3)
    assert back["n"][0].dtype == np.int64 and int(back["n"][0][0]) == 14
    assert back["z"] is None
    # fresh memory both ways
    assert not np.shares_memory(v, t["W"]) and not np.shares_memory(back["W"], v)
    f32 = {"a": np.ones((2, 2), np.float32), "b": np.zeros(3, np.float32)}
    v32, unravel32 = tree.ravel(f32)
    assert v32.dtype == np.float32
    tree.map(np.testing.assert_array_equal, unravel32(v32), f32)
    empty, unravel_empty = tree.ravel({"a": {}, "b": None})
    assert empty.shape == (0,) and unravel_empty(empty) == {"a": {}, "b": None}


def test_ravel_errors():
    _, unravel = tree.ravel({"a": np.ones(3)})
    with pytest.raises(ValueError, match=r"unravel: expected a vector of shape \(3,\), got \(4,\)"):
        unravel(np.ones(4))
    with pytest.raises(TypeError, match=r"tree.ravel: leaf 'x/0' is not a real array"):
        tree.ravel({"x": [np.array(["a"])]})


def test_partition_and_combine():
    Pair = namedtuple("Pair", "a b")
    t = {"0": {"W": np.ones((2, 2)), "b": np.zeros(2)}, "1": {}, "2": [Pair(np.ones(1), None)]}
    a, b = tree.partition(t, lambda path, leaf: path.endswith("W") or path.startswith("2/"))
    assert a["0"] == {"W": t["0"]["W"], "b": None} and a["0"]["W"] is t["0"]["W"]
    assert b["0"]["W"] is None and b["0"]["b"] is t["0"]["b"]
    assert type(a["2"][0]) is Pair and a["2"][0].a is t["2"][0].a and b["2"][0].a is None
    assert a["1"] == {} == b["1"]
    back = tree.combine(a, b)
    assert tree.structure_equal(back, t)
    assert all(x is y for x, y in zip(tree.leaves(back), tree.leaves(t)))
    assert back["2"][0].b is None and type(back["2"][0]) is Pair
    # everything on one side
    everything, nothing = tree.partition(t, lambda path, leaf: True)
    assert tree.leaves(nothing) == [] and tree.combine(nothing, everything)["0"]["W"] is t["0"]["W"]


def test_partition_predicate_sees_the_paths_of_leaves_with_paths():
    t = {"0": {"W": np.ones(1)}, "1": [np.ones(1), np.ones(1)]}
    seen = []
    tree.partition(t, lambda path, leaf: seen.append(path) or True)
    assert seen == [p for p, _ in tree.leaves_with_paths(t)]


def test_combine_errors():
    with pytest.raises(ValueError, match=r"tree.combine: both trees hold a leaf at 0/W"):
        tree.combine({"0": {"W": np.ones(1)}}, {"0": {"W": np.ones(1)}})
    with pytest.raises(ValueError, match=r"tree\.combine: the trees differ at 0"):
        tree.combine({"0": {"W": None}}, {"0": [None]})
    with pytest.raises(ValueError, match=r"tree\.combine: the trees differ at the root"):
        tree.combine({"a": None}, {"b": np.ones(1)})
