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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 1), (7, 3), (128, 256)])
def test_batch_norm_dLdZ_is_equation_85(shape, dtype):
    """dLdZ = dLdNZ (V + eps)^(-1/2) + dLdV 2/N (Z - M) + dLdM / N."""
    rng = np.random.default_rng(2)
    N = shape[0]
    Z = rng.standard_normal(shape).astype(dtype)
    M = Z.mean(axis=0)
    Z_M = Z - M
    V = (Z_M * Z_M).mean(axis=0)
    dLdNZ = rng.standard_normal(shape).astype(dtype)
    dLdV = rng.standard_normal(shape[1]).astype(dtype)
    dLdM = rng.standard_normal(shape[1]).astype(dtype)
    eps = 1e-5
    args = (dLdNZ, dLdV, dLdM, Z_M, V)
    copies = [a.copy() for a in args]
    dLdZ = kernels.batch_norm_dLdZ(*args, eps)
    # the plain formula (85), in float64
    d, v, m, zm, var = (a.astype(np.float64) for a in args)
    expected = d * (var + eps) ** -0.5 + v * (2 / N) * zm + m / N
    assert dLdZ.shape == shape and dLdZ.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dLdZ, expected, rtol=tol, atol=tol)
    for a, c in zip(args, copies):
        np.testing.assert_array_equal(a, c)
