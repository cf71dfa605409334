"""The built-in launcher: start N ranks on this machine, the way torchrun would.

``reprocheck run --world-size N`` outside torchrun starts N rank processes
(``python -m reprocheck.cli.rank JOB``, which calls :func:`rank_main`; ``JOB`` is the
:class:`~reprocheck.workflows.job.RunJob` as JSON), each with the variables torchrun sets
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR=127.0.0.1``,
a free ``MASTER_PORT``, and ``OMP_NUM_THREADS=1`` unless already set, as torchrun does).
Each copy calls :func:`reprocheck.workflows.run.run_job`, which sees the variables and
joins the process group exactly as it does under torchrun: both launchers run the same
code, so they write the same artifact. Rank 0 writes the run; the launcher waits.

A rank that fails writes its error (class, message, hint, field) to a file; the launcher stops
the other ranks at once (they would wait for the lost rank forever) and raises the
failed rank's error here, so the CLI reports it like any other.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO

from reprocheck import errors
from reprocheck._boundary import classify
from reprocheck._log import Kind, log, using_logger
from reprocheck.workflows.job import RunJob

__all__ = ["launch_ranks", "rank_main"]

_SPEC_ENV = "REPROCHECK_RANK_ERRORS"
_KIND_OF: dict[str, Kind] = {"info": "info", "progress": "progress", "warning": "warning"}
_KIND_OF["debug"] = "debug"
_POLL_S = 0.05
_STOP_GRACE_S = 5.0


def _free_port() -> int:
    # Bind to port 0 and let the kernel choose; the port is free again once closed.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rank_env(rank: int, world_size: int, port: int, errors_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world_size),
        GROUP_RANK="0",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    env[_SPEC_ENV] = str(errors_dir)
    # torchrun's default for several ranks on one machine: one thread each.
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _forward_log(stream: IO[str]) -> None:
    """Relay rank 0's log lines (one JSON object each) to this process's logger."""
    for line in stream:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            item = json.loads(line)
            kind: Kind = _KIND_OF.get(str(item["kind"]), "info")
            log(str(item["message"]), kind=kind)


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    """Stop the ranks still running: SIGTERM, then SIGKILL after a grace period."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _rank_error(errors_dir: Path, procs: list[subprocess.Popen[str]]) -> errors.ReprocheckError:
    """The error of the first rank that reported one, else a generic failure."""
    for rank in range(len(procs)):
        path = errors_dir / f"rank{rank}.json"
        if not path.is_file():
            continue
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            data = json.loads(path.read_text(encoding="utf-8"))
            cls = getattr(errors, str(data["type"]), None)
            if not (isinstance(cls, type) and issubclass(cls, errors.ReprocheckError)):
                cls = errors.EnvironmentFailure
            error = cls(str(data["message"]), hint=data.get("hint"))
            if isinstance(error, errors.InputError):
                error.field = data.get("field")
            return error
    codes = ", ".join(f"rank {r}: {p.returncode}" for r, p in enumerate(procs))
    tail = ""
    log_path = errors_dir / "rank0.log"
    with contextlib.suppress(OSError):
        lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        tail = f"; rank 0 said: {lines[-1]}" if lines else ""
    return errors.EnvironmentFailure(
        f"a distributed replay rank failed ({codes}){tail}",
        hint="Run again with -v; a rank killed by the system (out of memory?) leaves no error.",
    )


def launch_ranks(job: RunJob) -> None:
    """Start ``job.options.world_size`` ranks that each run ``job``; wait for them all.

    Args:
        job: the run every rank replays (:func:`reprocheck.workflows.run.run_job`).

    Raises:
        ReprocheckError: the first failed rank's error, re-raised here with its class.
    """
    errors_dir = Path(tempfile.mkdtemp(prefix="reprocheck-ranks-"))
    procs: list[subprocess.Popen[str]] = []
    logs: list[IO[str]] = []
    try:
        world_size = job.options.world_size
        spec = errors_dir / "job.json"
        spec.write_text(json.dumps(job.to_dict()), encoding="utf-8")
        port = _free_port()
        # A module name, not an import: the entry point sits above this layer.
        command = [sys.executable, "-m", "reprocheck.cli.rank", str(spec)]
        for rank in range(world_size):
            stderr = (errors_dir / f"rank{rank}.log").open("w", encoding="utf-8")
            logs.append(stderr)
            procs.append(
                subprocess.Popen(  # our own interpreter and module
                    command,
                    env=_rank_env(rank, world_size, port, errors_dir),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE if rank == 0 else subprocess.DEVNULL,
                    stderr=stderr,
                    text=True,
                )
            )
        relay = threading.Thread(
            target=contextvars.copy_context().run,
            args=(_forward_log, procs[0].stdout),
            daemon=True,
        )
        relay.start()
        while any(p.poll() is None for p in procs):
            if any(p.returncode not in (None, 0) for p in procs):
                break
            time.sleep(_POLL_S)
        failed = any(p.poll() not in (None, 0) for p in procs)
        _stop(procs)
        relay.join(timeout=_STOP_GRACE_S)
        if failed:
            raise _rank_error(errors_dir, procs)
    finally:
        _stop(procs)
        for handle in logs:
            handle.close()
        shutil.rmtree(errors_dir, ignore_errors=True)


def rank_main(
    run: Callable[[RunJob], object],
    argv: list[str] | None = None,
    *,
    logger: Callable[[str, Kind], None] | None = None,
) -> int:
    """One rank: read the job, call ``run(job)``, report an error to the launcher.

    Rank 0's messages go to ``logger`` (the entry point's channel to the launcher, which
    relays them); the other ranks say nothing.

    An exception is classified as at every entry point (:func:`reprocheck._boundary.classify`)
    and written, by class, for the launcher to raise: a crash of reprocheck is an
    ``InternalError`` (exit 4, its traceback logged for ``-v``), a failed process group an
    environment failure (3). Interrupted, the rank writes nothing and exits 130.
    """
    args = sys.argv[1:] if argv is None else argv
    errors_dir = Path(os.environ.get(_SPEC_ENV, "."))
    rank = os.environ.get("RANK", "0")
    with using_logger(logger if rank == "0" else None):
        try:
            run(RunJob.from_dict(json.loads(Path(args[0]).read_text(encoding="utf-8"))))
        except KeyboardInterrupt:
            return errors.ExitCode.INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - reported to the launcher, which raises it
            error = _rank_failure(exc, rank)
            if isinstance(error, errors.InternalError):
                log("".join(traceback.format_exception(exc)).rstrip("\n"), kind="debug")
            field = error.field if isinstance(error, errors.InputError) else None
            _write_error(
                errors_dir / f"rank{rank}.json",
                type(error).__name__,
                error.message,
                error.hint,
                field,
            )
            return error.exit_code
    return errors.ExitCode.OK


def _rank_failure(exc: Exception, rank: str) -> errors.ReprocheckError:
    """What a rank's exception means, named for the launcher (see :func:`rank_main`)."""
    # torch.distributed's errors (a lost peer, a store timeout) are the environment's.
    if type(exc).__module__.startswith("torch.distributed"):
        lines = str(exc).strip().splitlines()
        return errors.EnvironmentFailure(
            f"rank {rank} failed: {type(exc).__name__}: {lines[0] if lines else ''}",
            hint="Replay with a world size of 1 to see whether the scenario itself fails.",
        )
    error = classify(exc)
    if isinstance(error, errors.InternalError):
        return errors.InternalError(f"rank {rank}: {error.message}", hint=error.hint)
    return error


def _write_error(
    path: Path, kind: str, message: str, hint: str | None, field: str | None = None
) -> None:
    with contextlib.suppress(OSError):
        data = {"type": kind, "message": message, "hint": hint, "field": field}
        path.write_text(json.dumps(data), encoding="utf-8")
