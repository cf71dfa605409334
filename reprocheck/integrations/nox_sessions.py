"""nox sessions for a pinned-environment matrix, in a few lines of a project's noxfile.

    import reprocheck.nox

    reprocheck.nox.matrix(lockfiles="lockfiles", scenarios=["mlp", "cnn"])

registers ``replay`` (one session per lockfile, e.g. ``replay(env='torch-2.13.0')``) and
``compare`` (every run against the baseline, as one table). Run them with
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

An environment is built from its lockfile with hashes (uv when available, else
virtualenv and pip), with pip's configured index and find-links passed on (uv does not
read pip.conf), bytecode compiled, and reprocheck installed without dependencies. The
lockfile's sha256 is kept inside the environment: an edited lockfile wipes and rebuilds
it on the next run; an unchanged one is reused in a second.

This module imports only the standard library, nox and reprocheck's torch-free modules,
so a host with just nox (and uv) installed can run the matrix.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import nox

from reprocheck._version import __version__
from reprocheck.errors import ArtifactError
from reprocheck.pinned.lockfile import Lockfile, lockfile_sha256, read_lockfile
from reprocheck.pinned.matrix import (
    EnvStatus,
    MatrixResult,
    read_result,
    read_status,
    render_verdict,
    version_key,
    write_status,
)
from reprocheck.pinned.pipconfig import pip_install_options, uv_install_options

__all__ = ["RESULT_ENV", "STAMP_NAME", "environments", "main", "matrix"]

#: File inside each environment holding the sha256 of the lockfile it was built from.
STAMP_NAME = "reprocheck-lockfile.sha256"
#: Set by ``python -m reprocheck.nox``: where the compare session also writes the matrix
#: result, for the driver to read; the session then leaves the verdict to the driver.
RESULT_ENV = "REPROCHECK_NOX_RESULT"
_EXIT_ENV_FAILURE = 3
#: ``reprocheck run`` without names replays these (reprocheck.scenarios.BUILTIN_NAMES,
#: which imports torch: this module must not).
_BUILTIN_SCENARIOS = ("mlp", "cnn", "transformer", "rnn")
#: Seconds of installer silence before a "still installing" line.
_HEARTBEAT_S = 30.0


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

    Returns:
        The two session functions (already registered with nox).
    """
    lock_dir = Path(lockfiles)
    runs_dir = Path(runs)
    names = environments(lock_dir)
    install = list(install_reprocheck) if install_reprocheck else _default_reprocheck_install()

    @nox.session(python=python, venv_backend=venv_backend, reuse_venv=True, default=False)
    @nox.parametrize("env", names or ["(none)"])
    def replay(session: nox.Session, env: str) -> None:
        """Build the environment pinned by lockfiles/<env>.txt and replay the scenarios."""
        if not names:
            session.error(f"no lockfiles in {lock_dir}/: create them with `reprocheck lock`")
        lockfile = lock_dir / f"{env}.txt"
        chosen = [a for a in session.posargs if a not in names] or list(scenarios)
        _replay(
            session,
            env=env,
            lockfile=lockfile,
            runs_dir=runs_dir,
            install=install,
            scenarios=chosen,
            run_args=list(run_args),
        )

    @nox.session(python=False, venv_backend="none", default=False)
    def compare(session: nox.Session) -> None:
        """Compare every environment's run with the baseline and print one matrix table."""
        named = [a for a in session.posargs if a in names]
        chosen = named[0] if named else (baseline or (names[0] if names else None))
        if chosen is None:
            session.error(f"no lockfiles in {lock_dir}/: create them with `reprocheck lock`")
        _compare(session, names, chosen, lock_dir, runs_dir)

    return replay, compare


def _default_reprocheck_install() -> list[str]:
    root = Path(__file__).resolve().parents[2]  # reprocheck/integrations/ -> the checkout
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "reprocheck"' in pyproject.read_text(encoding="utf-8"):
        return ["-e", str(root)]
    return [f"reprocheck=={__version__}"]


# --- replay ------------------------------------------------------------------------------


def _replay(
    session: nox.Session,
    *,
    env: str,
    lockfile: Path,
    runs_dir: Path,
    install: list[str],
    scenarios: list[str],
    run_args: list[str],
) -> None:
    digest = lockfile_sha256(lockfile) if lockfile.is_file() else "missing"

    def status(state: Any, message: str | None = None, python: str | None = None) -> None:
        write_status(runs_dir, EnvStatus(env, state, digest, python=python, message=message))

    status("building")
    try:
        python = _ensure_environment(session, env, lockfile, install)
    except _BuildFailed as exc:
        status("not built", str(exc))
        session.error(f"{exc} (exit {_EXIT_ENV_FAILURE})")
    status("built", python=python)
    out = runs_dir / env
    argv = ["reprocheck", "run", *scenarios, "--out", str(out), "--force"]
    argv += ["--lockfile", str(lockfile), *run_args]
    replayed = ", ".join(scenarios or _BUILTIN_SCENARIOS)
    session.log(f"[{env}] step 3/3: replaying {replayed} into {out}")
    try:
        session.run(*argv)
    except nox.command.CommandFailed:
        status("run failed", f"`{' '.join(argv)}` failed in environment {env}", python)
        raise
    status("ran", python=python)


class _BuildFailed(Exception):
    """An environment could not be built; the message names it and the pin to blame."""


def _ensure_environment(session: nox.Session, env: str, lockfile: Path, install: list[str]) -> str:
    """Build (or reuse) the session's environment from ``lockfile``; its interpreter."""
    venv = session.virtualenv
    location = Path(getattr(venv, "location", "") or "")
    bin_dir = Path(session.bin) if session.bin else location / "bin"
    python = str(bin_dir / "python")
    try:
        lock = read_lockfile(lockfile)
    except Exception as exc:  # noqa: BLE001 - any unreadable lockfile is a build failure
        raise _BuildFailed(f"cannot build environment {env!r}: {exc}") from None
    stamp = location / STAMP_NAME
    want = f"{lock.sha256}  {lockfile.name}\n"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == want:
        session.log(
            f"[{env}] steps 1-2/3 skipped: environment {env} is up to date with {lockfile} (reused)"
        )
        return python
    if stamp.is_file() or _has_packages(location):
        # Anything installed was installed from another lockfile: start from empty, since
        # nox's reuse keeps whatever is there.
        session.log(f"[{env}] {lockfile} changed: rebuilding environment {env} from scratch")
        stamp.unlink(missing_ok=True)
        if not isinstance(venv, nox.virtualenv.VirtualEnv):
            raise _BuildFailed(f"cannot rebuild environment {env!r}: not a virtualenv")
        venv.reuse_existing = False
        venv.create()
    started = time.monotonic()
    uv = _uv_binary() if session.venv_backend == "uv" else None
    tool = "uv" if uv is not None else "pip"
    torch = next((p for p in lock.packages if p.key == "torch"), None)
    what = f"{len(lock.packages)} pinned packages" + (
        f" (torch {torch.version})" if torch is not None else ""
    )
    steps = (
        f"[{env}] step 1/3: installing {what} from {lockfile} with {tool}",
        f"[{env}] step 2/3: installing reprocheck ({' '.join(install)}, no dependencies)",
    )
    if uv is not None:
        sync = [uv, "pip", "sync", "--python", python, "--require-hashes", "--compile-bytecode"]
        session.log(steps[0])
        _install(env, lock, [*sync, *uv_install_options(), str(lockfile)], step=steps[0])
        own = [uv, "pip", "install", "--python", python, "--no-deps", "--compile-bytecode"]
        session.log(steps[1])
        _install(env, lock, [*own, *uv_install_options(), *install], step=steps[1])
    else:
        pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
        session.log(steps[0])
        _install(env, lock, [*pip, "--require-hashes", "--no-deps", "-r", str(lockfile)])
        session.log(steps[1])
        _install(env, lock, [*pip, "--no-deps", *pip_install_options(), *install])
    stamp.write_text(want, encoding="utf-8")
    session.log(f"[{env}] built environment {env} in {time.monotonic() - started:.0f} s")
    return python


def _lines_with_heartbeat(
    process: subprocess.Popen[str], heartbeat_s: float
) -> Iterator[str | None]:
    """The process's output lines, and None after every ``heartbeat_s`` seconds of silence."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout or ():
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, name="reprocheck-installer-output", daemon=True)
    reader.start()
    while True:
        try:
            line = lines.get(timeout=heartbeat_s)
        except queue.Empty:
            yield None
            continue
        if line is None:
            reader.join()
            return
        yield line


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _has_packages(location: Path) -> bool:
    ignored = ("pip-", "setuptools-", "wheel-", "_virtualenv")
    return any(not p.name.startswith(ignored) for p in location.glob("lib/python*/site-packages/*"))


def _uv_binary() -> str | None:
    try:
        from uv import find_uv_bin  # the uv wheel installed beside nox

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _install(
    env: str,
    lock: Lockfile,
    argv: list[str],
    *,
    step: str | None = None,
    heartbeat_s: float = _HEARTBEAT_S,
) -> None:
    """Run an installer, streaming its progress; on failure name the pin to blame.

    While the installer is silent (uv prints nothing while it downloads a multi-GB torch
    build), a "still installing" line naming ``step`` follows every ``heartbeat_s`` seconds.
    """
    print("$", " ".join(argv), file=sys.stderr, flush=True)
    lines: list[str] = []
    started = time.monotonic()
    try:
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        ) as process:
            for line in _lines_with_heartbeat(process, heartbeat_s):
                if line is None:
                    elapsed = _duration(time.monotonic() - started)
                    sys.stderr.write(f"  ... {step or argv[0]}: still running ({elapsed})\n")
                    sys.stderr.flush()
                    continue
                lines.append(line.rstrip())
                if "is ignored: it is neither a file nor a directory" not in line:
                    sys.stderr.write(f"  {line}")
                    sys.stderr.flush()
    except OSError as exc:
        raise _BuildFailed(
            f"cannot build environment {env!r}: cannot run {argv[0]}: {exc}"
        ) from None
    if process.returncode == 0:
        return
    text = "\n".join(lines)
    pins = [
        f"{p.name}=={p.version}"
        for p in lock.packages
        if f"{p.name}=={p.version}".lower() in text.lower()
        or f"{p.key}=={p.version}".lower() in text.lower()
    ]
    last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "no output")
    if pins:
        raise _BuildFailed(
            f"cannot build environment {env!r}: no installable distribution for "
            f"{', '.join(pins)} ({lock.path}): {last}"
        )
    raise _BuildFailed(f"cannot build environment {env!r} from {lock.path}: {last}")


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
    result = runs_dir / "matrix.json"
    driver = os.environ.get(RESULT_ENV)
    argv = [python, "-m", "reprocheck.pinned.matrix", *order, "--baseline", baseline]
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
    session.run(*argv, external=True, success_codes=[0, 1, _EXIT_ENV_FAILURE])
    try:
        verdict = read_result(result)
    except ArtifactError as exc:
        session.error(f"the matrix did not complete: {exc}")
    if not driver and verdict.exit_code:
        why = "drift is" if verdict.exit_code == 1 else "a failed environment is"
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

    Runs ``nox -s replay compare``, then prints the matrix verdict (after nox's summary, as
    the last thing on screen) and returns it: 0 reproducible, 1 drift, 3 an environment
    could not be built or replayed. Options such as ``-f noxfile.py`` are passed to nox.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="reprocheck-nox-") as tmp:
        result = Path(tmp) / "matrix.json"
        command = [sys.executable, "-m", "nox", "-s", "replay", "compare", *args]
        env = {**os.environ, RESULT_ENV: str(result)}
        try:
            nox_code = subprocess.run(command, check=False, env=env).returncode
        except KeyboardInterrupt:  # nox has the same interrupt and stops its sessions
            return 130
        if nox_code == 130 or not result.exists():
            # No matrix this time: interrupted, or nox failed before comparing.
            if nox_code in (0, 130):
                return nox_code
            print(
                "\nmatrix verdict: environment failure (no matrix was produced: "
                "see the failed session(s) above)",
                flush=True,
            )
            return _EXIT_ENV_FAILURE
        try:
            verdict = read_result(result)
        except ArtifactError as exc:
            print(f"\nmatrix verdict: environment failure ({exc})", flush=True)
            return _EXIT_ENV_FAILURE
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
    return verdict.exit_code if nox_code == 0 else _EXIT_ENV_FAILURE


if __name__ == "__main__":  # pragma: no cover - exercised by the integration tests
    sys.exit(main())
