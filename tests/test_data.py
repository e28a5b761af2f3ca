import numpy as np
import pytest

from fnnet import random
from fnnet.data import (
    batches,
    fit_standardizer,
    num_batches,
    one_hot,
    standardize,
    train_val_test_split,
)


def _xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n) % 3
    return x, y


def test_batches_cover_every_row_once_in_key_order():
    x, y = _xy(10)
    out = list(batches(random.key(1), x, y, batch_size=4))
    assert [len(b[0]) for b in out] == [4, 4, 2]
    rows = np.concatenate([b[0][:, 0] for b in out]) / 3
    assert sorted(rows.tolist()) == list(range(10))
    assert rows.tolist() != list(range(10))  # shuffled
    # x and y stay paired
    for xb, yb in out:
        np.testing.assert_array_equal((xb[:, 0] / 3).astype(int) % 3, yb)
    # same key, same batches; another key, another order
    again = list(batches(random.key(1), x, y, batch_size=4))
    for (a, _), (b, _) in zip(out, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = np.concatenate([b[0][:, 0] for b in batches(random.key(2), x, y, batch_size=4)])
    assert other.tolist() != (rows * 3).tolist()


def test_batches_drop_last_and_no_shuffle():
    x, y = _xy(10)
    out = list(batches(None, x, y, batch_size=4, shuffle=False, drop_last=True))
    assert len(out) == 2 == num_batches(10, 4, drop_last=True)
    np.testing.assert_array_equal(out[0][1], [0, 1, 2, 0])
    np.testing.assert_array_equal(out[1][0][:, 0], [12, 15, 18, 21])
    assert num_batches(10, 4) == 3
    assert num_batches(8, 4) == 2


def test_batches_do_not_change_inputs():
    x, y = _xy(6)
    x0, y0 = x.copy(), y.copy()
    list(batches(random.key(0), x, y, batch_size=4))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


def test_batches_errors():
    x, y = _xy(6)
    with pytest.raises(ValueError, match="needs a key"):
        list(batches(None, x, y, batch_size=2))
    with pytest.raises(ValueError, match="batch_size must be positive"):
        list(batches(random.key(0), x, y, batch_size=0))
    with pytest.raises(ValueError, match="array 0 has 6 rows, array 1 has 5"):
        list(batches(random.key(0), x, y[:5], batch_size=2))


def test_split_sizes_disjoint_and_deterministic():
    x, y = _xy(100)
    (xtr, ytr), (xva, _), (xte, _) = train_val_test_split(random.key(0), x, y, val=0.2, test=0.1)
    assert (len(xtr), len(xva), len(xte)) == (70, 20, 10)
    ids = np.concatenate([xtr[:, 0], xva[:, 0], xte[:, 0]]) / 3
    assert sorted(ids.tolist()) == list(range(100))
    np.testing.assert_array_equal(ytr, (xtr[:, 0] / 3).astype(int) % 3)
    again = train_val_test_split(random.key(0), x, y, val=0.2, test=0.1)
    np.testing.assert_array_equal(again[2][0], xte)
    other = train_val_test_split(random.key(1), x, y, val=0.2, test=0.1)
    assert not np.array_equal(other[2][0], xte)


def test_split_stratified_keeps_class_balance():
    x = np.arange(150, dtype=np.float32)[:, None]
    y = np.repeat(np.arange(3), 50)
    tr, va, te = train_val_test_split(random.key(3), x, y, val=0.2, test=0.2, stratify=True)
    assert np.bincount(tr[1]).tolist() == [30, 30, 30]
    assert np.bincount(va[1]).tolist() == [10, 10, 10]
    assert np.bincount(te[1]).tolist() == [10, 10, 10]
    ids = np.concatenate([tr[0][:, 0], va[0][:, 0], te[0][:, 0]])
    assert sorted(ids.tolist()) == list(range(150))
    np.testing.assert_array_equal(te[1], (te[0][:, 0] // 50).astype(int))
    # rows of each split are mixed, not grouped by class
    assert te[1].tolist() != sorted(te[1].tolist())


def test_split_errors():
    x, y = _xy(10)
    with pytest.raises(ValueError, match="val must be in"):
        train_val_test_split(random.key(0), x, y, val=1.5)
    with pytest.raises(ValueError, match="no training rows"):
        train_val_test_split(random.key(0), x, y, val=0.5, test=0.5)
    with pytest.raises(ValueError, match="integer labels"):
        train_val_test_split(random.key(0), x, x[:, 0], stratify=True)


def test_standardizer_fits_train_only_per_feature():
    x = np.array([[1.0, 10.0, 5.0], [3.0, 30.0, 5.0]], dtype=np.float32)
    params = fit_standardizer(x)
    np.testing.assert_allclose(params["mean"], [[2.0, 20.0, 5.0]])
    np.testing.assert_allclose(params["std"], [[1.0, 10.0, 1.0]])  # constant column -> 1
    assert params["mean"].dtype == np.float32
    assert not params["mean"].flags.writeable
    z = standardize(params, x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z, [[-1, -1, 0], [1, 1, 0]])
    # applied to other data with the training statistics
    np.testing.assert_allclose(standardize(params, np.array([[2.0, 40.0, 6.0]])), [[0, 2, 1]])
    assert x[0, 0] == 1.0


def test_standardizer_global_for_images():
    x = np.arange(16, dtype=np.float32).reshape(2, 2, 2, 2)
    params = fit_standardizer(x, axis=None)
    assert params["mean"].shape == (1, 1, 1, 1)
    z = standardize(params, x)
    assert abs(float(z.mean())) < 1e-6
    assert abs(float(z.std()) - 1) < 1e-6
    # integer data gives float32 statistics and outputs
    ints = np.array([[0], [2]], dtype=np.uint8)
    p = fit_standardizer(ints)
    assert p["mean"].dtype == np.float32
    np.testing.assert_allclose(standardize(p, ints), [[-1], [1]])
    with pytest.raises(ValueError, match="empty"):
        fit_standardizer(np.zeros((0, 3)))


def test_one_hot():
    out = one_hot(np.array([2, 0, 1]), 3)
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert out.dtype == np.float32
    assert one_hot(np.array([1]), 2, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match=r"label 3 is outside \[0, 3\)"):
        one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="label -1"):
        one_hot(np.array([-1]), 3)
    with pytest.raises(TypeError, match="integers"):
        one_hot(np.array([0.5]), 3)
