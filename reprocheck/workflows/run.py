"""Replay scenarios into a run directory: the fingerprint, every record, the final tensors.

Example::

    from pathlib import Path
    from reprocheck.workflows.run import run_scenarios

    run_dir = run_scenarios(["mlp", "cnn"], Path("runs/today"))
    # Two ranks in DistributedDataParallel (gloo on the CPU); see docs/distributed.md.
    run_dir = run_scenarios(["mlp"], Path("runs/ddp"), world_size=2)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck._log import log
from reprocheck.errors import InputError
from reprocheck.replay import check_options
from reprocheck.scenarios import BUILTIN_NAMES, ScenarioSpec, load_scenario

if TYPE_CHECKING:

    from reprocheck.model.records import ScenarioRecord

__all__ = ["run_scenarios"]


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
    from reprocheck.artifacts.runs import RunWriter
    from reprocheck.replay.distributed import check_dist_options, launched_world
    from reprocheck.replay.loop import replay

    check_options(steps, seed, device, trace_steps)
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
        from reprocheck.workflows import ranks as ranked

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


def _fingerprint(lockfile: Path | None, layout: dict[str, Any]) -> dict[str, Any]:
    from reprocheck.env import fingerprint

    return fingerprint(lockfile=lockfile, run=layout).to_dict()


if __name__ == "__main__":  # one rank started by reprocheck.workflows.launch
    from reprocheck.workflows.launch import rank_main

    sys.exit(rank_main(run_scenarios))
