"""Runs in object storage (``s3://``, ``gs://``, ...): fetch one here, publish one there.

Everything about a run stays local: a remote run is downloaded into a local directory and
read by :func:`reprocheck.artifacts.runs.load_run`; a run for a remote ``--out`` is written
by :class:`~reprocheck.artifacts.run_writer.RunWriter` into a local directory and then
uploaded, every file first and the manifest (``run.json``) last. A run is complete when its
manifest is there, in a bucket as on disk, so an upload cut short (SIGKILL, a lost
connection) leaves objects that read as an incomplete run, never as a complete one.

fsspec does the talking (an optional extra: ``pip install "reprocheck[remote]"``); the core
imports without it. Credentials come from where the storage library looks for them (for S3:
the ``AWS_*`` variables, ``~/.aws``, an instance role); reprocheck never prints one: URLs
are shown without any ``user:password@`` part, and the storage library's error messages
are shown with the values of credential variables blanked out.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from reprocheck.errors import ArtifactError, InputError
from reprocheck.model.formats import MANIFEST

__all__ = [
    "REMOTE_HINT",
    "check_remote_target",
    "fetch",
    "fetch_tree",
    "is_url",
    "publish_run",
    "redact",
    "remote_listing",
]

#: How to get what a URL needs.
REMOTE_HINT = 'Install the extra for object storage: pip install "reprocheck[remote]".'
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
# Variables whose values are secrets: never shown, blanked out of any message shown.
_SECRET_VARS = re.compile(r"(SECRET|TOKEN|PASSWORD|CREDENTIAL|ACCESS_KEY|_KEY$)", re.IGNORECASE)
# The relative path of a file in a run: plain names only (the run reader checks the rest).
_PLAIN_PART = re.compile(r"^[A-Za-z0-9._-]+$")
_CREDENTIAL_HINT = (
    "Check the storage credentials (for S3: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "AWS_PROFILE or ~/.aws; AWS_ENDPOINT_URL for an S3-compatible server)."
)
T = TypeVar("T")


def is_url(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a URL (``s3://...``) rather than a local path."""
    return isinstance(location, str) and _URL.match(location) is not None


def redact(url: str) -> str:
    """``url`` without a ``user:password@`` part, fit to print."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1", url)


def _scrub(text: str) -> str:
    """``text`` with the value of every credential-like environment variable blanked out."""
    for name, value in os.environ.items():
        if value and len(value) >= 4 and _SECRET_VARS.search(name):
            text = text.replace(value, "***")
    return text


def _filesystem(url: str, *, whole_bucket: bool = False) -> tuple[Any, str]:
    """The fsspec filesystem for ``url`` and the path inside it (no trailing slash)."""
    try:
        import fsspec.core
    except ImportError:
        raise InputError(
            f"{redact(url)} is a URL, and reading or writing URLs needs fsspec",
            hint=REMOTE_HINT,
        ) from None
    if redact(url) != url:
        # Never used, never shown: a secret in a URL ends up in logs and shell history.
        raise InputError(
            f"{redact(url)}: credentials in the URL are not accepted",
            hint="Remove the user:password@ part; give credentials as the storage expects "
            "them (for S3: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws).",
        )
    try:
        # A fresh instance: a cached one would list what an earlier call saw.
        fs, path = fsspec.core.url_to_fs(url, skip_instance_cache=True)
    except ImportError as exc:
        raise InputError(
            f"cannot open {redact(url)}: {_scrub(str(exc))}", hint=REMOTE_HINT
        ) from None
    except ValueError as exc:
        raise InputError(
            f"cannot open {redact(url)}: {_scrub(str(exc))}",
            hint="Give a URL of a known storage, e.g. s3://bucket/runs/a, or a local path.",
        ) from None
    path = str(path).rstrip("/")
    if not path or ("/" not in path.strip("/") and not whole_bucket):
        raise InputError(
            f"{redact(url)} names no location inside a bucket",
            hint="Give the run a prefix of its own, e.g. s3://bucket/runs/a.",
        )
    return fs, path


def _storage_call(url: str, what: str, call: Callable[[], T]) -> T:
    """``call()``, its storage failures turned into InputError (exit 2) with a hint."""
    try:
        return call()
    except InputError:  # ours pass through unchanged
        raise
    except FileNotFoundError as exc:
        raise InputError(
            f"cannot {what} {redact(url)}: not found ({_scrub(str(exc)) or 'no such bucket'})",
            hint="Check the bucket name and that the bucket exists.",
        ) from None
    except PermissionError as exc:
        raise InputError(
            f"cannot {what} {redact(url)}: permission denied ({_scrub(str(exc))})",
            hint=_CREDENTIAL_HINT,
        ) from None
    except Exception as exc:  # noqa: BLE001 - storage libraries raise their own types
        name = type(exc).__name__
        lacking = "credential" in name.lower() or "credential" in str(exc).lower()
        raise InputError(
            f"cannot {what} {redact(url)}: {name}: {_scrub(str(exc))}",
            hint=_CREDENTIAL_HINT if lacking else "Check the URL and the storage's settings.",
        ) from None


def _check_bucket(fs: Any, path: str, url: str, what: str) -> None:
    bucket = path.split("/", 1)[0]

    def look() -> None:
        # info, not exists: exists answers False when the credentials are missing too.
        try:
            fs.info(bucket)
        except FileNotFoundError:
            raise InputError(
                f"cannot {what} {redact(url)}: bucket {bucket!r} does not exist",
                hint="Create the bucket first, or check its name.",
            ) from None

    _storage_call(url, what, look)


def remote_listing(
    url: str, what: str = "read", *, whole_bucket: bool = False
) -> tuple[Any, str, list[str]]:
    """The filesystem, the path, and every file under ``url`` relative to it (sorted)."""
    fs, path = _filesystem(url, whole_bucket=whole_bucket)
    _check_bucket(fs, path, url, what)
    found = _storage_call(url, what, lambda: fs.find(path))
    prefix = path + "/"
    return fs, path, sorted(str(f)[len(prefix) :] for f in found if str(f).startswith(prefix))


def check_remote_target(url: str, *, force: bool = False) -> None:
    """Refuse a remote ``--out`` no run can be written to, before any slow work.

    Raises:
        InputError: fsspec is missing, the URL or bucket is bad, the credentials do not
            work, or the location already holds files and ``force`` is not given.
    """
    _, _, files = remote_listing(url, "write to")
    if files and not force:
        raise InputError(
            f"{redact(url)} already exists and is not empty",
            hint="Choose another --out, or pass --force to replace it.",
        )


def publish_run(local: Path, url: str, *, force: bool = False) -> str:
    """Upload the complete run in ``local`` to ``url``: every file first, the manifest last.

    With ``force``, what ``url`` held is removed first, its manifest before anything else,
    so no mixture of two runs ever reads as complete.
    """
    fs, path, existing = remote_listing(url, "write to")
    if existing:
        if not force:
            raise InputError(
                f"{redact(url)} already exists and is not empty",
                hint="Choose another --out, or pass --force to replace it.",
            )
        if MANIFEST in existing:
            _storage_call(url, "write to", partial(fs.rm_file, f"{path}/{MANIFEST}"))
        for rel in existing:
            if rel != MANIFEST:
                _storage_call(url, "write to", partial(fs.rm_file, f"{path}/{rel}"))
    files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    for rel in [*(f for f in files if f != MANIFEST), MANIFEST]:
        _storage_call(url, "write to", partial(fs.put_file, str(local / rel), f"{path}/{rel}"))
    return url


def _download(fs: Any, path: str, url: str, files: list[str], into: Path) -> None:
    for rel in files:
        parts = PurePosixPath(rel).parts
        if not parts or not all(_PLAIN_PART.match(p) and p not in (".", "..") for p in parts):
            raise ArtifactError(f"{redact(url)}: object {rel!r} is not a plain path in a run")
        target = into.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        _storage_call(url, "read", partial(fs.get_file, f"{path}/{rel}", str(target)))


@contextmanager
def fetch(url: str) -> Iterator[Path]:
    """Download the run (or the one file) at ``url`` into a temporary directory.

    Yields the local run directory (named as the URL's last part, so reports label it
    alike) or file; removed on leaving the block.

    Raises:
        InputError: fsspec is missing, or the URL, bucket or credentials are bad.
        ArtifactError: nothing is at ``url``, or a run without its manifest (incomplete).
    """
    fs, path, files = remote_listing(url)
    name = PurePosixPath(path).name
    with tempfile.TemporaryDirectory(prefix="reprocheck-remote-") as tmp:
        local = Path(tmp) / name
        if MANIFEST in files:
            _download(fs, path, url, files, local)
        elif files:
            raise ArtifactError(
                f"{redact(url)} is not a complete run: {MANIFEST} is missing "
                "(an interrupted upload?)",
                hint="Upload the run again (`reprocheck run --out URL --force`).",
            )
        elif _storage_call(url, "read", lambda: fs.isfile(path)):
            _storage_call(url, "read", lambda: fs.get_file(path, str(local)))
        else:
            raise ArtifactError(
                f"{redact(url)} does not exist",
                hint="Give the URL of a run (`reprocheck run --out URL`) or a fingerprint file.",
            )
        yield local


@contextmanager
def fetch_tree(url: str) -> Iterator[Path]:
    """Download everything under ``url`` (a prefix holding several runs) for the block.

    Each run lands complete or not as it is in the bucket: the reader decides (a run
    without its manifest reads as incomplete).

    Raises:
        InputError: fsspec is missing, the URL, bucket or credentials are bad, or nothing
            is under ``url``.
    """
    fs, path, files = remote_listing(url, whole_bucket=True)
    if not files:
        raise InputError(
            f"nothing under {redact(url)}",
            hint="Give the prefix the runs were uploaded under, e.g. s3://bucket/runs.",
        )
    with tempfile.TemporaryDirectory(prefix="reprocheck-remote-") as tmp:
        local = Path(tmp) / (PurePosixPath(path).name or "runs")
        _download(fs, path, url, files, local)
        yield local
