"""reprocheck.model.bisect and its reports: verdicts, exit codes, the JSON contract."""

from __future__ import annotations

import json

import pytest

from reprocheck.errors import ExitCode
from reprocheck.model.bisect import BisectResult, Change, Culprit, Drift, Group, Trial
from reprocheck.report.bisect_report import render_bisect

TORCH = Group(
    "torch",
    (
        Change("torch", "2.6.0", "2.13.0"),
        Change("triton", "3.2.0", None),
        Change("setuptools", None, "80"),
        *(Change(f"nvidia-{i}", "12", None) for i in range(4)),
    ),
)
NUMPY = Group("numpy", (Change("numpy", "1.26.4", "2.4.6"),))
DRIFT = Drift(
    "cnn",
    "drift: ...",
    {"step": 0, "phase": "backward", "location": "cnn.5", "kind": "rounding", "detail": "1e-09"},
)


def result(verdict: str, culprits: tuple[Culprit, ...] = (), failure: str | None = None):
    trials = (
        Trial("OLD", (), (), "baseline", 40.0),
        Trial("NEW", ("numpy", "torch"), (*TORCH.changes, *NUMPY.changes), "drift", 50.0),
        Trial("OLD + torch", ("torch",), TORCH.changes, "drift", 30.0, drift=DRIFT),
    )
    return BisectResult(
        verdict,  # type: ignore[arg-type]
        "old.txt",
        "new.txt",
        (TORCH, NUMPY),
        culprits,
        trials,
        "summary line",
        failure,
    )


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        ("no_drift", ExitCode.OK),
        ("culprit", ExitCode.DRIFT),
        ("interaction", ExitCode.DRIFT),
        ("incomplete", ExitCode.ENVIRONMENT),
    ],
)
def test_exit_codes(verdict: str, code: ExitCode) -> None:
    assert result(verdict).exit_code == code


def test_json_has_the_contract_keys() -> None:
    found = result("culprit", (Culprit((TORCH,), DRIFT, confirmed=True),))
    data = json.loads(render_bisect(found, "json"))
    assert data["verdict"] == "culprit"
    culprit = data["culprits"][0]
    assert culprit["packages"][0] == {"name": "torch", "baseline": "2.6.0", "candidate": "2.13.0"}
    assert {"name": "setuptools", "baseline": None, "candidate": "80"} in culprit["packages"]
    assert culprit["first_divergence"]["location"] == "cnn.5"
    assert [e["label"] for e in data["environments"]] == ["OLD", "NEW", "OLD + torch"]
    assert data["exit_code"] == 1


def test_text_and_markdown_name_the_culprit_and_every_environment() -> None:
    found = result("culprit", (Culprit((TORCH,), DRIFT, confirmed=True),))
    text = render_bisect(found, "text")
    assert "culprit found" in text
    assert "torch 2.6.0 -> 2.13.0" in text
    assert "and 3 more pins only it needs" in text
    assert "step 0 (backward) at cnn.5; kind: rounding; evidence: 1e-09" in text
    assert "environments tried (3):" in text
    markdown = render_bisect(found, "markdown")
    assert "| OLD + torch |" in markdown
    assert "**torch**" in markdown


def test_incomplete_reports_the_failure() -> None:
    text = render_bisect(result("incomplete", failure="cannot build environment NEW"), "text")
    assert "environment failure: cannot build environment NEW" in text
