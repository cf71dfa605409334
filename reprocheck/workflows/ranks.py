"""A distributed run: start the ranks here, or be one of them and replay every scenario.

:func:`reprocheck.workflows.run.run_scenarios` hands a run with a world size above 1 to
:func:`run_ranked`. Outside a launcher it starts the ranks itself
(:mod:`reprocheck.workflows.launch`); inside one (torchrun, or that built-in launcher) this
process joins the process group, replays each scenario in DistributedDataParallel, and
rank 0 alone writes the run directory. Every rank meets the others at a final barrier.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reprocheck._log import log
from reprocheck.replay.distributed import DistSetup, init_group, leave_group
from reprocheck.scenarios import ScenarioSpec

__all__ = ["run_ranked"]


def run_ranked(
    specs: Sequence[ScenarioSpec],
    out: Path,
    options: Mapping[str, Any],
    *,
    launched: tuple[int, int, int] | None,
) -> Path:
    """Replay ``specs`` on ``options["world_size"]`` ranks; rank 0 writes ``out``.

    Args:
        specs: the scenarios, already resolved.
        out: the run directory.
        options: the keyword arguments of ``run_scenarios`` (checked, defaults filled in).
        launched: ``(rank, world size, local rank)`` from the launcher's variables, or
            None to start the ranks here.
    """
    if launched is None:
        from reprocheck.artifacts.runs import RunWriter
        from reprocheck.workflows.launch import launch_ranks

        # Refuse a bad --out before starting processes (seconds each), as a single
        # process run would; the ranks check it again.
        RunWriter(out, fingerprint={}, force=bool(options["force"])).abort()
        log(f"starting {options['world_size']} ranks", kind="progress")
        launch_ranks(options, int(options["world_size"]))
        return out
    rank, world_size, local_rank = launched
    setup = DistSetup(
        world_size=world_size,
        rank=rank,
        local_rank=local_rank,
        backend=str(options["backend"]),
        bucket_cap_mb=float(options["bucket_cap_mb"]),
    )
    device = str(options["device"])
    init_group(setup, device)
    try:
        _replay_all(specs, out, options, setup)
    except BaseException:
        _abandon_group()
        raise
    leave_group()
    return out


def _replay_all(
    specs: Sequence[ScenarioSpec], out: Path, options: Mapping[str, Any], setup: DistSetup
) -> None:
    from reprocheck.artifacts.runs import RunWriter
    from reprocheck.env import fingerprint
    from reprocheck.replay.loop import replay

    def one(spec: ScenarioSpec) -> Any:
        return replay(
            spec,
            steps=options["steps"],
            seed=int(options["seed"]),
            device=str(options["device"]),
            trace_steps=int(options["trace_steps"]),
            dist=setup,
        )

    if setup.rank != 0:
        for spec in specs:
            one(spec)
        return
    layout = {key: options[key] for key in ("world_size", "backend", "bucket_cap_mb")}
    lockfile = options.get("lockfile")
    fp = fingerprint(lockfile=None if lockfile is None else Path(lockfile), run=layout)
    with RunWriter(
        out,
        fingerprint=fp.to_dict(),
        force=bool(options["force"]),
        command=list(options.get("command") or []),
    ) as writer:
        for spec in specs:
            record, tensors = one(spec)
            writer.add(record, tensors)
            agree = "all ranks agree" if all(record.ranks_agree) else "RANKS DISAGREE"
            log(f"{spec.name}: done in {record.duration_s:.2f} s, {agree}", kind="debug")


def _abandon_group() -> None:
    # A failed rank leaves without the final barrier: the others would wait for it there.
    import torch.distributed as dist

    with contextlib.suppress(Exception):
        if dist.is_initialized():
            dist.destroy_process_group()
