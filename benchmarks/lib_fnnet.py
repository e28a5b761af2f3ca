"""fnnet's side of the workloads: models, training and inference steps.

Only names that both the current fnnet and older checkouts have are used unguarded
(``layers.serial``, ``Linear``, ``ReLU``, ``Conv2d``, ``MaxPool2d``, ``Flatten``,
``BatchNorm1d``, ``losses.*``, ``optim.sgd``, ``value_and_grad``): ``--baseline`` runs
the same code against an older fnnet. A newer name goes through :func:`need`, which
raises :class:`MissingAPIError` (the workload is then skipped for that checkout).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from common import BN_ALPHA, BN_EPS, LR, MOMENTUM, Array, MissingAPIError, Step

import fnnet
from fnnet import layers, losses, optim


def need(module: Any, name: str) -> Any:
    """``module.name``, or :class:`MissingAPIError` naming what this fnnet lacks."""
    try:
        return getattr(module, name)
    except AttributeError:
        raise MissingAPIError(f"{module.__name__}.{name}") from None


def init(model: Any, input_shape: tuple[int, ...]) -> tuple[Any, Any]:
    """Params and state of ``model`` from ``fnnet.random.key(0)``."""
    _, params, state = model.init(fnnet.random.key(0), input_shape)
    return params, state


def trainer(model: Any, loss: Any, params: Any, state: Any, x: Array, y: Array) -> Step:
    """One step per call: ``value_and_grad``, then SGD with momentum; returns the loss."""
    opt = optim.sgd(LR, momentum=MOMENTUM)
    grad_fn = fnnet.value_and_grad(model, loss)
    carry = {"params": params, "state": state, "opt": opt.init(params)}

    def step() -> float:
        value, grads, carry["state"] = grad_fn(carry["params"], carry["state"], x, y)
        carry["params"], carry["opt"] = opt.update(carry["params"], grads, carry["opt"])
        return float(value)

    return step


def predictor(model: Any, params: Any, state: Any, x: Array) -> Step:
    """One inference per call: ``apply`` in eval mode; returns the output."""

    def step() -> Array:
        return model.apply(params, state, x)[0]

    return step


def loss(name: str) -> Any:
    return losses.mse if name == "mse" else losses.cross_entropy


def mlp(sizes: list[int], kinds: list[str]) -> Any:
    """``serial`` of ``kinds`` (``"linear"``, ``"bn"``, ``"relu"``), widths from ``sizes``."""
    widths = iter(sizes[1:])
    stack = []
    width = sizes[0]
    for kind in kinds:
        if kind == "linear":
            c_in, width = width, next(widths)
            stack.append(layers.Linear(c_in, width))
        elif kind == "bn":
            stack.append(layers.BatchNorm1d(width, alpha=BN_ALPHA, eps=BN_EPS))
        else:
            stack.append(layers.ReLU())
    return layers.serial(*stack)


def cnn() -> Any:
    """Conv 3x3 (16) - MaxPool 2 - ReLU - Conv 3x3 (32) - MaxPool 2 - ReLU - Flatten - Linear.

    The pool comes before the ReLU (``maxpool(relu(Z)) = relu(maxpool(Z))``: the ReLU
    then runs on a quarter of the values); every library runs this same graph.
    """
    return layers.serial(
        layers.Conv2d(1, 16, 3),
        layers.MaxPool2d(2),
        layers.ReLU(),
        layers.Conv2d(16, 32, 3),
        layers.MaxPool2d(2),
        layers.ReLU(),
        layers.Flatten(),
        layers.Linear(None, 10),
    )


# ---------------------------------------------------------------------------------------
# resnet (composition combinators: residual, fan_out, parallel, fan_in_sum)
# ---------------------------------------------------------------------------------------


def conv_bn_block(c_in: int, c_out: int) -> Any:
    """Conv 3x3 - BatchNorm2d - ReLU - Conv 3x3 - BatchNorm2d: a residual block's branch."""
    BatchNorm2d = need(layers, "BatchNorm2d")
    return layers.serial(
        layers.Conv2d(c_in, c_out, 3, padding=1),
        BatchNorm2d(c_out, alpha=BN_ALPHA, eps=BN_EPS),
        layers.ReLU(),
        layers.Conv2d(c_out, c_out, 3, padding=1),
        BatchNorm2d(c_out, alpha=BN_ALPHA, eps=BN_EPS),
    )


def resnet() -> Any:
    """Stem Conv(1, 16)-BN-ReLU; 2 residual blocks at 16 channels and one to 32 (a 1x1
    projection on the skip), each followed by a ReLU; global average pool; Linear(32, 10).
    Params ``"0"``..``"10"``; a projected block's are ``{"1": {"0": main, "1": 1x1}}``."""
    residual, fan_out = need(layers, "residual"), need(layers, "fan_out")
    parallel, fan_in_sum = need(layers, "parallel"), need(layers, "fan_in_sum")
    pool = need(layers, "GlobalAvgPool2d")
    return layers.serial(
        layers.Conv2d(1, 16, 3, padding=1),
        need(layers, "BatchNorm2d")(16, alpha=BN_ALPHA, eps=BN_EPS),
        layers.ReLU(),
        residual(conv_bn_block(16, 16)),
        layers.ReLU(),
        residual(conv_bn_block(16, 16)),
        layers.ReLU(),
        layers.serial(
            fan_out(2), parallel(conv_bn_block(16, 32), layers.Conv2d(16, 32, 1)), fan_in_sum()
        ),
        layers.ReLU(),
        pool(),
        layers.Linear(32, 10),
    )


def block_plus_input(block: Any) -> Any:
    """``x + block(x)`` written by hand (the same layers, one add): what ``residual`` costs
    at the least; its pullback returns ``dLdX = dLdY + dLdX_block``."""

    def init(key: Any, input_shape: Any) -> Any:
        return block.init(key, input_shape)

    def apply(params: Any, state: Any, x: Array, *, key: Any = None, train: bool = False) -> Any:
        F, new_state = block.apply(params, state, x, key=key, train=train)
        return x + F, new_state

    def vjp(params: Any, state: Any, x: Array, *, key: Any = None, train: bool = True) -> Any:
        F, new_state, block_pullback = block.vjp(params, state, x, key=key, train=train)

        def pullback(dLdY: Array) -> tuple[Any, Array]:
            dLdparams, dLdX_block = block_pullback(dLdY)
            return dLdparams, dLdY + dLdX_block

        return x + F, new_state, pullback

    return layers.Layer(init, apply, vjp)


# ---------------------------------------------------------------------------------------
# gru (sequence layers: RNN, GRUCell)
# ---------------------------------------------------------------------------------------


def last_step() -> Any:
    """``(N, T, H) -> (N, H)``: the last hidden state ``Y = X[:, T-1]``; the pullback puts
    ``dLdY`` at ``t = T-1`` and zeros elsewhere. Hand-built ``Layer(init, apply, vjp)``."""

    def init(key: Any, input_shape: Any) -> Any:
        return (input_shape[0], input_shape[2]), {}, {}

    def apply(params: Any, state: Any, X: Array, *, key: Any = None, train: bool = False) -> Any:
        return X[:, -1], state

    def vjp(params: Any, state: Any, X: Array, *, key: Any = None, train: bool = True) -> Any:
        shape, dtype = X.shape, X.dtype

        def pullback(dLdY: Array) -> tuple[Any, Array]:
            dLdX = np.zeros(shape, dtype)
            dLdX[:, -1] = dLdY
            return {}, dLdX

        return X[:, -1], state, pullback

    return layers.Layer(init, apply, vjp)


def gru(c: int, h: int, classes: int) -> Any:
    """``RNN(GRUCell(c, h))`` - last hidden state - ``Linear(h, classes)``."""
    rnn, cell = need(layers, "RNN"), need(layers, "GRUCell")
    return layers.serial(rnn(cell(c, h)), last_step(), layers.Linear(h, classes))


def find_block(tree: Any) -> Any:
    """The first dict keyed ``"0"``..``"4"`` in ``tree`` (a :func:`conv_bn_block`'s params or
    state), whatever nesting ``residual`` uses for its branch; ``None`` if there is none."""
    if isinstance(tree, dict) and sorted(tree) == ["0", "1", "2", "3", "4"]:
        return tree
    for sub in tree.values() if isinstance(tree, dict) else ():
        found = find_block(sub)
        if found is not None:
            return found
    return None


def resnet_parts(tree: Any) -> dict[str, Any]:
    """The params (or state) of :func:`resnet` by part: ``stem``, ``stem_bn``, ``block1``..
    ``block3`` (each a ``serial`` of 5 layers), ``proj``, ``fc``; found by the structure of
    ``serial`` and ``parallel`` (pinned) and :func:`find_block`."""
    return {
        "stem": tree["0"],
        "stem_bn": tree["1"],
        "block1": find_block(tree["3"]),
        "block2": find_block(tree["5"]),
        "block3": tree["7"]["1"]["0"],
        "proj": tree["7"]["1"]["1"],
        "fc": tree["10"],
    }
