"""The process's allocator: keep freed memory for reuse (glibc), for every library timed.

fnnet never mutates an array it was given, so every training step allocates fresh
arrays of the sizes the previous step just freed. By default glibc's ``malloc`` serves
large blocks from fresh pages and returns freed memory at the top of its heap to the
system, so each new array pays page faults (the kernel maps and zeroes every 4 KiB page
on first touch). :func:`keep_freed_memory` asks malloc to keep freed memory for reuse
instead. It changes the allocator of the whole process, for every library in it: the
benchmark calls it in its own process and in every worker (``--glibc-defaults`` does
not), so every library allocates from the same, tuned ``malloc``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameters, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 2**20  # glibc's own upper limit for its adaptive threshold
TRIM_THRESHOLD = 2**31 - 1  # the largest value mallopt takes: never trim


def keep_freed_memory() -> bool:
    """Make glibc's ``malloc`` keep freed memory for reuse; ``True`` if it took effect.

    Blocks up to 32 MiB come from the heap instead of fresh ``mmap`` pages, and freed
    memory stays with the process (the same as ``MALLOC_MMAP_THRESHOLD_=33554432
    MALLOC_TRIM_THRESHOLD_=2147483647`` in the environment). Returns ``False``, changing
    nothing, where the C library is not glibc (macOS, Windows, musl).
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


def configure(glibc_defaults: bool) -> str:
    """Apply the allocator setting (unless ``glibc_defaults``) and say which is in force."""
    if glibc_defaults:
        return "glibc defaults (--glibc-defaults)"
    if keep_freed_memory():
        return "freed memory kept for reuse, in every process and for every library"
    return "the C library's defaults (not glibc)"
