"""`reprocheck fingerprint`: capture this environment, print it as a table or as JSON."""

from __future__ import annotations

from pathlib import Path

import click

from reprocheck.cli._options import emit, format_choice, output_option
from reprocheck.cli._state import State


@click.command(name="fingerprint")
@format_choice(
    help_text="text: a readable table; json: the machine-readable record "
    "(see docs/fingerprint.md).",
)
@output_option()
@click.option(
    "--lockfile",
    type=click.Path(path_type=Path),
    default=None,
    metavar="FILE",
    help="The lockfile this environment was built from (recorded with its sha256). "
    "Default: $REPROCHECK_LOCKFILE.",
)
@click.pass_obj
def fingerprint(state: State | None, fmt: str, output: Path | None, lockfile: Path | None) -> None:
    """Capture the environment of this Python process: torch build, CPU dispatch level,
    threads, determinism and TF32 flags, CUDA, allow-listed variables, packages.

    Everything is read from inside the running interpreter, not from tools on PATH.
    Use the global -v to list every installed package in the text form.
    """
    # Imported here: the capture imports torch, and `--help` must not.
    from reprocheck.artifacts.jsonfile import dumps
    from reprocheck.env import fingerprint as capture
    from reprocheck.report.fingerprint import render_text

    fp = capture(lockfile)
    verbose = state.verbose if state is not None else False
    text = dumps(fp.to_dict()) if fmt == "json" else render_text(fp, all_packages=verbose)
    emit(text, output)
