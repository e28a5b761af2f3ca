"""Layer contract rows for the layers the command line adds: RowsAsSequence.

``tests/test_layer_contract.py`` runs every check of the contract on each row.
"""

from __future__ import annotations

from helpers import ContractRow

from fnnet import layers

ROWS: list[ContractRow] = [
    ContractRow("RowsAsSequence", layers.RowsAsSequence, (2, 3, 4, 2)),
]
