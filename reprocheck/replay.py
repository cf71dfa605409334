"""Replay seeded training steps: in process (:func:`replay_scenario`) or into a run directory.

Example::

    from pathlib import Path
    import reprocheck.replay as replay

    record, tensors = replay.replay_scenario("mlp", steps=5)
    run_dir = replay.run_scenarios(["mlp", "cnn"], Path("runs/today"))
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck._log import log
from reprocheck.engine.seeding import check_device, check_seed
from reprocheck.errors import InputError
from reprocheck.scenarios import BUILTIN_NAMES, ScenarioSpec, load_scenario

if TYPE_CHECKING:
    import torch

    from reprocheck.record import ScenarioRecord

__all__ = ["load_scenario", "replay_scenario", "run_scenarios"]


def replay_scenario(
    name: str,
    *,
    steps: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    trace_steps: int = 1,
) -> tuple[ScenarioRecord, dict[str, torch.Tensor]]:
    """Replay one scenario in this process and return what it recorded; writes no files.

    Args:
        name: a built-in name, ``module:function``, or an entry point's name.
        steps: training steps (``None``: the scenario's default).
        seed: the one seed for every random source.
        device: ``"cpu"`` or ``"cuda"``.
        trace_steps: how many first steps to trace operator by operator.

    Returns:
        The record and the final tensors (parameters, buffers, optimizer state) on the CPU.

    Raises:
        ScenarioError: the scenario cannot be found, built or run.
        InputError: a bad option (steps, seed, device).
    """
    from reprocheck.engine.loop import replay

    _check_options(steps, seed, device, trace_steps)
    return replay(
        load_scenario(name), steps=steps, seed=seed, device=device, trace_steps=trace_steps
    )


def run_scenarios(
    names: Sequence[str] | None,
    out: Path,
    *,
    steps: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    trace_steps: int = 1,
    force: bool = False,
    lockfile: Path | None = None,
) -> Path:
    """Replay scenarios and write them, with the fingerprint, as one run directory.

    The run is built beside ``out`` and moved into place only when every scenario has
    finished, so an interrupted or failed run leaves nothing that reads as complete.

    Args:
        names: scenarios to replay; ``None`` or empty means every built-in one.
        out: the run directory to create (must not exist or be empty unless ``force``).
        steps, seed, device, trace_steps: as for :func:`replay_scenario`.
        force: replace an existing run at ``out``.
        lockfile: the lockfile this environment was built from, recorded in the fingerprint.

    Returns:
        The run directory.
    """
    from reprocheck.engine.loop import replay
    from reprocheck.store import RunWriter

    _check_options(steps, seed, device, trace_steps)
    wanted = list(names) if names else list(BUILTIN_NAMES)
    duplicates = sorted({n for n in wanted if wanted.count(n) > 1})
    if duplicates:
        raise InputError(
            f"scenario {duplicates[0]!r} is named twice", hint="Name each scenario once."
        )
    # Resolve every name before the first (slow) replay: a typo fails at once.
    specs: list[ScenarioSpec] = [load_scenario(n) for n in wanted]
    fingerprint = _fingerprint(lockfile)
    with RunWriter(Path(out), fingerprint=fingerprint, force=force, command=sys.argv) as writer:
        for spec in specs:
            record, tensors = replay(
                spec, steps=steps, seed=seed, device=device, trace_steps=trace_steps
            )
            writer.add(record, tensors)
            log(f"{spec.name}: done in {record.duration_s:.2f} s", kind="debug")
    return Path(out)


def _check_options(steps: int | None, seed: int, device: str, trace_steps: int) -> None:
    if steps is not None and steps < 1:
        raise InputError(f"--steps must be at least 1, got {steps}", hint="Pass --steps 1 or more.")
    if trace_steps < 0:
        raise InputError(
            f"--trace-steps must be 0 or more, got {trace_steps}",
            hint="Pass --trace-steps 0 to trace nothing, or a positive number.",
        )
    check_seed(seed)
    check_device(device)


def _fingerprint(lockfile: Path | None) -> dict[str, Any]:
    from reprocheck.environment import fingerprint

    return fingerprint(lockfile=lockfile).to_dict()
