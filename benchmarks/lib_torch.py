"""PyTorch's side of the workloads (eager, CPU): the same graphs, from fnnet's weights.

fnnet's images are NHWC with HWIO kernels; PyTorch's NCHW with OIHW kernels: the
weights are transposed once here, the inputs by :func:`nchw`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from common import BN_ALPHA, BN_EPS, LR, MOMENTUM, Array, Step
from torch import nn
from torch.nn import functional

VERSION = torch.__version__


def tensor(a: Array) -> Any:
    return torch.tensor(np.array(a))  # a writable copy of a (read-only) parameter


def nchw(x: Array) -> Array:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # PyTorch's native layout


def trainer(module: Any, loss_name: str, x: Array, y: Array) -> Step:
    """One step per call: forward, loss, ``backward``, SGD with momentum; returns the loss."""
    loss_fn = functional.mse_loss if loss_name == "mse" else functional.cross_entropy
    opt = torch.optim.SGD(module.parameters(), lr=LR, momentum=MOMENTUM)
    module.train()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(module(xt), yt)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def predictor(module: Any, x: Array) -> Step:
    """One inference per call under ``torch.inference_mode()``; returns the output."""
    module.eval()
    xt = torch.from_numpy(x)

    def step() -> Array:
        with torch.inference_mode():
            return module(xt).numpy()

    return step


def copy_linear(mod: Any, p: Any) -> None:
    mod.weight.copy_(tensor(p["W"]))
    mod.bias.copy_(tensor(p["b"]))


def copy_conv(mod: Any, p: Any) -> None:
    mod.weight.copy_(tensor(np.asarray(p["W"]).transpose(3, 2, 0, 1)))  # HWIO -> OIHW
    mod.bias.copy_(tensor(p["b"]))


def bn(kind: str, channels: int) -> Any:
    module = nn.BatchNorm1d if kind == "1d" else nn.BatchNorm2d
    return module(channels, eps=BN_EPS, momentum=1 - BN_ALPHA)


def mlp(params: Any, kinds: list[str]) -> Any:
    """The fnnet MLP ``kinds`` (``"linear"``, ``"bn"``, ``"relu"``) with its weights."""
    mods: list[Any] = []
    with torch.no_grad():
        for i, kind in enumerate(kinds):
            p = params[str(i)]
            mod: Any
            if kind == "linear":
                mod = nn.Linear(p["W"].shape[1], p["W"].shape[0])
                copy_linear(mod, p)
            elif kind == "bn":
                mod = bn("1d", p["gamma"].shape[0])
            else:
                mod = nn.ReLU()
            mods.append(mod)
    return nn.Sequential(*mods)


def cnn(params: Any) -> Any:
    """Conv-MaxPool-ReLU twice, Flatten, Linear: the graph of ``lib_fnnet.cnn``."""
    module = nn.Sequential(
        nn.Conv2d(1, 16, 3),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 5 * 5, 10),
    )
    with torch.no_grad():
        copy_conv(module[0], params["0"])
        copy_conv(module[3], params["3"])
        # fnnet flattens (h, w, c), PyTorch (c, h, w)
        W = np.asarray(params["7"]["W"]).reshape(10, 5, 5, 32).transpose(0, 3, 1, 2)
        copy_linear(module[7], {"W": W.reshape(10, -1), "b": params["7"]["b"]})
    return module


class ConvBNBlock(nn.Sequential):
    """Conv 3x3 - BatchNorm2d - ReLU - Conv 3x3 - BatchNorm2d (padding 1)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1),
            bn("2d", c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1),
            bn("2d", c_out),
        )

    def load(self, p: Any) -> None:
        copy_conv(self[0], p["0"])
        copy_conv(self[3], p["3"])


class Residual(nn.Module):
    """``x + block(x)``, or ``block(x) + shortcut(x)`` with a 1x1 projection."""

    def __init__(self, block: Any, shortcut: Any = None) -> None:
        super().__init__()
        self.block, self.shortcut = block, shortcut

    def forward(self, x: Any) -> Any:
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.block(x) + skip


def resnet(parts: Any | None) -> Any:
    """The graph of ``lib_fnnet.resnet``; fnnet's weights when given (``resnet_parts``)."""
    blocks = [ConvBNBlock(16, 16), ConvBNBlock(16, 16), ConvBNBlock(16, 32)]
    stem, projection, linear = (
        nn.Conv2d(1, 16, 3, padding=1),
        nn.Conv2d(16, 32, 1),
        nn.Linear(32, 10),
    )
    module = nn.Sequential(
        stem,
        bn("2d", 16),
        nn.ReLU(),
        Residual(blocks[0]),
        nn.ReLU(),
        Residual(blocks[1]),
        nn.ReLU(),
        Residual(blocks[2], projection),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        linear,
    )
    if parts is not None:
        with torch.no_grad():
            copy_conv(stem, parts["stem"])
            for block, name in zip(blocks, ("block1", "block2", "block3")):
                block.load(parts[name])
            copy_conv(projection, parts["proj"])
            copy_linear(linear, parts["fc"])
    return module


class GRUClassifier(nn.Module):
    """``nn.GRU(batch_first=True)``, the last hidden state, ``nn.Linear``."""

    def __init__(self, c: int, h: int, classes: int) -> None:
        super().__init__()
        self.gru = nn.GRU(c, h, batch_first=True)
        self.linear = nn.Linear(h, classes)

    def forward(self, x: Any) -> Any:
        H, _ = self.gru(x)
        return self.linear(H[:, -1])


def gru(params: Any | None, c: int, h: int, classes: int) -> Any:
    """The graph of ``lib_fnnet.gru``; fnnet's weights (``W_ih``, ... as PyTorch's)."""
    module = GRUClassifier(c, h, classes)
    if params is not None:
        with torch.no_grad():
            for name in ("W_ih", "W_hh", "b_ih", "b_hh"):
                torch_name = ("weight_" if name[0] == "W" else "bias_") + name[2:] + "_l0"
                getattr(module.gru, torch_name).copy_(tensor(params["0"][name]))
            copy_linear(module.linear, params["2"])
    return module
