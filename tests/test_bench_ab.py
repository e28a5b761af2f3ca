"""benchmarks/ab.py: an older checkout loaded beside the current fnnet, in one process."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ab(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    for name in ("ab", "workloads", "lib_fnnet", "lib_floor", "common", "harness"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module("ab")


def test_renamed_copy_imports_only_its_own_package(ab, tmp_path):
    ab.renamed_copy(ROOT, tmp_path)
    sources = {p: p.read_text() for p in (tmp_path / "fnnet_base").rglob("*.py")}
    assert sources, "nothing copied"
    for path, text in sources.items():
        assert "from fnnet " not in text and "from fnnet." not in text, path
        for line in text.splitlines():
            assert line.strip() != "import fnnet", path
    assert "import fnnet_base as fnnet" in (tmp_path / "fnnet_base/cli/commands.py").read_text()


def test_ab_times_the_same_workload_from_both_packages(ab, tmp_path, capsys, monkeypatch):
    """The current checkout as its own baseline: both sides build and run; the table has
    one row per workload with a ratio near 1 (loose: a timing on a busy machine)."""
    ab.main(["--baseline", str(ROOT), "--workloads", "tiny", "--rounds", "4", "--sample-ms", "2"])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| tiny |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[1]) > 0 and float(cells[2]) > 0
    assert 0.2 < float(cells[3]) < 5.0
    # the current fnnet is back in place afterwards
    import fnnet

    assert Path(fnnet.__file__).resolve().parents[1] == ROOT
    assert "fnnet_base" not in fnnet.__name__
