"""`reprocheck compare`: diff two runs (or two fingerprint files) and say what moved."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from reprocheck.cli._locations import RUN_LOCATION, Location, local_run, shown
from reprocheck.cli._options import emit, format_choice, output_option, printable

if TYPE_CHECKING:
    from reprocheck.comparison import ComparisonResult, Policy

__all__ = ["compare", "format_option", "load_cli_policy", "policy_option", "report"]

FORMATS = ("text", "json", "markdown", "junit")
F = TypeVar("F", bound=Callable[..., Any])


def format_option() -> Callable[[F], F]:
    """``--format text|json|markdown|junit``."""
    return format_choice(
        tuple(FORMATS),
        "Report format: a table for people, JSON for tools, markdown for a CI step "
        "summary, JUnit XML for CI test reports.",
    )


def policy_option() -> Callable[[F], F]:
    """``--policy FILE``: a TOML tolerance policy."""
    return click.option(
        "--policy",
        "policy_file",
        type=click.Path(path_type=Path),
        metavar="FILE",
        default=None,
        help="TOML tolerance policy (default: [tool.reprocheck] in ./pyproject.toml if "
        "present, else the 'default' preset).",
    )


def load_cli_policy(policy_file: Path | None) -> Policy:
    """The policy from ``--policy``, else ``[tool.reprocheck]`` in ./pyproject.toml."""
    from reprocheck.comparison.policy import load_policy

    return load_policy(policy_file, project_dir=Path.cwd())


def _use_colour(output: Path | None) -> bool:
    # Colour only for a person at a terminal: never in files, pipes or with NO_COLOR set.
    return output is None and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def _append_step_summary(result: ComparisonResult) -> None:
    """Append the markdown report to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions sets it."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    from reprocheck._log import log
    from reprocheck.report import render

    try:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(printable(render(result, "markdown")) + "\n")
    except OSError as exc:
        log(f"cannot append to GITHUB_STEP_SUMMARY {target}: {exc.strerror or exc}", kind="warning")


def report(result: ComparisonResult, fmt: str, output: Path | None) -> None:
    """Render ``result``, print or write it, append the CI step summary, set the exit code."""
    from reprocheck.report import render

    emit(render(result, fmt, color=_use_colour(output)), output)
    _append_step_summary(result)
    if output is not None and fmt != "text":
        # The report went to a file: still tell the person at the console what it says.
        click.echo(result.summary, err=True)
    click.get_current_context().exit(result.exit_code)


@click.command(name="compare")
@click.argument("baseline", **RUN_LOCATION)
@click.argument("candidate", **RUN_LOCATION)
@format_option()
@output_option()
@policy_option()
@click.option(
    "--pair",
    "pairs",
    multiple=True,
    metavar="A=B",
    help="Compare scenario A of the baseline with scenario B of the candidate (repeatable; "
    "only the paired scenarios are compared): a model v1 against v2, a changed copy.",
)
def compare(  # noqa: PLR0917 - click passes every option as an argument
    baseline: Location,
    candidate: Location,
    fmt: str,
    output: Path | None,
    policy_file: Path | None,
    pairs: tuple[str, ...],
) -> None:
    """Compare the CANDIDATE run with the BASELINE run and say what changed.

    BASELINE and CANDIDATE are run directories (`reprocheck run --out DIR`), or two
    fingerprint files (`reprocheck fingerprint -o FILE`) for an environment diff only;
    either may be a URL (s3://bucket/runs/a, with pip install "reprocheck[remote]").
    For each scenario: identical (bitwise), within tolerance, or drift; the kind of
    difference (rounding, random-stream, computation); the first step, phase, operator and
    module where the runs part; and the environment changes ranked by how likely each is
    to move numbers. With $GITHUB_STEP_SUMMARY set, the markdown report is appended to it.

    Exit 0 identical or within tolerance, 1 drift, 2 bad input.
    """
    from reprocheck.comparison import compare as compare_runs

    policy = load_cli_policy(policy_file)
    with local_run(baseline) as base, local_run(candidate) as cand:
        result = compare_runs(base, cand, policy=policy, pairs=pairs)
    # Name the runs as the user gave them, not as the temporary copies of remote ones.
    result = dataclasses.replace(result, baseline=shown(baseline), candidate=shown(candidate))
    report(result, fmt, output)
