"""Replay what a baseline run ran, in this environment, and compare (``reprocheck check``).

Only this module replays scenarios named inside an artifact: ``compare`` never imports
them. The baseline's records say which scenarios ran and with which seed, steps, device
and traced steps; each is replayed here with exactly those settings.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from reprocheck._log import log
from reprocheck.errors import InputError
from reprocheck.model.records import RECORDED_SOURCE
from reprocheck.replay.options import ReplayOptions

if TYPE_CHECKING:
    from reprocheck.comparison.policy import Policy
    from reprocheck.comparison.result import ComparisonResult
    from reprocheck.model.records import ScenarioRecord

__all__ = ["check_against", "replay_like"]


def replay_like(
    baseline: Path,
    out: Path,
    *,
    on_scenario: Callable[[ScenarioRecord], None] | None = None,
    keep: str = "all",
) -> Path:
    """Replay every scenario of the ``baseline`` run here, with its settings, into ``out``.

    Each record's config gives its :class:`ReplayOptions` (the distributed layout too: a
    DDP baseline is checked on as many ranks as it ran). Scenarios that share options are
    replayed by one ``run_scenarios`` call; when they differ (``reprocheck run`` without
    ``--steps`` uses each scenario's default), each group is replayed on its own and the
    groups are joined into one run, in the baseline's order. ``on_scenario`` is called
    with each record as it finishes.

    Raises:
        ArtifactError: the baseline cannot be read.
        ScenarioError: a scenario cannot be found or run here.
        InputError: ``out`` exists and is not empty, or the baseline's options cannot run
            here (``device 'cuda'`` without a GPU).
    """
    from reprocheck.artifacts import runs as store
    from reprocheck.artifacts.run_writer import RunWriter
    from reprocheck.workflows.run import job_for, run_job, run_scenarios

    run = store.load_run(Path(baseline))
    _refuse_recorded(run.records.values(), baseline)
    groups: dict[ReplayOptions, list[str]] = {}
    for name, record in run.records.items():
        groups.setdefault(ReplayOptions.for_record(record.config), []).append(name)
    out = Path(out)
    if len(groups) == 1:
        ((options, names),) = groups.items()
        log(f"replaying {', '.join(names)} as the baseline ran them", kind="progress")
        return run_job(job_for(names, out, options, keep=keep), on_scenario=on_scenario)
    with tempfile.TemporaryDirectory(prefix="reprocheck-check-") as tmp:
        parts: dict[str, store.Run] = {}
        for i, (options, names) in enumerate(groups.items()):
            log(f"replaying {', '.join(names)} as the baseline ran them", kind="progress")
            part = run_scenarios(names, Path(tmp) / f"part{i}", options, on_scenario=on_scenario)
            loaded = store.load_run(part)
            parts.update(dict.fromkeys(names, loaded))
        first = parts[next(iter(run.records))]
        with RunWriter(out, fingerprint=first.fingerprint, keep=keep) as writer:
            for name in run.records:
                part_run = parts[name]
                with part_run.open_tensors(name) as reader:
                    tensors = {key: reader.get(key) for key in list(reader.keys())}
                writer.add(part_run.records[name], tensors)
    return out


def check_against(
    baseline: Path,
    *,
    policy: Policy | None = None,
    out: Path | None = None,
    on_scenario: Callable[[ScenarioRecord], None] | None = None,
    keep: str = "all",
) -> ComparisonResult:
    """Replay the baseline's scenarios here and compare the new run with the baseline.

    Args:
        baseline: the baseline run directory.
        policy: the tolerance policy (default preset when None).
        out: keep the new run there; by default it goes to a temporary directory that is
            removed afterwards (the result then names the candidate ``"(replayed here)"``).
        on_scenario: called with each scenario's record as soon as its replay finished.
        keep: what the kept run (``out``) keeps of its final tensors (``all``, ``params``
            or ``digests``).
    """
    from reprocheck.comparison import compare
    from reprocheck.workflows.reference import with_references

    if out is not None:
        replay_like(baseline, out, on_scenario=on_scenario, keep=keep)
        return with_references(compare(baseline, out, policy=policy), baseline, out)
    with tempfile.TemporaryDirectory(prefix="reprocheck-check-") as tmp:
        candidate = replay_like(baseline, Path(tmp) / "run", on_scenario=on_scenario)
        result = compare(baseline, candidate, policy=policy)
        result = with_references(result, baseline, candidate)
    return dataclasses.replace(result, candidate="(replayed here)")


def _refuse_recorded(records: Iterable[ScenarioRecord], baseline: Path) -> None:
    """A run recorded from the user's own loop has no scenario to replay by its name."""
    for record in records:
        if record.source == RECORDED_SOURCE:
            raise InputError(
                f"{record.name!r} in {baseline} was recorded from your own training loop "
                "(reprocheck.record), so there is no scenario to replay here",
                hint="Run your training script again here under reprocheck.record, then "
                "compare the two runs.",
            )
