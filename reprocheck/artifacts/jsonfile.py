"""The JSON conventions of every artifact: one writer, one hardened reader, one schema check.

Every JSON file reprocheck writes is :func:`dumps`'s canonical form (sorted keys, two-space
indent, no NaN tokens); every one it reads goes through :func:`load_json`, which turns any
failure (missing, a symlink, too large, not UTF-8, not JSON, lone surrogates) into a
one-line :class:`~reprocheck.errors.ArtifactError`; :func:`check_schema` holds the one
schema-version policy: a file's ``kind`` must match and its ``schema_version`` must be
:data:`~reprocheck.model.formats.SCHEMA_VERSION`.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reprocheck._schema import SURROGATE_ESCAPE, find_lone_surrogate
from reprocheck._version import __version__
from reprocheck.errors import ArtifactError, SchemaVersionError
from reprocheck.model.formats import SCHEMA_VERSION

__all__ = ["check_schema", "dumps", "gc_paused", "load_json"]

_MAX_JSON_BYTES = 512 * 1024 * 1024


def dumps(data: Any) -> str:
    """Canonical JSON: sorted keys, two-space indent, no NaN tokens, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while an artifact's records are built.

    A large model's records hold hundreds of thousands of small objects (a 67M GPT's
    trace: 8,500 calls with their shapes and arguments), none of them in a cycle; the
    collections their allocation triggers, each walking every object the process holds
    (torch's included), took 0.15-0.2 s of 0.4 s loading two such runs here. Reference
    counting still frees everything; the collector resumes (if it was on) afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_json(path: Path, what: str) -> Any:
    """Read a JSON file, turning every failure into a one-line ArtifactError."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise ArtifactError(f"{what} {path} does not exist")
    if path.is_symlink():
        raise ArtifactError(f"{what} {path} is a symbolic link; an artifact holds plain files only")
    if not path.is_file():
        raise ArtifactError(f"{what} {path} is not a file")
    try:
        size = path.stat().st_size
        if size > _MAX_JSON_BYTES:
            raise ArtifactError(f"{what} {path} is {size} bytes, too large to be ours")
        raw = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise ArtifactError(f"{what} {path} is empty")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ArtifactError(f"{what} {path} is not UTF-8 text (corrupt?)") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise ArtifactError(f"{what} {path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ArtifactError(f"{what} {path} nests too deeply to be ours") from None
    # Only a surrogate escape (backslash-u D800 to DFFF) decodes into text that is not
    # valid Unicode; look for one only when the raw bytes could spell it.
    if SURROGATE_ESCAPE.search(raw):
        bad = find_lone_surrogate(data)
        if bad is not None:
            raise ArtifactError(f"{what} {path} holds text that is not valid Unicode: {bad}")
    return data


def _reject_constant(token: str) -> Any:
    raise ValueError(f"non-standard JSON constant {token}")


def check_schema(data: Any, kind: str, path: Path, what: str) -> None:
    """Check ``kind`` and ``schema_version`` of a top-level object."""
    if not isinstance(data, dict):
        raise ArtifactError(f"{what} {path}: expected a JSON object at the top")
    found_kind = data.get("kind")
    if found_kind != kind:
        raise ArtifactError(f"{what} {path}: kind is {found_kind!r}, expected {kind!r}")
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ArtifactError(f"{what} {path}: schema_version is missing or not an integer")
    if version != SCHEMA_VERSION:
        newer = "newer" if version > SCHEMA_VERSION else "older"
        raise SchemaVersionError(
            f"{what} {path} has schema_version {version} ({newer}); this reprocheck "
            f"{__version__} reads schema_version {SCHEMA_VERSION}"
        )
