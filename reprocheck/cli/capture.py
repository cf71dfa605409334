"""``python -m reprocheck.cli.capture JOB``: the replay process of ``reprocheck repro``.

:func:`reprocheck.workflows.repro.write_repro` starts it with the baseline's settings in
its environment; it replays the scenario and writes the captured call. Like every entry
point it owns its error boundary: a ReprocheckError's message on stderr and its exit code.
"""

from __future__ import annotations

import sys

from reprocheck.errors import ReprocheckError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the capture job named in ``argv``; the exit code for ``write_repro``."""
    from reprocheck.workflows.repro import capture_main

    try:
        capture_main(sys.argv[1:] if argv is None else argv)
    except ReprocheckError as exc:
        sys.stderr.write(f"{exc}\n")
        return int(exc.exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
