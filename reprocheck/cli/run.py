"""`reprocheck run` (placeholder until its issue lands)."""

from __future__ import annotations

import click

from reprocheck.errors import InputError


@click.command(name="run")
def run() -> None:
    """Not available yet in this version."""
    raise InputError("'run' is not available yet in this version of reprocheck")
