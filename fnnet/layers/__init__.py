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
from fnnet.layers.conv1d import Conv1d
from fnnet.layers.dropout import Dropout
from fnnet.layers.embedding import Embedding
from fnnet.layers.layernorm import LayerNorm
from fnnet.layers.linear import Linear
from fnnet.layers.mlp import mlp
from fnnet.layers.normalization import BatchNorm1d, BatchNorm2d
from fnnet.layers.pooling import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from fnnet.layers.recurrent import (
    RNN,
    GRUCell,
    LastTimeStep,
    LSTMCell,
    RNNCell,
    sequence_classifier,
)
from fnnet.layers.reshape import Flatten, RowsAsSequence
from fnnet.layers.residual import residual
from fnnet.layers.resnet import basic_block, resnet

__all__ = [
    "ELU",
    "GELU",
    "RNN",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Branches",
    "Conv1d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GlobalAvgPool2d",
    "Identity",
    "LSTMCell",
    "LastTimeStep",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MaxPool2d",
    "Pullback",
    "RNNCell",
    "ReLU",
    "RowsAsSequence",
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
    "sequence_classifier",
    "serial",
    "skips_input_grad",
    "stateless",
]
