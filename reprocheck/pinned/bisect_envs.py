"""Building a bisection's environments with uv, and replaying into them.

Each environment (OLD with some groups taken from NEW) lives in the cache directory under a
hash of its hashed pins, the interpreter and how reprocheck is installed
(``.reprocheck/bisect/<hash>/``): a later bisection that needs the same pins reuses it in a
second, and uv's own cache makes every build after the first cheap. An environment is
complete once its ``built`` stamp exists; anything else there is wiped and rebuilt.

A replay runs in a subprocess with the environment's interpreter: ``reprocheck run`` through
:mod:`reprocheck.pinned.bisect_runner` (which also notes which installed distributions the
replay imported), or the user's own command, which records its run with
``reprocheck.record`` into ``$REPROCHECK_OUT``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from reprocheck._log import log
from reprocheck._version import __version__
from reprocheck.errors import EnvironmentFailure, InputError
from reprocheck.model.bisect import Group
from reprocheck.model.formats import MANIFEST
from reprocheck.pinned.bisect_plan import BisectPlan, merge_groups, mixed_pins, render_pins
from reprocheck.pinned.lockfile import LockedPackage
from reprocheck.pinned.pipconfig import uv_install_options

__all__ = [
    "BuildFailed",
    "EnvBuilder",
    "Replay",
    "ReplayFailed",
    "default_install",
    "find_uv",
    "mixable_groups",
]

_STAMP = "built"
_TAIL = 6  # lines of installer output kept in a failure message


class BuildFailed(EnvironmentFailure):
    """An environment could not be built or replayed; the message names it."""


class ReplayFailed(BuildFailed):
    """An environment was built, but the replay in it failed or wrote no run."""


@dataclasses.dataclass(frozen=True)
class Replay:
    """What each environment replays: scenarios with ``run_args``, or the user's command."""

    scenarios: tuple[str, ...] = ()
    run_args: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    cwd: Path = Path()


def find_uv() -> str:
    """The uv binary: ``$REPROCHECK_UV``, else the ``uv`` wheel's, else the one on PATH.

    Raises:
        EnvironmentFailure: uv is not installed.
    """
    if os.environ.get("REPROCHECK_UV"):
        return os.environ["REPROCHECK_UV"]
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
    if found is None:
        raise EnvironmentFailure(
            "uv is not installed: a bisection builds its environments with uv",
            hint="pip install uv",
        )
    return found


def default_install() -> tuple[str, ...]:
    """How to install reprocheck into each environment: this checkout, editable, if it is one."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "reprocheck"' in pyproject.read_text(encoding="utf-8"):
        return ("-e", str(root))
    return (f"reprocheck=={__version__}",)


class EnvBuilder:
    """Builds (or reuses) environments under ``cache_dir`` and replays into them."""

    def __init__(
        self, cache_dir: Path, *, python: str | None, find_links: Sequence[str] = ()
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.python = python or f"{sys.version_info[0]}.{sys.version_info[1]}"
        self.uv = find_uv()
        self.install = default_install()
        links = [opt for link in find_links for opt in ("--find-links", str(Path(link).resolve()))]
        self.index_options = [*links, *uv_install_options()]

    def key(self, pins: Sequence[LockedPackage]) -> str:
        """The cache key of an environment with ``pins``."""
        text = "\n".join([render_pins(pins), self.python, *self.install])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def conflict(self, pins: Sequence[LockedPackage]) -> str | None:
        """Why ``pins`` cannot be installed together (the resolver's words), or None if they can."""
        with tempfile.TemporaryDirectory(prefix="reprocheck-mix-") as tmp:
            req = Path(tmp) / "mixed.in"
            req.write_text("".join(f"{p.name}=={p.version}\n" for p in pins), encoding="utf-8")
            argv = [self.uv, "pip", "compile", "--quiet", "--no-header", str(req)]
            argv += ["--python-version", self.python, *self.index_options]
            out = _run(argv, timeout=600)
        if out.returncode == 0 or "No solution found" not in out.stdout + out.stderr:
            return None
        lines = [ln.strip() for ln in (out.stdout + out.stderr).splitlines() if ln.strip()]
        because = [ln for ln in lines if "depends on" in ln or "requires" in ln]
        return (because or lines or ["no solution"])[0].lstrip("╰─▶ ").strip()

    def build(self, label: str, pins: Sequence[LockedPackage]) -> tuple[Path, bool]:
        """The environment's directory, built unless a complete one is cached; and whether reused.

        Raises:
            BuildFailed: uv could not create or fill it (the message names ``label``).
        """
        home = self.cache_dir / self.key(pins)
        if (home / _STAMP).is_file():
            return home, True
        if home.exists():
            shutil.rmtree(home)
        home.mkdir(parents=True)
        lock = home / "lock.txt"
        lock.write_text(render_pins(pins), encoding="utf-8")
        venv, python = home / "venv", str(home / "venv" / "bin" / "python")
        sync = [self.uv, "pip", "sync", "--python", python, "--require-hashes"]
        own = [self.uv, "pip", "install", "--python", python, "--no-deps"]
        steps = [
            [self.uv, "venv", "--quiet", "--python", self.python, str(venv)],
            [*sync, *self.index_options, str(lock)],
            [*own, *self.index_options, *self.install],
        ]
        for argv in steps:
            out = _run(argv, timeout=3600)
            if out.returncode != 0:
                tail = [ln for ln in (out.stdout + out.stderr).splitlines() if ln.strip()][-_TAIL:]
                what = " ".join(argv[1:3] if argv[1] == "pip" else argv[1:2])
                raise BuildFailed(
                    f"cannot build environment {label}: `uv {what}` failed: "
                    f"{' | '.join(ln.strip() for ln in tail) or 'no output'}",
                    hint=f"Its pins are in {lock}; install them by hand to see why.",
                )
        (home / _STAMP).write_text(label + "\n", encoding="utf-8")
        return home, False

    def replay(self, label: str, home: Path, replay: Replay, out: Path) -> set[str] | None:
        """Replay into ``out`` with the environment in ``home``; the distributions it imported.

        Returns None for the user's command (whose imports are not watched).

        Raises:
            ReplayFailed: the replay failed or wrote no run.
        """
        python = home / "venv" / "bin" / "python"
        env = {**os.environ, "REPROCHECK_LOCKFILE": str(home / "lock.txt")}
        env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        imports = out.parent / f"{out.name}.imports.json"
        if replay.command:
            argv = list(replay.command)
            env["REPROCHECK_OUT"] = str(out.resolve())
        else:
            argv = [str(python), "-m", "reprocheck.pinned.bisect_runner", str(imports), "run"]
            argv += [*replay.scenarios, "--out", str(out.resolve()), "--force", *replay.run_args]
        done = _run(argv, timeout=None, env=env, cwd=replay.cwd)
        if done.returncode == 2 and not replay.command:
            raise InputError(
                f"the replay refused its input in environment {label}: {_last(done)}",
                hint="Check the scenarios and options with `reprocheck run` first.",
            )
        if done.returncode != 0 or not (out / MANIFEST).is_file():
            what = " ".join(argv[-len(replay.command) :] if replay.command else argv[3:5])
            raise ReplayFailed(
                f"the replay failed in environment {label} (exit {done.returncode}, "
                f"`{what}`): {_last(done)}",
                hint=f"Its interpreter is {python}; run the command with it to see why.",
            )
        if replay.command or not imports.is_file():
            return None
        return set(json.loads(imports.read_text(encoding="utf-8")))


def mixable_groups(plan: BisectPlan, builder: EnvBuilder) -> tuple[Group, ...]:
    """``plan``'s groups, each that cannot join OLD alone merged with one that lets it.

    The resolver (``uv pip compile``) is asked whether OLD with a group's NEW pins can be
    installed at all; when not (the group's new version requires another group's new
    version), the group is merged with the first other group that makes the mix resolve,
    else with all of them. Each merge is logged and noted on the merged group.
    """
    groups = plan.groups
    for group in plan.groups:
        if len(groups) < 2 or group not in groups:
            continue
        why = builder.conflict(mixed_pins(plan, [group]))
        if why is None:
            continue
        others = [g for g in groups if g != group]
        partner = next(
            (g for g in others if builder.conflict(mixed_pins(plan, [group, g])) is None), None
        )
        mates = [partner] if partner is not None else others
        groups = merge_groups(groups, [group.lead, *(g.lead for g in mates)], why)
        merged = next(g for g in groups if group.lead in g.names)
        log(f"bisect: {merged.note}", kind="progress")
    return groups


def _last(done: subprocess.CompletedProcess[str]) -> str:
    lines = [ln.strip() for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def _run(
    argv: list[str],
    *,
    timeout: float | None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=timeout,
            env=env,
            cwd=cwd,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildFailed(f"cannot run {argv[0]}: {exc}") from None
