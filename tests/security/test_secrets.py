"""Secret-looking environment variables never reach a file reprocheck writes.

Tokens, keys and passwords are set in the environment with unique values; then every
command runs (fingerprint as JSON and text, to stdout and -o; run; determinism with its
fresh process; compare in every format with $GITHUB_STEP_SUMMARY set; check; lock with a
real pip-compile, and lock --verify; the nox matrix's markdown and JSON files), and every
byte of every file in the workspace, the step summary and every command's output is
searched for the values and for the variables' names.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from reprocheck.artifacts.matrix_files import write_status
from reprocheck.cli import cli
from reprocheck.env.envvars import capture_env, is_allowed
from reprocheck.integrations.matrix_main import main as matrix_main
from reprocheck.model.matrix import EnvStatus

pytestmark = pytest.mark.integration

SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "rcsecret-aws-5d1f",
    "AWS_ACCESS_KEY_ID": "rcsecret-awsid-93b0",
    "HF_TOKEN": "rcsecret-hf-7c2e",
    "HUGGING_FACE_HUB_TOKEN": "rcsecret-hfhub-11aa",
    "GITHUB_TOKEN": "rcsecret-gh-e8d4",
    "MY_PASSWORD": "rcsecret-pw-0b6f",
    "NCCL_AUTH_TOKEN": "rcsecret-nccl-4a9c",
    "NCCL_SOCKET_PASSWORD": "rcsecret-ncclpw-2f71",
    "PYTORCH_API_KEY": "rcsecret-pt-6e3d",
    "OMP_SECRET": "rcsecret-omp-8d02",
    "WANDB_API_KEY": "rcsecret-wandb-c5a1",
    "DATABASE_URL": "postgres://u:rcsecret-db-77e1@host/db",
}
# Names on the allow-list's prefix or close to it: the deny words must still win.
PREFIXED = ("NCCL_AUTH_TOKEN", "NCCL_SOCKET_PASSWORD")


def test_capture_allows_none_of_the_secret_names() -> None:
    """The allow-list refuses every secret-looking name, NCCL_ prefix or not."""
    assert not [name for name in SECRETS if is_allowed(name)]
    captured = capture_env({**SECRETS, "OMP_NUM_THREADS": "2", "NCCL_DEBUG": "INFO"})
    assert captured == {"NCCL_DEBUG": "INFO", "OMP_NUM_THREADS": "2"}


def _leaks(data: bytes) -> list[str]:
    found = [name for name, value in SECRETS.items() if value.encode() in data]
    found += [f"name {name}" for name in SECRETS if name.encode() in data]
    return found


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def test_no_command_writes_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file every command writes, and everything they print, is free of secrets."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    work = tmp_path / "work"
    (work / "runs").mkdir(parents=True)
    monkeypatch.chdir(work)
    outputs: list[bytes] = []

    def reprocheck(*args: str, codes: tuple[int, ...] = (0,)) -> None:
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code in codes, (args, result.output, result.exception)
        outputs.append(result.stdout_bytes + result.stderr_bytes)

    reprocheck("fingerprint")
    reprocheck("-v", "fingerprint")
    reprocheck("fingerprint", "--format", "json")
    reprocheck("fingerprint", "--format", "json", "-o", "fp.json")
    reprocheck("fingerprint", "--format", "text", "-o", "fp.txt")
    reprocheck("run", "mlp", "--steps", "2", "--out", "runs/a")
    reprocheck(
        "determinism", "mlp", "--steps", "1", "--repeats", "1", "--format", "json", "-o", "det.json"
    )
    for fmt in ("text", "json", "markdown", "junit"):
        reprocheck("compare", "runs/a", "runs/a", "--format", fmt, "-o", f"report.{fmt}")
    reprocheck("compare", "fp.json", "fp.json", "--format", "json")
    reprocheck(
        "check", "--baseline", "runs/a", "--out", "runs/b", "--format", "markdown", "-o", "check.md"
    )
    (work / "req.in").write_text("click\n", encoding="utf-8")
    (work / "lockfiles").mkdir()
    pin = f"click=={metadata.version('click')}"
    reprocheck("lock", "--env", "cli", "--pin", pin, "--requirements", "req.in")
    reprocheck(
        "lock",
        "--verify",
        "lockfiles/cli.txt",
        "--format",
        "json",
        "-o",
        "verify.json",
        codes=(0, 1),
    )
    for env in ("runs/a", "runs/b"):
        write_status(Path("runs"), EnvStatus(Path(env).name, "ran", "0" * 64))
    code = matrix_main(
        [
            "a",
            "b",
            "--baseline",
            "a",
            "--runs",
            "runs",
            "--markdown",
            "runs/matrix.md",
            "--json",
            "runs/matrix.json",
        ]
    )
    assert code == 0
    # The real entry point too, in a fresh process that inherits the environment as is.
    done = subprocess.run(
        [sys.executable, "-m", "reprocheck", "fingerprint", "--format", "json", "-o", "fp2.json"],
        capture_output=True,
        check=True,
    )
    outputs.append(done.stdout + done.stderr)

    written = [*_files(work), summary]
    expected = {
        "fp.json",
        "fp.txt",
        "det.json",
        "report.text",
        "report.json",
        "report.markdown",
        "report.junit",
        "check.md",
        "cli.txt",
        "cli.in",
        "verify.json",
        "matrix.md",
        "matrix.json",
        "run.json",
        "record.json",
        "tensors.safetensors",
        "fp2.json",
    }
    assert expected <= {p.name for p in written}, "a command did not write what it should"
    assert summary.stat().st_size > 0
    for path in written:
        assert not _leaks(path.read_bytes()), f"{path} holds {_leaks(path.read_bytes())}"
    for output in outputs:
        assert not _leaks(output), _leaks(output)
    assert os.environ["HF_TOKEN"] == SECRETS["HF_TOKEN"]  # the variables really were set
