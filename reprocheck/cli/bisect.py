"""`reprocheck bisect`: which package change between two lockfiles moves the numbers."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

from reprocheck.cli._options import emit, format_choice, output_option, printable
from reprocheck.cli.compare import load_cli_policy, policy_option
from reprocheck.errors import EnvironmentFailure, InputError

__all__ = ["bisect"]


@click.command(name="bisect")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.argument("scenarios", nargs=-1, metavar="[SCENARIO]...")
@click.option(
    "--command",
    "command",
    default=None,
    metavar="CMD",
    help="Your own training command (e.g. 'python train.py'), run in each environment "
    "instead of the scenarios; it records its run with reprocheck.record() ($REPROCHECK_OUT).",
)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Steps per scenario.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed.")
@click.option(
    "--find-links",
    "find_links",
    multiple=True,
    metavar="DIR",
    help="Also install packages from DIR (repeatable); pip's own settings are always used.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".reprocheck") / "bisect",
    show_default=True,
    help="Where environments are kept, by a hash of their pins, for the next bisection.",
)
@format_choice(("text", "json", "markdown"), "Report format (markdown: a CI step summary).")
@output_option()
@policy_option()
def bisect(  # noqa: PLR0917 - click passes every option as an argument
    old: Path,
    new: Path,
    scenarios: tuple[str, ...],
    command: str | None,
    steps: int | None,
    seed: int,
    find_links: tuple[str, ...],
    cache_dir: Path,
    fmt: str,
    output: Path | None,
    policy_file: Path | None,
) -> None:
    """Find the package change between lockfiles OLD and NEW that moves the numbers.

    OLD and NEW are hashed pip-tools lockfiles (`reprocheck lock`). The changed, added
    and removed packages are grouped (a package with the pins only it needs, e.g. torch
    with its nvidia-* and triton pins); environments of OLD with some groups taken from
    NEW are built with uv (cached under --cache-dir by their pins), the scenarios (or
    --command) replayed in each and compared with OLD, in a binary search; the culprit is
    then confirmed: OLD with it alone drifts, NEW without it does not. With
    $GITHUB_STEP_SUMMARY set, the markdown report is appended to it.

    Exit 0 no drift, 1 culprit (or interaction) found, 2 bad input, 3 an environment
    could not be built or replayed (named, with what was learned so far reported).
    """
    from reprocheck.pinned.bisect_envs import Replay
    from reprocheck.pinned.bisect_search import BisectSettings
    from reprocheck.pinned.bisect_search import bisect as run_bisect
    from reprocheck.report.bisect_report import render_bisect

    own = tuple(shlex.split(command)) if command is not None else ()
    if command is not None and (not own or scenarios or steps is not None):
        raise InputError(
            "--command takes no SCENARIO or --steps, and must name a program",
            hint="Give either scenarios or --command 'python train.py', not both.",
            field="command",
        )
    run_args = ("--seed", str(seed)) + (("--steps", str(steps)) if steps else ())
    settings = BisectSettings(
        replay=Replay(scenarios=scenarios, run_args=run_args, command=own, cwd=Path.cwd()),
        cache_dir=cache_dir,
        find_links=find_links,
        policy=load_cli_policy(policy_file),
    )
    result = run_bisect(old, new, settings)
    emit(render_bisect(result, fmt), output)
    _append_step_summary(render_bisect(result, "markdown"))
    if output is not None and fmt != "text":
        click.echo(result.summary, err=True)
    if result.failure:
        raise EnvironmentFailure(
            result.failure, hint="What was learned before it is in the report above."
        )
    click.get_current_context().exit(result.exit_code)


def _append_step_summary(markdown: str) -> None:
    """Append the markdown report to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions sets it."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    from reprocheck._log import log

    try:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(printable(markdown) + "\n")
    except OSError as exc:
        log(f"cannot append to GITHUB_STEP_SUMMARY {target}: {exc.strerror or exc}", kind="warning")
