"""`reprocheck calibrate`: measure the rounding envelope of scenarios in this environment."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from reprocheck.cli._options import (
    flag_names,
    progress_display,
    progress_enabled,
    replay_options,
    replay_options_from,
)
from reprocheck.cli._state import State

if TYPE_CHECKING:
    from reprocheck.model.envelope import ScenarioEnvelope

__all__ = ["calibrate"]


@click.command(name="calibrate")
@click.argument("scenarios", nargs=-1, metavar="[SCENARIO]...")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The run directory to create: the reference replay plus envelope.json.",
)
@replay_options
@click.option("--force", is_flag=True, help="Replace an existing run in --out.")
@click.pass_obj
def calibrate(  # noqa: PLR0917 - click passes every option as an argument
    state: State | None,
    scenarios: tuple[str, ...],
    out: Path,
    steps: int | None,
    seed: int,
    device: str,
    trace_steps: int,
    force: bool,
) -> None:
    """Measure how far rounding alone moves each SCENARIO's numbers here.

    Each scenario is replayed once as the reference (written to --out as an ordinary
    run, so it serves as a baseline) and again under benign reorderings: other thread
    counts (1, 2, 4) and the initial parameters moved by one ULP (two seeds). Per step
    and recorded quantity, the largest deviation any of them showed is the rounding
    envelope, stored as --out/envelope.json. `reprocheck compare` with this run as the
    baseline then judges a candidate against the envelope ("drift = 40x the rounding
    envelope at step 3") instead of the fixed per-dtype tolerances.

    \b
    Examples:
      reprocheck calibrate mlp transformer --steps 5 --out runs/calibrated
      reprocheck compare runs/calibrated runs/candidate

    Exit 0 when the envelope was written, 2 bad input.
    """
    from reprocheck.artifacts.run_writer import check_run_target
    from reprocheck.workflows.calibrate import calibrate as calibrate_here

    check_run_target(out, force=force)  # before torch is imported: bad input fails at once
    options = replay_options_from(steps=steps, seed=seed, device=device, trace_steps=trace_steps)
    state = state if state is not None else State()

    def said(envelope: ScenarioEnvelope) -> None:
        click.echo(_envelope_line(envelope))

    with progress_display(state, enabled=progress_enabled() and not state.quiet), flag_names():
        path = calibrate_here(list(scenarios), out, options, force=force, on_scenario=said)
    click.echo(f"wrote {path}")


def _envelope_line(envelope: ScenarioEnvelope) -> str:
    last = envelope.steps[-1] if envelope.steps else {}
    loss = last.get("loss", 0.0)
    return (
        f"{envelope.name}: envelope over {len(envelope.variants)} variants "
        f"({', '.join(envelope.variants)}); loss moves up to {loss:.3g} "
        f"at step {len(envelope.steps) - 1}"
    )
