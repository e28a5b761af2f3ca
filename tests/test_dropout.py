"""Tests of fnnet.layers.dropout (Dropout)."""

from __future__ import annotations

import numpy as np
import pytest

from fnnet import random
from fnnet.layers import Dropout, Linear, serial


def ones(shape=(50, 40), dtype=np.float64):
    return np.ones(shape, dtype)


def test_init_has_no_params_and_keeps_the_shape():
    out_shape, params, state = Dropout(0.5).init(random.key(0), (-1, 3, 4))
    assert out_shape == (-1, 3, 4) and params == {} and state == {}


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_train_mode_drops_about_p_and_scales_the_rest(p):
    x = random.normal(random.key(1), (200, 500), np.float64)
    y, state = Dropout(p).apply({}, {}, x, key=random.key(2), train=True)
    assert state == {}
    dropped = y == 0
    assert abs(dropped.mean() - p) < 0.01
    np.testing.assert_allclose(y[~dropped], x[~dropped] / (1 - p), rtol=1e-12)
    # inverted scaling keeps the expectation: E[y] = x
    y1, _ = Dropout(p).apply({}, {}, ones((200, 500)), key=random.key(3), train=True)
    assert abs(y1.mean() - 1.0) < 0.02


def test_eval_mode_is_the_identity_and_needs_no_key():
    x = random.normal(random.key(1), (4, 5), np.float32)
    y, _ = Dropout(0.5).apply({}, {}, x)
    np.testing.assert_array_equal(y, x)
    y, state, pullback = Dropout(0.5).vjp({}, {}, x, train=False)
    np.testing.assert_array_equal(y, x)
    dy = random.normal(random.key(2), x.shape, np.float32)
    grads, dx = pullback(dy)
    assert grads == {} and state == {}
    np.testing.assert_array_equal(dx, dy)


def test_p_zero_keeps_everything():
    x = random.normal(random.key(1), (4, 5), np.float32)
    y, _ = Dropout(0.0).apply({}, {}, x, key=random.key(0), train=True)
    np.testing.assert_array_equal(y, x)


def test_missing_key_in_train_mode_is_an_error():
    with pytest.raises(ValueError, match=r"Dropout: train mode needs a random key"):
        Dropout(0.5).apply({}, {}, ones(), train=True)
    with pytest.raises(ValueError, match=r"Dropout: train mode needs a random key"):
        Dropout(0.5).vjp({}, {}, ones())  # vjp trains by default
    with pytest.raises(
        ValueError, match=r"serial layer 1 \(Dropout\): train mode needs a random key"
    ):
        serial(Linear(40, 3), Dropout(0.5)).vjp(
            {"0": {"W": np.ones((3, 40)), "b": np.zeros(3)}, "1": {}}, {"0": {}, "1": {}}, ones()
        )


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, float("nan")])
def test_p_outside_zero_one_is_an_error(p):
    with pytest.raises(
        ValueError, match=r"Dropout: p \(the drop probability\) must be in \[0, 1\)"
    ):
        Dropout(p)


def test_p_of_the_wrong_type_is_an_error():
    with pytest.raises(TypeError, match="Dropout: p must be a float"):
        Dropout("0.5")  # type: ignore[arg-type]


def test_same_key_same_mask_different_keys_different_masks():
    d = Dropout(0.5)
    a, _ = d.apply({}, {}, ones(), key=random.key(4), train=True)
    b, _ = d.apply({}, {}, ones(), key=random.key(4), train=True)
    c, _ = d.apply({}, {}, ones(), key=random.key(5), train=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_mask_depends_only_on_key_and_shape():
    k = random.key(6)
    x1 = random.normal(random.key(1), (30, 20), np.float64)
    x2 = random.uniform(random.key(2), (30, 20), np.float64, 1.0, 2.0)
    y1, _ = Dropout(0.3).apply({}, {}, x1, key=k, train=True)
    y2, _ = Dropout(0.3).apply({}, {}, x2, key=k, train=True)
    np.testing.assert_array_equal(y1 == 0, y2 == 0)
    # float32 input: the same units are dropped
    y3, _ = Dropout(0.3).apply({}, {}, x2.astype(np.float32), key=k, train=True)
    np.testing.assert_array_equal(y3 == 0, y2 == 0)


def test_apply_vjp_and_pullback_use_the_same_mask():
    k = random.key(8)
    x = random.uniform(random.key(1), (25, 16), np.float64, 1.0, 2.0)  # no zeros in x
    y_apply, _ = Dropout(0.4).apply({}, {}, x, key=k, train=True)
    y_vjp, _, pullback = Dropout(0.4).vjp({}, {}, x, key=k)
    np.testing.assert_array_equal(y_apply, y_vjp)
    dy = random.normal(random.key(2), x.shape, np.float64)
    grads, dx = pullback(dy)
    assert grads == {}
    # dL/dX = dL/dY * D / (1 - p) and Y = X * D / (1 - p)
    np.testing.assert_allclose(dx, dy * (y_vjp / x), rtol=1e-12)


def test_does_not_touch_global_random_state():
    # the legacy global generator is the one that code would read by accident
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(123)  # noqa: NPY002
        before = np.random.get_state()  # noqa: NPY002
        a, _ = Dropout(0.5).apply({}, {}, ones(), key=random.key(9), train=True)
        after = np.random.get_state()  # noqa: NPY002
        np.testing.assert_array_equal(before[1], after[1])
        assert before[2:] == after[2:]
        np.random.seed(999)  # noqa: NPY002 - another global seed changes nothing
        b, _, _ = Dropout(0.5).vjp({}, {}, ones(), key=random.key(9))
        np.testing.assert_array_equal(a, b)
    finally:
        np.random.set_state(saved)  # noqa: NPY002


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    x = ones((6, 7), dtype)
    y, _, pullback = Dropout(0.3).vjp({}, {}, x, key=random.key(0))
    _, dx = pullback(np.ones_like(y))
    assert y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_array_equal(np.unique(y), np.array([0.0, 1 / 0.7], dtype))


def test_works_on_nhwc_images():
    x = ones((2, 5, 5, 3))
    y, _ = Dropout(0.5).apply({}, {}, x, key=random.key(0), train=True)
    assert y.shape == x.shape and 0 < np.mean(y == 0) < 1


def test_eval_mode_returns_a_read_only_view_of_the_input():
    x = random.normal(random.key(1), (3, 4), np.float32)
    y, _ = Dropout(0.5).apply({}, {}, x)
    y_vjp, _, pullback = Dropout(0.5).vjp({}, {}, x, train=False)
    dy = np.ones_like(x)
    _, dx = pullback(dy)
    for out, inp in [(y, x), (y_vjp, x), (dx, dy)]:
        assert np.shares_memory(out, inp) and not out.flags.writeable
        np.testing.assert_array_equal(out, inp)
    with pytest.raises(ValueError, match="read-only"):
        y[0, 0] = 1.0
    assert x.flags.writeable


def test_integer_inputs_give_float32():
    y, _ = Dropout(0.5).apply({}, {}, np.ones((4, 4), np.int64), key=random.key(0), train=True)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(np.unique(y), np.array([0.0, 2.0], np.float32))
