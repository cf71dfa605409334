"""`reprocheck fingerprint`: JSON and text output, -o, --lockfile, bad input, no secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reprocheck.artifacts.runs import load_fingerprint_file
from reprocheck.cli import cli
from reprocheck.model.fingerprint import SECTIONS


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_json_has_every_section() -> None:
    """--format json prints one valid JSON object with every documented section."""
    code, out, err = _invoke("fingerprint", "--format", "json")
    assert code == 0, err
    body = json.loads(out)
    for section in [*SECTIONS, "env", "packages", "package_sources", "lockfile", "digest"]:
        assert section in body
    assert body["kind"] == "reprocheck-fingerprint"


def test_text_is_the_default_and_groups_sections() -> None:
    """The default text form is a table with one block per section."""
    code, out, _ = _invoke("fingerprint")
    assert code == 0
    lines = out.splitlines()
    for title in ("python", "platform", "cpu", "torch", "threads", "determinism", "cuda"):
        assert title in lines
    assert any(line.startswith("packages (") for line in lines)


def test_text_lists_numeric_packages_and_verbose_lists_all() -> None:
    """Text shows torch among a short package list; -v shows every package (click too)."""
    _, short, _ = _invoke("fingerprint")
    _, full, _ = _invoke("-v", "fingerprint")
    assert "  torch " in short
    assert "  click " not in short
    assert "  click " in full


def test_output_file_is_written_and_readable(tmp_path: Path) -> None:
    """-o writes the JSON to a file that the artifact reader accepts; stdout stays empty."""
    target = tmp_path / "fp.json"
    code, out, err = _invoke("fingerprint", "--format", "json", "-o", str(target))
    assert code == 0, err
    assert out == ""
    assert load_fingerprint_file(target)["digest"]


def test_lockfile_option_is_recorded(tmp_path: Path) -> None:
    """--lockfile FILE is recorded with its sha256."""
    lock = tmp_path / "requirements.txt"
    lock.write_text("torch==2.13.0\n")
    code, out, _ = _invoke("fingerprint", "--format", "json", "--lockfile", str(lock))
    assert code == 0
    assert json.loads(out)["lockfile"]["path"] == str(lock.resolve())


def test_missing_lockfile_exits_2_with_hint(tmp_path: Path) -> None:
    """A missing --lockfile is bad input: exit 2, Error: and Hint:, no traceback."""
    code, out, err = _invoke("fingerprint", "--lockfile", str(tmp_path / "nope.txt"))
    assert code == 2
    assert out == ""
    assert err.startswith("Error: lockfile")
    assert "Hint:" in err
    assert "Traceback" not in err


def test_unknown_format_is_a_usage_error() -> None:
    """--format xml exits 2 with click's Error line."""
    code, out, err = _invoke("fingerprint", "--format", "xml")
    assert code == 2
    assert out == ""
    assert "Error:" in err


def _assert_refused(target: Path, code: int, out: str, err: str) -> None:
    assert code == 2
    assert out == ""
    assert err.startswith("Error: cannot write")
    assert "Hint:" in err
    assert "Traceback" not in err


def test_output_in_missing_directory_is_refused(tmp_path: Path) -> None:
    """-o into a directory that does not exist: exit 2 with a hint, nothing created."""
    target = tmp_path / "missing" / "fp.json"
    _assert_refused(target, *_invoke("fingerprint", "-o", str(target)))
    assert not target.parent.exists()


def test_output_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    """-o naming a directory: exit 2 with a hint, the directory left as it was."""
    _assert_refused(tmp_path, *_invoke("fingerprint", "-o", str(tmp_path)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_output_in_read_only_directory_is_refused(tmp_path: Path) -> None:
    """-o into a read-only directory: exit 2 with a hint, nothing written."""
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        _assert_refused(locked, *_invoke("fingerprint", "-o", str(locked / "fp.json")))
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (unwritable even for root)")
def test_output_in_unwritable_filesystem_is_refused() -> None:
    """-o into /proc (unwritable even for root): exit 2 with a hint."""
    target = Path("/proc/reprocheck-fingerprint.json")
    _assert_refused(target, *_invoke("fingerprint", "-o", str(target)))
    assert not target.exists()


SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "aws-secret-4f1c9e2b7d",
    "HF_TOKEN": "hf_tokenvalue_8a7b6c5d",
    "GITHUB_TOKEN": "ghp_githubtoken_1234abcd",
    "MY_PASSWORD": "correct-horse-battery-staple",
    "NCCL_AUTH_TOKEN": "nccl-auth-token-9z8y7x",
}


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_no_secret_reaches_any_output(tmp_path: Path, fmt: str) -> None:
    """With secrets in the environment, neither stdout, stderr nor the -o file contains them."""
    env = {**os.environ, **SECRETS, "OMP_NUM_THREADS": "2"}
    target = tmp_path / f"fp.{fmt}"
    outputs: list[str] = []
    for extra in ([], ["-o", str(target)]):
        proc = subprocess.run(
            [sys.executable, "-m", "reprocheck", "-v", "fingerprint", "--format", fmt, *extra],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        outputs += [proc.stdout, proc.stderr]
    outputs.append(target.read_text())
    assert "OMP_NUM_THREADS" in outputs[0]  # the allow-list is in effect, not empty
    for name, value in SECRETS.items():
        for text in outputs:
            assert value not in text, name
