"""The multilayer perceptron, built with ``serial``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

from fnnet.layers.activations import ReLU
from fnnet.layers.base import Layer
from fnnet.layers.combinators import serial
from fnnet.layers.linear import Linear

__all__ = ["mlp"]


def mlp(
    sizes: Sequence[int],
    activation: Callable[[], Layer] = ReLU,
    final_activation: Callable[[], Layer] | None = None,
) -> Layer:
    """``Linear -> activation -> ... -> Linear [-> final_activation]`` through ``sizes``.

    ``sizes = [C_0, C_1, ..., C_L]`` gives L linear layers ``C_{l} -> C_{l+1}``, each
    followed by ``activation()`` except the last, which is followed by
    ``final_activation()`` when given. The course topologies put a ReLU after every
    linear layer, the last one included:

    - MLP0: ``mlp([2, 3], final_activation=ReLU)``: Linear(2, 3), ReLU;
    - MLP1: ``mlp([2, 3, 2], final_activation=ReLU)``: Linear(2, 3), ReLU, Linear(3, 2), ReLU;
    - MLP4: ``mlp([2, 4, 8, 8, 4, 2], final_activation=ReLU)``: five linear layers, each
      followed by a ReLU.

    For classification leave ``final_activation=None``: the losses take raw scores.

    Activations are passed as constructors (``ReLU``, ``Tanh``, ...), so each use makes
    a fresh layer. Params are keyed by position as in ``serial``: for MLP1, the linear
    layers are ``"0"`` and ``"2"``.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"mlp: sizes needs at least an input and an output size, got {sizes}")
    if any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in sizes):
        raise ValueError(f"mlp: sizes must be positive integers, got {sizes}")
    layers: list[Layer] = []
    for i, (c_in, c_out) in enumerate(pairwise(sizes)):
        layers.append(Linear(c_in, c_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    if final_activation is not None:
        layers.append(final_activation())
    return serial(*layers)
