"""Verify an environment against a lockfile: which pins are missing or at another version.

``reprocheck lock --verify`` runs this inside an environment built from a lockfile. Only the
standard library is needed (``packaging`` is used when present), so it also runs in a bare
replay environment.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reprocheck.pinned.lockfile import LockedPackage, canonical_name, read_lockfile

__all__ = ["VerifyResult", "installed_distributions", "verify_environment"]


@dataclasses.dataclass(frozen=True, slots=True)
class VerifyResult:
    """How the running environment differs from a lockfile.

    ``missing`` and ``different`` make the environment not match. ``extra`` (installed but
    not pinned, e.g. reprocheck itself or pytest) is reported as a note only: a replay
    environment always holds at least reprocheck besides its lockfile.
    """

    lockfile: Path
    missing: tuple[LockedPackage, ...]
    different: tuple[tuple[LockedPackage, str], ...]
    extra: tuple[tuple[str, str], ...]
    checked: int

    @property
    def matches(self) -> bool:
        """Every pinned package is installed at its pinned version."""
        return not self.missing and not self.different

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``reprocheck lock --verify --format json``)."""
        return {
            "lockfile": str(self.lockfile),
            "matches": self.matches,
            "checked": self.checked,
            "missing": [{"name": p.name, "locked": p.version} for p in self.missing],
            "different": [
                {"name": p.name, "locked": p.version, "installed": installed}
                for p, installed in self.different
            ],
            "extra": [{"name": n, "installed": v} for n, v in self.extra],
        }


def installed_distributions(paths: Sequence[str] | None = None) -> dict[str, tuple[str, str]]:
    """Installed distributions on ``paths`` (default ``sys.path``): key -> (name, version)."""
    from importlib import metadata

    found: dict[str, tuple[str, str]] = {}
    for dist in metadata.distributions(path=list(paths) if paths is not None else sys.path):
        name = dist.metadata["Name"]
        if not name:
            continue
        # The first one on the path wins, as it does for imports.
        found.setdefault(canonical_name(name), (name, dist.version))
    return found


def verify_environment(
    lockfile: Path, *, installed: Mapping[str, tuple[str, str]] | None = None
) -> VerifyResult:
    """Compare the running environment (or ``installed``) with ``lockfile``.

    Args:
        lockfile: the lockfile to check against.
        installed: canonical name -> (name, version); default: this interpreter's.

    Returns:
        The differences; ``.matches`` says whether the environment matches exactly.
    """
    lock = read_lockfile(lockfile)
    have = dict(installed) if installed is not None else installed_distributions()
    missing: list[LockedPackage] = []
    different: list[tuple[LockedPackage, str]] = []
    checked = 0
    for package in lock.packages:
        if package.marker is not None and not _marker_applies(package.marker):
            continue
        checked += 1
        entry = have.get(package.key)
        if entry is None:
            missing.append(package)
        elif not _same_version(entry[1], package.version):
            different.append((package, entry[1]))
    pinned = {p.key for p in lock.packages}
    extra = tuple(
        sorted((name, version) for key, (name, version) in have.items() if key not in pinned)
    )
    return VerifyResult(
        lockfile=Path(lockfile),
        missing=tuple(missing),
        different=tuple(different),
        extra=extra,
        checked=checked,
    )


def _same_version(installed: str, locked: str) -> bool:
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # a bare replay environment has no packaging: compare as text
        return installed.strip().lower() == locked.strip().lower()
    try:
        return Version(installed) == Version(locked)
    except InvalidVersion:
        return installed.strip().lower() == locked.strip().lower()


def _marker_applies(marker: str) -> bool:
    try:
        from packaging.markers import InvalidMarker, Marker
    except ImportError:  # without packaging, count the pin: a false "missing" beats silence
        return True
    try:
        return bool(Marker(marker).evaluate())
    except InvalidMarker:
        return True
