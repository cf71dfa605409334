"""``python -m reprocheck.matrix DIR_OR_URL --baseline NAME``: runs from many machines, one table.

The last job of a CI matrix (docs/how-to/many-machines.md) gathers every job's run into
one directory, or leaves them under one bucket prefix, and runs this: every run is compared
with the baseline's (:func:`reprocheck.pinned.gather.gather_matrix`), and the scenario x run
table, a verdict line per run (its environment suspects ranked, hardware among them) and
the hardware each machine changes are printed, as the nox matrix prints its own. Exit 0
reproducible, 1 drift, 2 bad input (an unknown baseline, a corrupt run, a bad URL).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from reprocheck._boundary import guarded
from reprocheck._io import atomic_write_text
from reprocheck.artifacts.matrix_files import write_matrix
from reprocheck.integrations.matrix_main import _append_step_summary
from reprocheck.pinned.gather import gather_matrix
from reprocheck.report.machines import render_hardware, render_hardware_markdown
from reprocheck.report.matrix import render_markdown, render_text

__all__ = ["main"]

PROG = "python -m reprocheck.matrix"


@contextlib.contextmanager
def _local_root(location: str) -> Iterator[Path]:
    from reprocheck.artifacts.remote import fetch_tree, is_url

    if not is_url(location):
        yield Path(location)
        return
    with fetch_tree(location) as root:
        yield root


def main(argv: Sequence[str] | None = None) -> int:
    """Print the matrix of the runs under a directory or URL; exit 0, 1 or 2."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Compare runs gathered from several machines with one of them, as one "
        "table (one run per subdirectory; a URL such as s3://bucket/runs needs "
        'pip install "reprocheck[remote]").',
    )
    parser.add_argument("runs", help="directory or URL holding one run per subdirectory")
    parser.add_argument("--baseline", required=True, help="the run every other is compared with")
    parser.add_argument("--policy", type=Path, default=None, help="TOML tolerance policy")
    parser.add_argument("--markdown", type=Path, default=None, help="also write markdown here")
    parser.add_argument("--json", type=Path, default=None, help="also write JSON here")
    args = parser.parse_args(argv)
    with guarded(report=lambda line: sys.stderr.write(line + "\n")) as outcome:
        from reprocheck.comparison.policy import load_policy

        policy = load_policy(args.policy, project_dir=Path.cwd())
        with _local_root(args.runs) as root:
            matrix = gather_matrix(root, args.baseline, policy=policy)
        hardware = render_hardware(matrix)
        sys.stdout.write(render_text(matrix) + ("\n" + hardware if hardware else ""))
        sys.stdout.flush()
        markdown = render_markdown(matrix) + render_hardware_markdown(matrix)
        if args.markdown is not None:
            atomic_write_text(args.markdown, markdown)
        _append_step_summary(markdown)
        if args.json is not None:  # last: a caller that finds it knows the matrix was complete
            write_matrix(args.json, matrix)
        outcome.code = matrix.exit_code
    return outcome.code


if __name__ == "__main__":  # pragma: no cover - run through python -m reprocheck.matrix
    sys.exit(main())
