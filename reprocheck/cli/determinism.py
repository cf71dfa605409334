"""`reprocheck determinism`: replay scenarios several times here; are they bitwise equal?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reprocheck.cli._options import (
    emit,
    flag_names,
    format_choice,
    output_option,
    progress_display,
    progress_enabled,
    replay_options,
    replay_options_from,
)
from reprocheck.cli._state import State

if TYPE_CHECKING:
    from reprocheck.workflows.determinism import DeterminismResult

__all__ = ["determinism"]


@click.command(name="determinism")
@click.argument("scenarios", nargs=-1, metavar="[SCENARIO]...")
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Replays in this process (plus one in a fresh process).",
)
@replay_options
@click.option(
    "--fresh-process/--no-fresh-process",
    default=True,
    show_default=True,
    help="Also replay once in a fresh `python -m reprocheck run` process.",
)
@format_choice()
@output_option()
@click.pass_obj
def determinism(  # noqa: PLR0917 - click passes every option as an argument
    state: State | None,
    scenarios: tuple[str, ...],
    repeats: int,
    steps: int | None,
    seed: int,
    device: str,
    trace_steps: int,
    fresh_process: bool,
    fmt: str,
    output: Path | None,
) -> None:
    """Replay each SCENARIO several times in this environment and compare bitwise.

    SCENARIO is a built-in name, module:function (importable from the working directory)
    or an entry point of the reprocheck.scenarios group; without one, every built-in
    scenario. Each is replayed --repeats times in this process and once in a fresh
    process (unless --no-fresh-process). All per-step digests, metrics, operator traces
    and final tensors must be bitwise equal; when they are not, the first step, phase
    and operator (or parameter) where the replays part is named.

    Exit 0 when every scenario is deterministic, 1 when one is not.
    """
    from reprocheck.workflows.determinism import check_determinism

    state = state if state is not None else State()
    names = _scenario_names(scenarios)
    options = replay_options_from(steps=steps, seed=seed, device=device, trace_steps=trace_steps)
    # Text to the terminal: each scenario's line as soon as it is known, not all at the end.
    streaming = fmt == "text" and output is None
    width = max(len(n) for n in names)
    results = []
    # The same one-line progress display as `reprocheck run` (none in pipes or CI).
    with progress_display(state, enabled=progress_enabled() and not state.quiet), flag_names():
        for name in names:
            result = check_determinism(name, options, repeats=repeats, fresh_process=fresh_process)
            results.append(result)
            if streaming:
                click.echo(_line(result, width))
    if fmt == "json":
        verdict = "deterministic" if all(r.deterministic for r in results) else "nondeterministic"
        data = {"verdict": verdict, "scenarios": [r.to_dict() for r in results]}
        emit(json.dumps(data, indent=2, sort_keys=True), output)
    elif not streaming:
        emit("\n".join(_line(r, width) for r in results), output)
    if not all(r.deterministic for r in results):
        raise click.exceptions.Exit(1)


def _scenario_names(scenarios: tuple[str, ...]) -> list[str]:
    """The scenarios to check (every built-in one by default), each found before any replay."""
    from reprocheck.errors import InputError
    from reprocheck.scenarios import BUILTIN_NAMES, load_scenario

    names = list(scenarios) or list(BUILTIN_NAMES)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(
            f"scenario {duplicates[0]!r} is named twice", hint="Name each scenario once."
        )
    for name in names:  # a typo in the last name fails at once, not after the slow replays
        load_scenario(name)
    return names


def _line(result: DeterminismResult, width: int) -> str:
    if result.first_difference is None:
        said = f"deterministic ({result.replays} replays bitwise equal)"
    else:
        said = f"NOT deterministic: first differs at {result.first_difference.describe()}"
    return f"{result.scenario.ljust(width)}  {said}"
