"""Replay what a baseline run ran, in this environment, and compare (``reprocheck check``).

Only this module replays scenarios named inside an artifact: ``compare`` never imports
them. The baseline's records say which scenarios ran and with which seed, steps, device
and traced steps; each is replayed here with exactly those settings.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck._log import log

if TYPE_CHECKING:
    from reprocheck.comparison.policy import Policy
    from reprocheck.comparison.result import ComparisonResult
    from reprocheck.model.records import ScenarioConfig, ScenarioRecord

__all__ = ["check_against", "replay_like"]


_Settings = tuple[int, int, str, int, int, str | None, float | None]


def _settings(config: ScenarioConfig) -> _Settings:
    # The distributed layout too: a DDP baseline is checked on as many ranks as it ran.
    return (
        config.steps,
        config.seed,
        config.device,
        config.trace_steps,
        config.world_size,
        config.backend,
        config.bucket_cap_mb,
    )


def _options(settings: _Settings) -> dict[str, Any]:
    steps, seed, device, trace_steps, world_size, backend, bucket_cap_mb = settings
    return {
        "steps": steps,
        "seed": seed,
        "device": device,
        "trace_steps": trace_steps,
        "world_size": world_size,
        "backend": backend,
        "bucket_cap_mb": bucket_cap_mb,
    }


def replay_like(
    baseline: Path, out: Path, *, on_scenario: Callable[[ScenarioRecord], None] | None = None
) -> Path:
    """Replay every scenario of the ``baseline`` run here, with its settings, into ``out``.

    Scenarios that share settings are replayed by one ``run_scenarios`` call; when they
    differ (``reprocheck run`` without ``--steps`` uses each scenario's default), each
    group is replayed on its own and the groups are joined into one run, in the
    baseline's order. ``on_scenario`` is called with each record as it finishes.

    Raises:
        ArtifactError: the baseline cannot be read.
        ScenarioError: a scenario cannot be found or run here.
        InputError: ``out`` exists and is not empty.
    """
    from reprocheck.artifacts import runs as store
    from reprocheck.workflows.run import run_scenarios

    run = store.load_run(Path(baseline))
    groups: dict[_Settings, list[str]] = {}
    for name, record in run.records.items():
        groups.setdefault(_settings(record.config), []).append(name)
    out = Path(out)
    if len(groups) == 1:
        ((settings, names),) = groups.items()
        log(f"replaying {', '.join(names)} as the baseline ran them", kind="progress")
        return run_scenarios(names, out, **_options(settings), on_scenario=on_scenario)
    with tempfile.TemporaryDirectory(prefix="reprocheck-check-") as tmp:
        parts: dict[str, store.Run] = {}
        for i, (settings, names) in enumerate(groups.items()):
            log(f"replaying {', '.join(names)} as the baseline ran them", kind="progress")
            part = run_scenarios(
                names, Path(tmp) / f"part{i}", **_options(settings), on_scenario=on_scenario
            )
            loaded = store.load_run(part)
            parts.update(dict.fromkeys(names, loaded))
        first = parts[next(iter(run.records))]
        with store.RunWriter(out, fingerprint=first.fingerprint) as writer:
            for name in run.records:
                part_run = parts[name]
                with part_run.open_tensors(name) as reader:
                    tensors = {key: reader.get(key) for key in part_run.records[name].tensors}
                writer.add(part_run.records[name], tensors)
    return out


def check_against(
    baseline: Path,
    *,
    policy: Policy | None = None,
    out: Path | None = None,
    on_scenario: Callable[[ScenarioRecord], None] | None = None,
) -> ComparisonResult:
    """Replay the baseline's scenarios here and compare the new run with the baseline.

    Args:
        baseline: the baseline run directory.
        policy: the tolerance policy (default preset when None).
        out: keep the new run there; by default it goes to a temporary directory that is
            removed afterwards (the result then names the candidate ``"(replayed here)"``).
        on_scenario: called with each scenario's record as soon as its replay finished.
    """
    from reprocheck.comparison import compare

    if out is not None:
        replay_like(baseline, out, on_scenario=on_scenario)
        return compare(baseline, out, policy=policy)
    with tempfile.TemporaryDirectory(prefix="reprocheck-check-") as tmp:
        candidate = replay_like(baseline, Path(tmp) / "run", on_scenario=on_scenario)
        result = compare(baseline, candidate, policy=policy)
    return dataclasses.replace(result, candidate="(replayed here)")
