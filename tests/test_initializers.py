import math

import numpy as np
import pytest

from fnnet import initializers as init
from fnnet import random

K = random.key(0)


def test_zeros_and_ones():
    np.testing.assert_array_equal(init.zeros(K, (2, 3)), np.zeros((2, 3), np.float32))
    assert init.ones(K, (4,), np.float64).dtype == np.float64


def test_fans_follow_the_weight_layouts():
    assert init.fans((300, 200)) == (200, 300)  # Linear W (out, in)
    assert init.fans((3, 5, 16, 32)) == (3 * 5 * 16, 3 * 5 * 32)  # Conv2d W (kh, kw, Cin, Cout)
    assert init.fans((200, 300), in_axis=0, out_axis=1) == (200, 300)
    with pytest.raises(ValueError, match="at least 2 axes"):
        init.fans((5,))


@pytest.mark.parametrize(
    ("make", "expected_std"),
    [
        (init.normal(0.05), 0.05),
        (init.uniform(0.3), 0.3 / math.sqrt(3)),
        (init.xavier_uniform(), math.sqrt(2 / (400 + 600))),
        (init.glorot_normal(), math.sqrt(2 / (400 + 600))),
        (init.he_uniform(), math.sqrt(2 / 400)),
        (init.kaiming_normal(), math.sqrt(2 / 400)),
    ],
)
def test_standard_deviations(make, expected_std):
    W = make(K, (600, 400))
    assert W.dtype == np.float32 and W.shape == (600, 400)
    assert abs(W.std() - expected_std) < 0.02 * expected_std
    assert abs(W.mean()) < 0.02 * expected_std * 10


def test_uniform_bounds_and_keys():
    W = init.he_uniform()(K, (50, 60), np.float64)
    bound = math.sqrt(6 / 60)
    assert W.dtype == np.float64 and -bound <= W.min() and W.max() < bound
    np.testing.assert_array_equal(W, init.he_uniform()(K, (50, 60), np.float64))
    assert not np.array_equal(W, init.he_uniform()(random.key(1), (50, 60), np.float64))
