"""`reprocheck fingerprint` (placeholder until its issue lands)."""

from __future__ import annotations

import click

from reprocheck.errors import InputError


@click.command(name="fingerprint")
def fingerprint() -> None:
    """Not available yet in this version."""
    raise InputError("'fingerprint' is not available yet in this version of reprocheck")
