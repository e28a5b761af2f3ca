"""Linear and activation layers against PyTorch: outputs and gradients."""

import numpy as np
import pytest
from helpers import randomize

from fnnet import layers, random

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH = {
    "Identity": lambda z: z,
    "Sigmoid": torch.sigmoid,
    "Tanh": torch.tanh,
    "ReLU": torch.relu,
    "GELU": lambda z: F.gelu(z, approximate="none"),
    "LeakyReLU": lambda z: F.leaky_relu(z, 0.01),
    "ELU": F.elu,
    "SiLU": F.silu,
    "Softplus": F.softplus,
    "Softmax": lambda z: torch.softmax(z, dim=-1),
    "LogSoftmax": lambda z: torch.log_softmax(z, dim=-1),
}


def torch_vjp(f, x, dy):
    xt = torch.tensor(x, requires_grad=True)
    yt = f(xt)
    yt.backward(torch.tensor(dy))
    return yt.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("name", list(TORCH))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation(name, dtype):
    layer = getattr(layers, name)()
    z = (random.normal(random.key(0), (8, 5), dtype) * 3).astype(dtype)
    dy = random.normal(random.key(1), (8, 5), dtype)
    y, _, pullback = layer.vjp({}, {}, z)
    _, dz = pullback(dy)
    y_ref, dz_ref = torch_vjp(TORCH[name], z, dy)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, y_ref, rtol=tol * 10, atol=tol)
    np.testing.assert_allclose(dz, dz_ref, rtol=tol * 10, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear(dtype):
    lin = layers.Linear(6, 4)
    _, params, state = lin.init(random.key(0), (-1, 6))
    params = randomize(params, dtype=dtype)
    x = random.normal(random.key(1), (5, 6), dtype)
    dy = random.normal(random.key(2), (5, 4), dtype)
    y, _, pullback = lin.vjp(params, state, x)
    grads, dx = pullback(dy)

    xt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.Linear(6, 4).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(params["W"]))
        ref.bias.copy_(torch.tensor(params["b"]))
    yt = ref(xt)
    yt.backward(torch.tensor(dy))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grads["W"], ref.weight.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grads["b"], ref.bias.grad.numpy(), rtol=tol, atol=tol)
