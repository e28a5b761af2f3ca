"""The number of BLAS threads: part of what makes a run reproducible byte for byte.

A matrix product split over 2 threads adds its partial sums in another order than one
thread does, so the last bit of a float32 result, and after many steps the checkpoint,
depends on the thread count. A run therefore records ``threads`` in its config and runs
with exactly that many BLAS threads.

Two ways to set it:

- in a process that has not loaded NumPy yet (a new worker, a subprocess): the
  environment of :func:`blas_threads_env`, read by OpenBLAS, OpenMP and MKL at load time;
- in a running process: :func:`set_blas_threads`, a call into the OpenBLAS that NumPy
  has loaded (found in ``/proc/self/maps``); :func:`blas_threads` reads the count back.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["THREAD_VARIABLES", "blas_threads", "blas_threads_env", "set_blas_threads", "threads"]

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# symbol prefixes of OpenBLAS builds: plain, 64-bit integers, and NumPy's scipy-openblas
_PREFIXES = ("openblas_", "scipy_openblas_")
_SUFFIXES = ("", "64_")


def blas_threads_env(n: int) -> dict[str, str]:
    """The environment variables that give a fresh process ``n`` BLAS threads.

    Merge them into the environment of a worker before it imports NumPy:
    ``subprocess.run(..., env={**os.environ, **blas_threads_env(1)})``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"blas_threads_env: n must be an int >= 1, got {n!r}")
    return {name: str(n) for name in THREAD_VARIABLES}


def _openblas_functions() -> list[tuple[Any, Any]]:
    """``(set_num_threads, get_num_threads)`` of every OpenBLAS loaded in this process."""
    import numpy  # noqa: F401 - NumPy loads its BLAS on import

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    libraries = sorted(
        {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()}
    )
    found = []
    for path in libraries:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                setter = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    getter.restype = ctypes.c_int
                    found.append((setter, getter))
    return found


def blas_threads() -> int | None:
    """The thread count of NumPy's OpenBLAS, or ``None`` when no OpenBLAS is found."""
    functions = _openblas_functions()
    return int(functions[0][1]()) if functions else None


def set_blas_threads(n: int) -> bool:
    """Use ``n`` threads in every loaded OpenBLAS; ``True`` if one was found and took it."""
    blas_threads_env(n)  # the same check of n
    functions = _openblas_functions()
    for setter, _ in functions:
        setter(ctypes.c_int(n))
    return bool(functions) and all(int(getter()) == n for _, getter in functions)


@contextlib.contextmanager
def threads(n: int) -> Iterator[int | None]:
    """Run the block with ``n`` BLAS threads, then restore the previous count.

    Yields the count in effect (``None`` where no OpenBLAS can be controlled; then the
    environment of :func:`blas_threads_env` is the way).
    """
    before = blas_threads()
    set_blas_threads(n)
    try:
        yield blas_threads()
    finally:
        if before is not None:
            set_blas_threads(before)
