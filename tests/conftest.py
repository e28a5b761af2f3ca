"""Shared test configuration.

Reference tests (modules ``test_reference_*.py``) compare against PyTorch and skip where it
is not installed. In CI (environment variable ``CI`` set) a skipped reference test fails
the run, so the comparison can never silently disappear.
"""

from __future__ import annotations

import os

import pytest


def _is_reference(nodeid: str) -> bool:
    return "test_reference_" in nodeid


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _is_reference(item.nodeid):
            item.add_marker(pytest.mark.reference)


def _fail_skipped_reference(report: pytest.TestReport | pytest.CollectReport) -> None:
    if os.environ.get("CI") and report.skipped and _is_reference(report.nodeid):
        report.outcome = "failed"
        report.longrepr = (
            f"{report.nodeid}: reference test skipped in CI ({report.longrepr!r}); "
            "install the reference extra (torch==2.13.0)"
        )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _fail_skipped_reference(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _fail_skipped_reference(report)
