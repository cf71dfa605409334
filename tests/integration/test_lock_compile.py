"""`reprocheck lock` with the real pip-compile: hashes, a portable header, atomic failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _lock(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reprocheck", "lock", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "requirements.in").write_text("click\n", encoding="utf-8")
    (tmp_path / "lockfiles").mkdir()
    return tmp_path


def test_lock_writes_a_hashed_portable_lockfile(project: Path) -> None:
    """The lockfile pins with hashes, records the reprocheck command, names no machine path."""
    done = _lock(
        project, "--env", "cli", "--pin", "click==8.1.7", "--requirements", "requirements.in"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lockfiles/cli.txt"
    text = (project / "lockfiles" / "cli.txt").read_text(encoding="utf-8")
    assert "click==8.1.7 \\\n    --hash=sha256:" in text
    assert (
        "#    reprocheck lock --env cli --pin click==8.1.7 --requirements requirements.in" in text
    )
    for machine in (str(project), "--find-links", "--index-url", "file://", "/opt/"):
        assert machine not in text
    assert "-r ../requirements.in" in (project / "lockfiles" / "cli.in").read_text(encoding="utf-8")


def test_unresolvable_pin_exits_3_and_keeps_the_old_lockfile(project: Path) -> None:
    """A pin no index has: exit 3 naming environment and pin; the old lockfile is untouched."""
    old = project / "lockfiles" / "cli.txt"
    old.write_text("click==8.1.7 --hash=sha256:00\n", encoding="utf-8")
    done = _lock(
        project, "--env", "cli", "--pin", "click==99.0", "--requirements", "requirements.in"
    )
    assert done.returncode == 3
    assert done.stdout == ""
    assert (
        "Error: cannot lock environment 'cli': no distribution satisfies click==99.0" in done.stderr
    )
    assert "Traceback" not in done.stderr
    assert old.read_text(encoding="utf-8") == "click==8.1.7 --hash=sha256:00\n"
    assert not (project / "lockfiles" / "cli.in").exists()
    assert sorted(p.name for p in (project / "lockfiles").iterdir()) == ["cli.txt"]
