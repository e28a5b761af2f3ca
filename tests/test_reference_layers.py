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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flatten(dtype):
    x = random.normal(random.key(3), (2, 3, 4, 5), dtype)
    dy = random.normal(random.key(4), (2, 60), dtype)
    y, _, pullback = layers.Flatten().vjp({}, {}, x)
    _, dx = pullback(dy)
    y_ref, dx_ref = torch_vjp(lambda t: torch.flatten(t, start_dim=1), x, dy)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(dx, dx_ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_is_torchs_inverted_dropout(dtype):
    """Eval mode is torch's eval-mode dropout (the identity); train mode scales the kept
    units by 1/(1-p) as torch does: fnnet's own mask (the kept units) through torch's
    formula gives the same output and gradient."""
    p = 0.3
    x = random.normal(random.key(5), (6, 7), dtype)
    dy = random.normal(random.key(6), (6, 7), dtype)
    drop = layers.Dropout(p)
    y_eval, _ = drop.apply({}, {}, x)
    torch_drop = torch.nn.Dropout(p).eval()
    np.testing.assert_array_equal(y_eval, torch_drop(torch.tensor(x)).numpy())
    y, _, pullback = drop.vjp({}, {}, x, key=random.key(7))
    _, dx = pullback(dy)
    kept = torch.tensor(y != 0)
    y_ref, dx_ref = torch_vjp(lambda t: t * kept / (1 - p), x, dy)
    tol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, dx_ref, rtol=tol, atol=tol)
    # and torch's train-mode dropout drops about p, scaling the rest the same way
    t = torch_drop.train()(torch.ones(200, 500, dtype=torch.float64)).numpy()
    assert set(np.unique(t)) == {0.0, 1 / (1 - p)}
    assert abs((t == 0).mean() - p) < 0.01
