import numpy as np
import pytest

from fnnet import random


def test_same_key_same_numbers():
    k = random.key(42)
    np.testing.assert_array_equal(random.normal(k, (5,)), random.normal(k, (5,)))
    np.testing.assert_array_equal(random.normal(random.key(42), (5,)), random.normal(k, (5,)))


def test_split_gives_distinct_deterministic_keys():
    k = random.key(0)
    a, b = random.split(k)
    assert a != b and a != k
    assert random.split(k) == (a, b)
    assert not np.array_equal(random.normal(a, (4,)), random.normal(b, (4,)))
    assert len(random.split(k, 5)) == 5 and len(set(random.split(k, 5))) == 5


def test_key_is_immutable_and_hashable():
    k = random.key(1)
    with pytest.raises(AttributeError):
        k.words = (0, 0)  # type: ignore[misc]
    assert {k: 1}[random.key(1)] == 1


def test_fold_in_depends_on_data():
    k = random.key(3)
    assert random.fold_in(k, 1) != random.fold_in(k, 2)
    assert random.fold_in(k, 1) == random.fold_in(k, 1)


def test_global_state_is_neither_read_nor_changed():
    np.random.seed(0)  # noqa: NPY002 - the global state is what this test watches
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = random.uniform(random.key(7), (3,))
    np.random.seed(123)  # noqa: NPY002
    b = random.uniform(random.key(7), (3,))
    np.testing.assert_array_equal(a, b)
    np.random.seed(0)  # noqa: NPY002 - the global state is what this test watches
    random.normal(random.key(9), (10,))
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_samplers_shapes_dtypes_and_ranges():
    k = random.key(5)
    n = random.normal(k, (2000,), np.float32, mean=3.0, std=2.0)
    assert n.dtype == np.float32 and abs(n.mean() - 3.0) < 0.2 and abs(n.std() - 2.0) < 0.2
    u = random.uniform(k, (1000,), np.float64, minval=-2.0, maxval=-1.0)
    assert u.dtype == np.float64 and u.min() >= -2.0 and u.max() < -1.0
    b = random.bernoulli(k, 0.3, (10000,))
    assert b.dtype == np.bool_ and abs(b.mean() - 0.3) < 0.02
    p = random.permutation(k, 10)
    assert sorted(p.tolist()) == list(range(10))
    r = random.randint(k, (100,), 3, 7)
    assert r.min() >= 3 and r.max() < 7


def test_permutation_of_an_array_leaves_it_untouched():
    x = np.arange(6)
    p = random.permutation(random.key(0), x)
    np.testing.assert_array_equal(x, np.arange(6))
    assert sorted(p.tolist()) == list(range(6))


def test_bad_input():
    with pytest.raises(ValueError, match=">= 0"):
        random.key(-1)
    with pytest.raises(TypeError, match="int"):
        random.key(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Key"):
        random.split(0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="p must be in"):
        random.bernoulli(random.key(0), 1.5, (2,))
    with pytest.raises(TypeError, match="float32 or float64"):
        random.normal(random.key(0), (2,), np.int32)
