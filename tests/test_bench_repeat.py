"""benchmarks/repeat.py: reading bench.py's median table and summarising ratios over runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "repeat.py"
_spec = importlib.util.spec_from_file_location("bench_repeat", _PATH)
assert _spec is not None and _spec.loader is not None
repeat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(repeat)

OUTPUT = """machine: some CPU, 2 cores usable
median time per step (ms):

| workload | fnnet ms | fnnet@base ms | new/base | PyTorch ms | JAX ms | fnnet/PyTorch | fnnet/JAX | GEMM floor ms | floor/fnnet |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| tiny | 0.256 | 0.299 | 0.85 | 0.960 | 0.110 | 0.27 | 2.33 | 0.027 | 0.11 |
| resnet | 28.0 | - | - | 17.5 | 19.1 | 1.60 | 1.47 | - | - |

| workload | compared with | its ms | fnnet ms | fnnet/it |
| --- | --- | --- | --- | --- |
| residual | fnnet: block + add | 5.08 | 5.19 | 1.02 |

minimum (steadier on a loaded machine):

| workload | fnnet ms | fnnet@base ms | new/base | PyTorch ms | JAX ms | fnnet/PyTorch | fnnet/JAX | GEMM floor ms | floor/fnnet |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| tiny | 0.2 | 0.2 | 9.99 | 0.7 | 0.08 | 9.99 | 9.99 | 0.02 | 9.99 |
"""


def test_median_table_reads_the_ratios_of_the_median_table_only():
    table = repeat.median_table(OUTPUT)
    assert table == {
        "tiny": {"new/base": 0.85, "fnnet/PyTorch": 0.27, "fnnet/JAX": 2.33, "floor/fnnet": 0.11},
        "resnet": {"fnnet/PyTorch": 1.60, "fnnet/JAX": 1.47},
    }


def test_median_table_without_a_table_is_an_error():
    with pytest.raises(ValueError, match="no 'median time per step' table"):
        repeat.median_table("machine: x\nquick smoke run\n")


def test_summarise_gives_median_and_range_per_workload_and_ratio():
    runs = [
        {"tiny": {"new/base": 1.12}, "resnet": {"fnnet/PyTorch": 1.6}},
        {"tiny": {"new/base": 0.86}},
        {"tiny": {"new/base": 0.85}, "resnet": {"fnnet/PyTorch": 1.4}},
    ]
    lines = repeat.summarise(runs).splitlines()
    assert lines[0] == "| workload | new/base | fnnet/PyTorch |"
    assert lines[2] == "| tiny | 0.86 [0.85-1.12] | - |"
    assert lines[3] == "| resnet | - | 1.50 [1.40-1.60] |"
