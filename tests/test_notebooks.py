"""The teaching notebooks: they run, and what they quote from fnnet is still fnnet's code.

Two kinds of checks:

- Static, fast, in the normal suite (no kernel started): every source listing in a
  committed output (printed by ``notebooks/listing.py``'s ``show_source``, whose header
  names the file and the function) equals the current source of that function, found in
  the file by its qualified name; no notebook prints source any other way; and every code
  line a notebook's markdown quotes (an inline code span or a fenced line that reads as a
  statement, ``dLdW = dLdZ.T @ A`` or ``return grads, dLdA``) still occurs in fnnet's
  source or in the notebook's own code cells.
- Executing (marked ``notebooks``, deselect with ``-m "not notebooks"``): each
  ``notebooks/*.ipynb`` runs top to bottom in a fresh kernel started by this interpreter,
  with ``notebooks/`` as working directory, by the same code that refreshes their
  committed outputs (``notebooks/build.py``). Skipped where the notebook tooling (the
  ``test`` extra: nbclient, nbformat, ipykernel, matplotlib) is not installed.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
MAX_BYTES = 300 * 1024
HEADER = re.compile(r"^# (\S+\.py): (\S+)$", re.MULTILINE)
# a quoted statement: an assignment `x = ...` (spaces around a single =) or a return
STATEMENT = re.compile(r"^(return\s.+|[A-Za-z_][\w.\[\]\"', ]*\s=\s.+)$")


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _output_text(cell: dict[str, Any]) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text = out.get("text", "")
        else:
            text = out.get("data", {}).get("text/plain", "")
        parts.append("".join(text) if isinstance(text, list) else text)
    return "".join(parts)


DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _defined_in(scope: ast.AST) -> list[ast.AST]:
    """The functions and classes defined directly in ``scope``: in its body, or in the blocks
    (``if``, ``for``, ``with``, ``try``...) of its body, but not inside a nested definition."""
    found, todo = [], list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop(0)
        if isinstance(node, DEFS):
            found.append(node)
        elif isinstance(node, ast.stmt):
            todo += ast.iter_child_nodes(node)
    return found


def current_source(relative_path: str, qualname: str) -> str | None:
    """The dedented source of ``qualname`` in a file, found by name, scope by scope.

    ``f.<locals>.g`` is a ``g`` defined in the body of the function ``f`` (a closure, e.g.
    ``Linear.<locals>.vjp.<locals>.pullback``), ``C.m`` a method of the class ``C``; a
    name defined deeper down does not match. ``None`` when there is no such definition.
    """
    path = ROOT / relative_path
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    node: ast.AST = ast.parse(text)
    parts = qualname.split(".")
    for index, name in enumerate(parts):
        if name == "<locals>":
            if not isinstance(node, FUNCTIONS):
                return None
            continue
        if index > 0 and parts[index - 1] != "<locals>" and not isinstance(node, ast.ClassDef):
            return None
        match = next((n for n in _defined_in(node) if getattr(n, "name", None) == name), None)
        if match is None:
            return None
        node = match
    assert isinstance(node, DEFS)
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    lines = text.splitlines()[start - 1 : node.end_lineno]
    return textwrap.dedent("\n".join(lines))


def listings(nb: dict[str, Any]) -> list[tuple[int, str, str, str]]:
    """``(cell index, file, qualified name, committed listing)`` for every listing."""
    found = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or "show_source(" not in _source(cell):
            continue
        text = _output_text(cell)
        headers = list(HEADER.finditer(text))
        assert headers, f"cell {index} calls show_source but has no listing in its output"
        for h, nxt in zip(headers, [*headers[1:], None]):
            body = text[h.end() + 1 : nxt.start() if nxt else len(text)]
            found.append((index, h.group(1), h.group(2), body))
    return found


def quoted_statements(nb: dict[str, Any]) -> list[tuple[int, str]]:
    """``(cell index, line)`` for every statement quoted in a markdown cell."""
    quoted = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        md = _source(cell)
        # fenced Python (or unlabelled) blocks; a ```toml or ```bash block is not fnnet code
        fenced = re.findall(r"```(?:python|py)?\n(.*?)```", md, re.DOTALL)
        candidates = [line.strip() for block in fenced for line in block.splitlines()]
        candidates += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", md, flags=re.DOTALL))
        quoted += [(index, c) for c in candidates if STATEMENT.match(c) and "..." not in c]
    return quoted


def _normalise(line: str) -> str:
    return " ".join(line.split())


def _code_corpus(nb: dict[str, Any]) -> str:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "fnnet").rglob("*.py"))]
    texts += [_source(c) for c in nb["cells"] if c["cell_type"] == "code"]
    return "\n".join(_normalise(line) for text in texts for line in text.splitlines())


# ---------------------------------------------------------------------------------------
# static checks: the normal suite
# ---------------------------------------------------------------------------------------


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_listings_equal_the_current_source(path):
    nb = _load(path)
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert "getsource" not in _source(cell), (
                f"{path.name} cell {index}: print source with listing.show_source(obj), "
                "which tests/test_notebooks.py can check"
            )
    for index, where, qualname, committed in listings(nb):
        now = current_source(where, qualname)
        assert now is not None, f"{path.name} cell {index}: {where} has no {qualname} any more"
        assert committed.strip() == now.strip(), (
            f"{path.name} cell {index}: the listing of {qualname} ({where}) is stale: "
            f"rebuild with `python notebooks/build.py {path.relative_to(ROOT)}`"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_lines_quoted_in_markdown_are_in_the_code(path):
    nb = _load(path)
    corpus = _code_corpus(nb)
    missing = [(i, q) for i, q in quoted_statements(nb) if _normalise(q) not in corpus]
    assert not missing, f"{path.name}: quoted lines no longer in the code: {missing}"


def test_the_static_checks_can_fail(tmp_path):
    """A stale listing and a quote of a line that does not exist are both found."""
    fake = {
        "cells": [
            {
                "cell_type": "code",
                "source": "show_source(layers.Tanh)",
                "outputs": [
                    {
                        "output_type": "stream",
                        "text": "# fnnet/layers/activations.py: Tanh\ndef Tanh():\n    pass\n",
                    }
                ],
            },
            {"cell_type": "markdown", "source": "We compute `dLdW = dLdZ.T @ A @ A`."},
            {"cell_type": "markdown", "source": "The line `return dLdA * (1 - A * A)` is real."},
        ]
    }
    ((_, where, qualname, committed),) = listings(fake)
    assert (where, qualname) == ("fnnet/layers/activations.py", "Tanh")
    now = current_source(where, qualname)
    assert now is not None and now.startswith("def Tanh() -> Layer:")
    assert committed.strip() != now.strip()
    corpus = _code_corpus(fake)
    quoted = [q for _, q in quoted_statements(fake)]
    assert quoted == ["dLdW = dLdZ.T @ A @ A", "return dLdA * (1 - A * A)"]
    assert [q in corpus for q in quoted] == [False, True]


def test_current_source_follows_the_qualified_name_scope_by_scope():
    """Nested functions and methods are found where their qualified name says, nowhere else."""
    conv, recurrent = "fnnet/layers/conv.py", "fnnet/layers/recurrent.py"
    pullback = current_source(conv, "Conv2d.<locals>.vjp.<locals>.pullback")
    assert pullback is not None and pullback.startswith("def pullback(dLdZ: Array")
    assert "dLdW_mat = P.T @ dLdZ_mat" in pullback
    forward = current_source(conv, "Conv2d.<locals>.forward")
    assert forward is not None and forward.startswith("def forward(params: Params, X: Array)")
    method = current_source(recurrent, "_CellInit.split_shapes")
    assert method is not None and method.startswith("def split_shapes(")
    assert current_source(conv, "Conv2d.<locals>.pullback") is None  # defined in vjp, not Conv2d
    assert current_source(conv, "Conv2d.vjp") is None  # Conv2d is a function, not a class
    assert current_source(recurrent, "_CellInit.<locals>.split_shapes") is None
    assert current_source(conv, "Conv2d.<locals>.no_such_function") is None
    assert current_source("fnnet/layers/no_such_file.py", "Conv2d") is None


def test_show_source_prints_what_the_test_compares():
    spec = importlib.util.spec_from_file_location("listing", NOTEBOOK_DIR / "listing.py")
    assert spec is not None and spec.loader is not None
    listing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(listing)
    from fnnet import layers, random

    _, params, state = layers.Linear(2, 3).init(random.key(0), (-1, 2))
    _, _, pullback = layers.Linear(2, 3).vjp(params, state, [[1.0, 2.0]])
    text = listing.source_of(pullback)
    fake = {
        "cells": [
            {
                "cell_type": "code",
                "source": "show_source(pb)",
                "outputs": [{"output_type": "stream", "text": text + "\n"}],
            }
        ]
    }
    ((_, where, qualname, committed),) = listings(fake)
    assert where == "fnnet/layers/linear.py"
    assert qualname == "Linear.<locals>.vjp.<locals>.pullback"
    assert committed.strip() == current_source(where, qualname).strip()
    assert "dLdW = dLdZ.T @ A" in committed


# ---------------------------------------------------------------------------------------
# executing the notebooks: marked `notebooks`
# ---------------------------------------------------------------------------------------


def _load_build():
    for module in ("nbformat", "nbclient", "ipykernel", "matplotlib"):
        pytest.importorskip(module)
    spec = importlib.util.spec_from_file_location("notebook_build", NOTEBOOK_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.notebooks
def test_kernel_is_this_python(tmp_path):
    build = _load_build()
    nbformat = build.nbformat
    probe = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys; print(sys.executable)")]
    )
    path = tmp_path / "probe.ipynb"
    nbformat.write(probe, path)
    out = build.execute(path).cells[0].outputs[0]["text"].strip()
    assert os.path.realpath(out) == os.path.realpath(sys.executable)


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_executed_and_small(path):
    nb = _load(path)
    code = [_source(c) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("assert " in src for src in code), "a notebook asserts what it teaches"
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and _source(c).strip()]
    assert all(c.get("execution_count") is not None for c in cells), (
        "commit notebooks with outputs: run `python notebooks/build.py`"
    )
    assert not any(o.get("output_type") == "error" for c in cells for o in c["outputs"])
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path):
    build = _load_build()
    # raises nbclient's CellExecutionError, with the failing cell's traceback, on any error
    nb = build.execute(path)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not any(o.get("output_type") == "error" for o in outputs)
    # a listing's fresh output equals its committed one
    fresh = [
        (w, q, body.strip()) for _, w, q, body in listings(json.loads(build.nbformat.writes(nb)))
    ]
    committed = [(w, q, body.strip()) for _, w, q, body in listings(_load(path))]
    assert fresh == committed, f"{path.name}: rebuild with `python notebooks/build.py {path.name}`"
