"""Process settings that make a pure training loop fast (opt-in, process-wide).

fnnet never mutates an array it was given, so every training step allocates fresh
arrays of the sizes the previous step just freed. By default glibc's ``malloc`` serves
large blocks from fresh pages and returns freed memory at the top of its heap to the
system, so each new array pays page faults (the kernel maps and zeroes every 4 KiB page
on first touch): 1-2 us a page, several milliseconds a step for a small CNN.
:func:`keep_freed_memory` asks malloc to keep freed memory for reuse instead. It changes
the allocator of the whole process, for every library in it, so the library never
calls it by itself: a training script opts in (``benchmarks/bench.py`` does, for
every library it times).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

# mallopt parameters, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 2**20  # glibc's own upper limit for its adaptive threshold
TRIM_THRESHOLD = 2**31 - 1  # the largest value mallopt takes: never trim


def keep_freed_memory() -> bool:
    """Make glibc's ``malloc`` keep freed memory for reuse; ``True`` if it took effect.

    Blocks up to 32 MiB come from the heap instead of fresh ``mmap`` pages, and freed
    memory stays with the process (the same as ``MALLOC_MMAP_THRESHOLD_=33554432
    MALLOC_TRIM_THRESHOLD_=2147483647`` in the environment). The process then keeps the
    memory of its largest step until it exits. Returns ``False``, changing nothing,
    where the C library is not glibc (macOS, Windows, musl).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # no C library by that name, or no mallopt (musl)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success, 0 on error
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
