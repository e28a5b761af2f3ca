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
from fnnet.layers.base import (
    Branches,
    Layer,
    Pullback,
    layer_name,
    named,
    skips_input_grad,
    stateless,
)
from fnnet.layers.branches import fan_in_concat, fan_in_sum, fan_out
from fnnet.layers.combinators import parallel, serial
from fnnet.layers.conv import Conv2d
from fnnet.layers.dropout import Dropout
from fnnet.layers.linear import Linear
from fnnet.layers.mlp import mlp
from fnnet.layers.normalization import BatchNorm1d, BatchNorm2d
from fnnet.layers.pooling import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from fnnet.layers.reshape import Flatten
from fnnet.layers.residual import residual
from fnnet.layers.resnet import basic_block, resnet

__all__ = [
    "ELU",
    "GELU",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Branches",
    "Conv2d",
    "Dropout",
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
    "basic_block",
    "fan_in_concat",
    "fan_in_sum",
    "fan_out",
    "layer_name",
    "mlp",
    "named",
    "parallel",
    "residual",
    "resnet",
    "serial",
    "skips_input_grad",
    "stateless",
]
