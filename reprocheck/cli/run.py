"""`reprocheck run`: replay seeded training steps and write a run artifact."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reprocheck.cli._locations import RUN_LOCATION, Location, check_target, shown, staged_out
from reprocheck.cli._options import (
    flag_names,
    keep_option,
    progress_display,
    progress_enabled,
    replay_options,
    replay_options_from,
)
from reprocheck.cli._state import State

if TYPE_CHECKING:
    from reprocheck.model.records import ScenarioRecord
    from reprocheck.replay.options import ReplayOptions

__all__ = ["run"]


@click.command(name="run")
@click.argument("scenarios", nargs=-1, metavar="[SCENARIO]...")
@click.option(
    "--out",
    required=True,
    # Not click.Path: a URL stays a string; the run writer refuses a file with one Error:
    # line and a Hint:.
    **RUN_LOCATION,
    help="The run directory to create (must not exist, or be empty, unless --force); "
    "missing parent directories are created. A URL (s3://bucket/runs/a) uploads the "
    'run, its manifest last (needs pip install "reprocheck[remote]").',
)
@replay_options
@click.option("--force", is_flag=True, help="Replace an existing run in --out.")
@keep_option()
@click.option(
    "--lockfile",
    type=click.Path(path_type=Path),
    default=None,
    help="The lockfile this environment was built from (recorded in the fingerprint).",
)
@click.option(
    "--world-size",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Ranks training together in DistributedDataParallel; started here, or joined "
    "when torchrun started this process.",
)
@click.option(
    "--backend",
    type=click.Choice(["gloo", "nccl"]),
    default=None,
    help="torch.distributed backend [default: gloo on cpu, nccl on cuda].",
)
@click.option(
    "--bucket-cap-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="DDP gradient bucket size in MB [default: 25, DDP's own].",
)
@click.pass_obj
def run(  # noqa: PLR0917 - click passes every option as an argument
    state: State | None,
    scenarios: tuple[str, ...],
    out: Location,
    steps: int | None,
    seed: int,
    device: str,
    trace_steps: int,
    force: bool,
    keep: str,
    lockfile: Path | None,
    world_size: int,
    backend: str | None,
    bucket_cap_mb: float | None,
) -> None:
    """Replay seeded training steps of each SCENARIO and write them to --out.

    SCENARIO is a built-in name (mlp, cnn, transformer, rnn), module:function
    (importable from the working directory) or the name of an entry point in the
    reprocheck.scenarios group; without one, every built-in scenario runs. The run
    directory holds per-step digests and norms, an operator trace of the first
    --trace-steps steps, the final parameters and optimizer state (safetensors) and
    the environment's fingerprint. It appears only when complete.

    With --world-size N above 1, N ranks train each scenario in
    DistributedDataParallel, each on its slice of the global batch; the run keeps rank
    0's tensors and whether all ranks agreed after each step. Under torchrun, every
    process runs this same command and rank 0 writes the run (docs/distributed.md).

    \b
    Examples:
      reprocheck run --out runs/today
      reprocheck run mlp cnn --steps 5 --out runs/quick
      reprocheck run mypackage.scenarios:build --out runs/mine
      reprocheck run --out s3://my-bucket/runs/today
      reprocheck run mlp cnn --world-size 2 --out runs/ddp
      torchrun --nproc-per-node 2 -m reprocheck run mlp --world-size 2 --out runs/ddp
    """
    check_target(out, force=force)  # before torch is imported: bad input fails at once
    options = replay_options_from(
        steps=steps,
        seed=seed,
        device=device,
        trace_steps=trace_steps,
        world_size=world_size,
        backend=backend,
        bucket_cap_mb=bucket_cap_mb,
    )
    state = state if state is not None else State()
    with staged_out(out, force=force) as local:
        written = _replay_and_report(
            state, list(scenarios), local, options, force=force, lockfile=lockfile, keep=keep
        )
    if written:
        click.echo(f"wrote {shown(out)}")


def _replay_and_report(
    state: State,
    scenarios: list[str],
    out: Path,
    options: ReplayOptions,
    *,
    force: bool,
    lockfile: Path | None,
    keep: str = "all",
) -> bool:
    """Write the run, with a line per scenario as it finishes; whether this process wrote it."""
    from reprocheck.artifacts.runs import load_run
    from reprocheck.workflows.run import job_for, run_job

    reported: set[str] = set()

    def said(record: ScenarioRecord) -> None:
        # Each scenario's line as soon as it has finished, not all of them at the end.
        reported.add(record.name)
        click.echo(_scenario_line(record))

    with progress_display(state, enabled=progress_enabled() and not state.quiet), flag_names():
        path = run_job(
            job_for(scenarios, out, options, force=force, lockfile=lockfile, keep=keep),
            on_scenario=said,
        )
    if options.world_size > 1 and os.environ.get("RANK", "0") != "0":
        return False  # under torchrun: rank 0 writes the run and reports it
    written = load_run(path)
    for name, record in written.records.items():
        if name not in reported:  # a distributed replay reports its records at the end
            click.echo(_scenario_line(record))
    return True


def _scenario_line(record: ScenarioRecord) -> str:
    first, last = record.steps[0].loss, record.steps[-1].loss
    return (
        f"{record.name}: {record.config.steps} steps on {record.config.device}, "
        f"loss {first:.6g} -> {last:.6g}, {len(record.trace)} traced ops, "
        f"{len(record.tensors)} tensors, {record.duration_s:.2f} s"
        + _ranks_note(record.config.world_size, record.ranks_agree)
    )


def _ranks_note(world_size: int, agree: tuple[bool, ...]) -> str:
    if world_size == 1:
        return ""
    if all(agree):
        return f", {world_size} ranks agree"
    first = agree.index(False)
    return f", {world_size} ranks DISAGREE from step {first}"
