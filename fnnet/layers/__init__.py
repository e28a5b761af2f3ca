"""Layers: ``Layer(init, apply, vjp)`` triples of pure functions, and combinators."""

from fnnet.layers.activations import (
    ELU,
    GELU,
    Identity,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from fnnet.layers.base import Layer, Pullback, layer_name, named, skips_input_grad, stateless
from fnnet.layers.combinators import serial
from fnnet.layers.dropout import Dropout
from fnnet.layers.linear import Linear
from fnnet.layers.mlp import mlp
from fnnet.layers.normalization import BatchNorm1d, BatchNorm2d

__all__ = [
    "ELU",
    "GELU",
    "BatchNorm1d",
    "BatchNorm2d",
    "Dropout",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "Pullback",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "layer_name",
    "mlp",
    "named",
    "serial",
    "skips_input_grad",
    "stateless",
]
