"""A small ResNet for NHWC images (He et al. 2016, "Deep Residual Learning"), from combinators.

A basic block adds a two-convolution branch to its input, then applies ReLU::

    y = ReLU( BN(Conv3x3(ReLU(BN(Conv3x3(x))))) + shortcut(x) )

with ``shortcut(x) = x`` where the shape is kept (``residual``), and a 1x1 projection
``BN(Conv1x1(x))`` where the channels (or, with a stride, the size) change, as
torchvision's ``BasicBlock`` with its ``downsample``. The network::

    Conv3x3(C_1) - BN - ReLU                       stem
    blocks x BasicBlock(C_1)                       stage 1
    blocks x BasicBlock(C_k), the first with       stage k = 2, 3, ...
              stride 2 and a projection
    GlobalAvgPool2d - Linear(num_classes)          head
"""

from __future__ import annotations

from collections.abc import Sequence

from fnnet.layers.activations import ReLU
from fnnet.layers.base import Layer, named
from fnnet.layers.branches import fan_in_sum, fan_out
from fnnet.layers.combinators import parallel, serial
from fnnet.layers.conv import Conv2d
from fnnet.layers.linear import Linear
from fnnet.layers.normalization import BatchNorm2d
from fnnet.layers.pooling import GlobalAvgPool2d
from fnnet.layers.residual import residual

__all__ = ["basic_block", "resnet"]

BN_EPS = 1e-5  # PyTorch's default, so that a torchvision-style model computes the same


def basic_block(in_channels: int, out_channels: int, stride: int = 1) -> Layer:
    """``ReLU(F(x) + shortcut(x))`` with ``F = Conv3x3 - BN - ReLU - Conv3x3 - BN``.

    Shapes: ``(N, H, W, in_channels) -> (N, H', W', out_channels)``, ``H' = ceil(H / s)``
    (3x3 convolutions with padding 1). The shortcut is the identity (``residual(F)``)
    when ``in_channels == out_channels`` and ``stride == 1``, else the projection
    ``BN(Conv1x1(x))`` with the same stride, in ``parallel`` beside ``F``. The block is
    named ``BasicBlock`` in messages and summaries.
    """
    F = serial(
        Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
        BatchNorm2d(out_channels, eps=BN_EPS),
        ReLU(),
        Conv2d(out_channels, out_channels, 3, padding=1),
        BatchNorm2d(out_channels, eps=BN_EPS),
    )
    if in_channels == out_channels and stride == 1:
        # y = ReLU(x + F(x))
        return named(serial(residual(F), ReLU()), "BasicBlock")
    projection = serial(
        Conv2d(in_channels, out_channels, 1, stride=stride),
        BatchNorm2d(out_channels, eps=BN_EPS),
    )
    # y = ReLU(F(x) + P(x)), P the 1x1 projection
    return named(serial(fan_out(2), parallel(F, projection), fan_in_sum(), ReLU()), "BasicBlock")


def resnet(
    num_classes: int,
    channels: Sequence[int] = (16, 32),
    blocks: int = 1,
    in_channels: int | None = None,
) -> Layer:
    """A ResNet for NHWC images ``(N, H, W, C)`` -> class scores ``(N, num_classes)``.

    ``channels[k]`` is the width of stage ``k``; each stage has ``blocks`` basic blocks
    (:func:`basic_block`); stages after the first halve the image with a stride-2 first
    block. ``in_channels=None`` takes the image channels from the input shape at ``init``.
    For the 8x8x1 digits, ``resnet(10)`` (channels 16, 32, one block each) has 21,000
    parameters or so; see ``fnnet.summary(resnet(10), (-1, 8, 8, 1))``.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"resnet: num_classes must be a positive int, got {num_classes!r}")
    widths = tuple(channels)
    if not widths or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in widths):
        raise ValueError(f"resnet: channels must be positive ints, got {channels!r}")
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise ValueError(f"resnet: blocks must be a positive int, got {blocks!r}")
    stack: list[Layer] = [
        Conv2d(in_channels, widths[0], 3, padding=1),
        BatchNorm2d(widths[0], eps=BN_EPS),
        ReLU(),
    ]
    width = widths[0]
    for k, out in enumerate(widths):
        for b in range(blocks):
            stride = 2 if k > 0 and b == 0 else 1
            stack.append(basic_block(width, out, stride))
            width = out
    stack += [GlobalAvgPool2d(), Linear(width, num_classes)]
    return serial(*stack)
