"""Measure the rounding envelope of scenarios here (``reprocheck calibrate``).

Each scenario is replayed once as the reference (written as an ordinary run, so the result
serves as a baseline) and then under benign variants that only reorder floating-point
arithmetic:

* other intra-op thread counts (1, 2 and 4, leaving out the one in force): a reduction
  split over another number of threads adds its partial sums in another order;
* the initial parameters moved by one ULP, each element up or down by a seeded coin
  (two seeds): the smallest change of the inputs there is, which training then carries
  and amplifies exactly as it carries rounding.

Per step and recorded quantity, the largest absolute deviation of any variant from the
reference is the envelope; the run directory gets it as ``envelope.json``
(:mod:`reprocheck.artifacts.envelope`), and compare judges a candidate against it.

Example::

    from pathlib import Path
    from reprocheck.workflows.calibrate import calibrate

    calibrate(["mlp"], Path("runs/calibrated"))
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reprocheck._log import log
from reprocheck.errors import InputError
from reprocheck.model.envelope import ScenarioEnvelope, deviation, step_quantities
from reprocheck.replay.options import ReplayOptions

if TYPE_CHECKING:
    import torch

    from reprocheck.model.records import ScenarioRecord
    from reprocheck.scenarios import ScenarioSpec
    from reprocheck.scenarios.api import Scenario

__all__ = ["PERTURB_SEEDS", "THREAD_COUNTS", "Variant", "calibrate", "variants_here"]

#: Thread counts tried (the one in force is the reference, so it is left out).
THREAD_COUNTS: tuple[int, ...] = (1, 2, 4)
#: Seeds of the one-ULP perturbations of the initial parameters.
PERTURB_SEEDS: tuple[int, ...] = (1, 2)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One benign variant: a label, a thread count (None: unchanged), a perturbation seed."""

    label: str
    threads: int | None = None
    perturb_seed: int | None = None


def variants_here() -> tuple[Variant, ...]:
    """The variants for this process: other thread counts, then the perturbations."""
    import torch

    current = torch.get_num_threads()
    threads = [Variant(f"threads={n}", threads=n) for n in THREAD_COUNTS if n != current]
    perturbed = [Variant(f"init±1ulp seed {s}", perturb_seed=s) for s in PERTURB_SEEDS]
    return (*threads, *perturbed)


def calibrate(
    names: Sequence[str] | None,
    out: Path,
    options: ReplayOptions | None = None,
    *,
    force: bool = False,
    on_scenario: Callable[[ScenarioEnvelope], None] | None = None,
) -> Path:
    """Replay ``names`` as the reference and under benign variants; write run + envelope.

    Args:
        names: scenarios (None or empty: every built-in one), as for ``reprocheck run``.
        out: the run directory to create; it holds the reference replay and
            ``envelope.json``, and serves as a baseline for compare.
        options: steps, seed, device, traced steps (one process only).
        force: replace an existing run at ``out``.
        on_scenario: called with each scenario's envelope when it is measured.

    Raises:
        InputError: a distributed layout, a scenario named twice, a bad ``out``.
        ScenarioError: a scenario cannot be found, built or run.
    """
    from reprocheck.artifacts.envelope import write_envelope
    from reprocheck.artifacts.run_writer import RunWriter, check_run_target
    from reprocheck.env import fingerprint
    from reprocheck.replay.loop import replay
    from reprocheck.scenarios import BUILTIN_NAMES
    from reprocheck.workflows.run import resolve_scenarios

    options = ReplayOptions() if options is None else options
    if options.world_size != 1:
        raise InputError(
            "calibrate replays in one process; a distributed layout is not supported",
            hint="Calibrate with world_size 1.",
            field="world_size",
        )
    check_run_target(Path(out), force=force)
    specs = resolve_scenarios(tuple(names) if names else BUILTIN_NAMES)
    fp = fingerprint(run=options.layout()).to_dict()
    envelopes = []
    with RunWriter(Path(out), fingerprint=fp, force=force, command=list(sys.argv)) as writer:
        for spec in specs:
            record, tensors = replay(spec, options)
            writer.add(record, tensors)
            envelope = measure(spec, options, record, tensors)
            envelopes.append(envelope)
            if on_scenario is not None:
                on_scenario(envelope)
        write_envelope(writer.tmp, envelopes)  # before the manifest: all or nothing
    return Path(out)


def measure(
    spec: ScenarioSpec,
    options: ReplayOptions,
    reference: ScenarioRecord,
    tensors: dict[str, torch.Tensor],
) -> ScenarioEnvelope:
    """Replay ``spec`` under every variant; the largest deviation from ``reference``."""
    from reprocheck.replay.loop import replay

    quiet = dataclasses.replace(options, trace_steps=0)  # the trace is not needed here
    steps: list[dict[str, float]] = [
        dict.fromkeys(step_quantities(s), 0.0) for s in reference.steps
    ]
    final = dict.fromkeys(tensors, 0.0)
    labels = []
    for variant in variants_here():
        log(f"{spec.name}: calibrating under {variant.label}", kind="progress")
        hook = None if variant.perturb_seed is None else _perturber(variant.perturb_seed)
        with _threads(variant.threads):
            record, moved = replay(spec, quiet, after_build=hook)
        labels.append(variant.label)
        for bound, ref, got in zip(steps, reference.steps, record.steps, strict=True):
            ref_q, got_q = step_quantities(ref), step_quantities(got)
            for key, value in ref_q.items():
                bound[key] = max(bound[key], deviation(value, got_q.get(key, value)))
        for key, tensor in tensors.items():
            final[key] = max(final[key], _max_abs(tensor, moved[key]))
    return ScenarioEnvelope(
        name=spec.name, variants=tuple(labels), steps=tuple(steps), tensors=final
    )


@contextlib.contextmanager
def _threads(count: int | None) -> Iterator[None]:
    import torch

    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _perturber(seed: int) -> Callable[[Scenario], None]:
    """Move every floating parameter element by one ULP, up or down by a seeded coin."""

    def perturb(scenario: Scenario) -> None:
        import torch

        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in scenario.model.parameters():
                if not p.is_floating_point() or p.numel() == 0:
                    continue
                up = torch.rand(p.shape, generator=generator) < 0.5
                inf = torch.tensor(float("inf"), dtype=p.dtype)
                target = torch.where(up.to(p.device), inf.to(p.device), -inf.to(p.device))
                p.copy_(torch.nextafter(p, target))

    return perturb


def _max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    import torch

    if not a.is_floating_point() or a.shape != b.shape:
        return 0.0 if torch.equal(a, b) else float("inf")
    diff = (a.double() - b.double()).abs()
    same = (a == b) | (a.isnan() & b.isnan())
    diff = torch.where(same, torch.zeros_like(diff), diff)
    diff = torch.nan_to_num(diff, nan=float("inf"))
    return float(diff.max()) if diff.numel() else 0.0
