"""The GEMM floor: only a step's matrix products, in NumPy, float32.

The products are those fnnet computes, in its shapes and layouts (forward, then the
weight and input gradients); ``floor / fnnet`` in the table is the share of fnnet's
step spent in them (1.0 would mean no time outside the products).
"""

from __future__ import annotations

import itertools

import numpy as np
from common import Array, Step

Product = tuple[Array, Array]


def floor(products: list[Product]) -> Step:
    """Run ``a @ b`` for every pair: the matrix products alone, nothing around them."""

    def step() -> None:
        for a, b in products:
            a @ b  # the product is the point; its result is dropped

    return step


def _rand(rng: np.random.Generator, *shape: int) -> Array:
    return rng.standard_normal(shape, dtype=np.float32)


def linear_products(
    rng: np.random.Generator, n: int, c_in: int, c_out: int, *, train: bool, input_grad: bool
) -> list[Product]:
    """Linear's products, laid out as fnnet computes them (W stored (C_out, C_in))."""
    A, W, dLdZ = _rand(rng, n, c_in), _rand(rng, c_out, c_in), _rand(rng, n, c_out)
    products = [(A, W.T)]  # Z = A W^T
    if train:
        products.append((dLdZ.T, A))  # dL/dW = dL/dZ^T A
        if input_grad:
            products.append((dLdZ, W))  # dL/dA = dL/dZ W
    return products


def conv_products(
    rng: np.random.Generator,
    n: int,
    out: tuple[int, int],
    k: int,
    c_in: int,
    c_out: int,
    *,
    train: bool,
    input_grad: bool,
) -> list[Product]:
    """Conv2d's products (im2col), as fnnet computes them: P W_mat, P^T dLdZ, dLdZ W[i,j]^T."""
    rows = n * out[0] * out[1]
    P, dLdZ = _rand(rng, rows, k * k * c_in), _rand(rng, rows, c_out)
    W = _rand(rng, k, k, c_in, c_out)
    products = [(P, W.reshape(-1, c_out))]  # Z = P W_mat
    if train:
        products.append((P.T, dLdZ))  # dL/dW = P^T dL/dZ
        if input_grad:  # dL/dP, one kernel offset at a time: dL/dZ W[i, j]^T
            products += [(dLdZ, W[i, j].T) for i in range(k) for j in range(k)]
    return products


def mlp(sizes: list[int], batch: int, train: bool) -> Step:
    rng = np.random.default_rng(1)
    products = []
    for i, (c_in, c_out) in enumerate(itertools.pairwise(sizes)):
        products += linear_products(rng, batch, c_in, c_out, train=train, input_grad=i > 0)
    return floor(products)


def cnn(batch: int, train: bool) -> Step:
    rng = np.random.default_rng(1)
    products = conv_products(rng, batch, (26, 26), 3, 1, 16, train=train, input_grad=False)
    products += conv_products(rng, batch, (11, 11), 3, 16, 32, train=train, input_grad=True)
    products += linear_products(rng, batch, 800, 10, train=train, input_grad=True)
    return floor(products)


def resnet(batch: int) -> Step:
    """The resnet workload's products: the stem conv (no input gradient), four 3x3 convs at
    16 channels, one 16 -> 32 and one 32 -> 32, the 1x1 projection, the last Linear."""
    rng = np.random.default_rng(1)
    convs = [(3, 1, 16, False)] + [(3, 16, 16, True)] * 4
    convs += [(3, 16, 32, True), (3, 32, 32, True), (1, 16, 32, True)]
    products = []
    for k, c_in, c_out, input_grad in convs:
        products += conv_products(
            rng, batch, (8, 8), k, c_in, c_out, train=True, input_grad=input_grad
        )
    products += linear_products(rng, batch, 32, 10, train=True, input_grad=True)
    return floor(products)
