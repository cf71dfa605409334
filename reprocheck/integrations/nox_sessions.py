"""nox sessions for a pinned-environment matrix, in a few lines of a project's noxfile.

    import reprocheck.nox

    reprocheck.nox.matrix(lockfiles="lockfiles", scenarios=["mlp", "cnn"])

registers ``replay`` (one session per lockfile, e.g. ``replay(env='torch-2.13.0')``) and
``compare`` (every run against the baseline, as one table). With
``command=["python", "train.py"]`` instead of ``scenarios``, each environment runs your
own training script, which records its run with ``reprocheck.record(model=...)`` (no
``out``: it reads ``REPROCHECK_OUT=runs/<env>``, set by the session). Run them with
``python -m reprocheck.nox``, which runs ``nox -s replay compare`` and exits with the
matrix's verdict: 0 reproducible, 1 drift, 3 an environment could not be built.

Finding drift is the tool's job, not a failed session: the ``compare`` session succeeds
whenever it produced the matrix (``runs/matrix.json``), whatever the verdict, and fails
only when it could not. A plain ``nox -s replay compare`` therefore exits 0 on drift (and
1 when a replay session failed); the verdict is printed and recorded in
``runs/matrix.json`` (``exit_code``), and the exit-code contract belongs to
``python -m reprocheck.nox``. The driver passes the compare session a file to write the
result to (:data:`RESULT_ENV`); the session then prints only the table, and the driver
prints the verdict after nox's summary, as the last thing on screen.

How a ``replay`` session builds its environment from the lockfile and replays into it is
:mod:`reprocheck.integrations.nox_build`; the ``compare`` session runs
``python -m reprocheck.integrations.matrix_main`` inside a built environment.

This module imports only the standard library, nox and reprocheck's torch-free modules,
so a host with just nox (and uv) installed can run the matrix.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import nox

from reprocheck._boundary import guarded
from reprocheck._version import __version__
from reprocheck.artifacts.matrix_files import MATRIX_FILE, read_matrix_result, read_status
from reprocheck.errors import ArtifactError, ExitCode, InputError
from reprocheck.integrations.nox_bisect import register_bisect
from reprocheck.integrations.nox_build import STAMP_NAME, ReplayPlan, replay_environment
from reprocheck.model.matrix import MatrixResult, version_key
from reprocheck.report.matrix import render_verdict

__all__ = ["RESULT_ENV", "STAMP_NAME", "environments", "main", "matrix"]

#: Set by ``python -m reprocheck.nox``: where the compare session also writes the matrix
#: result, for the driver to read; the session then leaves the verdict to the driver.
RESULT_ENV = "REPROCHECK_NOX_RESULT"
#: ``python -m reprocheck.nox --bisect``: also bisect every environment that drifts.
BISECT_FLAG = "--bisect"
_EXIT_ENV_FAILURE = ExitCode.ENVIRONMENT
_NO_LOCKFILES = "no lockfiles in {}/: create them with `reprocheck lock`"


def environments(lockfiles: str | Path) -> list[str]:
    """The environment names: the stems of ``lockfiles/*.txt``, sorted."""
    return sorted((p.stem for p in Path(lockfiles).glob("*.txt")), key=str)


def matrix(
    *,
    lockfiles: str | Path = "lockfiles",
    runs: str | Path = "runs",
    scenarios: Sequence[str] = (),
    baseline: str | None = None,
    python: str | None = "3.11",
    run_args: Sequence[str] = (),
    install_reprocheck: Sequence[str] | None = None,
    venv_backend: str = "uv|virtualenv",
    command: Sequence[str] | None = None,
) -> tuple[Callable[..., None], Callable[..., None]]:
    """Register the ``replay`` and ``compare`` sessions in the calling noxfile.

    Args:
        lockfiles: directory of lockfiles; one ``replay`` session per ``*.txt``.
        runs: where each environment's run goes (``runs/<env>/``).
        scenarios: scenarios to replay (default: all built-in ones). Session posargs that
            are not environment names replace them.
        baseline: environment every other is compared with; default the first in sorted
            order. A session posarg naming an environment overrides it.
        python: interpreter for the environments (the lockfiles are compiled for it).
        run_args: more ``reprocheck run`` options, e.g. ``["--steps", "5"]``.
        install_reprocheck: how to install reprocheck into each environment (always with
            ``--no-deps``); default: this source tree, editable, when reprocheck runs from
            one, else ``reprocheck==<this version>``.
        venv_backend: nox backend(s) for the replay environments.
        command: your own training command, e.g. ``["python", "train.py"]``, run in each
            environment instead of ``reprocheck run``, with ``REPROCHECK_OUT=runs/<env>``
            (:mod:`~reprocheck.integrations.nox_build`); posargs not naming environments
            are appended. Excludes ``scenarios`` and ``run_args`` (else InputError).

    Returns:
        ``replay`` and ``compare`` (registered with nox, as is ``bisect``: nox_bisect).
    """
    lock_dir, runs_dir, names = Path(lockfiles), Path(runs), environments(lockfiles)
    own = _checked_command(command, scenarios, run_args)
    install = tuple(install_reprocheck or _default_reprocheck_install())
    plan = ReplayPlan(lock_dir, runs_dir, install, tuple(run_args), own)

    @nox.session(python=python, venv_backend=venv_backend, reuse_venv=True, default=False)
    @nox.parametrize("env", names or ["(none)"])
    def replay(session: nox.Session, env: str) -> None:
        """Build the environment pinned by lockfiles/<env>.txt and replay the scenarios."""
        if not names:
            session.error(_NO_LOCKFILES.format(lock_dir))
        chosen = [a for a in session.posargs if a not in names] or list(scenarios)
        replay_environment(session, env, plan, chosen)

    @nox.session(python=False, venv_backend="none", default=False)
    def compare(session: nox.Session) -> None:
        """Compare every environment's run with the baseline and print one matrix table."""
        named = [a for a in session.posargs if a in names]
        chosen = named[0] if named else (baseline or (names[0] if names else None))
        if chosen is None:
            session.error(_NO_LOCKFILES.format(lock_dir))
        _compare(session, names, chosen, lock_dir, runs_dir)

    register_bisect(names, baseline, plan, tuple(scenarios))
    return replay, compare


def _checked_command(
    command: Sequence[str] | None, scenarios: Sequence[str], run_args: Sequence[str]
) -> tuple[str, ...]:
    """``command`` as a tuple (empty when None), or an InputError naming what is wrong."""
    if command is None:
        return ()
    if isinstance(command, str) or not command or not all(isinstance(a, str) for a in command):
        raise InputError(
            f"command must be a non-empty list of strings, got {command!r}",
            hint='Give the program and its arguments, e.g. command=["python", "train.py"].',
            field="command",
        )
    for given, name in ((scenarios, "scenarios"), (run_args, "run_args")):
        if given:
            raise InputError(
                f"matrix() takes command or {name}, not both",
                hint=f"Drop {name}: your command runs instead of `reprocheck run`, and "
                "records its run with reprocheck.record(model=...) (REPROCHECK_OUT).",
                field="command",
            )
    return tuple(command)


def _default_reprocheck_install() -> list[str]:
    root = Path(__file__).resolve().parents[2]  # reprocheck/integrations/ -> the checkout
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "reprocheck"' in pyproject.read_text(encoding="utf-8"):
        return ["-e", str(root)]
    return [f"reprocheck=={__version__}"]


# --- compare -----------------------------------------------------------------------------


def _compare(
    session: nox.Session, names: list[str], baseline: str, lock_dir: Path, runs_dir: Path
) -> None:
    if baseline not in names:
        session.error(f"baseline {baseline!r} is not one of {', '.join(names)}")
    order = [baseline, *sorted((n for n in names if n != baseline), key=version_key)]
    python = _python_for(runs_dir, order)
    if python is None:
        session.error(
            "no environment has been built: run the replay sessions first (nox -s replay compare)"
        )
    result = runs_dir / MATRIX_FILE
    driver = os.environ.get(RESULT_ENV)
    argv = [python, "-m", "reprocheck.integrations.matrix_main", *order, "--baseline", baseline]
    argv += ["--runs", str(runs_dir), "--lockfiles", str(lock_dir)]
    argv += ["--markdown", str(runs_dir / "matrix.md"), "--json", str(result)]
    if driver:
        # python -m reprocheck.nox prints the verdict after nox's summary, from this file.
        argv += ["--json", driver, "--table-only"]
    # The JSON is the matrix's last act: remove the old one, so that only a complete run of
    # this matrix can leave one.
    result.unlink(missing_ok=True)
    session.log(f"comparing {len(order) - 1} environment(s) with {baseline}")
    # Drift (1) and an environment failure (3, already a failed replay session) are
    # verdicts, not failures of this session; anything else (2 bad input, a crash) is.
    session.run(
        *argv, external=True, success_codes=[ExitCode.OK, ExitCode.DRIFT, _EXIT_ENV_FAILURE]
    )
    try:
        verdict = read_matrix_result(result)
    except ArtifactError as exc:
        session.error(f"the matrix did not complete: {exc}")
    if not driver and verdict.exit_code:
        why = "drift is" if verdict.exit_code == ExitCode.DRIFT else "a failed environment is"
        session.log(
            f"{why} a verdict, not a failure of this session: `python -m reprocheck.nox` "
            f"exits {verdict.exit_code} on it ({result} records exit_code {verdict.exit_code})"
        )


def _python_for(runs_dir: Path, order: list[str]) -> str | None:
    """The interpreter of the first built environment (the baseline's when it was built)."""
    for env in order:
        status = read_status(runs_dir, env)
        if status is not None and status.python and Path(status.python).exists():
            return status.python
    return None


# --- driver ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reprocheck.nox [NOX OPTIONS] [-- POSARGS]``: the matrix, with exit codes.

    Runs ``nox -s replay compare`` (with ``--bisect`` also ``bisect``, which bisects each
    drifting environment's lockfile change: :mod:`reprocheck.integrations.nox_bisect`),
    then prints the matrix verdict (after nox's summary, as the last thing on screen) and
    returns it: 0 reproducible, 1 drift, 3 an environment could not be built or replayed.
    Options such as ``-f noxfile.py`` are passed to nox.
    Like every entry point it exits 130 when interrupted (nox has the same interrupt and
    stops its sessions) and 4 when reprocheck itself fails (``reprocheck._boundary``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    with guarded(report=lambda line: print(line, file=sys.stderr, flush=True)) as outcome:
        outcome.code = _drive(args)
    return outcome.code


def _drive(args: list[str]) -> int:
    """``main``'s work: run nox, print the verdict, return the exit code."""
    with tempfile.TemporaryDirectory(prefix="reprocheck-nox-") as tmp:
        result = Path(tmp) / "matrix.json"
        sessions = ["replay", "compare", *(["bisect"] if BISECT_FLAG in args else [])]
        args = [a for a in args if a != BISECT_FLAG]
        command = [sys.executable, "-m", "nox", "-s", *sessions, *args]
        env = {**os.environ, RESULT_ENV: str(result)}
        nox_code = subprocess.run(command, check=False, env=env).returncode
        if nox_code == ExitCode.INTERRUPTED or not result.exists():
            # No matrix this time: interrupted, or nox failed before comparing.
            if nox_code in (ExitCode.OK, ExitCode.INTERRUPTED):
                return ExitCode(nox_code)
            print(
                "\nmatrix verdict: environment failure (no matrix was produced: "
                "see the failed session(s) above)",
                flush=True,
            )
            return ExitCode.ENVIRONMENT
        try:
            verdict = read_matrix_result(result)
        except ArtifactError as exc:
            print(f"\nmatrix verdict: environment failure ({exc})", flush=True)
            return ExitCode.ENVIRONMENT
    print("\n" + render_verdict(verdict), end="", flush=True)
    code = _exit_code(verdict, nox_code)
    if code != verdict.exit_code:
        # e.g. nox could not create an environment, so its replay never recorded a status.
        print(f"exit {code}: a nox session failed that the matrix does not show", flush=True)
    return code


def _exit_code(verdict: MatrixResult, nox_code: int) -> int:
    """The matrix's verdict, unless nox failed a session: then an environment failed (3).

    The compare session succeeds whatever the verdict, so a failed nox run means a replay
    session failed, which the matrix shows as ``not built`` or ``run failed`` (3) unless
    it failed before recording anything.
    """
    return verdict.exit_code if nox_code == ExitCode.OK else _EXIT_ENV_FAILURE


if __name__ == "__main__":  # pragma: no cover - exercised by the integration tests
    sys.exit(main())
