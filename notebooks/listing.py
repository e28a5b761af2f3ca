"""``show_source(obj)``: print the source of an fnnet function in a notebook, checkably.

The listing starts with a header line naming the file and the qualified name of the
function, e.g. ``# fnnet/layers/linear.py: Linear.<locals>.vjp.<locals>.pullback``.
``tests/test_notebooks.py`` reads the committed outputs of the notebooks, finds these
headers and compares each listing with the current source of the function it names
(found in the file by that name, without running the notebook): a listing can never
silently go stale.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def source_of(obj: Any) -> str:
    """The header line and the dedented source of ``obj`` (a function or a class)."""
    path = Path(inspect.getsourcefile(obj) or "").resolve()
    where = path.relative_to(ROOT).as_posix()
    return f"# {where}: {obj.__qualname__}\n" + textwrap.dedent(inspect.getsource(obj))


def show_source(obj: Any) -> None:
    """Print :func:`source_of` ``obj``: where it lives, then its source."""
    print(source_of(obj))
