"""The frame shared by every benchmark row provider: the Row value and timing helpers.

A provider is a module ``benchmarks/rows_<name>.py`` with ``def rows() -> list[Row]``.
Each row carries its own floor or peer, measured in the same run on the same machine,
so the ratio means something even on a noisy or slow machine.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

__all__ = [
    "REPEATS",
    "Row",
    "interleaved_seconds",
    "median_seconds",
    "python_seconds",
    "reported_seconds",
]

# How many times each command runs; the median is reported. `run.py --repeat N` sets it.
REPEATS = 5


def _repeats() -> int:
    return int(os.environ.get("REPROCHECK_BENCH_REPEAT", REPEATS))


@dataclasses.dataclass(frozen=True)
class Row:
    """One figure in the benchmark table.

    Attributes:
        name: what was measured, e.g. "fingerprint capture beyond import torch".
        value: the measured figure.
        unit: "s", "MiB", ...
        reference_name: the floor or peer it is judged against, e.g. "collect_env".
        reference_value: that floor or peer, measured in the same run.
        goal: the target in words, e.g. "<= +0.5 s over import torch".
        ok: whether the goal is met.
    """

    name: str
    value: float
    unit: str
    reference_name: str
    reference_value: float
    goal: str
    ok: bool

    @property
    def ratio(self) -> float:
        """value / reference (inf when the reference is zero)."""
        return self.value / self.reference_value if self.reference_value else float("inf")


def _timed(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(list(argv), env=dict(environ), capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {tail}")
    return elapsed, proc.stdout.decode(errors="replace")


def interleaved_seconds(
    commands: Sequence[Sequence[str]], *, repeats: int | None = None
) -> list[float]:
    """Median wall time of each command, run round-robin (A, B, C, A, B, C, ...).

    Interleaving exposes every command to the same background load, so a difference
    between two of them (capture minus import torch) is not an artefact of when each ran.
    One warm-up round is not counted.
    """
    environ = dict(os.environ)
    times: list[list[float]] = [[] for _ in commands]
    for i in range(1 + (repeats or _repeats())):
        for slot, argv in enumerate(commands):
            elapsed, _ = _timed(argv, environ)
            if i:
                times[slot].append(elapsed)
    return [statistics.median(t) for t in times]


def reported_seconds(code: str, *, repeats: int | None = None) -> float:
    """Median of a figure that ``python -c code`` measures itself and prints last."""
    values = []
    for _ in range(repeats or _repeats()):
        _, out = _timed([sys.executable, "-c", code], os.environ)
        values.append(float(out.split()[-1]))
    return statistics.median(values)


def median_seconds(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, repeats: int | None = None
) -> float:
    """Median wall time of running ``argv`` to completion (one warm-up run first).

    Raises:
        RuntimeError: the command failed (a benchmark of a failing command means nothing).
    """
    environ = {**os.environ, **(env or {})}
    times: list[float] = []
    for i in range(1 + (repeats or _repeats())):
        elapsed, _ = _timed(argv, environ)
        if i:  # the first run warms the page cache and is not counted
            times.append(elapsed)
    return statistics.median(times)


def python_seconds(
    code: str, *, env: Mapping[str, str] | None = None, repeats: int | None = None
) -> float:
    """Median wall time of ``python -c code`` with this interpreter."""
    return median_seconds([sys.executable, "-c", code], env=env, repeats=repeats)
