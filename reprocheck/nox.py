"""``python -m reprocheck.nox`` and ``reprocheck.nox.matrix(...)``, where users find them.

The sessions and the driver live in :mod:`reprocheck.integrations.nox_sessions`; this
module only hands them on, so a project's noxfile keeps ``import reprocheck.nox``.
"""

from __future__ import annotations

import sys

from reprocheck.integrations.nox_sessions import STAMP_NAME, environments, main, matrix

__all__ = ["STAMP_NAME", "environments", "main", "matrix"]

if __name__ == "__main__":  # pragma: no cover - exercised by the integration tests
    sys.exit(main())
