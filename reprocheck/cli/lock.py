"""`reprocheck lock` (placeholder until its issue lands)."""

from __future__ import annotations

import click

from reprocheck.errors import InputError


@click.command(name="lock")
def lock() -> None:
    """Not available yet in this version."""
    raise InputError("'lock' is not available yet in this version of reprocheck")
