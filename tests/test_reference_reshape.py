"""RowsAsSequence against PyTorch: an NHWC batch read as a batch-first sequence of rows."""

import numpy as np
import pytest

from fnnet import layers, random

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_as_sequence_is_torchs_flatten_of_the_last_two_axes(dtype):
    x = random.normal(random.key(1), (2, 3, 4, 5), dtype)
    dy = random.normal(random.key(2), (2, 3, 20), dtype)
    y, _, pullback = layers.RowsAsSequence().vjp({}, {}, x)
    _, dx = pullback(dy)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.flatten(xt, start_dim=2)  # (N, H, W, C) -> (N, H, W C)
    yt.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(dx, xt.grad.numpy())


def test_rows_as_sequence_feeds_torchs_gru_the_same_sequence():
    """The digits' sequential-MNIST reading: a GRU over RowsAsSequence's steps equals
    torch's batch_first GRU over the image rows, last hidden state, float64."""
    x = random.normal(random.key(3), (2, 8, 8, 1), np.float64)
    model = layers.serial(layers.RowsAsSequence(), layers.RNN(layers.GRUCell(8, 5, dtype="f8")))
    _, params, state = model.init(random.key(4), (-1, 8, 8, 1))
    h, _ = model.apply(params, state, x)
    gru = torch.nn.GRU(8, 5, batch_first=True).double()
    p = params["1"]
    with torch.no_grad():
        for name in ("W_ih", "W_hh", "b_ih", "b_hh"):
            torch_name = name.replace("W_", "weight_").replace("b_", "bias_") + "_l0"
            getattr(gru, torch_name).copy_(torch.tensor(p[name]))
        h_ref, _ = gru(torch.tensor(x[..., 0]))
    np.testing.assert_allclose(h, h_ref.numpy(), rtol=1e-9, atol=1e-12)
