"""Lockfiles: compile them with pip-tools and verify an environment against one.

A lockfile is what ``pip-compile --generate-hashes`` writes: ``name==version`` lines with
``--hash`` continuation lines and comments. reprocheck writes one per environment
(``lockfiles/<env>.txt``) from an input file beside it (``lockfiles/<env>.in``), and never
copies this machine's index or find-links settings into either file: a lockfile names
*what* is installed, the machine that installs it says *where from*.

Only the standard library is used here, so the nox helper can read lockfiles on a host
where reprocheck's own dependencies (torch) are not installed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from reprocheck._io import atomic_write_text
from reprocheck._log import log
from reprocheck.errors import EnvironmentFailure, InputError
from reprocheck.pinned.lockfile import (
    LockedPackage,
    canonical_name,
    read_lockfile,
    requirement_name,
)

__all__ = [
    "DEFAULT_REQUIREMENTS",
    "EnvironmentSpec",
    "VerifyResult",
    "compile_lockfile",
    "installed_distributions",
    "verify_environment",
]

# reprocheck's runtime requirements as a replay environment needs them. nox and pip-tools
# are left out on purpose: they run on the host, never inside a pinned environment.
# numpy is listed because torch uses it when present and it moves numbers (torch 2.6
# needs numpy<2): a lockfile must pin it rather than leave it to chance.
DEFAULT_REQUIREMENTS: tuple[str, ...] = (
    "click>=8.1",
    "deepdiff>=6.7",
    "numpy",
    "safetensors>=0.4",
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


@dataclasses.dataclass(frozen=True, slots=True)
class VerifyResult:
    """How the running environment differs from a lockfile.

    ``missing`` and ``different`` make the environment not match. ``extra`` (installed but
    not pinned, e.g. reprocheck itself or pytest) is reported as a note only: a replay
    environment always holds at least reprocheck besides its lockfile.
    """

    lockfile: Path
    missing: tuple[LockedPackage, ...]
    different: tuple[tuple[LockedPackage, str], ...]
    extra: tuple[tuple[str, str], ...]
    checked: int

    @property
    def matches(self) -> bool:
        """Every pinned package is installed at its pinned version."""
        return not self.missing and not self.different

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``reprocheck lock --verify --format json``)."""
        return {
            "lockfile": str(self.lockfile),
            "matches": self.matches,
            "checked": self.checked,
            "missing": [{"name": p.name, "locked": p.version} for p in self.missing],
            "different": [
                {"name": p.name, "locked": p.version, "installed": installed}
                for p, installed in self.different
            ],
            "extra": [{"name": n, "installed": v} for n, v in self.extra],
        }


# --- reading ---------------------------------------------------------------------------


def installed_distributions(paths: Sequence[str] | None = None) -> dict[str, tuple[str, str]]:
    """Installed distributions on ``paths`` (default ``sys.path``): key -> (name, version)."""
    from importlib import metadata

    found: dict[str, tuple[str, str]] = {}
    for dist in metadata.distributions(path=list(paths) if paths is not None else sys.path):
        name = dist.metadata["Name"]
        if not name:
            continue
        # The first one on the path wins, as it does for imports.
        found.setdefault(canonical_name(name), (name, dist.version))
    return found


def verify_environment(
    lockfile: Path, *, installed: Mapping[str, tuple[str, str]] | None = None
) -> VerifyResult:
    """Compare the running environment (or ``installed``) with ``lockfile``.

    Args:
        lockfile: the lockfile to check against.
        installed: canonical name -> (name, version); default: this interpreter's.

    Returns:
        The differences; ``.matches`` says whether the environment matches exactly.
    """
    lock = read_lockfile(lockfile)
    have = dict(installed) if installed is not None else installed_distributions()
    missing: list[LockedPackage] = []
    different: list[tuple[LockedPackage, str]] = []
    checked = 0
    for package in lock.packages:
        if package.marker is not None and not _marker_applies(package.marker):
            continue
        checked += 1
        entry = have.get(package.key)
        if entry is None:
            missing.append(package)
        elif not _same_version(entry[1], package.version):
            different.append((package, entry[1]))
    pinned = {p.key for p in lock.packages}
    extra = tuple(
        sorted((name, version) for key, (name, version) in have.items() if key not in pinned)
    )
    return VerifyResult(
        lockfile=Path(lockfile),
        missing=tuple(missing),
        different=tuple(different),
        extra=extra,
        checked=checked,
    )


def _same_version(installed: str, locked: str) -> bool:
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # a bare replay environment has no packaging: compare as text
        return installed.strip().lower() == locked.strip().lower()
    try:
        return Version(installed) == Version(locked)
    except InvalidVersion:
        return installed.strip().lower() == locked.strip().lower()


def _marker_applies(marker: str) -> bool:
    try:
        from packaging.markers import InvalidMarker, Marker
    except ImportError:  # without packaging, count the pin: a false "missing" beats silence
        return True
    try:
        return bool(Marker(marker).evaluate())
    except InvalidMarker:
        return True


# --- compiling -------------------------------------------------------------------------


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


def compile_lockfile(
    spec: EnvironmentSpec,
    *,
    output_dir: Path,
    requirements: Path | None = None,
    command: str = "reprocheck lock",
    upgrade: bool = False,
    timeout: float | None = None,
) -> Path:
    """Write ``<output_dir>/<name>.txt`` (and its input ``<name>.in``) with pip-compile.

    The lockfile is replaced only when pip-compile succeeds: a failure or an interrupt
    leaves the previous lockfile (and input) as they were. Pins already in an existing
    lockfile are kept unless ``upgrade`` (pip-tools' own rule).

    Raises:
        InputError: the output directory or requirements file is unusable.
        EnvironmentFailure: pip-compile failed, e.g. no distribution satisfies a pin.
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError(
            f"output directory {output_dir} is not a directory",
            hint="Pass --output-dir with a directory (it is created when missing).",
        )
    if requirements is not None and not Path(requirements).is_file():
        problem = "is not a file" if Path(requirements).exists() else "does not exist"
        raise InputError(
            f"requirements file {requirements} {problem}",
            hint="Pass an existing file to --requirements, or leave it out.",
        )
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create output directory {output_dir}: {exc.strerror or exc}",
            hint="Pass --output-dir with a writable location.",
        ) from None
    in_path = output_dir / f"{spec.name}.in"
    out_path = output_dir / f"{spec.name}.txt"
    old_input = in_path.read_bytes() if in_path.is_file() else None
    atomic_write_text(in_path, input_text(spec, requirements=requirements, output_dir=output_dir))
    _readable(in_path)
    _sweep_temporaries(output_dir, out_path.name)
    # The pid in the name lets a later run remove this file if this process is killed.
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{out_path.name}.pid{os.getpid()}.", suffix=".tmp", dir=output_dir
    )
    tmp = Path(tmp_name)
    succeeded = False
    try:
        with os.fdopen(fd, "wb") as handle:
            if out_path.is_file() and not upgrade:
                handle.write(out_path.read_bytes())
        log(f"locking {spec.name}: {' '.join(spec.pins) or '(no pins)'}", kind="progress")
        _run_pip_compile(
            spec,
            in_path.name,
            tmp.name,
            cwd=output_dir,
            command=command,
            upgrade=upgrade,
            timeout=timeout,
        )
        _check_portable(tmp, spec)
        _readable(tmp)
        os.replace(tmp, out_path)
        succeeded = True
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if not succeeded:
            if old_input is None:
                with contextlib.suppress(OSError):
                    in_path.unlink()
            else:
                atomic_write_text(in_path, old_input.decode("utf-8"))
    log(f"wrote {out_path}", kind="info")
    return out_path


def _sweep_temporaries(output_dir: Path, name: str) -> None:
    """Remove temporary lockfiles left by a killed ``reprocheck lock`` (its pid is gone)."""
    for stale in output_dir.glob(f".{name}.pid*.tmp"):
        match = re.match(rf"^\.{re.escape(name)}\.pid(\d+)\.", stale.name)
        if match is None:
            continue
        try:
            os.kill(int(match[1]), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                stale.unlink()
        except OSError:  # alive, owned by someone else
            continue


def _readable(path: Path) -> None:
    """Give a new file the permissions a plain ``open()`` would (temp files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _run_pip_compile(
    spec: EnvironmentSpec,
    src: str,
    output: str,
    *,
    cwd: Path,
    command: str,
    upgrade: bool,
    timeout: float | None,
) -> None:
    # -v: pip-compile then reports its rounds, downloads and hashing, which the heartbeat
    # passes on; the lockfile it also echoes to stdout is ignored (it is in --output-file).
    argv = [sys.executable, "-m", "piptools", "compile", *PIP_COMPILE_OPTIONS, "-v"]
    if upgrade:
        argv.append("--upgrade")
    argv += ["--output-file", output, src]
    env = dict(os.environ)
    # pip-tools puts this in the header instead of its own command line (which would name
    # temporary files); never a machine path.
    env["CUSTOM_COMPILE_COMMAND"] = command
    try:
        returncode, output_text = _stream(argv, cwd=cwd, env=env, spec=spec, timeout=timeout)
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
    if returncode == 0:
        return
    if "No module named piptools" in output_text:
        raise EnvironmentFailure(
            f"cannot lock environment {spec.name!r}: pip-tools is not installed",
            hint="Install it: python -m pip install pip-tools.",
        )
    culprit = _failing_pins(spec, output_text)
    detail = _last_error_line(output_text)
    if culprit:
        raise EnvironmentFailure(
            f"cannot lock environment {spec.name!r}: no distribution satisfies "
            f"{' and '.join(culprit)} ({detail})",
            hint="Check the version exists on your index (pip index versions NAME), "
            "or change the --pin.",
        )
    raise EnvironmentFailure(
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


def _check_portable(path: Path, spec: EnvironmentSpec) -> None:
    """Refuse a lockfile that names this machine (an index, find-links, a file path)."""
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(("--index-url", "--extra-index-url", "--find-links", "-f ", "-i ")):
            raise EnvironmentFailure(
                f"lockfile for {spec.name!r} would name this machine's index (line {number})",
                hint="Report this: reprocheck passes --no-emit-index-url to pip-compile.",
            )
        if "file://" in stripped and not stripped.startswith("#"):
            raise EnvironmentFailure(
                f"lockfile for {spec.name!r} would pin a local file (line {number}): {stripped}",
                hint="Publish the package to an index or find-links directory and pin it "
                "by name==version.",
            )
