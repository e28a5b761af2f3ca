"""Tests for fnnet.kernels: every kernel against the plain formula its docstring states."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import rand

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


CHANNEL_SHAPES = [(1, 3), (7, 3), (4096, 16), (1024, 32), (97, 16), (6, 2000)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", CHANNEL_SHAPES)
def test_channel_kernels_are_the_broadcast_formulas(shape, dtype):
    """X - 1 v^T, X diag(v)^(-1), X diag(v), X diag(a) + 1 c^T: bit for bit, as broadcast."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal(shape).astype(dtype)
    v, a, c = (rng.uniform(0.5, 2.0, shape[1]).astype(dtype) for _ in range(3))
    before = [t.copy() for t in (X, v, a, c)]
    results = {
        "subtract": (kernels.channel_subtract(X, v), X - v),
        "divide": (kernels.channel_divide(X, v), X / v),
        "scale": (kernels.channel_scale(X, v), X * v),
        "affine": (kernels.channel_affine(X, a, c), X * a + c),
    }
    for name, (got, expected) in results.items():
        assert got.shape == shape and got.dtype == dtype, name
        assert got.flags.writeable and not np.shares_memory(got, X), name
        np.testing.assert_array_equal(got, expected, err_msg=name)
    for t, t_before in zip((X, v, a, c), before):
        np.testing.assert_array_equal(t, t_before)


def test_channel_kernels_of_a_strided_input_and_mixed_dtypes():
    """A transposed view (no wide view) and a float64 shift on float32 rows, as broadcast."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((16, 4096)).astype(np.float32).T
    v = rng.standard_normal(16).astype(np.float32)
    c64 = rng.standard_normal(16)
    np.testing.assert_array_equal(kernels.channel_subtract(X, v), X - v)
    np.testing.assert_array_equal(kernels.channel_affine(X, v, c64), X * v + c64)
    Xc = np.ascontiguousarray(X)
    got = kernels.channel_affine(Xc, v, c64)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, Xc * v + c64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 1), (7, 3), (128, 256), (4096, 16)])
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


# =======================================================================================
# Convolution and pooling
# =======================================================================================

# (input shape (N, H, W, C), kernel, stride): tiled, ragged, overlapping, rectangular,
# stride > kernel, one and two channels (im2col's second branch), a 1x1 kernel
GEOMETRIES = [
    ((2, 6, 8, 3), (2, 2), (2, 2)),
    ((2, 7, 5, 4), (2, 2), (2, 2)),
    ((2, 5, 6, 3), (3, 3), (1, 1)),
    ((1, 7, 8, 2), (3, 2), (2, 1)),
    ((2, 8, 7, 1), (2, 2), (3, 3)),
    ((1, 6, 6, 1), (3, 3), (1, 2)),
    ((2, 4, 5, 3), (1, 1), (1, 1)),
]


def out_of(shape, kernel, stride):
    return ((shape[1] - kernel[0]) // stride[0] + 1, (shape[2] - kernel[1]) // stride[1] + 1)


def window_positions(shape, kernel, stride):
    """Every (n, y, x, i, j): window (n, y, x) and kernel offset (i, j)."""
    Ho, Wo = out_of(shape, kernel, stride)
    return itertools.product(
        range(shape[0]), range(Ho), range(Wo), range(kernel[0]), range(kernel[1])
    )


@pytest.mark.parametrize(("shape", "kernel", "stride"), GEOMETRIES)
def test_windows_and_offset_index_pick_the_window_pixels(shape, kernel, stride):
    X = rand(shape)
    out = out_of(shape, kernel, stride)
    V = kernels.windows(X, kernel, stride, out)
    assert V.shape == (shape[0], *out, *kernel, shape[3]) and not V.flags.writeable
    for n, y, x, i, j in window_positions(shape, kernel, stride):
        pixel = X[n, stride[0] * y + i, stride[1] * x + j, :]
        np.testing.assert_array_equal(V[n, y, x, i, j], pixel)
        np.testing.assert_array_equal(X[kernels.offset_index(i, j, stride, out)][n, y, x], pixel)


@pytest.mark.parametrize(("shape", "kernel", "stride"), GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_is_the_patch_matrix(shape, kernel, stride, dtype):
    Xp = rand(shape, dtype=dtype)
    out = out_of(shape, kernel, stride)
    P = kernels.im2col(Xp, kernel, stride, out)
    # P[(n, y, x), (i, j, c)] = Xp[n, s y + i, s x + j, c], filled one entry at a time
    expected = np.zeros((shape[0], *out, *kernel, shape[3]), dtype)
    for n, y, x, i, j in window_positions(shape, kernel, stride):
        expected[n, y, x, i, j] = Xp[n, stride[0] * y + i, stride[1] * x + j]
    assert P.dtype == dtype
    np.testing.assert_array_equal(P, expected.reshape(P.shape))
    assert P.shape == (shape[0] * out[0] * out[1], kernel[0] * kernel[1] * shape[3])
    assert not np.shares_memory(P, Xp)


@pytest.mark.parametrize("rows", [1, 7, 97, 676, 43264])  # a prime, few and many rows
@pytest.mark.parametrize(("K", "F"), [(9, 16), (27, 3), (4, 2048)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_patches_matmul_bias_is_the_product_plus_the_bias(rows, K, F, dtype):
    P = rand((rows, K), seed=1, dtype=dtype)
    W_mat = rand((K, F), seed=2, dtype=dtype)
    b = rand((F,), seed=3, dtype=dtype)
    Z = kernels.patches_matmul_bias(P, W_mat, b)
    assert Z.shape == (rows, F) and Z.dtype == dtype
    # the same product, so the same rounding; the bias added in the same order
    np.testing.assert_array_equal(Z, P @ W_mat + b)


def test_patches_matmul_bias_reads_a_transposed_patch_matrix():
    PT = rand((9, 30), seed=4)  # im2col's layout for one or two channels
    W_mat, b = rand((9, 5), seed=5), rand((5,), seed=6)
    np.testing.assert_array_equal(kernels.patches_matmul_bias(PT.T, W_mat, b), PT.T @ W_mat + b)


def test_patch_grads_is_dLdZ_times_W_mat_transposed():
    W = rand((3, 2, 4, 5), seed=1)
    dLdZ = rand((12, 5), seed=2)
    dLdP = kernels.patch_grads(dLdZ, W)
    assert dLdP.shape == (12, 3, 2, 4)
    expected = dLdZ @ W.reshape(-1, 5).T
    np.testing.assert_allclose(dLdP.reshape(12, -1), expected, rtol=1e-13, atol=1e-14)


def col2im_loop(D, shape, kernel, stride):
    """G[n, s y + i, s x + j, c] += D[n, y, x, i, j, c], one window entry at a time."""
    G = np.zeros(shape, D.dtype)
    for n, y, x, i, j in window_positions(shape, kernel, stride):
        G[n, stride[0] * y + i, stride[1] * x + j] += D[n, y, x, i, j]
    return G


@pytest.mark.parametrize(("shape", "kernel", "stride"), GEOMETRIES)
def test_col2im_adds_each_entry_back_onto_its_pixel(shape, kernel, stride):
    out = out_of(shape, kernel, stride)
    D = rand((shape[0], *out, *kernel, shape[3]), seed=3)
    expected = col2im_loop(D, shape, kernel, stride)
    np.testing.assert_allclose(
        kernels.col2im(D, shape, kernel, stride), expected, rtol=1e-12, atol=1e-14
    )
    # the same from the (N Ho Wo, kh kw C) matrix, and from a broadcast view
    D2 = D.reshape(-1, kernel[0] * kernel[1] * shape[3])
    np.testing.assert_allclose(
        kernels.col2im(D2, shape, kernel, stride), expected, rtol=1e-12, atol=1e-14
    )
    share = rand((shape[0], *out, shape[3]), seed=4)
    B = np.broadcast_to(share[:, :, :, None, None, :], D.shape)
    np.testing.assert_allclose(
        kernels.col2im(B, shape, kernel, stride),
        col2im_loop(np.array(B), shape, kernel, stride),
        rtol=1e-12,
        atol=1e-14,
    )


@pytest.mark.parametrize(("shape", "kernel", "stride"), GEOMETRIES)
def test_col2im_is_the_adjoint_of_im2col(shape, kernel, stride):
    # <im2col(X), D> = <X, col2im(D)> for all X, D: the definition of the adjoint
    out = out_of(shape, kernel, stride)
    X = rand(shape, seed=5)
    D = rand((shape[0] * out[0] * out[1], kernel[0] * kernel[1] * shape[3]), seed=6)
    lhs = np.sum(kernels.im2col(X, kernel, stride, out) * D)
    rhs = np.sum(X * kernels.col2im(D, shape, kernel, stride))
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize(("shape", "kernel", "stride"), GEOMETRIES)
def test_window_max_and_window_sum(shape, kernel, stride):
    X = rand(shape, dtype=np.float32)
    V = kernels.windows(X, kernel, stride, out_of(shape, kernel, stride))
    Y = kernels.window_max(X, kernel, stride)
    S = kernels.window_sum(X, kernel, stride)
    assert Y.dtype == S.dtype == np.float32
    np.testing.assert_array_equal(Y, V.max(axis=(3, 4)))
    np.testing.assert_allclose(S, V.sum(axis=(3, 4)), rtol=1e-5, atol=1e-6)


def test_window_max_of_a_window_with_nan_is_nan():
    X = np.arange(16.0).reshape(1, 4, 4, 1)
    X[0, 0, 1, 0] = np.nan
    Y = kernels.window_max(X, (2, 2), (2, 2))
    assert np.isnan(Y[0, 0, 0, 0]) and np.array_equal(Y[0, :, :, 0].ravel()[1:], [7, 13, 15])


def first_max_loop(X, kernel, stride):
    """won[i, j, n, y, x, c] = 1 at the window's first argmax (row by row), by loops."""
    out = out_of(X.shape, kernel, stride)
    won = np.zeros((*kernel, X.shape[0], *out, X.shape[3]), bool)
    for n, y, x in itertools.product(range(X.shape[0]), range(out[0]), range(out[1])):
        for c in range(X.shape[3]):
            window = X[n, stride[0] * y :, stride[1] * x :, c][: kernel[0], : kernel[1]]
            if not np.isnan(window).any():
                i, j = np.unravel_index(np.argmax(window), window.shape)
                won[i, j, n, y, x, c] = True
    return won


@pytest.mark.parametrize(("shape", "kernel", "stride"), GEOMETRIES)
@pytest.mark.parametrize("ties", [False, True])
def test_first_max_mask_marks_the_first_winner(shape, kernel, stride, ties):
    X = rand(shape, seed=7)
    if ties:  # small integers: many windows hold several equal maxima
        X = np.round(X)
    Y = kernels.window_max(X, kernel, stride)
    won = kernels.first_max_mask(X, Y, kernel, stride)
    np.testing.assert_array_equal(won, first_max_loop(X, kernel, stride))
    assert np.all(won.sum(axis=(0, 1)) == 1)  # exactly one winner per window


def test_first_max_mask_a_window_with_nan_has_no_winner():
    X = np.arange(16.0).reshape(1, 4, 4, 1)
    X[0, 0, 1, 0] = np.nan
    won = kernels.first_max_mask(X, kernels.window_max(X, (2, 2), (2, 2)), (2, 2), (2, 2))
    assert won[:, :, 0, 0, 0, 0].sum() == 0 and won.sum() == 3


@pytest.mark.parametrize(("shape", "kernel", "stride"), GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_to_winners_is_col2im_of_the_masked_gradient(shape, kernel, stride, dtype):
    X = np.round(rand(shape, seed=8))
    Y = kernels.window_max(X, kernel, stride)
    won = kernels.first_max_mask(X, Y, kernel, stride)
    dLdY = rand(Y.shape, seed=9, dtype=dtype)
    G = kernels.scatter_to_winners(dLdY, won, shape, stride)
    # G[n, s y + i, s x + j, c] += won[i, j, n, y, x, c] dLdY[n, y, x, c]
    masked = (won * dLdY).transpose(2, 3, 4, 0, 1, 5)
    assert G.dtype == dtype
    np.testing.assert_allclose(G, col2im_loop(masked, shape, kernel, stride), rtol=1e-6)


# ---------------------------------------------------------------------------------------
# Linear's affine map and the optimizers' scaled sum
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, C_in, C_out", [(1, 1, 1), (5, 3, 4), (128, 784, 256)])
def test_affine_is_A_W_transposed_plus_b(N, C_in, C_out, dtype):
    """Z = A W^T + 1 b^T, bit for bit as the plain expression."""
    rng = np.random.default_rng(7)
    A, W = rng.standard_normal((N, C_in)).astype(dtype), rng.standard_normal((C_out, C_in))
    W, b = W.astype(dtype), rng.standard_normal(C_out).astype(dtype)
    before = [t.copy() for t in (A, W, b)]
    Z = kernels.affine(A, W, b)
    assert Z.shape == (N, C_out) and Z.dtype == dtype
    np.testing.assert_array_equal(Z, A @ W.T + b)
    for t, t_before in zip((A, W, b), before):
        np.testing.assert_array_equal(t, t_before)


def test_affine_with_a_wider_bias_promotes_as_the_formula():
    rng = np.random.default_rng(8)
    A, W = rng.standard_normal((6, 3)).astype(np.float32), rng.standard_normal((2, 3))
    W32, b64 = W.astype(np.float32), rng.standard_normal(2)
    Z = kernels.affine(A, W32, b64)
    assert Z.dtype == np.float64
    np.testing.assert_array_equal(Z, A @ W32.T + b64)


@pytest.mark.parametrize("a", [0.9, -0.05, 0.0])
@pytest.mark.parametrize(
    "dtypes",
    [
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.float32, np.float64),
        (np.float64, np.float32),
    ],
)
@pytest.mark.parametrize("shape", [(7, 5), (64, 40)])  # the plain and the in-place path
def test_scaled_add_is_a_X_plus_Y(a, dtypes, shape):
    """Z = a X + Y bit for bit; W - lr v is scaled_add(-lr, v, W)."""
    rng = np.random.default_rng(9)
    X, Y = (rng.standard_normal(shape).astype(dt) for dt in dtypes)
    before = [X.copy(), Y.copy()]
    Z = kernels.scaled_add(a, X, Y)
    expected = a * X + Y
    assert Z.dtype == expected.dtype
    np.testing.assert_array_equal(Z, expected)
    np.testing.assert_array_equal(kernels.scaled_add(-a, X, Y), Y - a * X)
    np.testing.assert_array_equal(X, before[0])
    np.testing.assert_array_equal(Y, before[1])
