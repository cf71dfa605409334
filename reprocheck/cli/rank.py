"""``python -m reprocheck.cli.rank JOB``: one rank of ``reprocheck run --world-size N``.

The built-in launcher (:mod:`reprocheck.workflows.launch`) starts one such process per
rank. Like every entry point it lives at the top of the house: it owns the rank's channel
to the launcher (rank 0's messages as JSON lines on stdout, which the launcher relays to
the person at the terminal) and hands the job to the run workflow.
"""

from __future__ import annotations

import json
import sys

from reprocheck._log import Kind

__all__ = ["json_logger", "main"]


def json_logger(message: str, kind: Kind) -> None:
    """Rank 0's messages, one JSON object a line, for the launcher to relay."""
    sys.stdout.write(json.dumps({"kind": kind, "message": message}) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the job file named in ``argv`` as this rank; the exit code for the launcher."""
    from reprocheck.workflows.launch import rank_main
    from reprocheck.workflows.run import run_job

    return rank_main(run_job, argv, logger=json_logger)


if __name__ == "__main__":
    sys.exit(main())
