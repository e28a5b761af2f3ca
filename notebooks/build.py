"""Re-execute the teaching notebooks in place, so that their committed outputs are fresh.

Usage, from the repository root::

    python notebooks/build.py                          # every notebooks/*.ipynb
    python notebooks/build.py notebooks/01_linear_layer.ipynb

Each notebook runs top to bottom in a fresh kernel started by the Python that runs this
script, with the notebook's folder as working directory; a failing cell stops the build
with its traceback and leaves the file untouched. ``tests/test_notebooks.py`` runs the
same :func:`execute` without writing anything back.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
KERNEL_NAME = "python3"
CELL_TIMEOUT = 120  # seconds per cell


@contextlib.contextmanager
def this_python_kernel() -> Iterator[str]:
    """Make the kernel ``python3`` mean this interpreter (``sys.executable``) for a while.

    A temporary kernelspec is put first on ``JUPYTER_PATH``, so that a ``python3`` kernel
    registered elsewhere (another environment, the user's folder) cannot be picked up.
    """
    old = os.environ.get("JUPYTER_PATH")
    with tempfile.TemporaryDirectory(prefix="fnnet-kernel-") as tmp:
        spec_dir = Path(tmp, "kernels", KERNEL_NAME)
        spec_dir.mkdir(parents=True)
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3",
            "language": "python",
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        os.environ["JUPYTER_PATH"] = tmp + (os.pathsep + old if old else "")
        try:
            yield KERNEL_NAME
        finally:
            if old is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = old


def execute(path: Path, timeout: int = CELL_TIMEOUT) -> Any:
    """Run the notebook at ``path`` top to bottom and return it with its new outputs.

    Raises ``nbclient.exceptions.CellExecutionError`` (with the cell's traceback) when
    a cell fails.
    """
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    with this_python_kernel() as kernel_name:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name=kernel_name,
            record_timing=False,  # no timestamps: re-running gives small diffs
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    return nb


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        print(f"executing {path} ...", flush=True)
        nb = execute(path)
        nbformat.write(nb, path)
        print(f"  wrote {path} ({path.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
