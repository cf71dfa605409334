"""Renderers: the JSON keys of docs/compare.md, valid JUnit XML, markdown, colour on request."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from compare_support import fingerprint, make_run, pair, write_fingerprint, write_run

from reprocheck.comparison import ComparisonResult, compare
from reprocheck.report import render


def _drift_loss(records: dict[str, Any], tensors: dict[str, Any]) -> None:
    records["cnn"]["steps"][1]["loss"] = 0.1


@pytest.fixture
def drift(tmp_path: Path) -> ComparisonResult:
    """mlp identical, cnn drifting from step 1, torch changed."""
    return compare(
        *pair(
            tmp_path,
            _drift_loss,
            names=("mlp", "cnn"),
            candidate_fp=fingerprint(torch__version="2.14.0"),
        )
    )


def test_json_has_the_documented_keys(drift: ComparisonResult) -> None:
    """verdict, scenarios[name, verdict, first_divergence{step, location}], environment."""
    data = json.loads(render(drift, "json"))
    assert data["verdict"] == "drift"
    assert data["schema_version"] == 1
    by_name = {s["name"]: s for s in data["scenarios"]}
    assert by_name["mlp"]["verdict"] == "identical"
    assert by_name["mlp"]["first_divergence"] is None
    assert by_name["cnn"]["first_divergence"]["step"] == 1
    assert by_name["cnn"]["first_divergence"]["location"] == "loss"
    assert data["environment"][0] == {
        "path": "torch.version",
        "baseline": "2.13.0",
        "candidate": "2.14.0",
        "category": "torch",
    }


def test_junit_has_one_testcase_per_scenario_and_a_failure_on_drift(
    drift: ComparisonResult,
) -> None:
    """The XML parses; cnn fails with its first divergence, mlp passes."""
    root = ET.fromstring(render(drift, "junit"))  # noqa: S314 - our own output
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"mlp", "cnn"}
    assert cases["mlp"].find("failure") is None
    failure = cases["cnn"].find("failure")
    assert failure is not None
    assert "step 1, forward, loss" in (failure.get("message") or "")
    assert root.find("testsuite").get("failures") == "1"  # type: ignore[union-attr]


def test_junit_for_fingerprints_has_an_environment_testcase(tmp_path: Path) -> None:
    """Two differing fingerprint files: one failing testcase named environment."""
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"

    write_fingerprint(a, fingerprint())
    write_fingerprint(b, fingerprint(torch__version="2.1.2"))
    root = ET.fromstring(render(compare(a, b), "junit"))  # noqa: S314 - our own output
    (case,) = root.iter("testcase")
    assert case.get("name") == "environment"
    assert case.find("failure") is not None


def test_markdown_has_a_row_per_scenario(drift: ComparisonResult) -> None:
    """The markdown table lists every scenario with its verdict."""
    text = render(drift, "markdown")
    assert "| mlp | ✅ identical |" in text
    assert "| cnn | ❌ drift |" in text
    assert "`torch.version`" in text


def test_markdown_escapes_pipes_in_values(tmp_path: Path) -> None:
    """A value containing a pipe does not break the table."""
    records, tensors = make_run()
    base = write_run(tmp_path / "a", records, tensors)
    cand = write_run(tmp_path / "b", records, tensors, fingerprint(env__X="a|b"))
    assert "a\\|b" in render(compare(base, cand), "markdown")


def test_text_shows_table_environment_and_verdict_line(drift: ComparisonResult) -> None:
    """The text report has the table header, the change, and ends with the verdict line."""
    text = render(drift, "text")
    assert "scenario" in text
    assert "first divergence" in text
    assert "torch.version" in text
    assert text.rstrip().splitlines()[-1] == drift.summary
    assert drift.summary.startswith("drift in cnn: torch 2.13.0 → 2.14.0")


def test_text_has_colour_only_when_asked(drift: ComparisonResult) -> None:
    """No ANSI escapes by default; escapes with color=True."""
    assert "\x1b[" not in render(drift, "text")
    assert "\x1b[" in render(drift, "text", color=True)


def test_unknown_format_is_rejected(drift: ComparisonResult) -> None:
    """render() refuses a format it does not know."""
    with pytest.raises(ValueError, match="unknown report format"):
        render(drift, "yaml")
