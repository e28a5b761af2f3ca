"""Rows of the layer contract table (``tests/test_layer_contract.py``): convolution and pooling.

One row per constructor and per case whose code path differs: an int and a pair kernel,
strides, explicit and "same" padding (an even kernel pads more at the end), one or two
input channels (im2col's other branch); max pooling tiled, ragged and overlapping (its
pullback assigns or adds), average pooling likewise, global average pooling.
"""

from __future__ import annotations

from helpers import ContractRow

from fnnet.layers import AvgPool2d, Conv2d, GlobalAvgPool2d, MaxPool2d

ROWS: list[ContractRow] = [
    ContractRow("Conv2d(3, 4, 3)", lambda: Conv2d(3, 4, 3), (2, 6, 5, 3)),
    ContractRow("Conv2d(2, 3, (3, 2))", lambda: Conv2d(2, 3, (3, 2)), (2, 5, 6, 2)),
    ContractRow("Conv2d(3, 2, 3, stride=2)", lambda: Conv2d(3, 2, 3, stride=2), (2, 7, 6, 3)),
    ContractRow(
        "Conv2d(3, 2, (2, 3), stride=(2, 1), padding=(1, 0))",
        lambda: Conv2d(3, 2, (2, 3), stride=(2, 1), padding=(1, 0)),
        (2, 5, 6, 3),
    ),
    ContractRow("Conv2d(4, 3, 3, padding=1)", lambda: Conv2d(4, 3, 3, padding=1), (2, 4, 5, 4)),
    ContractRow(
        "Conv2d(1, 3, 2, padding='same')", lambda: Conv2d(1, 3, 2, padding="same"), (2, 5, 4, 1)
    ),
    ContractRow(
        "Conv2d(None, 2, 3, stride=2, padding='same')",
        lambda: Conv2d(None, 2, 3, stride=2, padding="same"),
        (1, 7, 6, 3),
    ),
    ContractRow("MaxPool2d(2)", lambda: MaxPool2d(2), (2, 4, 6, 3)),
    ContractRow("MaxPool2d(2) ragged", lambda: MaxPool2d(2), (2, 5, 7, 2)),
    ContractRow("MaxPool2d(3, stride=1)", lambda: MaxPool2d(3, stride=1), (2, 5, 5, 2)),
    ContractRow(
        "MaxPool2d((2, 3), stride=(1, 2))", lambda: MaxPool2d((2, 3), (1, 2)), (1, 5, 7, 2)
    ),
    ContractRow("AvgPool2d(2)", lambda: AvgPool2d(2), (2, 4, 6, 3)),
    ContractRow("AvgPool2d(3, stride=2)", lambda: AvgPool2d(3, stride=2), (2, 7, 6, 2)),
    ContractRow("GlobalAvgPool2d()", GlobalAvgPool2d, (2, 3, 4, 5)),
]
