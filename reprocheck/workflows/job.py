"""One run to write, as a value: which scenarios, where, how, and what the run records.

:func:`reprocheck.workflows.run.run_scenarios` makes a :class:`RunJob`; a distributed run
hands it to every rank as JSON (:mod:`reprocheck.workflows.launch`), and each rank reads
it back with :meth:`RunJob.from_dict`, which checks it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reprocheck._schema import req, req_dict, req_list, req_str
from reprocheck.replay.options import ReplayOptions

__all__ = ["RunJob"]


@dataclasses.dataclass(frozen=True)
class RunJob:
    """A run to replay and write.

    Attributes:
        names: the scenarios, as the user named them (resolved, no duplicates).
        out: the run directory.
        options: how every scenario is replayed.
        force: replace an existing run at ``out``.
        lockfile: the lockfile this environment was built from (recorded), or None.
        command: the command line recorded in the run.
    """

    names: tuple[str, ...]
    out: Path
    options: ReplayOptions
    force: bool = False
    lockfile: Path | None = None
    command: tuple[str, ...] = ()
    keep: str = "all"  # what the run keeps of its final tensors (artifacts.keep)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the options as :meth:`ReplayOptions.to_dict` writes them."""
        return {
            "names": list(self.names),
            "out": os.fspath(self.out),
            "options": self.options.to_dict(),
            "force": self.force,
            "lockfile": None if self.lockfile is None else os.fspath(self.lockfile),
            "command": list(self.command),
            "keep": self.keep,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "run job") -> RunJob:
        """Read back :meth:`to_dict`'s form.

        Raises:
            ArtifactError: a key is missing or has the wrong type.
            InputError: a bad replay option (naming its field).
        """
        lockfile = req(data, "lockfile", (str, type(None)), where)
        return cls(
            names=tuple(str(name) for name in req_list(data, "names", where)),
            out=Path(req_str(data, "out", where)),
            options=ReplayOptions.from_dict(req_dict(data, "options", where)),
            force=bool(req(data, "force", bool, where)),
            lockfile=None if lockfile is None else Path(lockfile),
            command=tuple(str(part) for part in req_list(data, "command", where)),
            keep=req_str(data, "keep", where) if "keep" in data else "all",
        )
