"""`reprocheck report`: one self-contained HTML page for a reviewer to look at."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from reprocheck.cli._locations import RUN_LOCATION, Location, local_run
from reprocheck.cli.compare import load_cli_policy, policy_option

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
    from reprocheck.report import require_matplotlib, write_report

    require_matplotlib()
    policy = load_cli_policy(policy_file)
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(local_run(baseline))
        cands: list[Location] = [stack.enter_context(local_run(c)) for c in candidates]
        result = write_report(base, cands, output, policy=policy)
    for c in result.candidates:
        click.echo(f"{c.label}: {c.result.summary}", err=True)
    click.echo(f"report written to {output}", err=True)
    click.get_current_context().exit(result.exit_code)
