"""Pairing differently named scenarios: ``compare --pair A=B``.

Compares scenario A of the baseline with scenario B of the candidate (a model v1 against
v2, a copy with a planted change). The candidate's B is read as if it were named A: its
record, and the module paths of its op trace (rooted at the scenario's name), are renamed,
so the traces align module by module. Only the paired scenarios are compared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from reprocheck.comparison.result import ScenarioComparison
from reprocheck.errors import InputError
from reprocheck.model.records import ScenarioRecord

if TYPE_CHECKING:
    from reprocheck.artifacts.runs import Run

__all__ = ["pair_notes", "paired_runs", "parse_pairs"]

_HINT = (
    "Write --pair BASELINE_SCENARIO=CANDIDATE_SCENARIO, with the names as each run lists "
    "them (`reprocheck report RUN`), once per pair."
)


def parse_pairs(specs: Sequence[str]) -> dict[str, str]:
    """``["a=b", ...]`` → ``{"a": "b"}``; :class:`InputError` for a malformed or repeated one."""
    mapping: dict[str, str] = {}
    for spec in specs:
        left, sep, right = spec.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise InputError(f"--pair {spec!r} is not of the form A=B", hint=_HINT)
        left, right = left.strip(), right.strip()
        if left in mapping:
            raise InputError(f"--pair names baseline scenario {left!r} twice", hint=_HINT)
        mapping[left] = right
    return mapping


def _check(names: Sequence[str], held: Sequence[str], side: str) -> None:
    for name in names:
        if name not in held:
            raise InputError(
                f"--pair names {name!r}, which the {side} run does not hold "
                f"(it holds: {', '.join(held)})",
                hint=_HINT,
            )


def _rename_path(path: str, old: str, new: str) -> str:
    if path == old:
        return new
    return new + path[len(old) :] if path.startswith(old + ".") else path


def renamed_record(record: ScenarioRecord, name: str) -> ScenarioRecord:
    """``record`` as if its scenario were called ``name`` (module paths included)."""
    old = record.name
    trace = tuple(
        dataclasses.replace(e, module=_rename_path(e.module, old, name)) for e in record.trace
    )
    modules = tuple(_rename_path(m, old, name) for m in record.modules)
    return dataclasses.replace(record, name=name, trace=trace, modules=modules)


def paired_runs(run_b: Run, run_c: Run, mapping: Mapping[str, str]) -> tuple[Run, Run]:
    """The two runs restricted to the pairs, the candidate's scenarios renamed to match.

    Without pairs, the two runs as they are.
    """
    if not mapping:
        return run_b, run_c
    _check(list(mapping), list(run_b.records), "baseline")
    _check(list(mapping.values()), list(run_c.records), "candidate")
    base = run_b.renamed({a: a for a in mapping}, {a: run_b.records[a] for a in mapping})
    cand_records = {a: renamed_record(run_c.records[b], a) for a, b in mapping.items()}
    return base, run_c.renamed(dict(mapping), cand_records)


def pair_notes(
    scenarios: tuple[ScenarioComparison, ...], mapping: Mapping[str, str]
) -> tuple[ScenarioComparison, ...]:
    """Each paired scenario with a note naming the candidate scenario it was compared with."""
    if not mapping:
        return scenarios
    return tuple(
        dataclasses.replace(
            s, notes=(f"baseline {s.name} compared with candidate {mapping[s.name]}", *s.notes)
        )
        for s in scenarios
    )
