"""reprocheck.nox: the helper's pieces that run without building an environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import reprocheck.nox as helper
from reprocheck.lockfile import read_lockfile

ROOT = Path(__file__).resolve().parents[2]


def test_environments_are_the_sorted_lockfile_stems(tmp_path: Path) -> None:
    """One environment per *.txt; inputs (*.in) and other files are not environments."""
    for name in ("torch-2.6.0.txt", "torch-2.13.0.txt", "torch-2.13.0.in", "notes.md"):
        (tmp_path / name).write_text("x==1\n", encoding="utf-8")
    assert helper.environments(tmp_path) == ["torch-2.13.0", "torch-2.6.0"]


def test_failed_install_names_the_environment_and_the_pin(tmp_path: Path) -> None:
    """An installer failure that mentions a pinned package names it in the message."""
    lockfile = tmp_path / "torch-9.9.9.txt"
    lockfile.write_text("click==8.5.1 --hash=sha256:00\ntorch==9.9.9 --hash=sha256:00\n")
    script = "print('Because there is no version of torch==9.9.9, we can conclude ...'); exit(1)"
    with pytest.raises(helper._BuildFailed) as info:
        helper._install("torch-9.9.9", read_lockfile(lockfile), [sys.executable, "-c", script])
    message = str(info.value)
    assert message.startswith("cannot build environment 'torch-9.9.9'")
    assert "torch==9.9.9" in message
    assert "click==8.5.1" not in message


def test_successful_install_returns_quietly(tmp_path: Path) -> None:
    """A zero exit from the installer is a successful build step."""
    lockfile = tmp_path / "e.txt"
    lockfile.write_text("click==8.5.1 --hash=sha256:00\n")
    helper._install("e", read_lockfile(lockfile), [sys.executable, "-c", "print('ok')"])


def test_reprocheck_installs_from_this_checkout() -> None:
    """Running from a source tree, environments get this checkout, editable."""
    assert helper._default_reprocheck_install() == ["-e", str(ROOT)]


def test_driver_exits_3_when_nox_fails_before_comparing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No matrix was produced (here: no noxfile), so the environment failed: exit 3."""
    monkeypatch.chdir(tmp_path)
    assert helper.main(["-f", str(tmp_path / "missing-noxfile.py")]) == 3
