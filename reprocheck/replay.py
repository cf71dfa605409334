"""Replay seeded training steps: in process (:func:`replay_scenario`) or into a run directory.

Example::

    from pathlib import Path
    import reprocheck.replay as replay

    record, tensors = replay.replay_scenario("mlp", steps=5)
    run_dir = replay.run_scenarios(["mlp", "cnn"], Path("runs/today"))
    # Two ranks in DistributedDataParallel (gloo on the CPU); see docs/distributed.md.
    run_dir = replay.run_scenarios(["mlp"], Path("runs/ddp"), world_size=2)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
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
    world_size: int = 1,
    backend: str | None = None,
    bucket_cap_mb: float | None = None,
    command: Sequence[str] | None = None,
    on_scenario: Callable[[ScenarioRecord], None] | None = None,
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
        world_size: ranks training together in DistributedDataParallel (1: one process).
            Started here on this machine, or, when a launcher such as torchrun already
            started this process as a rank (``RANK``/``WORLD_SIZE`` set), joined.
        backend: ``"gloo"`` or ``"nccl"`` (default: gloo on the CPU, nccl on CUDA).
        bucket_cap_mb: DDP's gradient bucket size (default 25).
        command: the command line recorded in the run (default: ``sys.argv``).
        on_scenario: called with each scenario's record as soon as that scenario has
            finished (one process only: a distributed replay's records arrive at the end).

    Returns:
        The run directory (written by rank 0 only in a distributed replay).
    """
    from reprocheck.engine.distributed import check_dist_options, launched_world
    from reprocheck.engine.loop import replay
    from reprocheck.store import RunWriter

    _check_options(steps, seed, device, trace_steps)
    backend, bucket_cap_mb = check_dist_options(world_size, backend, bucket_cap_mb, device)
    launched = launched_world()
    if launched is not None and launched[1] != world_size:
        raise InputError(
            f"--world-size is {world_size}, but the launcher started {launched[1]} "
            "processes (WORLD_SIZE)",
            hint=f"Pass --world-size {launched[1]} under this launcher.",
        )
    wanted = list(names) if names else list(BUILTIN_NAMES)
    duplicates = sorted({n for n in wanted if wanted.count(n) > 1})
    if duplicates:
        raise InputError(
            f"scenario {duplicates[0]!r} is named twice", hint="Name each scenario once."
        )
    # Resolve every name before the first (slow) replay: a typo fails at once.
    specs: list[ScenarioSpec] = [load_scenario(n) for n in wanted]
    argv = list(sys.argv if command is None else command)
    layout = {"world_size": world_size, "backend": backend, "bucket_cap_mb": bucket_cap_mb}
    if world_size > 1:
        from reprocheck.engine import ranked

        options = {
            "names": wanted,
            "out": str(out),
            "steps": steps,
            "seed": seed,
            "device": device,
            "trace_steps": trace_steps,
            "force": force,
            "lockfile": None if lockfile is None else os.fspath(lockfile),
            **layout,
            "command": argv,
        }
        return ranked.run_ranked(specs, Path(out), options, launched=launched)
    fingerprint = _fingerprint(lockfile, layout)
    with RunWriter(Path(out), fingerprint=fingerprint, force=force, command=argv) as writer:
        for spec in specs:
            record, tensors = replay(
                spec, steps=steps, seed=seed, device=device, trace_steps=trace_steps
            )
            writer.add(record, tensors)
            log(f"{spec.name}: done in {record.duration_s:.2f} s", kind="debug")
            if on_scenario is not None:
                on_scenario(record)
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


def _fingerprint(lockfile: Path | None, layout: dict[str, Any]) -> dict[str, Any]:
    from reprocheck.environment import fingerprint

    return fingerprint(lockfile=lockfile, run=layout).to_dict()
