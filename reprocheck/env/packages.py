"""Installed distributions (name and version, and the source URL where one is recorded)
and the lockfile in force."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from reprocheck.errors import InputError

__all__ = ["capture_lockfile", "capture_packages", "normalize_name", "strip_credentials"]

_SEPARATORS = re.compile(r"[-_.]+")


def normalize_name(name: str) -> str:
    """The PEP 503 normalized form of a distribution name (``Foo_Bar`` -> ``foo-bar``)."""
    return _SEPARATORS.sub("-", name).lower()


def strip_credentials(url: str) -> str:
    """``url`` without ``user:password@`` and without a query string (tokens hide there)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", parts.fragment))


def _source_url(dist: importlib.metadata.Distribution) -> str | None:
    # PEP 610: direct_url.json exists for installs from a URL, a VCS or a local path.
    try:
        raw = dist.read_text("direct_url.json")
    except OSError:
        return None
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str):
        return None
    return strip_credentials(url) or None


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str | None, str | None]:
    # Name and Version are in the header block at the top of METADATA. Reading just those
    # lines is ~10x faster than dist.metadata, which runs the e-mail parser over the whole
    # file (torch's long description included) for every attribute asked.
    try:
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    except OSError:
        text = None
    name = version = None
    for line in (text or "").splitlines():
        if not line.strip():
            break  # end of the header block
        key, sep, value = line.partition(":")
        if sep and key == "Name" and name is None:
            name = value.strip()
        elif sep and key == "Version" and version is None:
            version = value.strip()
        if name and version:
            return name, version
    try:  # unusual layouts: let importlib.metadata decide
        meta = dist.metadata
        return meta["Name"], meta["Version"]
    except (OSError, KeyError, ValueError):
        return None, None


def capture_packages() -> tuple[dict[str, str], dict[str, str]]:
    """Every installed distribution on ``sys.path``.

    Returns:
        ``({name: version}, {name: source url})``, both sorted by normalized name. Where a
        name is installed twice, the first on ``sys.path`` wins, as it does for imports.
    """
    versions: dict[str, str] = {}
    sources: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        raw_name, version = _name_and_version(dist)
        if not raw_name or not version:
            continue  # broken metadata: nothing reliable to report
        name = normalize_name(raw_name)
        if name in versions:
            continue
        versions[name] = str(version)
        url = _source_url(dist)
        if url:
            sources[name] = url
    return dict(sorted(versions.items())), dict(sorted(sources.items()))


def capture_lockfile(lockfile: Path | None, environ: Mapping[str, str]) -> dict[str, str] | None:
    """The lockfile in force: ``--lockfile``, else ``REPROCHECK_LOCKFILE``, else None.

    Raises:
        InputError: the named lockfile does not exist or cannot be read.
    """
    origin = "--lockfile"
    if lockfile is None:
        named = environ.get("REPROCHECK_LOCKFILE")
        if not named:
            return None
        lockfile, origin = Path(named), "REPROCHECK_LOCKFILE"
    path = Path(lockfile)
    if not path.is_file():
        state = "is not a file" if path.exists() else "does not exist"
        raise InputError(
            f"lockfile {path} (from {origin}) {state}",
            hint="Name an existing lockfile, e.g. one written by pip-compile.",
        )
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InputError(
            f"cannot read lockfile {path} (from {origin}): {exc.strerror or exc}",
            hint="Check the file's permissions.",
        ) from None
    return {"path": str(path.resolve()), "sha256": digest}
