"""pip-compile: what an environment's input says, and running pip-compile on it.

:class:`EnvironmentSpec` is one environment to lock (a name and its pins);
:func:`input_text` is the ``<env>.in`` file pip-compile reads; :func:`pip_compile` runs
``python -m piptools compile`` with the options that keep a lockfile portable, passes on
what it is doing while it resolves, and turns its failures into errors that name the pin.

Only the standard library is used here (pip-tools runs in a subprocess).
"""

from __future__ import annotations

import dataclasses
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from reprocheck._log import log
from reprocheck.errors import EnvironmentFailure, InputError
from reprocheck.pinned.lockfile import canonical_name, requirement_name

__all__ = [
    "DEFAULT_REQUIREMENTS",
    "HEARTBEAT_S",
    "PIP_COMPILE_OPTIONS",
    "EnvironmentSpec",
    "input_text",
    "pip_compile",
]

# reprocheck's runtime requirements as a replay environment needs them. nox and pip-tools
# are left out on purpose: they run on the host, never inside a pinned environment.
# numpy is listed because torch uses it when present and it moves numbers (torch 2.6
# needs numpy<2): a lockfile must pin it rather than leave it to chance.
DEFAULT_REQUIREMENTS: tuple[str, ...] = (
    "click>=8.2",
    "deepdiff>=8.0",
    "isal>=1.6",
    "numpy",
    "safetensors>=0.8",
    "tomli>=1.1; python_version < '3.11'",
    "torch>=2.1",
)

# pip-compile options that keep a lockfile portable: hashes for every file, setuptools & co.
# pinned too, and nothing about this machine (index, find-links, trusted hosts) copied in.
PIP_COMPILE_OPTIONS: tuple[str, ...] = (
    "--generate-hashes",
    "--allow-unsafe",
    "--no-emit-index-url",
    "--no-emit-find-links",
    "--no-emit-trusted-host",
    "--strip-extras",
)

_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_RESOLUTION_FAILURE = (
    "No matching distribution found for",
    "Could not find a version that satisfies the requirement",
    "ResolutionImpossible",
    "conflicting dependencies",
)


@dataclasses.dataclass(frozen=True, slots=True)
class EnvironmentSpec:
    """One environment to lock: a name (the lockfile's stem) and its pins."""

    name: str
    pins: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _ENV_NAME.match(self.name):
            raise InputError(
                f"environment name {self.name!r} is not usable as a file name",
                hint="Use letters, digits, '.', '_', '+' and '-', e.g. --env torch-2.6.0.",
            )
        for pin in self.pins:
            if not pin.strip() or pin.lstrip().startswith("-") or "\n" in pin:
                raise InputError(
                    f"pin {pin!r} for environment {self.name!r} is not a requirement",
                    hint='Give a requirement specifier, e.g. --pin torch==2.6.0 --pin "numpy<2".',
                )


def input_text(spec: EnvironmentSpec, *, requirements: Path | None, output_dir: Path) -> str:
    """The pip-compile input for ``spec``: the requirements, then the environment's pins."""
    lines = [
        f"# Input for {spec.name}.txt, written by `reprocheck lock` (re-run it to change pins).",
    ]
    if requirements is None:
        lines.append("# reprocheck's runtime requirements (nox and pip-tools run on the host)")
        lines.extend(DEFAULT_REQUIREMENTS)
    else:
        # Relative, so the file names no directory of this machine.
        relative = os.path.relpath(Path(requirements).resolve(), Path(output_dir).resolve())
        lines.append(f"-r {Path(relative).as_posix()}")
    lines.append(f"# pins for {spec.name}")
    lines.extend(pin.strip() for pin in spec.pins)
    return "\n".join(lines) + "\n"


def pip_compile(
    spec: EnvironmentSpec,
    src: Path,
    output: Path,
    *,
    command: str,
    upgrade: bool = False,
    timeout: float | None = None,
) -> None:
    """Run ``pip-compile`` on ``src`` into ``output`` (both in one directory, its cwd).

    Progress goes to :func:`reprocheck._log.log` at least every :data:`HEARTBEAT_S` seconds.
    ``command`` is the command line pip-tools writes into the lockfile's header.

    Raises:
        EnvironmentFailure: pip-tools is missing, pip-compile timed out or failed (the
            message names the pins no distribution satisfies when the resolver says so).
    """
    # -v: pip-compile then reports its rounds, downloads and hashing, which the heartbeat
    # passes on; the lockfile it also echoes to stdout is ignored (it is in --output-file).
    argv = [sys.executable, "-m", "piptools", "compile", *PIP_COMPILE_OPTIONS, "-v"]
    if upgrade:
        argv.append("--upgrade")
    # File names relative to the cwd: the header names no directory of this machine.
    argv += ["--output-file", output.name, src.name]
    env = dict(os.environ)
    # pip-tools puts this in the header instead of its own command line (which would name
    # temporary files); never a machine path.
    env["CUSTOM_COMPILE_COMMAND"] = command
    try:
        returncode, output_text = _stream(argv, cwd=src.parent, env=env, spec=spec, timeout=timeout)
    except FileNotFoundError:
        raise EnvironmentFailure(
            f"cannot lock environment {spec.name!r}: {sys.executable} cannot be run",
            hint="Install pip-tools: python -m pip install pip-tools.",
        ) from None
    except subprocess.TimeoutExpired:
        raise EnvironmentFailure(
            f"cannot lock environment {spec.name!r}: pip-compile took longer than {timeout}s",
            hint="Check the package index is reachable, then retry.",
        ) from None
    if returncode != 0:
        raise _failure(spec, output_text)


def _failure(spec: EnvironmentSpec, output_text: str) -> EnvironmentFailure:
    """The error for a pip-compile that failed, naming the pins to blame when it can."""
    if "No module named piptools" in output_text:
        return EnvironmentFailure(
            f"cannot lock environment {spec.name!r}: pip-tools is not installed",
            hint="Install it: python -m pip install pip-tools.",
        )
    culprit = _failing_pins(spec, output_text)
    detail = _last_error_line(output_text)
    if culprit:
        return EnvironmentFailure(
            f"cannot lock environment {spec.name!r}: no distribution satisfies "
            f"{' and '.join(culprit)} ({detail})",
            hint="Check the version exists on your index (pip index versions NAME), "
            "or change the --pin.",
        )
    return EnvironmentFailure(
        f"cannot lock environment {spec.name!r} (pins: {', '.join(spec.pins) or 'none'}): "
        f"pip-compile failed: {detail}",
        hint="Run the same pins through pip-compile -v to see the resolver's explanation.",
    )


#: Longest silence while pip-compile runs: a resolve of torch can take minutes.
HEARTBEAT_S = 5.0
# pip-compile -v lines worth passing on as "what it is doing now".
_DOING = re.compile(r"^\s*(ROUND \d+|Collecting \S+|Downloading \S+|Hashing \S+|Generating hashes)")


def _stream(
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    spec: EnvironmentSpec,
    timeout: float | None,
) -> tuple[int, str]:
    """Run pip-compile, reporting what it does at least every :data:`HEARTBEAT_S` seconds.

    Returns its exit code and everything it printed (for the error message).
    """
    lines: queue.Queue[str | None] = queue.Queue()
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    ) as process:
        readers = [
            threading.Thread(target=_pump, args=(pipe, lines), daemon=True)
            for pipe in (process.stdout, process.stderr)
        ]
        for reader in readers:
            reader.start()
        seen: list[str] = []
        doing = "resolving"
        started = last_said = time.monotonic()
        open_pipes = len(readers)
        while open_pipes:
            now = time.monotonic()
            if timeout is not None and now - started > timeout:
                process.kill()
                raise subprocess.TimeoutExpired(argv, timeout)
            if now - last_said >= HEARTBEAT_S:
                log(f"locking {spec.name}: {now - started:.0f} s, pip-compile: {doing}")
                last_said = now
            try:
                line = lines.get(timeout=max(0.1, HEARTBEAT_S - (now - last_said)))
            except queue.Empty:
                continue
            if line is None:
                open_pipes -= 1
                continue
            seen.append(line)
            found = _DOING.match(line)
            if found:
                doing = " ".join(line.split())
        process.wait()
    return process.returncode, "".join(seen)


def _pump(pipe: IO[str] | None, lines: queue.Queue[str | None]) -> None:
    if pipe is not None:
        for line in pipe:
            lines.put(line)
    lines.put(None)


def _failing_pins(spec: EnvironmentSpec, output: str) -> list[str]:
    """The pins whose project the resolver's error names (all of them if it names several)."""
    if not any(marker in output for marker in _RESOLUTION_FAILURE):
        return []
    # Only the error lines: pip-compile -v also names every requirement it collected.
    errors = "\n".join(
        line
        for line in output.splitlines()
        if "ERROR" in line or any(marker in line for marker in _RESOLUTION_FAILURE)
    )
    named = {canonical_name(m) for m in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", errors)}
    return [pin.strip() for pin in spec.pins if requirement_name(pin) in named]


def _last_error_line(output: str) -> str:
    lines = [
        line.strip()
        for line in output.splitlines()
        if line.strip() and "is ignored: it is neither a file nor a directory" not in line
    ]
    errors = [line for line in lines if line.startswith("ERROR") or "Error" in line]
    chosen = (errors or lines or ["no output"])[-1]
    return chosen.removeprefix("ERROR: ")
