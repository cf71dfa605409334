"""Replay seeded training steps in this process: the loop, seeding, the operator trace, DDP.

The replay layer returns what a replay recorded (:mod:`reprocheck.model.records`) and
the final tensors; it writes no files (:mod:`reprocheck.workflows.run` does).

Example::

    from reprocheck.replay import replay_scenario

    record, tensors = replay_scenario("mlp", steps=5)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprocheck.errors import InputError
from reprocheck.replay.seeding import check_device, check_seed
from reprocheck.scenarios import load_scenario

if TYPE_CHECKING:
    import torch

    from reprocheck.model.records import ScenarioRecord

__all__ = ["check_options", "load_scenario", "replay_scenario"]


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
    from reprocheck.replay.loop import replay

    check_options(steps, seed, device, trace_steps)
    return replay(
        load_scenario(name), steps=steps, seed=seed, device=device, trace_steps=trace_steps
    )



def check_options(steps: int | None, seed: int, device: str, trace_steps: int) -> None:
    """Refuse bad replay options (InputError), whatever entry point they came through."""
    if steps is not None and steps < 1:
        raise InputError(f"--steps must be at least 1, got {steps}", hint="Pass --steps 1 or more.")
    if trace_steps < 0:
        raise InputError(
            f"--trace-steps must be 0 or more, got {trace_steps}",
            hint="Pass --trace-steps 0 to trace nothing, or a positive number.",
        )
    check_seed(seed)
    check_device(device)
