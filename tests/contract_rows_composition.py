"""Rows of the layer contract table (``tests/test_layer_contract.py``) for the combinators.

``input_shape`` is a tuple of shapes for the layers that take several inputs; ``fan_out``
and ``parallel`` return tuples, and their pullbacks take tuple cotangents.
"""

from __future__ import annotations

from helpers import ContractRow

from fnnet.layers import (
    BatchNorm1d,
    Dropout,
    Identity,
    Linear,
    ReLU,
    Tanh,
    fan_in_concat,
    fan_in_sum,
    fan_out,
    parallel,
    residual,
    serial,
)

ROWS: list[ContractRow] = [
    ContractRow("fan_out", lambda: fan_out(3), (4, 5)),
    ContractRow(
        "parallel",
        lambda: parallel(Linear(5, 3), serial(Dropout(0.5), Tanh()), BatchNorm1d(2)),
        ((4, 5), (4, 3), (4, 2)),
    ),
    ContractRow("fan_in_sum", fan_in_sum, ((4, 5), (4, 5), (4, 5))),
    ContractRow("fan_in_concat", fan_in_concat, ((4, 2), (4, 5))),
    ContractRow(
        "fan_in_concat(axis=1)", lambda: fan_in_concat(axis=1), ((2, 3, 4, 2), (2, 1, 4, 2))
    ),
    ContractRow("residual", lambda: residual(serial(Linear(5, 5), BatchNorm1d(5), ReLU())), (6, 5)),
    ContractRow("residual(Identity)", lambda: residual(Identity()), (3, 4), train=False),
]
