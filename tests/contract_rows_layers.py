"""Layer contract rows for the dense layers: Linear, activations, BatchNorm, Dropout, Flatten.

``tests/test_layer_contract.py`` runs every check of the contract on each row.
"""

from __future__ import annotations

from helpers import ContractRow

from fnnet import layers

ROWS: list[ContractRow] = [
    ContractRow("Linear", lambda: layers.Linear(3, 2), (4, 3)),
    ContractRow("Linear(None, 2)", lambda: layers.Linear(None, 2), (4, 3)),
    ContractRow("Identity", layers.Identity, (4, 5)),
    ContractRow("Sigmoid", layers.Sigmoid, (4, 5)),
    ContractRow("Tanh", layers.Tanh, (4, 5)),
    ContractRow("ReLU", layers.ReLU, (4, 5)),
    ContractRow("LeakyReLU", lambda: layers.LeakyReLU(0.1), (4, 5)),
    ContractRow("ELU", lambda: layers.ELU(0.7), (4, 5)),
    ContractRow("GELU", layers.GELU, (4, 5)),
    ContractRow("SiLU", layers.SiLU, (4, 5)),
    ContractRow("Softplus", layers.Softplus, (4, 5)),
    ContractRow("Softmax", layers.Softmax, (4, 5)),
    ContractRow("Softmax(axis=0)", lambda: layers.Softmax(axis=0), (4, 5)),
    ContractRow("LogSoftmax", layers.LogSoftmax, (4, 5)),
    ContractRow("BatchNorm1d", lambda: layers.BatchNorm1d(3), (6, 3)),
    ContractRow("BatchNorm1d (eval)", lambda: layers.BatchNorm1d(3), (6, 3), train=False),
    ContractRow("BatchNorm2d", lambda: layers.BatchNorm2d(2), (2, 3, 3, 2)),
    ContractRow("BatchNorm2d (eval)", lambda: layers.BatchNorm2d(2), (2, 3, 3, 2), train=False),
    ContractRow("Dropout", lambda: layers.Dropout(0.3), (4, 5)),
    ContractRow("Dropout (eval)", lambda: layers.Dropout(0.3), (4, 5), train=False),
    ContractRow("Flatten", layers.Flatten, (2, 3, 2, 2)),
]
