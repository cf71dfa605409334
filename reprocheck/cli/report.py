"""`reprocheck report`: one self-contained HTML page for a reviewer to look at."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reprocheck._io import check_writable
from reprocheck.cli._locations import RUN_LOCATION, Location, local_run, shown
from reprocheck.cli.compare import load_cli_policy, policy_option

if TYPE_CHECKING:
    from reprocheck.report import Report

__all__ = ["report"]


@click.command(name="report")
@click.argument("baseline", **RUN_LOCATION)
@click.argument("candidates", nargs=-1, required=True, metavar="CANDIDATE...", **RUN_LOCATION)
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Write the HTML report to FILE (e.g. report.html).",
)
@policy_option()
def report(
    baseline: Location, candidates: tuple[Location, ...], output: Path, policy_file: Path | None
) -> None:
    """Compare each CANDIDATE run with the BASELINE run and write an HTML report.

    One self-contained page (no script, nothing fetched when it is opened): the verdict,
    the environment changes ranked by how likely each is to move numbers, and per
    scenario the loss curves of both runs laid over each other, the largest difference
    per step on a log scale, and the first operator where the runs part. With several
    candidates, a scenario-by-environment table of verdicts comes first.

    Runs may be URLs (s3://bucket/runs/a, with pip install "reprocheck[remote]").

    Needs matplotlib: pip install "reprocheck[report]".

    Exit 0 identical or within tolerance, 1 drift in any candidate, 2 bad input.
    """
    from reprocheck._io import atomic_write_text
    from reprocheck.report import build_report, render_html, require_matplotlib

    require_matplotlib()
    check_writable(output)  # before any download or comparison
    policy = load_cli_policy(policy_file)
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(local_run(baseline))
        cands: list[Location] = [stack.enter_context(local_run(c)) for c in candidates]
        result = _as_given(build_report(base, cands, policy=policy), baseline, candidates)
    atomic_write_text(output, render_html(result))
    for c in result.candidates:
        click.echo(f"{c.label}: {c.result.summary}", err=True)
    click.echo(f"report written to {output}", err=True)
    click.get_current_context().exit(result.exit_code)


def _as_given(report: Report, baseline: Location, candidates: tuple[Location, ...]) -> Report:
    """The report naming every run as the user gave it (a URL, not its temporary copy)."""
    base = shown(baseline)
    named = tuple(
        dataclasses.replace(
            c,
            path=shown(given),
            result=dataclasses.replace(c.result, baseline=base, candidate=shown(given)),
        )
        for c, given in zip(report.candidates, candidates, strict=True)
    )
    return dataclasses.replace(report, baseline=base, candidates=named)
