"""Capture a fingerprint of the running process: every value is read from inside it.

Nothing here runs a subprocess or a tool on PATH (``nvcc``, ``nvidia-smi``, ``ldconfig``):
what matters is what *this* interpreter loaded and configured, not what the machine has.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reprocheck._compat import torch as compat
from reprocheck._version import __version__
from reprocheck.env.cpu import capture_cpu
from reprocheck.env.distributed import capture_distributed
from reprocheck.env.envvars import capture_env
from reprocheck.env.packages import capture_lockfile, capture_packages
from reprocheck.env.torchinfo import (
    capture_cuda,
    capture_determinism,
    capture_threads,
    capture_torch,
)
from reprocheck.model.fingerprint import Fingerprint, compute_digest

__all__ = ["fingerprint"]


def _libc() -> str | None:
    # confstr is a libc call (microseconds); platform.libc_ver would scan the interpreter binary.
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        value = None
    if value:
        return value
    name, version = platform.libc_ver()
    return f"{name} {version}".strip() or None


def _python() -> dict[str, Any]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
    }


def _platform() -> dict[str, Any]:
    uname = platform.uname()
    return {
        "system": uname.system,
        "release": uname.release,
        "version": uname.version,
        "machine": uname.machine,
        "libc": _libc(),
    }


def fingerprint(
    lockfile: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    run: Mapping[str, Any] | None = None,
) -> Fingerprint:
    """Capture the environment of the running process.

    Args:
        lockfile: the lockfile in force; defaults to ``$REPROCHECK_LOCKFILE`` when set.
        environ: the environment to read variables from (default: ``os.environ``).
        run: the distributed settings of the run being recorded (``world_size``,
            ``backend``, ``bucket_cap_mb``); by default those of this process.

    Returns:
        A frozen :class:`Fingerprint`; ``to_dict()`` gives the JSON form.

    Raises:
        InputError: the lockfile does not exist or cannot be read.
    """
    env = dict(os.environ if environ is None else environ)
    # Checked first: a bad --lockfile should fail before the (slower) torch import.
    lock = capture_lockfile(lockfile, env)
    torch_section = capture_torch()
    packages, sources = capture_packages()
    sections: dict[str, Any] = {
        "python": _python(),
        "platform": _platform(),
        "cpu": capture_cpu(compat.fp_cpu_capability(), env),
        "torch": torch_section,
        "threads": capture_threads(torch_section["parallel_raw"]),
        "determinism": capture_determinism(),
        "cuda": capture_cuda(torch_section["cuda_compiled"], torch_section["hip_compiled"]),
        "env": capture_env(env),
        "packages": packages,
        "package_sources": sources,
        "distributed": capture_distributed(env, run),
    }
    return Fingerprint(
        reprocheck_version=__version__,
        captured_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        digest=compute_digest(sections),
        lockfile=lock,
        **sections,
    )
