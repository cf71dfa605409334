"""reprocheck.nox: the sessions' and the builder's pieces that run without building."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from compare_support import fingerprint, make_run, write_run

import reprocheck.integrations.nox_build as build
import reprocheck.integrations.nox_sessions as helper
from reprocheck.artifacts.matrix_files import write_status
from reprocheck.errors import InputError
from reprocheck.model.matrix import EnvStatus
from reprocheck.pinned.lockfile import lockfile_sha256, read_lockfile

ROOT = Path(__file__).resolve().parents[3]


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
    with pytest.raises(build.BuildFailed) as info:
        build.run_installer("torch-9.9.9", read_lockfile(lockfile), [sys.executable, "-c", script])
    message = str(info.value)
    assert message.startswith("cannot build environment 'torch-9.9.9'")
    assert "torch==9.9.9" in message
    assert "click==8.5.1" not in message


def test_successful_install_returns_quietly(tmp_path: Path) -> None:
    """A zero exit from the installer is a successful build step."""
    lockfile = tmp_path / "e.txt"
    lockfile.write_text("click==8.5.1 --hash=sha256:00\n")
    build.run_installer("e", read_lockfile(lockfile), [sys.executable, "-c", "print('ok')"])


def test_reprocheck_installs_from_this_checkout() -> None:
    """Running from a source tree, environments get this checkout, editable."""
    assert helper._default_reprocheck_install() == ["-e", str(ROOT)]


def test_driver_exits_3_when_nox_fails_before_comparing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No matrix was produced (here: no noxfile), so the environment failed: exit 3."""
    monkeypatch.chdir(tmp_path)
    assert helper.main(["-f", str(tmp_path / "missing-noxfile.py")]) == 3


def test_builtin_scenario_names_match_the_scenario_registry() -> None:
    """The progress line names what `reprocheck run` replays without names."""
    from reprocheck.scenarios import BUILTIN_NAMES

    assert build.BUILTIN_SCENARIOS == BUILTIN_NAMES


def test_silent_installer_gets_still_running_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """While the installer prints nothing (a long download), the step is repeated with time."""
    lockfile = tmp_path / "e.txt"
    lockfile.write_text("click==8.5.1 --hash=sha256:00\n")
    script = "import time; time.sleep(1.0); print('Installed 1 package')"
    step = "[e] step 1/3: installing 1 pinned packages"
    build.run_installer(
        "e", read_lockfile(lockfile), [sys.executable, "-c", script], step=step, heartbeat_s=0.3
    )
    err = capsys.readouterr().err
    assert f"  ... {step}: still running (0 s)" in err
    assert err.rstrip().endswith("Installed 1 package")


# --- the driver and the compare session, with replays recorded beforehand ------------------
#
# The noxfile's replay sessions build nothing: the test writes each environment's run and
# status as a replay session would, with this interpreter (which has torch) as the
# environment's python. The compare session is reprocheck.nox's own.

FAKE_NOXFILE = """\
from pathlib import Path

import nox

import reprocheck.integrations.nox_sessions as sessions

NAMES = sessions.environments("lockfiles")


@nox.session(python=False)
@nox.parametrize("env", NAMES)
def replay(session, env):
    failure = Path("runs", ".fail-" + env)
    if failure.is_file():
        session.error(failure.read_text(encoding="utf-8"))


@nox.session(python=False)
def compare(session):
    sessions._compare(session, NAMES, "a", Path("lockfiles"), Path("runs"))
"""


def _replayed(project: Path, env: str, *, drift: bool = False) -> None:
    """Record what a successful replay of ``env`` leaves: its run and a `ran` status."""
    lockfile = project / "lockfiles" / f"{env}.txt"
    lockfile.write_text(f"# {env}\n", encoding="utf-8")
    records, tensors = make_run("mlp")
    tensors = {n: {k: v.clone() for k, v in ts.items()} for n, ts in tensors.items()}
    if drift:
        tensors["mlp"]["param/fc.weight"] += 0.5
    write_run(project / "runs" / env, copy.deepcopy(records), tensors, fingerprint())
    status = EnvStatus(env, "ran", lockfile_sha256(lockfile), python=sys.executable)
    write_status(project / "runs", status)


def _not_built(project: Path, env: str) -> None:
    """Record what a replay whose environment cannot be built leaves (and make it fail)."""
    lockfile = project / "lockfiles" / f"{env}.txt"
    lockfile.write_text("torch==9.9.9\n", encoding="utf-8")
    message = f"cannot build environment {env!r}: no installable distribution for torch==9.9.9"
    write_status(
        project / "runs", EnvStatus(env, "not built", lockfile_sha256(lockfile), message=message)
    )
    (project / "runs" / f".fail-{env}").write_text(f"{message} (exit 3)", encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "noxfile.py").write_text(FAKE_NOXFILE, encoding="utf-8")
    (tmp_path / "lockfiles").mkdir()
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv(helper.RESULT_ENV, raising=False)
    # nox imports reprocheck from this checkout, as a project's noxfile would.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return tmp_path


def test_drift_alone_is_no_nox_failure_and_the_verdict_comes_once_at_the_end(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Drift: exit 1, every session a success, one table and one verdict block, last."""
    _replayed(project, "a")
    _replayed(project, "b", drift=True)
    assert helper.main([]) == 1
    out, err = capfd.readouterr()
    assert "failed" not in (out + err).lower(), out + err
    assert "* compare: success" in err
    assert (out + err).count("matrix verdict:") == 1
    assert [line for line in out.splitlines() if line.startswith("scenario")] == [
        "scenario  a         b"
    ]
    assert out.count("a → b: drift") == 1
    verdict = out.rstrip("\n").splitlines()[-3:]
    assert verdict[0] == "matrix verdict: drift (1 of 1 environment(s) drift from a)"
    assert verdict[1] == "  a  baseline"
    assert verdict[2].startswith("  b  a → b: drift")
    assert json.loads((project / "runs" / "matrix.json").read_text())["exit_code"] == 1


def test_reproducible_matrix_exits_0(project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Identical environments: exit 0 and a reproducible verdict."""
    _replayed(project, "a")
    _replayed(project, "b")
    assert helper.main([]) == 0
    out = capfd.readouterr().out
    assert out.rstrip("\n").splitlines()[-3].startswith("matrix verdict: reproducible")


def test_build_failure_exits_3_and_only_its_replay_session_fails(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """An environment that cannot be built: exit 3, even with drift elsewhere; compare runs."""
    _replayed(project, "a")
    _replayed(project, "b", drift=True)
    _not_built(project, "c")
    assert helper.main([]) == 3
    out, err = capfd.readouterr()
    assert "* replay(env='c'): aborted" in err
    assert "* compare: success" in err
    assert (out + err).count("matrix verdict:") == 1
    lines = out.rstrip("\n").splitlines()
    assert lines[-4].startswith("matrix verdict: environment failure")
    assert lines[-1].startswith("  c  not built: cannot build environment 'c'")


def test_matrix_that_cannot_complete_fails_compare_and_exits_3(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A corrupt status record: the matrix exits 2, compare fails, no verdict; exit 3."""
    _replayed(project, "a")
    _replayed(project, "b")
    (project / "runs" / ".status" / "b.json").write_text("{not json", encoding="utf-8")
    assert helper.main([]) == 3
    out, err = capfd.readouterr()
    assert "* compare: failed" in err
    assert (
        out.rstrip("\n")
        .splitlines()[-1]
        .startswith("matrix verdict: environment failure (no matrix was produced")
    )
    assert not (project / "runs" / "matrix.json").exists()


def test_plain_nox_reports_drift_without_failing(project: Path) -> None:
    """`nox -s replay compare` alone: drift is printed once and recorded; nox exits 0."""
    _replayed(project, "a")
    _replayed(project, "b", drift=True)
    done = subprocess.run(
        [sys.executable, "-m", "nox", "-s", "replay", "compare"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "failed" not in (done.stdout + done.stderr).lower()
    assert done.stdout.count("matrix verdict: drift") == 1
    assert done.stdout.rstrip("\n").splitlines()[-1].startswith("  b  a → b: drift")
    assert "`python -m reprocheck.nox` exits 1 on it (runs/matrix.json" in done.stderr
    assert json.loads((project / "runs" / "matrix.json").read_text())["exit_code"] == 1


# --- matrix(command=...): the project's own training script ------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"command": ["python", "train.py"], "scenarios": ["mlp"]}, "command or scenarios"),
        ({"command": ["python", "train.py"], "run_args": ["--steps", "2"]}, "command or run_args"),
        ({"command": "python train.py"}, "non-empty list of strings"),
        ({"command": []}, "non-empty list of strings"),
        ({"command": ["python", 3]}, "non-empty list of strings"),
    ],
)
def test_command_is_checked_at_registration(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    """command excludes scenarios and run_args, and must be a list of strings: InputError."""
    with pytest.raises(InputError, match=message) as info:
        helper.matrix(lockfiles=tmp_path, runs=tmp_path / "runs", **kwargs)  # type: ignore[arg-type]
    assert info.value.field == "command"
    assert info.value.hint


def _recorded(project: Path, env: str, lr: float) -> None:
    """What a replay session running the user's train.py leaves: a recorded run, `ran`."""
    import torch

    import reprocheck

    lockfile = project / "lockfiles" / f"{env}.txt"
    lockfile.write_text(f"# {env}\n", encoding="utf-8")
    reprocheck.seed_everything(0)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    with reprocheck.record(project / "runs" / env, model=model, optimizer=optimizer) as rec:
        for _ in range(2):
            loss = model(torch.randn(3, 4)).square().mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            rec.step(loss)
    status = EnvStatus(env, "ran", lockfile_sha256(lockfile), python=sys.executable)
    write_status(project / "runs", status)


def test_recorded_runs_are_compared_like_replayed_ones(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The compare session takes runs/<env> written by reprocheck.record unchanged."""
    _recorded(project, "a", lr=0.1)
    _recorded(project, "b", lr=0.1)
    _recorded(project, "c", lr=0.2)
    assert helper.main([]) == 1
    out = capfd.readouterr().out
    assert "scenario  a         b          c" in out
    verdict = out.rstrip("\n").splitlines()[-4:]
    assert verdict[0].startswith("matrix verdict: drift (1 of 2 environment(s)")
    assert verdict[2].startswith("  b  a → b: identical")
    assert verdict[3].startswith("  c  a → c: drift")
