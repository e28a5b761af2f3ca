import os
import zipfile

import numpy as np
import pytest

from fnnet import checkpoint, layers, optim, random, tree
from fnnet.checkpoint import CheckpointError


def _trees(sizes=(4, 8, 3), seed=0):
    model = layers.mlp(list(sizes))
    _, params, state = model.init(random.key(seed), (-1, sizes[0]))
    opt_state = optim.adam(0.01).init(params)
    return {"params": params, "state": state, "opt_state": opt_state}


def test_round_trip_keys_and_read_only(tmp_path):
    trees = _trees()
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, trees)
    with np.load(path, allow_pickle=False) as npz:
        names = sorted(npz.files)
    assert "params/0/W" in names and "params/2/b" in names
    assert "opt_state/count" in names and "opt_state/m/0/W" in names
    loaded = checkpoint.load(path, _trees(seed=1))
    assert tree.structure_equal(loaded, trees)
    for (p, a), (_, b) in zip(
        tree.leaves_with_paths(loaded), tree.leaves_with_paths(trees), strict=True
    ):
        assert a.dtype == b.dtype, p
        np.testing.assert_array_equal(a, b)
        assert not a.flags.writeable
    # empty subtrees (activation params, state) come back from the template
    assert loaded["params"]["1"] == {} and loaded["state"] == {"0": {}, "1": {}, "2": {}}


def test_same_tree_same_bytes(tmp_path):
    trees = _trees()
    checkpoint.save(tmp_path / "a.npz", trees)
    os.utime(tmp_path / "a.npz", (0, 0))
    checkpoint.save(tmp_path / "b.npz", trees)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.npz") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_save_replaces_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, _trees(seed=0))
    checkpoint.save(path, _trees(seed=1))
    loaded = checkpoint.load(path, _trees())
    np.testing.assert_array_equal(loaded["params"]["0"]["W"], _trees(seed=1)["params"]["0"]["W"])
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, _trees(seed=0))
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, _trees(seed=1))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_mismatch_names_every_difference(tmp_path):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, {"params": _trees((4, 8, 3))["params"]})
    template = {"params": _trees((4, 16, 3, 2))["params"]}
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path, template)
    msg = str(info.value)
    assert "\n" not in msg
    assert "does not match the model" in msg
    assert "missing params/4/W, params/4/b" in msg
    assert "params/0/W is (8, 4) float32, expected (16, 4) float32" in msg
    assert "params/2/W is (3, 8) float32, expected (3, 16) float32" in msg
    with pytest.raises(CheckpointError, match="unexpected params/4/W, params/4/b"):
        checkpoint.save(path, {"params": _trees((4, 16, 3, 2))["params"]})
        checkpoint.load(path, {"params": _trees((4, 16, 3))["params"]})


def test_dtype_mismatch(tmp_path):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, {"w": np.zeros(3, np.float64)})
    with pytest.raises(CheckpointError, match=r"w is \(3,\) float64, expected \(3,\) float32"):
        checkpoint.load(path, {"w": np.zeros(3, np.float32)})


def test_unreadable_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        checkpoint.load(tmp_path / "nope.npz", {})
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(bad, {})
    # a flipped byte inside an array: the zip CRC catches it
    good = tmp_path / "good.npz"
    checkpoint.save(good, {"w": np.arange(100, dtype=np.float32)})
    raw = bytearray(good.read_bytes())
    raw[300] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(bad, {"w": np.zeros(100, np.float32)})
    # truncated
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(bad, {"w": np.zeros(100, np.float32)})
    # a pickled object array is refused, not executed
    with zipfile.ZipFile(bad, "w") as zf, zf.open("w.npy", "w") as f:
        np.lib.format.write_array(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(bad, {"w": np.zeros(1, np.float32)})


def test_save_rejects_non_numeric_leaves(tmp_path):
    with pytest.raises(TypeError, match="leaf 'a' is not a numeric array"):
        checkpoint.save(tmp_path / "x.npz", {"a": np.array([object()])})
    with pytest.raises(ValueError, match="share the path 'a/b'"):
        checkpoint.save(tmp_path / "x.npz", {"a/b": np.zeros(1), "a": {"b": np.zeros(1)}})
    assert os.listdir(tmp_path) == []
