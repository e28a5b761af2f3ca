"""fnnet: functional neural networks in plain NumPy.

Every layer is an ``(init, apply, vjp)`` triple of pure functions over immutable
parameter trees; models are composed with :func:`fnnet.layers.serial`; optimizers are
pure ``update(params, grads, state)`` functions; every backward pass is written by hand.
"""

from fnnet import (
    checkpoint,
    data,
    datasets,
    decode,
    initializers,
    layers,
    losses,
    optim,
    random,
    training,
    tree,
)
from fnnet.grad import (
    GradientCheckError,
    check_grads,
    check_layer_grads,
    check_loss_grads,
    value_and_grad,
)
from fnnet.summary import summary

__version__ = "0.2.0"

__all__ = [
    "GradientCheckError",
    "__version__",
    "check_grads",
    "check_layer_grads",
    "check_loss_grads",
    "checkpoint",
    "data",
    "datasets",
    "decode",
    "initializers",
    "layers",
    "losses",
    "optim",
    "random",
    "summary",
    "training",
    "tree",
    "value_and_grad",
]
