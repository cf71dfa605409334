"""fingerprint(): every section captured from the running process."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest
import torch

import reprocheck
from reprocheck.env import fingerprint
from reprocheck.errors import InputError
from reprocheck.model.fingerprint import SECTIONS


def test_public_api_is_exported_lazily() -> None:
    """reprocheck.fingerprint and reprocheck.Fingerprint are the environment package's."""
    assert reprocheck.fingerprint is fingerprint
    assert isinstance(reprocheck.fingerprint(), reprocheck.Fingerprint)


def test_every_section_and_key_is_present() -> None:
    """The dict form has every documented section and key."""
    body = fingerprint().to_dict()
    for section, keys in SECTIONS.items():
        assert set(keys) <= set(body[section]), section
    for key in ("env", "packages", "package_sources", "lockfile", "digest", "captured_at"):
        assert key in body


def test_python_section_is_this_interpreter() -> None:
    """python.* describes the interpreter running the capture."""
    fp = fingerprint()
    assert fp.python["executable"] == sys.executable
    assert fp.python["version"] == platform.python_version()


def test_captured_at_is_utc_iso8601() -> None:
    """The capture time is an ISO-8601 UTC timestamp."""
    assert fingerprint().captured_at.endswith("+00:00")


def test_capability_is_torchs_dispatch_level() -> None:
    """cpu.capability is what torch dispatches to in this process."""
    assert fingerprint().cpu["capability"] == torch.backends.cpu.get_cpu_capability()


def test_environ_argument_feeds_env_section() -> None:
    """Variables come from the given environment, allow-listed."""
    fp = fingerprint(environ={"MKL_CBWR": "COMPATIBLE", "HF_TOKEN": "hf_x"})
    assert dict(fp.env) == {"MKL_CBWR": "COMPATIBLE"}


def test_lockfile_is_recorded(tmp_path: Path) -> None:
    """fingerprint(lockfile=...) records the lockfile's path and hash."""
    lock = tmp_path / "requirements.txt"
    lock.write_text("torch==2.13.0\n")
    fp = fingerprint(lock)
    assert fp.lockfile is not None
    assert fp.lockfile["path"] == str(lock.resolve())


def test_missing_lockfile_raises_input_error(tmp_path: Path) -> None:
    """A missing lockfile is an InputError, raised before anything is captured."""
    with pytest.raises(InputError):
        fingerprint(tmp_path / "missing.txt")


def test_two_captures_in_one_process_have_the_same_digest() -> None:
    """Nothing that changes between two immediate captures enters the digest."""
    assert fingerprint().digest == fingerprint().digest
