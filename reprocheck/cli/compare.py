"""`reprocheck compare` (placeholder until its issue lands)."""

from __future__ import annotations

import click

from reprocheck.errors import InputError


@click.command(name="compare")
def compare() -> None:
    """Not available yet in this version."""
    raise InputError("'compare' is not available yet in this version of reprocheck")
