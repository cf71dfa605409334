"""The CPU: model name, core count and the instruction-set flags that change numerics.

Read from ``/proc/cpuinfo`` on Linux (no subprocess, no ``lscpu``), from ``sysctl`` through
ctypes on macOS, from :mod:`platform` elsewhere. A value that cannot be read is None.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform
import sys
from pathlib import Path
from typing import Any

__all__ = ["NUMERIC_FLAGS", "capture_cpu", "parse_cpuinfo"]

# ISA extensions that select different kernels, hence different rounding: FMA contracts a
# multiply-add into one rounding; AVX-512/AMX/VNNI change reduction widths and bf16/int8
# paths. Names as the Linux kernel spells them in /proc/cpuinfo.
NUMERIC_FLAGS: frozenset[str] = frozenset(
    {
        # x86
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx512f",
        "avx512bw",
        "avx512dq",
        "avx512vl",
        "avx512cd",
        "avx512_vnni",
        "avx512_bf16",
        "avx512_fp16",
        "amx_tile",
        "amx_bf16",
        "amx_int8",
        "amx_fp16",
        "avx_vnni",
        # ARM (Linux spells NEON "asimd" on 64-bit, "neon" on 32-bit)
        "neon",
        "asimd",
        "asimdhp",
        "asimddp",
        "fphp",
        "bf16",
        "i8mm",
        "sve",
        "sve2",
        "sme",
    }
)
_CPUINFO = Path("/proc/cpuinfo")


def parse_cpuinfo(text: str) -> tuple[str | None, list[str]]:
    """The model name and the numerics-relevant flags from ``/proc/cpuinfo`` text.

    Args:
        text: the file's content (x86 ``flags`` or ARM ``Features`` lines).

    Returns:
        (model name or None, sorted flags present on the first processor).
    """
    model: str | None = None
    flags: set[str] | None = None
    arm: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key in ("model name", "hardware", "cpu model") and model is None and value:
            model = value
        elif key in ("flags", "features") and flags is None:
            flags = set(value.split())
        elif key in ("cpu implementer", "cpu part") and key not in arm:
            arm[key] = value
        if model is not None and flags is not None:
            break
    if model is None and arm:
        # ARM Linux names no model: the implementer and part codes identify the core.
        model = f"implementer {arm.get('cpu implementer')} part {arm.get('cpu part')}"
    return model, sorted((flags or set()) & NUMERIC_FLAGS)


def _sysctl(name: str) -> str | None:
    # macOS: sysctlbyname through libc; no subprocess.
    path = ctypes.util.find_library("c")
    if not path:
        return None
    try:
        libc = ctypes.CDLL(path)
        size = ctypes.c_size_t(0)
        if libc.sysctlbyname(name.encode(), None, ctypes.byref(size), None, 0) != 0:
            return None
        buf = ctypes.create_string_buffer(size.value)
        if libc.sysctlbyname(name.encode(), buf, ctypes.byref(size), None, 0) != 0:
            return None
    except (OSError, AttributeError):
        return None
    raw = buf.raw[: size.value]
    if raw.endswith(b"\0"):
        return raw.rstrip(b"\0").decode("utf-8", "replace")
    return str(int.from_bytes(raw, sys.byteorder))


def _darwin() -> tuple[str | None, list[str]]:
    model = _sysctl("machdep.cpu.brand_string")
    words: set[str] = set()
    for name in ("machdep.cpu.features", "machdep.cpu.leaf7_features"):
        words |= {w.lower().replace(".", "_") for w in (_sysctl(name) or "").split()}
    if "avx1_0" in words:
        words.add("avx")
    if _sysctl("hw.optional.neon") == "1":
        words.add("neon")
    if _sysctl("hw.optional.arm.FEAT_BF16") == "1":
        words.add("bf16")
    if _sysctl("hw.optional.arm.FEAT_I8MM") == "1":
        words.add("i8mm")
    return model, sorted(words & NUMERIC_FLAGS)


def capture_cpu(capability: str | None, environ: dict[str, str]) -> dict[str, Any]:
    """The ``cpu`` section.

    Args:
        capability: torch's dispatch level (``torch.backends.cpu.get_cpu_capability()``).
        environ: the process environment (for ``ATEN_CPU_CAPABILITY``).
    """
    model: str | None = None
    flags: list[str] = []
    if sys.platform.startswith("linux") and _CPUINFO.is_file():
        with contextlib.suppress(OSError):
            model, flags = parse_cpuinfo(_CPUINFO.read_text(encoding="utf-8", errors="replace"))
    elif sys.platform == "darwin":
        model, flags = _darwin()
    elif sys.platform == "win32":
        # On Windows this reads the registry/environment; on Linux it would run `uname -p`.
        model = platform.processor() or None
    return {
        "model": model,
        "cores": os.cpu_count(),
        "flags": flags,
        "capability": capability,
        "aten_cpu_capability_env": environ.get("ATEN_CPU_CAPABILITY"),
    }
