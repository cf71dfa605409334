"""``python -m reprocheck.pinned.bisect_runner IMPORTS ARGS...``: ``reprocheck ARGS``, plus imports.

A bisection runs this with each environment's interpreter. It runs the ``reprocheck``
command line unchanged, then writes to IMPORTS (JSON) the installed distributions whose
modules the run imported: a group of package changes none of whose packages was imported
is unlikely to move the numbers, so the bisection tries the others first (the final
confirmation still measures every group).
"""

from __future__ import annotations

import json
import runpy
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["imported_distributions", "main"]


def imported_distributions() -> list[str]:
    """The distributions whose top-level modules are in ``sys.modules``, sorted."""
    owners = metadata.packages_distributions()
    tops = {name.split(".", 1)[0] for name in list(sys.modules)}
    return sorted({dist for top in tops for dist in owners.get(top, ())})


def main(argv: list[str]) -> int:
    """Run ``reprocheck argv[1:]``; write the imported distributions to ``argv[0]``."""
    target = Path(argv[0])
    sys.argv = ["reprocheck", *argv[1:]]
    code: int = 0
    try:
        runpy.run_module("reprocheck", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    target.write_text(json.dumps(imported_distributions()), encoding="utf-8")
    return code


if __name__ == "__main__":  # pragma: no cover - run in a bisection's environments
    sys.exit(main(sys.argv[1:]))
