"""`reprocheck check` (placeholder until its issue lands)."""

from __future__ import annotations

import click

from reprocheck.errors import InputError


@click.command(name="check")
def check() -> None:
    """Not available yet in this version."""
    raise InputError("'check' is not available yet in this version of reprocheck")
