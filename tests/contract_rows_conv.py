"""Layer contract rows for the image layers: Conv2d and the pools (one row each).

``tests/test_layer_contract.py`` runs every check of the contract on each row.
"""

from __future__ import annotations

from helpers import ContractRow

from fnnet import layers

ROWS: list[ContractRow] = [
    ContractRow("Conv2d", lambda: layers.Conv2d(2, 3, 3, padding=1), (2, 4, 4, 2)),
    ContractRow("MaxPool2d", lambda: layers.MaxPool2d(2), (2, 4, 4, 2)),
    ContractRow("AvgPool2d", lambda: layers.AvgPool2d(2), (2, 4, 4, 2)),
    ContractRow("GlobalAvgPool2d", layers.GlobalAvgPool2d, (2, 3, 3, 2)),
]
