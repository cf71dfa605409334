"""`reprocheck determinism` (placeholder until its issue lands)."""

from __future__ import annotations

import click

from reprocheck.errors import InputError


@click.command(name="determinism")
def determinism() -> None:
    """Not available yet in this version."""
    raise InputError("'determinism' is not available yet in this version of reprocheck")
