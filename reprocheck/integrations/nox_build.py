"""Building a replay environment from its lockfile, and replaying the scenarios in it.

What one nox ``replay`` session does (:func:`replay_environment`): build the environment
pinned by ``lockfiles/<env>.txt`` with hashes (uv when available, else virtualenv and pip),
with pip's configured index and find-links passed on (uv does not read pip.conf), bytecode
compiled, and reprocheck installed without dependencies; then ``reprocheck run`` into
``runs/<env>/`` or, for a matrix of the user's own training command
(``ReplayPlan.command``), that command, run from the project directory with the
environment's interpreter first on ``PATH``, ``REPROCHECK_OUT=runs/<env>`` (where
``reprocheck.record`` then writes) and ``REPROCHECK_LOCKFILE`` set. Each stage is
recorded in the environment's status file for the matrix.
The lockfile's sha256 is kept inside the environment (:data:`STAMP_NAME`): an edited
lockfile wipes and rebuilds it on the next run; an unchanged one is reused in a second.

Imports only the standard library, nox and reprocheck's torch-free modules.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import nox

from reprocheck.artifacts.matrix_files import write_status
from reprocheck.errors import ExitCode
from reprocheck.model.formats import MANIFEST
from reprocheck.model.matrix import EnvState, EnvStatus
from reprocheck.pinned.lockfile import Lockfile, lockfile_sha256, read_lockfile
from reprocheck.pinned.pipconfig import pip_install_options, uv_install_options

__all__ = [
    "BUILTIN_SCENARIOS",
    "LOCKFILE_ENV",
    "OUT_ENV",
    "STAMP_NAME",
    "BuildFailed",
    "ReplayPlan",
    "replay_environment",
    "run_installer",
]

#: File inside each environment holding the sha256 of the lockfile it was built from.
STAMP_NAME = "reprocheck-lockfile.sha256"
#: ``reprocheck run`` without names replays these (reprocheck.scenarios.BUILTIN_NAMES,
#: which imports torch: this module must not).
BUILTIN_SCENARIOS = ("mlp", "cnn", "transformer", "rnn")
#: Where the user's command writes its run (``reprocheck.record`` reads it when given no
#: ``out``; reprocheck.workflows.record.OUT_ENV, which imports torch: this module must not).
OUT_ENV = "REPROCHECK_OUT"
#: The lockfile in force, which the command's fingerprint records (reprocheck.env.packages).
LOCKFILE_ENV = "REPROCHECK_LOCKFILE"
#: Seconds of installer silence before a "still installing" line.
_HEARTBEAT_S = 30.0


@dataclasses.dataclass(frozen=True)
class ReplayPlan:
    """What every ``replay`` session of one matrix does, whatever its environment.

    Attributes:
        lock_dir: the lockfiles; environment ``env`` is pinned by ``lock_dir/<env>.txt``.
        runs_dir: where each environment's run goes (``runs_dir/<env>/``).
        install: how to install reprocheck into each environment (always ``--no-deps``).
        run_args: more ``reprocheck run`` options, e.g. ``("--steps", "5")``.
        command: the user's own training command, run instead of ``reprocheck run``
            (empty: replay scenarios); it writes its run to ``$REPROCHECK_OUT``.
    """

    lock_dir: Path
    runs_dir: Path
    install: tuple[str, ...]
    run_args: tuple[str, ...] = ()
    command: tuple[str, ...] = ()


def replay_environment(
    session: nox.Session, env: str, plan: ReplayPlan, scenarios: Sequence[str]
) -> None:
    """Build (or reuse) ``env``'s environment and replay ``scenarios`` in it (all if empty).

    With ``plan.command``, run that command instead (``scenarios`` are then more arguments
    for it). Each stage is recorded in ``runs_dir/.status/<env>.json`` for the matrix; a
    build that fails is recorded as ``not built`` and fails the session, a run that fails
    (or a command that writes no run) as ``run failed``.
    """
    lockfile = plan.lock_dir / f"{env}.txt"
    runs_dir = plan.runs_dir
    digest = lockfile_sha256(lockfile) if lockfile.is_file() else "missing"

    def status(state: EnvState, message: str | None = None, python: str | None = None) -> None:
        write_status(runs_dir, EnvStatus(env, state, digest, python=python, message=message))

    status("building")
    try:
        python = _ensure_environment(session, env, lockfile, list(plan.install))
    except BuildFailed as exc:
        status("not built", str(exc))
        session.error(f"{exc} (exit {int(ExitCode.ENVIRONMENT)})")
    status("built", python=python)
    out = runs_dir / env
    if plan.command:
        argv, extra = _own_command(session, env, plan, lockfile=lockfile, out=out, more=scenarios)
    else:
        argv = ["reprocheck", "run", *scenarios, "--out", str(out), "--force"]
        argv += ["--lockfile", str(lockfile), *plan.run_args]
        extra = {}
        replayed = ", ".join(scenarios or BUILTIN_SCENARIOS)
        session.log(f"[{env}] step 3/3: replaying {replayed} into {out}")
    try:
        session.run(*argv, env=extra)
    except nox.command.CommandFailed:
        status("run failed", f"`{' '.join(argv)}` failed in environment {env}", python)
        raise
    if plan.command and not (out / MANIFEST).is_file():
        message = (
            f"`{' '.join(argv)}` wrote no run to {out} in environment {env}: record it with "
            f"reprocheck.record(...) without `out` (it reads ${OUT_ENV})"
        )
        status("run failed", message, python)
        session.error(message)
    status("ran", python=python)


def _own_command(
    session: nox.Session,
    env: str,
    plan: ReplayPlan,
    *,
    lockfile: Path,
    out: Path,
    more: Sequence[str],
) -> tuple[list[str], dict[str, str]]:
    """The user's command for ``env`` and its variables; clears the old run at ``out``."""
    argv = [*plan.command, *more]
    if out.is_dir():  # a failed command must not leave the previous matrix's run behind
        shutil.rmtree(out)
    extra = {OUT_ENV: str(out.resolve()), LOCKFILE_ENV: str(lockfile.resolve())}
    session.log(f"[{env}] step 3/3: running `{' '.join(argv)}` ({OUT_ENV}={out}) in {os.getcwd()}")
    return argv, extra


class BuildFailed(Exception):
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
        raise BuildFailed(f"cannot build environment {env!r}: {exc}") from None
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
            raise BuildFailed(f"cannot rebuild environment {env!r}: not a virtualenv")
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
        run_installer(env, lock, [*sync, *uv_install_options(), str(lockfile)], step=steps[0])
        own = [uv, "pip", "install", "--python", python, "--no-deps", "--compile-bytecode"]
        session.log(steps[1])
        run_installer(env, lock, [*own, *uv_install_options(), *install], step=steps[1])
    else:
        pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
        session.log(steps[0])
        run_installer(env, lock, [*pip, "--require-hashes", "--no-deps", "-r", str(lockfile)])
        session.log(steps[1])
        run_installer(env, lock, [*pip, "--no-deps", *pip_install_options(), *install])
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


def run_installer(
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
        raise BuildFailed(
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
        raise BuildFailed(
            f"cannot build environment {env!r}: no installable distribution for "
            f"{', '.join(pins)} ({lock.path}): {last}"
        )
    raise BuildFailed(f"cannot build environment {env!r} from {lock.path}: {last}")
