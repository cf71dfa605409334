"""The nox matrix for real: uv environments built from lockfiles, replays, the matrix table.

One project in a temporary directory, with a user-style noxfile (``reprocheck.nox.matrix``)
and three lockfiles: the shipped torch 2.13.0 and 2.14.1 ones and a copy pinning a torch
that does not exist. The environments are built once for the module, from an empty uv
cache, then the tests look at what happened and change one thing at a time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reprocheck.artifacts.matrix_files import read_status
from reprocheck.nox import STAMP_NAME

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NOXFILE = """\
import reprocheck.nox

reprocheck.nox.matrix(
    lockfiles="lockfiles",
    runs="runs",
    scenarios=["mlp"],
    run_args=["--steps", "2"],
    baseline="torch-2.13.0",
)
"""


class Project:
    """The temporary project and the first run of ``python -m reprocheck.nox`` in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.env = {**os.environ, "UV_CACHE_DIR": str(path / "uv-cache"), "NO_COLOR": "1"}
        started = time.monotonic()
        self.first = self.run([sys.executable, "-m", "reprocheck.nox"])
        self.first_seconds = time.monotonic() - started

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=1500,
        )

    def venv(self, env: str) -> Path:
        """The environment's directory, as its replay session recorded it."""
        status = read_status(self.path / "runs", env)
        assert status is not None
        assert status.python is not None
        return Path(status.python).parent.parent

    def reprocheck(self, env: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run([str(self.venv(env) / "bin" / "reprocheck"), *args])

    def nox(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "nox", *args])

    def change_click_version(self, env: str, version: str = "8.5.0") -> None:
        """Make the environment's installed click read ``version`` (no installer is run).

        The ``click-*.dist-info`` directory in the environment's site-packages is renamed
        and its ``METADATA`` rewritten, which is all that ``importlib.metadata`` (and so
        ``reprocheck lock --verify``, pip and uv) read to tell an installed version.
        """
        infos = list(self.venv(env).glob("lib/python*/site-packages/click-*.dist-info"))
        assert len(infos) == 1, infos
        metadata = infos[0] / "METADATA"
        text, count = re.subn(
            r"^Version: .*$",
            f"Version: {version}",
            metadata.read_text(encoding="utf-8"),
            count=1,
            flags=re.MULTILINE,
        )
        assert count == 1
        # A new file, not a write into the old one: uv hard-links installed files to its
        # cache, and the next build from that cache must still see the real click.
        replacement = metadata.with_name("METADATA.new")
        replacement.write_text(text, encoding="utf-8")
        replacement.replace(metadata)
        infos[0].rename(infos[0].with_name(f"click-{version}.dist-info"))


def _broken_lockfile(text: str) -> str:
    """The 2.13.0 lockfile with torch pinned to a version no index has."""
    broken, count = re.subn(
        r"torch==2\.13\.0\+cpu \\\n    --hash=sha256:[0-9a-f]+",
        "torch==9.9.9 \\\\\n    --hash=sha256:" + "0" * 64,
        text,
    )
    assert count == 1
    return broken


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    path = tmp_path_factory.mktemp("matrix")
    (path / "noxfile.py").write_text(NOXFILE, encoding="utf-8")
    lockfiles = path / "lockfiles"
    lockfiles.mkdir()
    for env in ("torch-2.13.0", "torch-2.14.1"):
        shutil.copy(ROOT / "lockfiles" / f"{env}.txt", lockfiles / f"{env}.txt")
    base = (ROOT / "lockfiles" / "torch-2.13.0.txt").read_text(encoding="utf-8")
    (lockfiles / "torch-9.9.9.txt").write_text(_broken_lockfile(base), encoding="utf-8")
    yield Project(path)
    # The environments and the cache hold gigabytes: never leave them to pytest's retention.
    shutil.rmtree(path, ignore_errors=True)


def test_unbuildable_environment_makes_the_matrix_exit_3(project: Project) -> None:
    """A lockfile pinning a torch that does not exist: exit 3 naming environment and pin."""
    assert project.first.returncode == 3, project.first.stdout + project.first.stderr
    output = project.first.stdout + project.first.stderr
    assert "cannot build environment 'torch-9.9.9'" in output
    assert "torch==9.9.9" in output
    # The verdict comes once, last: the summary line, then one line per environment.
    assert output.count("matrix verdict:") == 1
    lines = project.first.stdout.rstrip("\n").splitlines()
    assert lines[-4].startswith("matrix verdict: environment failure"), lines[-6:]
    assert re.match(r"  torch-9\.9\.9\s+not built: cannot build environment", lines[-1])


def test_other_environments_are_still_replayed_and_compared(project: Project) -> None:
    """The buildable environments still run and the matrix reports each of them."""
    out = project.first.stdout
    assert "torch-2.13.0 → torch-2.14.1: identical" in out, out
    assert re.search(r"^  torch-9\.9\.9\s+not built: .*torch==9\.9\.9", out, re.MULTILINE), out
    assert (project.path / "runs" / "torch-2.14.1" / "run.json").is_file()
    assert (project.path / "runs" / "matrix.md").is_file()


def test_environment_built_from_lockfile_verifies(project: Project) -> None:
    """`reprocheck lock --verify` exits 0 inside an environment built from that lockfile."""
    done = project.reprocheck("torch-2.14.1", "lock", "--verify", "lockfiles/torch-2.14.1.txt")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the environment matches" in done.stdout


def test_verify_fails_after_one_package_changes(project: Project) -> None:
    """After click is changed inside the environment, --verify exits 1 naming click."""
    project.change_click_version("torch-2.13.0")
    done = project.reprocheck("torch-2.13.0", "lock", "--verify", "lockfiles/torch-2.13.0.txt")
    assert done.returncode == 1
    assert "click: locked 8.5.1, installed 8.5.0" in done.stdout


def test_unchanged_lockfile_reuses_the_environment(project: Project) -> None:
    """A second replay with the same lockfile reuses the environment instead of rebuilding."""
    done = project.nox("-s", "replay(env='torch-2.14.1')")
    assert done.returncode == 0, done.stderr
    assert "environment torch-2.14.1 is up to date" in done.stderr
    assert "rebuilding" not in done.stderr


def test_hand_edited_lockfile_rebuilds_the_environment(project: Project) -> None:
    """Editing a lockfile by hand wipes and rebuilds its environment on the next run."""
    project.change_click_version("torch-2.13.0")
    lockfile = project.path / "lockfiles" / "torch-2.13.0.txt"
    lockfile.write_text(
        lockfile.read_text(encoding="utf-8") + "# edited by hand\n", encoding="utf-8"
    )
    done = project.nox("-s", "replay(env='torch-2.13.0')")
    assert done.returncode == 0, done.stderr
    assert "rebuilding environment torch-2.13.0 from scratch" in done.stderr
    stamp = (project.venv("torch-2.13.0") / STAMP_NAME).read_text(encoding="utf-8")
    assert stamp.split()[0] == hashlib.sha256(lockfile.read_bytes()).hexdigest()
    verify = project.reprocheck("torch-2.13.0", "lock", "--verify", str(lockfile))
    assert verify.returncode == 0, verify.stdout


# --- drift alone: the main job's output and exit code ---------------------------------------
#
# Two small environments built from the same CPU lockfile (torch 2.13.0+cpu, on the local
# index) and a scenario whose numbers depend on the environment it runs in, so that the
# only finding is drift without building a multi-GB CUDA torch.

DRIFT_NOXFILE = """\
import reprocheck.nox

reprocheck.nox.matrix(
    lockfiles="lockfiles",
    runs="runs",
    scenarios=["drifty:build"],
    run_args=["--steps", "2"],
    baseline="torch-2.13.0",
)
"""

DRIFTY = """\
import sys
from pathlib import Path

import torch

import reprocheck


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    model = torch.nn.Linear(8, 2)
    if Path(sys.prefix).name.endswith("patched"):  # .nox/replay-env-torch-2-13-0-patched
        with torch.no_grad():
            model.weight.add_(0.1)
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    y = torch.randint(0, 2, (ctx.steps, 4), generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=lambda step: (x[step], y[step]),
        loss=lambda m, batch: torch.nn.functional.cross_entropy(m(batch[0]), batch[1]),
    )
"""


BASE = "torch-2.13.0"
PATCHED = "torch-2.13.0-patched"


@pytest.fixture(scope="module")
def drift_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    path = tmp_path_factory.mktemp("drift")
    (path / "noxfile.py").write_text(DRIFT_NOXFILE, encoding="utf-8")
    (path / "drifty.py").write_text(DRIFTY, encoding="utf-8")
    (path / "lockfiles").mkdir()
    for env in (BASE, PATCHED):
        shutil.copy(ROOT / "lockfiles" / "torch-2.13.0.txt", path / "lockfiles" / f"{env}.txt")
    yield Project(path)
    shutil.rmtree(path, ignore_errors=True)


def _verdict_block(stdout: str, envs: int) -> list[str]:
    """The last lines of the output: `matrix verdict: ...` and one line per environment."""
    return stdout.rstrip("\n").splitlines()[-(envs + 1) :]


def test_drift_alone_exits_1_and_no_session_fails(drift_project: Project) -> None:
    """The only finding is drift: exit 1, nox reports every session as a success."""
    first = drift_project.first
    output = first.stdout + first.stderr
    assert first.returncode == 1, output[-3000:]
    assert "failed" not in output.lower(), output[-3000:]
    assert "* compare: success" in first.stderr


def test_drift_verdict_is_printed_once_after_the_table(drift_project: Project) -> None:
    """One table (from the compare session), one verdict block, last on screen."""
    out = drift_project.first.stdout
    output = out + drift_project.first.stderr
    assert output.count("matrix verdict:") == 1
    assert output.count(f"{BASE} → {PATCHED}: drift") == 1
    tables = [line for line in out.splitlines() if line.startswith("scenario")]
    assert [line.split() for line in tables] == [["scenario", BASE, PATCHED]]
    assert re.search(r"^drifty:build\s+baseline\s+drift", out, re.MULTILINE), out
    verdict = _verdict_block(out, 2)
    assert verdict[0] == f"matrix verdict: drift (1 of 1 environment(s) drift from {BASE})"
    assert verdict[1] == f"  {BASE}          baseline"
    assert verdict[2].startswith(f"  {PATCHED}  {BASE} → {PATCHED}: drift")
    assert out.index(tables[0]) < out.index(verdict[0])


def test_main_job_names_the_environment_and_the_step(drift_project: Project) -> None:
    """While building, every step says which environment and which of the three it is."""
    err = drift_project.first.stderr
    for env in (BASE, PATCHED):
        install = (
            rf"nox > \[{re.escape(env)}\] step 1/3: installing \d+ pinned packages "
            rf"\(torch 2\.13\.0\+cpu\) from lockfiles/{re.escape(env)}\.txt with uv\n"
        )
        assert re.search(install, err), err[-3000:]
        assert f"nox > [{env}] step 2/3: installing reprocheck (-e {ROOT}" in err
        assert f"nox > [{env}] step 3/3: replaying drifty:build into runs/{env}\n" in err
    # Each step's own line once, in order (a slow install adds "... still running" lines
    # naming its step between them: those are not steps).
    heading = rf"^nox > \[{re.escape(PATCHED)}\] step \d/3"
    steps = [m.group(0) for m in re.finditer(heading, err, re.MULTILINE)]
    assert steps == [f"nox > [{PATCHED}] step {n}/3" for n in (1, 2, 3)]


def test_plain_nox_shows_drift_without_failing(drift_project: Project) -> None:
    """`nox -s replay compare` alone: reused environments, the verdict once, exit 0."""
    done = drift_project.nox("-s", "replay", "compare")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert f"[{PATCHED}] steps 1-2/3 skipped: environment {PATCHED} is up to date" in done.stderr
    assert "failed" not in output.lower()
    assert output.count("matrix verdict: drift") == 1
    assert _verdict_block(done.stdout, 2)[0].startswith("matrix verdict: drift")
    assert "`python -m reprocheck.nox` exits 1 on it" in done.stderr


def test_build_failure_beside_drift_still_exits_3(drift_project: Project) -> None:
    """An environment that cannot be built makes the main job exit 3, drift or not."""
    base = (ROOT / "lockfiles" / "torch-2.13.0.txt").read_text(encoding="utf-8")
    broken = drift_project.path / "lockfiles" / "torch-9.9.9.txt"
    broken.write_text(_broken_lockfile(base), encoding="utf-8")
    try:
        done = drift_project.run([sys.executable, "-m", "reprocheck.nox"])
    finally:
        broken.unlink()
    output = done.stdout + done.stderr
    assert done.returncode == 3, output[-3000:]
    assert "* replay(env='torch-9.9.9'): aborted" in done.stderr
    assert output.count("matrix verdict:") == 1
    verdict = _verdict_block(done.stdout, 3)
    assert verdict[0] == (
        f"matrix verdict: environment failure (1 of 1 environment(s) drift from {BASE}; "
        "1 could not be built or replayed)"
    )
    assert re.match(r"  torch-9\.9\.9\s+not built: cannot build environment", verdict[-1])
    assert "torch==9.9.9" in verdict[-1]
