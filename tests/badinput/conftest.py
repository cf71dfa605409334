"""The bad-input corpus's tally: passed cases are counted and printed after the run.

Each corpus test tags itself with ``request.node.user_properties`` (``("corpus", kind)``);
the counts appear in pytest's terminal summary as ``bad-input corpus: N cases ...``.
"""

from __future__ import annotations

from collections import Counter

import pytest

_PASSED: Counter[str] = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" or not report.passed:
        return
    for key, value in report.user_properties:
        if key == "corpus":
            _PASSED[str(value)] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _PASSED:
        return
    refused, findings, flips = _PASSED["error"], _PASSED["finding"], _PASSED["random-flip"]
    terminalreporter.write_line(
        f"bad-input corpus: {refused + findings} cases passed ({refused} refused with exit 2, "
        f"{findings} reported as findings), plus {flips} random bit flips"
    )
