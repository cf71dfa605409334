"""Build the optional native comparison kernel (reprocheck/comparison/_fused.c).

A plain C shared library, no Python headers, loaded with ctypes at run time
(reprocheck/comparison/_fused.py). Built with the machine's C compiler where there is one
($CC, else cc, gcc or clang); where none works the package installs without it and
compares with torch alone (same results, slower on large differing tensors). The build
says which it did on stderr. Nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("reprocheck") / "comparison" / "_fused.c"
LIBRARY = Path("reprocheck") / "comparison" / "_fused_native.so"
# -ffp-contract=off: no fused multiply-add, so every operation rounds as torch's do.
FLAGS = ["-O3", "-std=c99", "-fPIC", "-shared", "-ffp-contract=off", "-fno-strict-aliasing"]


def _compilers() -> list[str]:
    names = [os.environ.get("CC", ""), "cc", "gcc", "clang"]
    return [path for name in names if name and (path := shutil.which(name.split()[0]))]


def build_library(root: Path) -> Path | None:
    """Compile the kernel in place; the library's path, or None where no compiler works."""
    source, target = root / SOURCE, root / LIBRARY
    if os.environ.get("REPROCHECK_NO_NATIVE"):
        print("reprocheck: REPROCHECK_NO_NATIVE set: native kernel not built", file=sys.stderr)
        target.unlink(missing_ok=True)
        return None
    errors = []
    for compiler in _compilers():
        # First with one version per x86-64 level (older compilers refuse those names).
        for extra in ([], ["-DRC_NO_VERSIONS"]):
            partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            command = [compiler, *FLAGS, *extra, "-o", str(partial), str(source), "-lm"]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode == 0:
                os.replace(partial, target)
                print(f"reprocheck: native kernel built with {compiler}", file=sys.stderr)
                return target
            partial.unlink(missing_ok=True)
            errors.append((done.stderr.strip().splitlines() or [""])[-1])
    print(
        "reprocheck: no C compiler built the native kernel; comparing with torch alone "
        f"({errors[-1] if errors else 'no compiler found'})",
        file=sys.stderr,
    )
    target.unlink(missing_ok=True)
    return None


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compile the kernel before the wheel (or the editable install) is assembled."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        library = build_library(Path(self.root))
        if library is None:
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(library)] = str(LIBRARY)
