"""Thread pools: the same number of BLAS / OpenMP / XLA / PyTorch threads for every library.

:func:`pin_before_import` must run before NumPy (or JAX) is imported: without
``threadpoolctl`` the pools are sized through ``OMP_NUM_THREADS`` /
``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS``, read once at import; XLA runs
single-threaded for 1 thread (``XLA_FLAGS``) and otherwise sizes its pool to the cores it
may use. :func:`limit_after_import` then applies ``threadpoolctl`` (if installed) and
``torch.set_num_threads``. Worker processes inherit the environment and call both too.
"""

from __future__ import annotations

import os
import sys
from typing import Any

DEFAULT_THREADS = 2


def threads_from_argv(argv: list[str]) -> int:
    """Peek at ``--threads`` before NumPy is imported (env vars must be set first)."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return DEFAULT_THREADS


def threadpoolctl_module() -> Any:
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl


def pin_before_import(threads: int) -> None:
    """Set the environment that sizes the thread pools (call before importing NumPy)."""
    if "numpy" in sys.modules:
        raise RuntimeError("threads.pin_before_import: NumPy is already imported")
    if threads == 1 and "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
    if threadpoolctl_module() is None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)


def limit_after_import(threads: int) -> str:
    """Apply ``threadpoolctl`` and PyTorch's thread count; say how the pools were pinned."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    threadpoolctl = threadpoolctl_module()
    if threadpoolctl is None:
        return "environment variables"
    threadpoolctl.threadpool_limits(limits=threads)
    return "threadpoolctl"
