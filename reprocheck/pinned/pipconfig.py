"""Read pip's own index and find-links settings so uv can be told the same.

uv does not read ``pip.conf`` or ``PIP_*`` variables. reprocheck builds environments with
uv when it is there, so it passes pip's configured locations on explicitly; nothing about
this machine is ever written into a lockfile.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

__all__ = ["pip_config_value", "pip_install_options", "uv_install_options"]


def pip_config_value(key: str) -> str | None:
    """``pip config get global.<key>`` (environment variables first), or None if unset."""
    env_name = "PIP_" + key.upper().replace("-", "_")
    if os.environ.get(env_name):
        return os.environ[env_name]
    # nox may run from an environment without pip (``uv tool install nox``): then ask the
    # pip on PATH, which reads the same configuration files.
    candidates = [[sys.executable, "-m", "pip"]]
    candidates += [[found] for name in ("pip3", "pip") if (found := shutil.which(name))]
    for pip in candidates:
        try:
            out = subprocess.run(
                [*pip, "config", "get", f"global.{key}"],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "No module named pip" in out.stderr:
            continue
        value = out.stdout.strip()
        return value if out.returncode == 0 and value else None
    return None


def pip_install_options() -> list[str]:
    """Options that make uv (or pip) see what pip is configured to see here."""
    options: list[str] = []
    for link in shlex.split(pip_config_value("find-links") or ""):
        options += ["--find-links", link]
    index = pip_config_value("index-url")
    if index:
        options += ["--index-url", index]
    for extra in shlex.split(pip_config_value("extra-index-url") or ""):
        options += ["--extra-index-url", extra]
    return options


def uv_install_options() -> list[str]:
    """:func:`pip_install_options` plus what makes uv choose packages the way pip does.

    uv takes a package from the first index that has it; pip looks at every index and
    takes the best match. With extra indexes configured (a local mirror holding only some
    versions), only pip's rule finds a version the mirror lacks, so ask uv for it.
    """
    options = pip_install_options()
    if "--extra-index-url" in options:
        options += ["--index-strategy", "unsafe-best-match"]
    return options
