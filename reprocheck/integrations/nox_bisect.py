"""The nox ``bisect`` session: bisect every matrix environment that drifts from the baseline.

``python -m reprocheck.nox --bisect`` runs ``nox -s replay compare bisect``. After the
``compare`` session has written ``runs/matrix.json``, this session reads which environments
drifted and, for each, runs ``reprocheck bisect`` between the older and the newer of that
environment's lockfile and the baseline's (with the matrix's scenarios, or its command),
inside the baseline's replay environment (which has torch; the host may not). Each report
goes to ``runs/bisect/<env>.json``; the console shows the progress and the verdict line.

An environment failure inside a bisection fails the session (exit 3 from the driver);
a culprit is a finding, not a failure.

Imports only the standard library, nox and reprocheck's torch-free modules.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import nox

from reprocheck.artifacts.matrix_files import MATRIX_FILE, read_status
from reprocheck.errors import ExitCode
from reprocheck.model.matrix import version_key

if TYPE_CHECKING:
    from reprocheck.integrations.nox_build import ReplayPlan

__all__ = ["BISECT_DIR", "UV_ENV", "bisect_drifting", "drifting_environments", "register_bisect"]

#: Where each environment's bisection report goes, under the runs directory.
BISECT_DIR = "bisect"
#: The uv binary the bisection uses (the host's, which a replay environment lacks).
UV_ENV = "REPROCHECK_UV"
_PASSED = ("--steps", "--seed")  # the `reprocheck run` options bisect also takes


def register_bisect(
    names: Sequence[str], baseline: str | None, plan: ReplayPlan, scenarios: tuple[str, ...]
) -> None:
    """Register the ``bisect`` session of a matrix (called by ``reprocheck.nox.matrix``)."""

    @nox.session(python=False, venv_backend="none", default=False, name="bisect")
    def bisect(session: nox.Session) -> None:
        """Bisect the lockfile change of every environment that drifts from the baseline."""
        named = [a for a in session.posargs if a in names]
        chosen = named[0] if named else (baseline or (names[0] if names else None))
        if chosen is None:
            session.error(f"no lockfiles in {plan.lock_dir}/: create them with `reprocheck lock`")
        bisect_drifting(
            session,
            baseline=chosen,
            lock_dir=plan.lock_dir,
            runs_dir=plan.runs_dir,
            replay=(scenarios, plan.run_args, plan.command),
        )


def drifting_environments(runs_dir: Path) -> list[str]:
    """The environments ``runs/matrix.json`` shows drifting from its baseline."""
    data = json.loads((runs_dir / MATRIX_FILE).read_text(encoding="utf-8"))
    cells = data.get("environments", []) if isinstance(data, dict) else []
    return [c["env"] for c in cells if isinstance(c, dict) and c.get("verdict") == "drift"]


def _options(run_args: Sequence[str]) -> list[str]:
    """The ``--steps``/``--seed`` options of ``run_args`` (bisect takes no others)."""
    kept: list[str] = []
    args = list(run_args)
    for i, arg in enumerate(args):
        name = arg.split("=", 1)[0]
        if name in _PASSED:
            kept += [arg] if "=" in arg else [arg, *args[i + 1 : i + 2]]
    return kept


def bisect_drifting(
    session: nox.Session,
    *,
    baseline: str,
    lock_dir: Path,
    runs_dir: Path,
    replay: tuple[Sequence[str], Sequence[str], Sequence[str]],
) -> None:
    """Bisect every drifting environment against ``baseline``.

    ``replay`` is (scenarios, run_args, command) as the matrix replays them.
    """
    from reprocheck.integrations.nox_build import _uv_binary

    if not (runs_dir / MATRIX_FILE).is_file():
        session.error(f"no {runs_dir / MATRIX_FILE}: run the compare session first")
    drifting = drifting_environments(runs_dir)
    if not drifting:
        session.log("no environment drifts from the baseline: nothing to bisect")
        return
    status = read_status(runs_dir, baseline)
    if status is None or not status.python or not Path(status.python).exists():
        session.error(f"the baseline {baseline} has no built environment to bisect from")
    scenarios, run_args, command = replay
    uv = _uv_binary()
    for env in drifting:
        older, newer = sorted((env, baseline), key=version_key)
        out = runs_dir / BISECT_DIR / f"{env}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = [status.python, "-m", "reprocheck", "bisect"]
        argv += [str(lock_dir / f"{older}.txt"), str(lock_dir / f"{newer}.txt")]
        argv += ["--command", shlex.join(command)] if command else [*scenarios]
        argv += [*([] if command else _options(run_args)), "--format", "json", "-o", str(out)]
        session.log(f"bisecting {older} -> {newer} (report: {out})")
        session.run(
            *argv,
            external=True,
            env={UV_ENV: uv} if uv else {},
            success_codes=[ExitCode.OK, ExitCode.DRIFT],
        )
