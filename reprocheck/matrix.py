"""``python -m reprocheck.matrix DIR_OR_URL --baseline NAME``, where users find it.

The driver lives in :mod:`reprocheck.integrations.gather_main`; this module only hands it
on (like :mod:`reprocheck.nox`), so a CI job's last step stays one short line.
"""

from __future__ import annotations

import sys

from reprocheck.integrations.gather_main import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover - exercised by tests/integration
    sys.exit(main())
