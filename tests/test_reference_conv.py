"""Conv2d, pooling and Flatten against PyTorch: values and gradients.

fnnet is NHWC with ``W (kh, kw, Cin, Cout)``; PyTorch is NCHW with ``W (Cout, Cin, kh, kw)``.
Inputs are transposed with ``permute(0, 3, 1, 2)``, weights with ``permute(3, 2, 0, 1)``.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import fnnet  # noqa: E402
from fnnet.layers import (  # noqa: E402
    AvgPool2d,
    Conv2d,
    Flatten,
    GlobalAvgPool2d,
    Linear,
    MaxPool2d,
    ReLU,
    serial,
)
from fnnet.layers.spatial import resolve_padding  # noqa: E402

pytestmark = [
    pytest.mark.reference,
    # PyTorch warns that "same" with an even kernel pads a copy of the input: expected
    pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel"),
]

KEY = fnnet.random.key(0)


def rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def to_nchw(a):
    return torch.tensor(np.ascontiguousarray(a)).permute(0, 3, 1, 2).contiguous()


def to_nhwc(t):
    return t.detach().permute(0, 2, 3, 1).numpy()


def pair(v):
    return (v, v) if isinstance(v, int) else v


def torch_conv(X, W, b, dLdZ, stride, padding):
    """PyTorch's output and gradients, NHWC / HWIO in and out."""
    x = to_nchw(X).requires_grad_()
    w = torch.tensor(np.asarray(W)).permute(3, 2, 0, 1).contiguous().requires_grad_()
    bt = torch.tensor(np.asarray(b)).requires_grad_()
    if padding == "same" and pair(stride) != (1, 1):
        # PyTorch has no "same" with strides: pad as fnnet (and TensorFlow) does
        (top, bottom), (left, right) = resolve_padding(
            "same", X.shape[1:3], W.shape[:2], pair(stride)
        )
        z = F.conv2d(F.pad(x, (left, right, top, bottom)), w, bt, stride=stride)
    else:
        z = F.conv2d(x, w, bt, stride=stride, padding=padding)
    z.backward(to_nchw(dLdZ))
    return to_nhwc(z), to_nhwc(x.grad), w.grad.permute(2, 3, 1, 0).numpy(), bt.grad.numpy()


@pytest.mark.parametrize("kernel", [1, 2, 3, 5, (3, 2)])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1, "same"])
@pytest.mark.parametrize("c_out", [4, 2])  # stride 1 with Cout <= Cin: the correlation form
def test_conv2d_matches_pytorch(kernel, stride, padding, c_out):
    shape = (2, 9, 7, 3)
    layer = Conv2d(3, c_out, kernel, stride, padding, dtype=np.float64)
    out_shape, params, state = layer.init(KEY, (-1, *shape[1:]))
    params = {"W": params["W"], "b": rand((c_out,), seed=7)}
    X = rand(shape)
    Z, _, pullback = layer.vjp(params, state, X)
    assert Z.shape == (2, *out_shape[1:])
    dLdZ = rand(Z.shape, seed=3)
    grads, dLdX = pullback(dLdZ)
    Z_t, dX_t, dW_t, db_t = torch_conv(X, params["W"], params["b"], dLdZ, stride, padding)
    np.testing.assert_allclose(Z, Z_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dLdX, dX_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["W"], dW_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["b"], db_t, rtol=1e-10, atol=1e-12)


def test_conv2d_float32_matches_pytorch():
    layer = Conv2d(3, 8, 3, 2, 1)
    _, params, state = layer.init(KEY, (-1, 10, 12, 3))
    X = rand((4, 10, 12, 3), dtype=np.float32)
    Z, _, pullback = layer.vjp(params, state, X)
    dLdZ = rand(Z.shape, seed=1, dtype=np.float32)
    grads, dLdX = pullback(dLdZ)
    Z_t, dX_t, dW_t, db_t = torch_conv(X, params["W"], params["b"], dLdZ, 2, 1)
    for ours, theirs in [(Z, Z_t), (dLdX, dX_t), (grads["W"], dW_t), (grads["b"], db_t)]:
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


POOLS = [(2, None), (3, None), (2, 1), (3, 2), ((2, 3), (1, 2)), ((3, 2), None)]


@pytest.mark.parametrize(("kernel", "stride"), POOLS)
@pytest.mark.parametrize("ties", [False, True])
def test_maxpool2d_matches_pytorch(kernel, stride, ties):
    shape = (2, 9, 8, 3)
    # ties: small integers, so many windows hold several equal maxima
    X = np.random.default_rng(0).integers(0, 3, shape).astype(float) if ties else rand(shape)
    Y, _, pullback = MaxPool2d(kernel, stride).vjp({}, {}, X)
    dLdY = rand(Y.shape, seed=4)
    _, dLdX = pullback(dLdY)
    x = to_nchw(X).requires_grad_()
    y = F.max_pool2d(x, kernel, stride)
    y.backward(to_nchw(dLdY))
    np.testing.assert_array_equal(Y, to_nhwc(y))
    np.testing.assert_allclose(dLdX, to_nhwc(x.grad), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("kernel", "stride"), POOLS)
def test_avgpool2d_matches_pytorch(kernel, stride):
    X = rand((2, 9, 8, 3))
    Y, _, pullback = AvgPool2d(kernel, stride).vjp({}, {}, X)
    dLdY = rand(Y.shape, seed=4)
    _, dLdX = pullback(dLdY)
    x = to_nchw(X).requires_grad_()
    y = F.avg_pool2d(x, kernel, stride)
    y.backward(to_nchw(dLdY))
    np.testing.assert_allclose(Y, to_nhwc(y), rtol=1e-12)
    np.testing.assert_allclose(dLdX, to_nhwc(x.grad), rtol=1e-12)


def test_global_avgpool2d_matches_pytorch():
    X = rand((3, 5, 6, 4))
    Y, _, pullback = GlobalAvgPool2d().vjp({}, {}, X)
    dLdY = rand(Y.shape, seed=4)
    _, dLdX = pullback(dLdY)
    x = to_nchw(X).requires_grad_()
    y = F.adaptive_avg_pool2d(x, 1).flatten(1)
    y.backward(torch.tensor(dLdY))
    np.testing.assert_allclose(Y, y.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dLdX, to_nhwc(x.grad), rtol=1e-12)


def test_small_cnn_loss_and_gradients_match_pytorch():
    """Conv-ReLU-MaxPool twice, Flatten, Linear, cross-entropy: every gradient."""
    model = serial(
        Conv2d(1, 4, 3, dtype=np.float64),
        ReLU(),
        MaxPool2d(2),
        Conv2d(4, 6, 3, padding="same", dtype=np.float64),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(None, 5, dtype=np.float64),
    )
    _, params, state = model.init(KEY, (-1, 12, 10, 1))
    X = rand((6, 12, 10, 1))
    labels = np.array([0, 1, 2, 3, 4, 1])
    loss, grads, _ = fnnet.value_and_grad(model, fnnet.losses.cross_entropy)(
        params, state, X, labels
    )

    def hwio(W):
        return torch.tensor(np.asarray(W)).permute(3, 2, 0, 1).contiguous().requires_grad_()

    w0, w3 = hwio(params["0"]["W"]), hwio(params["3"]["W"])
    b0 = torch.tensor(np.asarray(params["0"]["b"])).requires_grad_()
    b3 = torch.tensor(np.asarray(params["3"]["b"])).requires_grad_()
    w7 = torch.tensor(np.asarray(params["7"]["W"])).requires_grad_()
    b7 = torch.tensor(np.asarray(params["7"]["b"])).requires_grad_()
    h = F.max_pool2d(F.relu(F.conv2d(to_nchw(X), w0, b0)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w3, b3, padding="same")), 2)
    logits = F.linear(h.permute(0, 2, 3, 1).flatten(1), w7, b7)  # NHWC feature order
    loss_t = F.cross_entropy(logits, torch.tensor(labels))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    for ours, theirs in [
        (grads["0"]["W"], w0.grad.permute(2, 3, 1, 0)),
        (grads["0"]["b"], b0.grad),
        (grads["3"]["W"], w3.grad.permute(2, 3, 1, 0)),
        (grads["3"]["b"], b3.grad),
        (grads["7"]["W"], w7.grad),
        (grads["7"]["b"], b7.grad),
    ]:
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9, atol=1e-12)
