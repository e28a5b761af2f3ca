"""Layers: ``Layer(init, apply, vjp)`` triples of pure functions, and combinators."""

from fnnet.layers.activations import (
    ELU,
    GELU,
    Identity,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    SiLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from fnnet.layers.base import Layer, Pullback, layer_name, named, stateless
from fnnet.layers.combinators import serial
from fnnet.layers.conv import Conv2d
from fnnet.layers.linear import Linear
from fnnet.layers.mlp import mlp
from fnnet.layers.pooling import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from fnnet.layers.reshape import Flatten

__all__ = [
    "ELU",
    "GELU",
    "AvgPool2d",
    "Conv2d",
    "Flatten",
    "GlobalAvgPool2d",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MaxPool2d",
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
    "stateless",
]
