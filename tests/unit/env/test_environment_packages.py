"""Installed distributions, their source URLs (without credentials) and the lockfile."""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

import pytest
import torch

from reprocheck.env.packages import (
    capture_lockfile,
    capture_packages,
    normalize_name,
    strip_credentials,
)
from reprocheck.errors import InputError


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("Foo_Bar", "foo-bar"), ("foo.bar", "foo-bar"), ("foo--_bar", "foo-bar"), ("torch", "torch")],
)
def test_names_are_pep503_normalized(raw: str, normal: str) -> None:
    """Names compare the way pip compares them."""
    assert normalize_name(raw) == normal


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://user:pa55@example.com/simple/x.whl", "https://example.com/simple/x.whl"),
        ("https://tok@example.com/x.whl#sha256=ab", "https://example.com/x.whl#sha256=ab"),
        ("https://example.com/x.whl?token=abc", "https://example.com/x.whl"),
        ("file:///work/main", "file:///work/main"),
        ("git+https://u:p@github.com/o/r.git", "git+https://github.com/o/r.git"),
    ],
)
def test_credentials_are_stripped_from_urls(url: str, clean: str) -> None:
    """user:password@ and query strings never reach a fingerprint."""
    assert strip_credentials(url) == clean


def test_installed_packages_include_torch_with_its_version() -> None:
    """Every distribution is listed, sorted, torch with the version torch reports.

    PyPI's CUDA wheels record ``2.1.2`` in their metadata while torch says ``2.1.2+cu121``,
    so the local version label is left out of the comparison.
    """
    versions, _ = capture_packages()
    assert versions["torch"].split("+")[0] == str(torch.__version__).split("+")[0]
    assert list(versions) == sorted(versions)


def test_editable_install_records_its_source() -> None:
    """reprocheck, installed editable, has a source URL from direct_url.json."""
    _, sources = capture_packages()
    if "reprocheck" not in sources:
        pytest.skip("reprocheck is not installed from a URL or path here")
    assert sources["reprocheck"].startswith("file://")


def test_lockfile_argument_is_hashed(tmp_path: Path) -> None:
    """--lockfile records the absolute path and the sha256 of the content."""
    lock = tmp_path / "requirements.txt"
    lock.write_text("torch==2.13.0\n")
    assert capture_lockfile(lock, {}) == {
        "path": str(lock.resolve()),
        "sha256": hashlib.sha256(b"torch==2.13.0\n").hexdigest(),
    }


def test_lockfile_from_environment_variable(tmp_path: Path) -> None:
    """REPROCHECK_LOCKFILE names the lockfile when no argument does."""
    lock = tmp_path / "lock.txt"
    lock.write_text("x\n")
    assert capture_lockfile(None, {"REPROCHECK_LOCKFILE": str(lock)})["path"] == str(lock.resolve())


def test_no_lockfile_is_null() -> None:
    """Without --lockfile or REPROCHECK_LOCKFILE there is no lockfile."""
    assert capture_lockfile(None, {}) is None


def test_missing_lockfile_is_an_input_error(tmp_path: Path) -> None:
    """A lockfile that does not exist is a usage error (exit 2) naming where it came from."""
    with pytest.raises(InputError, match="REPROCHECK_LOCKFILE") as info:
        capture_lockfile(None, {"REPROCHECK_LOCKFILE": str(tmp_path / "nope.txt")})
    assert info.value.exit_code == 2
    assert info.value.hint


def test_directory_as_lockfile_is_an_input_error(tmp_path: Path) -> None:
    """A directory is not a lockfile."""
    with pytest.raises(InputError, match="not a file"):
        capture_lockfile(tmp_path, {})


def test_fast_metadata_reader_agrees_with_importlib_metadata() -> None:
    """Reading only the METADATA header gives the same names and versions as the full parser."""
    expected: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        expected.setdefault(normalize_name(dist.metadata["Name"]), dist.version)
    versions, _ = capture_packages()
    assert versions == dict(sorted(expected.items()))
