"""Runs "from another machine" where this host cannot be one: a documented fingerprint edit.

The gather step must name hardware changes it cannot meet on the one machine the tests run
on (another CPU model, a GPU, a GPU driver). :func:`as_if_on` takes a real, complete run and
rewrites only the hardware fields of its manifest's fingerprint, the way that run's
manifest would read had it been made on the other machine; the tensors and records stay
the real ones. Tests that use it say so in their docstring, and every change this host
*can* produce (the CPU dispatch level, with ``ATEN_CPU_CAPABILITY``) is made for real
instead.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from reprocheck.model.formats import MANIFEST


def as_if_on(
    run: Path,
    out: Path,
    *,
    cpu_model: str | None = None,
    cpu_flags: list[str] | None = None,
    gpus: list[dict[str, Any]] | None = None,
    driver: str | None = None,
) -> Path:
    """Copy ``run`` to ``out`` with the given hardware fields of its fingerprint replaced."""
    shutil.copytree(run, out)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    fp = manifest["fingerprint"]
    if cpu_model is not None:
        fp["cpu"]["model"] = cpu_model
    if cpu_flags is not None:
        fp["cpu"]["flags"] = cpu_flags
    if gpus is not None:
        fp["cuda"]["devices"] = gpus
    if driver is not None:
        fp["cuda"]["driver_version"] = driver
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out
