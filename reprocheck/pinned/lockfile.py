"""Reading lockfiles: the ``name==version`` lines, ``--hash`` continuations and markers.

A lockfile is what ``pip-compile --generate-hashes`` writes. The reader is strict: a file
cut off mid-entry, with control bytes, malformed hashes, or hashes for only some pins is
an input error (exit 2) naming the file and line, never a crash.

Only the standard library is used here, so the nox helper can read lockfiles on a host
where reprocheck's own dependencies (torch) are not installed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reprocheck.errors import ArtifactError

__all__ = [
    "LockedPackage",
    "Lockfile",
    "canonical_name",
    "lockfile_sha256",
    "read_lockfile",
    "requirement_name",
]

_NAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_PINNED = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*"
    r"===?\s*(?P<version>[^\s;]+)\s*(?:;\s*(?P<marker>.+))?$"
)
_COMMENT = re.compile(r"(^|\s+)#.*$")
_HASH = re.compile(r"(?:^|\s)--hash(?:=|\s+)(\S*)")
_OPTION = re.compile(r"\s(--?[A-Za-z][\w-]*)")
# pip's --hash values: a hashlib algorithm pip accepts, a colon, hex digits.
_HASH_VALUE = re.compile(r"^(?:md5|sha1|sha224|sha256|sha384|sha512):[0-9a-fA-F]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def requirement_name(requirement: str) -> str | None:
    """The canonical project name a requirement specifier starts with, if any."""
    match = _NAME.match(requirement.strip())
    return canonical_name(match[1]) if match else None


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name (``Typing_Extensions`` -> ``typing-extensions``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclasses.dataclass(frozen=True, slots=True)
class LockedPackage:
    """One pinned line of a lockfile."""

    name: str
    version: str
    hashes: tuple[str, ...] = ()
    marker: str | None = None
    line: int = 0

    @property
    def key(self) -> str:
        """The canonical project name, for comparisons."""
        return canonical_name(self.name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "version": self.version,
            "hashes": list(self.hashes),
            "marker": self.marker,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Lockfile:
    """A parsed lockfile: its path, content hash and pinned packages."""

    path: Path
    sha256: str
    packages: tuple[LockedPackage, ...]

    def get(self, name: str) -> LockedPackage | None:
        """The pin for project ``name``, if any."""
        key = canonical_name(name)
        return next((p for p in self.packages if p.key == key), None)


def lockfile_sha256(path: Path) -> str:
    """sha256 of a lockfile's bytes (what the nox sessions keep to notice an edit)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise ArtifactError(
            f"cannot read lockfile {path}: {exc.strerror or exc}",
            hint="Create it with `reprocheck lock --env NAME --pin SPEC`.",
        ) from None


def read_lockfile(path: Path) -> Lockfile:
    """Parse a pip-compile lockfile: pinned lines, ``--hash`` continuations, comments, markers.

    Raises:
        ArtifactError: the file is missing, not text, or holds a line that is not a pin.
    """
    path = Path(path)
    hint = "Re-create it with `reprocheck lock`, or fix the line named."
    if path.exists() and not path.is_dir() and not path.is_file():  # a FIFO would block
        raise ArtifactError(f"lockfile {path} is not a regular file", hint=hint)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(
            f"cannot read lockfile {path}: {exc.strerror or exc}",
            hint="Create it with `reprocheck lock --env NAME --pin SPEC`.",
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ArtifactError(f"lockfile {path} is not UTF-8 text", hint=hint) from None
    _check_whole(text, path, hint)
    packages: list[LockedPackage] = []
    seen: set[str] = set()
    for number, line in _logical_lines(text):
        package = _parse_line(line, number, path, hint)
        if package is None:
            continue
        if package.key in seen:
            raise ArtifactError(f"{path}:{number}: {package.name} is pinned twice", hint=hint)
        seen.add(package.key)
        packages.append(package)
    if not packages:
        raise ArtifactError(f"lockfile {path} pins no packages", hint=hint)
    unhashed = [p for p in packages if not p.hashes]
    if unhashed and len(unhashed) < len(packages):
        raise ArtifactError(
            f"{path}:{unhashed[0].line}: {unhashed[0].name} has no --hash while other pins do "
            "(truncated or hand-edited?)",
            hint=hint,
        )
    return Lockfile(path=path, sha256=hashlib.sha256(raw).hexdigest(), packages=tuple(packages))


def _check_whole(text: str, path: Path, hint: str) -> None:
    """Refuse text no lockfile writer produces: control bytes, or a file cut off mid-entry."""
    control = _CONTROL.search(text)
    if control is not None:
        line = text.count("\n", 0, control.start()) + 1
        raise ArtifactError(
            f"{path}:{line}: control character {control[0]!r} (binary or corrupt?)", hint=hint
        )
    if not text.strip():
        return  # reported as "pins no packages"
    # pip-compile ends every line, the last included, with a newline; a continuation
    # backslash on the last line means the file was cut off before the entry's hashes.
    if not text.endswith("\n"):
        raise ArtifactError(f"lockfile {path} does not end with a newline (truncated?)", hint=hint)
    last = _COMMENT.sub("", text.rstrip().splitlines()[-1]).rstrip()
    if last.endswith("\\"):
        raise ArtifactError(f"lockfile {path} ends inside a continued line (truncated?)", hint=hint)


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Lines with comments removed and backslash continuations joined (pip's rules)."""
    pending: list[str] = []
    start = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", physical).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        if joined:
            yield start, joined
    if pending:
        joined = " ".join(part.strip() for part in pending).strip()
        if joined:
            yield start, joined


def _parse_line(line: str, number: int, path: Path, hint: str) -> LockedPackage | None:
    first = line.split(maxsplit=1)[0]
    if first.startswith("-") and not first.startswith("--hash"):
        if first.startswith(("-r", "-c", "--requirement", "--constraint")):
            raise ArtifactError(
                f"{path}:{number}: a lockfile cannot include other files ({line!r})", hint=hint
            )
        if first.startswith(("-e", "--editable")):
            raise ArtifactError(
                f"{path}:{number}: {line!r} is not pinned as name==version", hint=hint
            )
        return None  # a global option (--index-url, --find-links ...): not a pin
    hashes = _HASH.findall(line)
    requirement = _HASH.sub("", line).strip()
    option = _OPTION.search(" " + requirement)
    if option is not None:
        raise ArtifactError(
            f"{path}:{number}: option {option[1]!r} is not allowed on a pinned line", hint=hint
        )
    match = _PINNED.match(requirement)
    if match is None:
        raise ArtifactError(
            f"{path}:{number}: {requirement or line!r} is not pinned as name==version", hint=hint
        )
    for value in hashes:
        if not _HASH_VALUE.match(value):
            raise ArtifactError(f"{path}:{number}: malformed hash {value!r}", hint=hint)
    return LockedPackage(
        name=match["name"],
        version=match["version"],
        hashes=tuple(hashes),
        marker=match["marker"].strip() if match["marker"] else None,
        line=number,
    )


# --- verifying -------------------------------------------------------------------------
