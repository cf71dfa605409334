"""Print one table of every speed and memory figure reprocheck promises.

Usage: python benchmarks/run.py [--only NAME ...] [--repeat N] [--strict]

Row providers are the modules ``benchmarks/rows_<NAME>.py``; each defines
``rows() -> list[Row]`` (see ``_bench.py``). ``--only fingerprint`` runs rows_fingerprint.py
alone. ``--strict`` exits 1 when a figure misses its goal (for CI); the default only reports.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
from pathlib import Path

from _bench import Row  # benchmarks/ is on sys.path: this file runs as a script

HERE = Path(__file__).resolve().parent


def _providers() -> list[str]:
    return sorted(p.stem.removeprefix("rows_") for p in HERE.glob("rows_*.py"))


def _number(value: float) -> str:
    if math.isinf(value) or math.isnan(value):
        return str(value)
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"


def _table(rows: list[tuple[str, Row]]) -> str:
    header = ("group", "figure", "value", "reference (same run)", "ref value", "ratio", "goal", "")
    body = []
    for group, row in rows:
        body.append(
            (
                group,
                row.name,
                f"{_number(row.value)} {row.unit}",
                row.reference_name,
                f"{_number(row.reference_value)} {row.unit}",
                f"{_number(row.ratio)}x",
                row.goal,
                "ok" if row.ok else "MISSED",
            )
        )
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=_providers(),
        metavar="NAME",
        help=f"run only these providers (of: {', '.join(_providers())})",
    )
    parser.add_argument("--repeat", type=int, default=None, help="runs per command (median)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.repeat is not None:
        os.environ["REPROCHECK_BENCH_REPEAT"] = str(args.repeat)
    collected: list[tuple[str, Row]] = []
    for name in args.only or _providers():
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"rows_{name}")
        collected.extend((name, row) for row in module.rows())
    print(_table(collected))
    missed = [row for _, row in collected if not row.ok]
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
