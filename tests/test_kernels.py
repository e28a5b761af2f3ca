"""Each named kernel of ``fnnet.kernels`` against the plain formula in its docstring."""

from __future__ import annotations

import numpy as np
import pytest

from fnnet import kernels

# ---------------------------------------------------------------------------------------
# Dense layers (Linear, BatchNorm)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(4, 3), (1, 7), (5000, 16), (300, 40)])
def test_batch_sum_is_the_column_sum(shape, dtype):
    """s_j = sum_i X_ij, below and above the size where the product 1^T X is used."""
    X = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    X_before = X.copy()
    s = kernels.batch_sum(X)
    # the plain formula, in float64: s_j = sum_i X_ij
    expected = X.astype(np.float64).sum(axis=0)
    assert s.shape == (shape[1],) and s.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(s, expected, rtol=tol, atol=tol * np.sqrt(shape[0]))
    np.testing.assert_array_equal(X, X_before)


def test_batch_sum_of_a_transposed_view():
    """A non-contiguous X (e.g. dLdZ^T) gives the same column sums."""
    X = np.random.default_rng(1).standard_normal((64, 200)).T
    np.testing.assert_allclose(kernels.batch_sum(X), X.sum(axis=0), rtol=1e-12, atol=1e-12)
