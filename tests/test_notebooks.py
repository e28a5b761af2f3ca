"""The teaching notebooks run top to bottom without an error (their asserts included).

Each ``notebooks/*.ipynb`` is executed in a fresh kernel started by this interpreter, with
``notebooks/`` as working directory, by the same code that refreshes their committed
outputs (``notebooks/build.py``). Skipped where the notebook tooling (the ``test`` extra:
nbclient, nbformat, ipykernel, matplotlib) is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

pytestmark = pytest.mark.notebooks

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
MAX_BYTES = 300 * 1024


def _load_build():
    spec = importlib.util.spec_from_file_location("notebook_build", NOTEBOOK_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()


def _code(nb) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6, [p.name for p in NOTEBOOKS]


def test_kernel_is_this_python(tmp_path):
    probe = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys; print(sys.executable)")]
    )
    path = tmp_path / "probe.ipynb"
    nbformat.write(probe, path)
    out = build.execute(path).cells[0].outputs[0]["text"].strip()
    assert os.path.realpath(out) == os.path.realpath(sys.executable)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_executed_and_small(path):
    nb = nbformat.read(path, as_version=4)
    code = _code(nb)
    assert any("assert " in src for src in code), "a notebook asserts what it teaches"
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert all(c.execution_count is not None for c in cells), (
        "commit notebooks with outputs: run `python notebooks/build.py`"
    )
    assert not any(o.get("output_type") == "error" for c in cells for o in c.outputs)
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path):
    # raises nbclient's CellExecutionError, with the failing cell's traceback, on any error
    nb = build.execute(path)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not any(o.get("output_type") == "error" for o in outputs)
