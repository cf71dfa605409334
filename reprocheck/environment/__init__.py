"""Environment fingerprint (placeholder until the fingerprint lands)."""

from __future__ import annotations

from typing import Any

__all__ = ["Fingerprint", "fingerprint"]


class Fingerprint:
    """Placeholder."""


def fingerprint(**_: Any) -> Fingerprint:
    """Placeholder."""
    raise NotImplementedError
