"""`reprocheck check --baseline DIR`: replay what the baseline ran, here, and compare."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reprocheck.cli._locations import (
    RUN_LOCATION,
    Location,
    check_target,
    local_run,
    shown,
    staged_out,
)
from reprocheck.cli._options import (
    keep_option,
    output_option,
    progress_display,
    progress_enabled,
)
from reprocheck.cli._state import State
from reprocheck.cli.compare import format_option, load_cli_policy, policy_option, report

if TYPE_CHECKING:
    from reprocheck.model.records import ScenarioRecord

__all__ = ["check"]


@click.command(name="check")
@click.option(
    "--baseline",
    "baseline",
    **RUN_LOCATION,
    metavar="DIR",
    required=True,
    help="The baseline run directory (or URL, s3://...) to replay and compare against.",
)
@format_option()
@output_option()
@policy_option()
@click.option(
    "--out",
    "out",
    **RUN_LOCATION,
    metavar="DIR",
    default=None,
    help="Keep the new run in this directory or URL (default: a temporary directory, removed).",
)
@keep_option()
def check(  # noqa: PLR0917 - click passes every option as an argument
    baseline: Location,
    fmt: str,
    output: Path | None,
    policy_file: Path | None,
    out: Location | None,
    keep: str,
) -> None:
    """Replay what the --baseline run ran, in this environment, and compare.

    The same scenarios with the same seed, steps, device and traced steps as recorded in
    the baseline are replayed here, then compared as `reprocheck compare` does. The
    baseline and --out may be URLs (s3://bucket/runs/a, with pip install
    "reprocheck[remote]").

    Exit 0 identical or within tolerance, 1 drift, 2 bad input.
    """
    from reprocheck.workflows.check import check_against

    if out is not None:
        check_target(out)  # a bad --out fails before the slow replay
    policy = load_cli_policy(policy_file)  # a bad policy fails before the slow replay
    state = click.get_current_context().find_object(State) or State()
    # As for `run`: progress on one self-updating line at a terminal, none in pipes or CI.

    def said(record: ScenarioRecord) -> None:
        # One line per scenario as its replay finishes (stderr: stdout holds the report).
        if not state.quiet:
            click.echo(f"{record.name}: replayed here in {record.duration_s:.2f} s", err=True)

    with contextlib.ExitStack() as stack:
        base = stack.enter_context(local_run(baseline))
        local_out = None if out is None else stack.enter_context(staged_out(out))
        with progress_display(state, enabled=progress_enabled() and not state.quiet):
            result = check_against(base, policy=policy, out=local_out, on_scenario=said, keep=keep)
    # Remote runs named as given, not as their temporary copies.
    if isinstance(baseline, str):
        result = dataclasses.replace(result, baseline=shown(baseline))
    if isinstance(out, str):
        result = dataclasses.replace(result, candidate=shown(out))
    report(result, fmt, output)
