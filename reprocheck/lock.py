"""Lockfiles: compile them with pip-tools, read them, and verify an environment against one.

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
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reprocheck._io import atomic_write_text
from reprocheck._log import log
from reprocheck.errors import ArtifactError, EnvironmentFailure, InputError

__all__ = [
    "DEFAULT_REQUIREMENTS",
    "EnvironmentSpec",
    "LockedPackage",
    "Lockfile",
    "VerifyResult",
    "canonical_name",
    "compile_lockfile",
    "installed_distributions",
    "lockfile_sha256",
    "read_lockfile",
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
_NAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_PINNED = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*"
    r"===?\s*(?P<version>[^\s;]+)\s*(?:;\s*(?P<marker>.+))?$"
)
_COMMENT = re.compile(r"(^|\s+)#.*$")
_HASH = re.compile(r"(?:^|\s)--hash(?:=|\s+)(\S*)")
_OPTION = re.compile(r"\s(--?[A-Za-z][\w-]*)")
# pip's --hash values: a hashlib algorithm pip accepts, a colon, hex digits.
_HASH_VALUE = re.compile(r"^(?:md5|sha1|sha224|sha256|sha384|sha512):[0-9a-fA-F]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_RESOLUTION_FAILURE = (
    "No matching distribution found for",
    "Could not find a version that satisfies the requirement",
    "ResolutionImpossible",
    "conflicting dependencies",
)


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name (``Typing_Extensions`` -> ``typing-extensions``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclasses.dataclass(frozen=True, slots=True)
class LockedPackage:
    """One pinned line of a lockfile."""

    name: str
    version: str
    hashes: tuple[str, ...] = ()
    marker: str | None = None
    line: int = 0

    @property
    def key(self) -> str:
        """The canonical project name, for comparisons."""
        return canonical_name(self.name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "version": self.version,
            "hashes": list(self.hashes),
            "marker": self.marker,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Lockfile:
    """A parsed lockfile: its path, content hash and pinned packages."""

    path: Path
    sha256: str
    packages: tuple[LockedPackage, ...]

    def get(self, name: str) -> LockedPackage | None:
        """The pin for project ``name``, if any."""
        key = canonical_name(name)
        return next((p for p in self.packages if p.key == key), None)


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


def lockfile_sha256(path: Path) -> str:
    """sha256 of a lockfile's bytes (what the nox sessions keep to notice an edit)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise ArtifactError(
            f"cannot read lockfile {path}: {exc.strerror or exc}",
            hint="Create it with `reprocheck lock --env NAME --pin SPEC`.",
        ) from None


def read_lockfile(path: Path) -> Lockfile:
    """Parse a pip-compile lockfile: pinned lines, ``--hash`` continuations, comments, markers.

    Raises:
        ArtifactError: the file is missing, not text, or holds a line that is not a pin.
    """
    path = Path(path)
    hint = "Re-create it with `reprocheck lock`, or fix the line named."
    if path.exists() and not path.is_dir() and not path.is_file():  # a FIFO would block
        raise ArtifactError(f"lockfile {path} is not a regular file", hint=hint)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(
            f"cannot read lockfile {path}: {exc.strerror or exc}",
            hint="Create it with `reprocheck lock --env NAME --pin SPEC`.",
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ArtifactError(f"lockfile {path} is not UTF-8 text", hint=hint) from None
    _check_whole(text, path, hint)
    packages: list[LockedPackage] = []
    seen: set[str] = set()
    for number, line in _logical_lines(text):
        package = _parse_line(line, number, path, hint)
        if package is None:
            continue
        if package.key in seen:
            raise ArtifactError(f"{path}:{number}: {package.name} is pinned twice", hint=hint)
        seen.add(package.key)
        packages.append(package)
    if not packages:
        raise ArtifactError(f"lockfile {path} pins no packages", hint=hint)
    unhashed = [p for p in packages if not p.hashes]
    if unhashed and len(unhashed) < len(packages):
        raise ArtifactError(
            f"{path}:{unhashed[0].line}: {unhashed[0].name} has no --hash while other pins do "
            "(truncated or hand-edited?)",
            hint=hint,
        )
    return Lockfile(path=path, sha256=hashlib.sha256(raw).hexdigest(), packages=tuple(packages))


def _check_whole(text: str, path: Path, hint: str) -> None:
    """Refuse text no lockfile writer produces: control bytes, or a file cut off mid-entry."""
    control = _CONTROL.search(text)
    if control is not None:
        line = text.count("\n", 0, control.start()) + 1
        raise ArtifactError(
            f"{path}:{line}: control character {control[0]!r} (binary or corrupt?)", hint=hint
        )
    if not text.strip():
        return  # reported as "pins no packages"
    # pip-compile ends every line, the last included, with a newline; a continuation
    # backslash on the last line means the file was cut off before the entry's hashes.
    if not text.endswith("\n"):
        raise ArtifactError(f"lockfile {path} does not end with a newline (truncated?)", hint=hint)
    last = _COMMENT.sub("", text.rstrip().splitlines()[-1]).rstrip()
    if last.endswith("\\"):
        raise ArtifactError(f"lockfile {path} ends inside a continued line (truncated?)", hint=hint)


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Lines with comments removed and backslash continuations joined (pip's rules)."""
    pending: list[str] = []
    start = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", physical).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        if joined:
            yield start, joined
    if pending:
        joined = " ".join(part.strip() for part in pending).strip()
        if joined:
            yield start, joined


def _parse_line(line: str, number: int, path: Path, hint: str) -> LockedPackage | None:
    first = line.split(maxsplit=1)[0]
    if first.startswith("-") and not first.startswith("--hash"):
        if first.startswith(("-r", "-c", "--requirement", "--constraint")):
            raise ArtifactError(
                f"{path}:{number}: a lockfile cannot include other files ({line!r})", hint=hint
            )
        if first.startswith(("-e", "--editable")):
            raise ArtifactError(
                f"{path}:{number}: {line!r} is not pinned as name==version", hint=hint
            )
        return None  # a global option (--index-url, --find-links ...): not a pin
    hashes = _HASH.findall(line)
    requirement = _HASH.sub("", line).strip()
    option = _OPTION.search(" " + requirement)
    if option is not None:
        raise ArtifactError(
            f"{path}:{number}: option {option[1]!r} is not allowed on a pinned line", hint=hint
        )
    match = _PINNED.match(requirement)
    if match is None:
        raise ArtifactError(
            f"{path}:{number}: {requirement or line!r} is not pinned as name==version", hint=hint
        )
    for value in hashes:
        if not _HASH_VALUE.match(value):
            raise ArtifactError(f"{path}:{number}: malformed hash {value!r}", hint=hint)
    return LockedPackage(
        name=match["name"],
        version=match["version"],
        hashes=tuple(hashes),
        marker=match["marker"].strip() if match["marker"] else None,
        line=number,
    )


# --- verifying -------------------------------------------------------------------------


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
    if not output_dir.is_dir():
        problem = "is not a directory" if output_dir.exists() else "does not exist"
        raise InputError(
            f"output directory {output_dir} {problem}",
            hint="Create it, or pass --output-dir.",
        )
    if requirements is not None and not Path(requirements).is_file():
        problem = "is not a file" if Path(requirements).exists() else "does not exist"
        raise InputError(
            f"requirements file {requirements} {problem}",
            hint="Pass an existing file to --requirements, or leave it out.",
        )
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
    argv = [sys.executable, "-m", "piptools", "compile", *PIP_COMPILE_OPTIONS, "--quiet"]
    if upgrade:
        argv.append("--upgrade")
    argv += ["--output-file", output, src]
    env = dict(os.environ)
    # pip-tools puts this in the header instead of its own command line (which would name
    # temporary files); never a machine path.
    env["CUSTOM_COMPILE_COMMAND"] = command
    try:
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
        )
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
    if done.returncode == 0:
        return
    output_text = done.stderr + done.stdout
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


def _failing_pins(spec: EnvironmentSpec, output: str) -> list[str]:
    """The pins whose project the resolver's error names (all of them if it names several)."""
    if not any(marker in output for marker in _RESOLUTION_FAILURE):
        return []
    named = {canonical_name(m) for m in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", output)}
    culprits = []
    for pin in spec.pins:
        match = _NAME.match(pin.strip())
        if match and canonical_name(match[1]) in named:
            culprits.append(pin.strip())
    return culprits


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
