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
from reprocheck.replay.options import ReplayOptions
from reprocheck.scenarios import load_scenario

if TYPE_CHECKING:
    import torch

    from reprocheck.model.records import ScenarioRecord

__all__ = ["ReplayOptions", "load_scenario", "replay_scenario"]


def replay_scenario(
    name: str,
    options: ReplayOptions | None = None,
    *,
    steps: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    trace_steps: int = 1,
) -> tuple[ScenarioRecord, dict[str, torch.Tensor]]:
    """Replay one scenario in this process and return what it recorded; writes no files.

    Pass the options either as a :class:`ReplayOptions` or as the keywords, not both.

    Args:
        name: a built-in name, ``module:function``, or an entry point's name.
        options: how to replay (one process: ``world_size`` 1).
        steps: training steps (``None``: the scenario's default).
        seed: the one seed for every random source.
        device: ``"cpu"`` or ``"cuda"``.
        trace_steps: how many first steps to trace operator by operator.

    Returns:
        The record and the final tensors (parameters, buffers, optimizer state) on the CPU.

    Raises:
        ScenarioError: the scenario cannot be found, built or run.
        InputError: a bad option (naming its field), or a world size above 1.
        TypeError: both ``options`` and keywords were given.
    """
    from reprocheck.replay.loop import replay

    keywords = ReplayOptions(steps=steps, seed=seed, device=device, trace_steps=trace_steps)
    if options is None:
        options = keywords
    elif keywords != ReplayOptions():
        raise TypeError("replay_scenario() takes options or keywords, not both")
    if options.world_size != 1:
        raise InputError(
            f"replay_scenario replays in this process, but world_size is {options.world_size}",
            hint="Use world_size 1, or run_scenarios for a distributed replay.",
            field="world_size",
        )
    return replay(load_scenario(name), options)
