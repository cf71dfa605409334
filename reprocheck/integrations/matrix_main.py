"""``python -m reprocheck.integrations.matrix_main``: the matrix, printed and written.

The nox ``compare`` session runs this inside a replay environment (which has torch): it
compares every environment's run with the baseline's (:func:`reprocheck.pinned.matrix.
build_matrix`), prints the table and verdict, writes the markdown and ``runs/matrix.json``,
and exits 0 reproducible, 1 drift, 3 an environment could not be built or replayed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from reprocheck._boundary import guarded
from reprocheck._io import atomic_write_text
from reprocheck.artifacts.matrix_files import write_matrix
from reprocheck.pinned.matrix import build_matrix
from reprocheck.report.matrix import render_markdown, render_table, render_text

__all__ = ["main"]

PROG = "python -m reprocheck.integrations.matrix_main"


def _append_step_summary(markdown: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions sets it (like ``compare``)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    except OSError as exc:
        sys.stderr.write(f"warning: cannot append to GITHUB_STEP_SUMMARY {target}: {exc}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reprocheck.integrations.matrix_main``: print the matrix; exit 0, 1, 3.

    Bad input exits 2 and a crash 4, as at every entry point (:mod:`reprocheck._boundary`).
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Compare every replayed environment with a baseline, as one table.",
    )
    parser.add_argument("envs", nargs="+", help="environments (lockfile stems), in order")
    parser.add_argument("--baseline", required=True, help="the environment to compare with")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="runs directory")
    parser.add_argument("--lockfiles", type=Path, default=None, help="lockfile directory")
    parser.add_argument("--markdown", type=Path, default=None, help="also write markdown here")
    parser.add_argument(
        "--json", type=Path, action="append", default=[], help="also write JSON here (repeatable)"
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="print the table but not the verdict (the caller prints it from the JSON)",
    )
    args = parser.parse_args(argv)
    with guarded(report=lambda line: sys.stderr.write(line + "\n")) as outcome:
        hashes = None
        if args.lockfiles is not None:
            from reprocheck.pinned.lockfile import lockfile_sha256

            hashes = {
                env: lockfile_sha256(args.lockfiles / f"{env}.txt")
                for env in args.envs
                if (args.lockfiles / f"{env}.txt").is_file()
            }
        matrix = build_matrix(args.runs, args.envs, args.baseline, lockfile_hashes=hashes)
        sys.stdout.write(render_table(matrix) if args.table_only else render_text(matrix))
        sys.stdout.flush()
        if args.markdown is not None:
            atomic_write_text(args.markdown, render_markdown(matrix))
        _append_step_summary(render_markdown(matrix))
        # The JSON is written last: a caller that finds it knows the matrix was complete.
        for path in args.json:
            write_matrix(path, matrix)
        outcome.code = matrix.exit_code
    return outcome.code


if __name__ == "__main__":  # pragma: no cover - exercised through the nox compare session
    sys.exit(main())
