"""Tests for fnnet.runtime: keep_freed_memory removes the page faults of reallocation."""

import resource
import sys

import numpy as np
import pytest

from fnnet import runtime

glibc_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="mallopt is a glibc (Linux) function"
)


def _faults_of(fn) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _allocate_and_free() -> None:
    # 24 MiB in 3 arrays, each touched (ones, not empty), then freed; a step in miniature
    arrays = [np.ones(2**21, np.float32) for _ in range(3)]
    del arrays


@glibc_linux
def test_keep_freed_memory_reuses_pages_instead_of_faulting():
    assert runtime.keep_freed_memory() is True
    assert runtime.keep_freed_memory() is True  # calling it again is harmless
    _allocate_and_free()  # the first time, fresh pages
    # 24 MiB is 6,144 pages of 4 KiB: kept memory is reused with (almost) no faults
    assert _faults_of(_allocate_and_free) < 200


def test_keep_freed_memory_is_a_no_op_elsewhere(monkeypatch):
    monkeypatch.setattr(runtime.sys, "platform", "darwin")
    assert runtime.keep_freed_memory() is False
