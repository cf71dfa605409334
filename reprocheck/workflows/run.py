"""Replay scenarios into a run directory: the fingerprint, every record, the final tensors.

Example::

    from pathlib import Path
    from reprocheck.replay import ReplayOptions
    from reprocheck.workflows.run import run_scenarios

    run_dir = run_scenarios(["mlp", "cnn"], Path("runs/today"))
    # Two ranks in DistributedDataParallel (gloo on the CPU); see docs/distributed.md.
    run_dir = run_scenarios(["mlp"], Path("runs/ddp"), ReplayOptions(world_size=2))
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reprocheck._log import log
from reprocheck.errors import InputError
from reprocheck.replay.options import ReplayOptions
from reprocheck.scenarios import BUILTIN_NAMES, ScenarioSpec, load_scenario
from reprocheck.workflows.job import RunJob

if TYPE_CHECKING:
    from reprocheck.model.records import ScenarioRecord

__all__ = ["job_for", "resolve_scenarios", "run_job", "run_scenarios"]


def run_scenarios(
    names: Sequence[str] | None,
    out: Path,
    options: ReplayOptions | None = None,
    *,
    force: bool = False,
    lockfile: Path | None = None,
    on_scenario: Callable[[ScenarioRecord], None] | None = None,
) -> Path:
    """Replay scenarios and write them, with the fingerprint, as one run directory.

    The run is built beside ``out`` and moved into place only when every scenario has
    finished, so an interrupted or failed run leaves nothing that reads as complete.

    Args:
        names: scenarios to replay; ``None`` or empty means every built-in one.
        out: the run directory to create (must not exist or be empty unless ``force``).
        options: how to replay (default: ``ReplayOptions()``). A ``world_size`` above 1
            trains each scenario on that many ranks in DistributedDataParallel: started
            here on this machine, or, when a launcher such as torchrun already started
            this process as a rank (``RANK``/``WORLD_SIZE`` set), joined.
        force: replace an existing run at ``out``.
        lockfile: the lockfile this environment was built from, recorded in the fingerprint.
        on_scenario: called with each scenario's record as soon as that scenario has
            finished (one process only: a distributed replay's records arrive at the end).

    Returns:
        The run directory (written by rank 0 only in a distributed replay).

    Raises:
        InputError: a scenario named twice, a world size other than the launcher's.
        ScenarioError: a scenario cannot be found, built or run.
    """
    job = job_for(names, out, options, force=force, lockfile=lockfile)
    return run_job(job, on_scenario=on_scenario)


def job_for(
    names: Sequence[str] | None,
    out: Path,
    options: ReplayOptions | None = None,
    *,
    force: bool = False,
    lockfile: Path | None = None,
    keep: str = "all",
) -> RunJob:
    """The :class:`RunJob` :func:`run_scenarios` runs; ``keep`` says what the run keeps
    of its final tensors: ``all``, ``params`` or ``digests`` (:mod:`reprocheck.artifacts.keep`).
    """
    wanted = tuple(names) if names else BUILTIN_NAMES
    return RunJob(
        names=tuple(wanted),
        out=Path(out),
        options=ReplayOptions() if options is None else options,
        force=force,
        lockfile=lockfile,
        command=tuple(sys.argv),
        keep=keep,
    )


def run_job(job: RunJob, *, on_scenario: Callable[[ScenarioRecord], None] | None = None) -> Path:
    """Replay and write ``job``: in this process, or on its ranks (see :func:`run_scenarios`)."""
    launched = _launched_world(job.options.world_size)
    specs = resolve_scenarios(job.names)
    if job.options.world_size > 1:
        from reprocheck.workflows.ranks import run_ranked

        return run_ranked(specs, job, launched=launched)
    return _write_here(specs, job, on_scenario)


def _launched_world(world_size: int) -> tuple[int, int, int] | None:
    """The launcher's ``(rank, world size, local rank)``; refuse a world size it did not start."""
    from reprocheck.replay.distributed import launched_world

    launched = launched_world()
    if launched is not None and launched[1] != world_size:
        raise InputError(
            f"world_size is {world_size}, but the launcher started {launched[1]} "
            "processes (WORLD_SIZE)",
            hint=f"Pass world_size {launched[1]} under this launcher.",
            field="world_size",
        )
    return launched


def resolve_scenarios(names: Sequence[str]) -> list[ScenarioSpec]:
    """Load every named scenario (a typo fails before any slow replay); no name twice."""
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(
            f"scenario {duplicates[0]!r} is named twice", hint="Name each scenario once."
        )
    # Resolve every name before the first (slow) replay: a typo fails at once.
    return [load_scenario(n) for n in names]


def _write_here(
    specs: Sequence[ScenarioSpec],
    job: RunJob,
    on_scenario: Callable[[ScenarioRecord], None] | None,
) -> Path:
    """Replay every scenario in this process and write the run."""
    from reprocheck.artifacts.run_writer import RunWriter
    from reprocheck.env import fingerprint
    from reprocheck.replay.loop import replay

    fp = fingerprint(lockfile=job.lockfile, run=job.options.layout()).to_dict()
    with RunWriter(
        job.out, fingerprint=fp, force=job.force, command=list(job.command), keep=job.keep
    ) as writer:
        for spec in specs:
            record, tensors = replay(spec, job.options)
            writer.add(record, tensors)
            log(f"{spec.name}: done in {record.duration_s:.2f} s", kind="debug")
            if on_scenario is not None:
                on_scenario(record)
    return job.out
