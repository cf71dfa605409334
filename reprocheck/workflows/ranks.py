"""A distributed run: start the ranks here, or be one of them and replay every scenario.

:func:`reprocheck.workflows.run.run_scenarios` hands a run with a world size above 1 to
:func:`run_ranked`. Outside a launcher it starts the ranks itself
(:mod:`reprocheck.workflows.launch`); inside one (torchrun, or that built-in launcher) this
process joins the process group, replays each scenario in DistributedDataParallel, and
rank 0 alone writes the run directory. Every rank meets the others at a final barrier.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from reprocheck._log import log
from reprocheck.replay.distributed import DistSetup, init_group, leave_group
from reprocheck.scenarios import ScenarioSpec
from reprocheck.workflows.job import RunJob

__all__ = ["run_ranked"]


def run_ranked(
    specs: Sequence[ScenarioSpec], job: RunJob, *, launched: tuple[int, int, int] | None
) -> Path:
    """Replay ``specs`` on ``job.options.world_size`` ranks; rank 0 writes ``job.out``.

    Args:
        specs: the scenarios, already resolved.
        job: the run (its options checked, the distributed defaults filled in).
        launched: ``(rank, world size, local rank)`` from the launcher's variables, or
            None to start the ranks here.
    """
    options = job.options
    if launched is None:
        from reprocheck.artifacts.run_writer import RunWriter
        from reprocheck.workflows.launch import launch_ranks

        # Refuse a bad --out before starting processes (seconds each), as a single
        # process run would; the ranks check it again.
        RunWriter(job.out, fingerprint={}, force=job.force).abort()
        log(f"starting {options.world_size} ranks", kind="progress")
        launch_ranks(job)
        return job.out
    rank, world_size, local_rank = launched
    backend, bucket_cap_mb = options.backend, options.bucket_cap_mb
    if backend is None or bucket_cap_mb is None:  # ReplayOptions fills both in above 1 rank
        raise TypeError("a distributed replay needs its backend and bucket size")
    setup = DistSetup(world_size, rank, local_rank, backend, bucket_cap_mb)
    init_group(setup, options.device)
    try:
        _replay_all(specs, job, setup)
    except BaseException:
        _abandon_group()
        raise
    leave_group()
    return job.out


def _replay_all(specs: Sequence[ScenarioSpec], job: RunJob, setup: DistSetup) -> None:
    from reprocheck.artifacts.run_writer import RunWriter
    from reprocheck.env import fingerprint
    from reprocheck.replay.loop import replay

    if setup.rank != 0:
        for spec in specs:
            replay(spec, job.options, dist=setup)
        return
    fp = fingerprint(lockfile=job.lockfile, run=job.options.layout())
    with RunWriter(
        job.out,
        fingerprint=fp.to_dict(),
        force=job.force,
        command=list(job.command),
        keep=job.keep,
    ) as writer:
        for spec in specs:
            record, tensors = replay(spec, job.options, dist=setup)
            writer.add(record, tensors)
            agree = "all ranks agree" if all(record.ranks_agree) else "RANKS DISAGREE"
            log(f"{spec.name}: done in {record.duration_s:.2f} s, {agree}", kind="debug")


def _abandon_group() -> None:
    # A failed rank leaves without the final barrier: the others would wait for it there.
    import torch.distributed as dist

    with contextlib.suppress(Exception):
        if dist.is_initialized():
            dist.destroy_process_group()
