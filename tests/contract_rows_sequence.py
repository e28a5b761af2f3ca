"""Rows of the layer contract table for the sequence layers (``tests/test_layer_contract.py``)."""

from __future__ import annotations

from typing import Any

from helpers import ContractRow

from fnnet import layers, random

C, H = 3, 4


def _cell_input(lstm: bool):
    """``(x, h)`` or ``(x, (h, c))`` for a batch of 2."""

    def make(key: Any, dtype: Any) -> Any:
        kx, kh, kc = random.split(key, 3)
        x = random.normal(kx, (2, C), dtype)
        h = random.normal(kh, (2, H), dtype)
        return (x, (h, random.normal(kc, (2, H), dtype))) if lstm else (x, h)

    return make


def _ids(key: Any, dtype: Any) -> Any:
    """Integer ids ``(2, 5)`` in ``[0, 6)``, some repeated: an Embedding's input is not float."""
    return random.randint(key, (2, 5), 0, 6)


CELL_SHAPE = ((2, C), (2, H))
LSTM_SHAPE = ((2, C), ((2, H), (2, H)))

ROWS: list[ContractRow] = [
    ContractRow("RNNCell", lambda: layers.RNNCell(C, H), CELL_SHAPE, _cell_input(False)),
    ContractRow(
        "RNNCell(relu)", lambda: layers.RNNCell(C, H, "relu"), CELL_SHAPE, _cell_input(False)
    ),
    ContractRow("GRUCell", lambda: layers.GRUCell(C, H), CELL_SHAPE, _cell_input(False)),
    ContractRow("LSTMCell", lambda: layers.LSTMCell(C, H), LSTM_SHAPE, _cell_input(True)),
    ContractRow("RNN(RNNCell)", lambda: layers.RNN(layers.RNNCell(C, H)), (2, 5, C)),
    ContractRow("RNN(GRUCell)", lambda: layers.RNN(layers.GRUCell(C, H)), (2, 5, C)),
    ContractRow("RNN(LSTMCell)", lambda: layers.RNN(layers.LSTMCell(C, H)), (2, 5, C)),
    ContractRow("LastTimeStep", layers.LastTimeStep, (2, 5, H)),
    ContractRow("Embedding", lambda: layers.Embedding(6, H), (2, 5), _ids),
    ContractRow("LayerNorm", lambda: layers.LayerNorm(H), (2, 5, H)),
    ContractRow("Conv1d", lambda: layers.Conv1d(C, H, 3, stride=2, padding=1), (2, 7, C)),
]
