"""Options shared by every command, kept on the click context."""

from __future__ import annotations

import dataclasses

__all__ = ["State"]


@dataclasses.dataclass(frozen=True, slots=True)
class State:
    """Global flags given before the subcommand."""

    verbose: bool = False
    quiet: bool = False
