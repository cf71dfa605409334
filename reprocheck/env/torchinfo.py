"""torch's build and parallel reports parsed into fields; the sections that come from torch.

``torch.__config__.show()`` and ``parallel_info()`` are free text whose lines moved between
releases, so every field is looked up by its own pattern and is None when not found. The
raw text is kept beside the fields, so nothing is lost when a pattern misses.
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path
from typing import Any

from reprocheck._compat import torch as compat

__all__ = [
    "capture_cuda",
    "capture_determinism",
    "capture_threads",
    "capture_torch",
    "parse_build_settings",
    "parse_config",
    "parse_parallel_info",
]

_SETTING_KEY = re.compile(r"(?:^|,\s*)([A-Z][A-Z0-9_]*)=")
_COMPILER = re.compile(r"^(GCC|Clang|clang|Apple clang|AppleClang|MSVC|LLVM|ICC|ICX)\b.*")
_ON = {"1", "ON", "TRUE", "YES"}
_OFF = {"0", "OFF", "FALSE", "NO", ""}


def parse_build_settings(line: str) -> dict[str, str]:
    """``KEY=value, KEY=value, ...`` (the ``Build settings:`` line) into a dict.

    Values may contain commas (compiler flags), so each value runs up to the next
    ``, KEY=`` rather than to the next comma.
    """
    line = line.strip()
    matches = list(_SETTING_KEY.finditer(line))
    settings: dict[str, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        settings[match.group(1)] = line[match.end() : end].strip().rstrip(",").strip()
    return settings


def _switch(value: str | None) -> bool | None:
    if value is None:
        return None
    upper = value.strip().upper()
    return True if upper in _ON else False if upper in _OFF else None


def _search(pattern: str, text: str) -> str | None:
    found = re.search(pattern, text, flags=re.MULTILINE)
    return found.group(1).strip() if found else None


def parse_config(text: str) -> dict[str, Any]:
    """Fields of ``torch.__config__.show()``; each None when this torch does not print it."""
    bullets = [line.strip()[2:].strip() for line in text.splitlines() if line.strip()[:2] == "- "]
    compiler = next((b for b in bullets if _COMPILER.match(b)), None)
    settings_line = next((b for b in bullets if b.startswith("Build settings:")), "")
    settings = parse_build_settings(settings_line.removeprefix("Build settings:").strip())
    lapack = settings.get("LAPACK_INFO")
    if lapack is None and "LAPACK is enabled" in text:
        lapack = "enabled"
    return {
        "blas": settings.get("BLAS_INFO"),
        "lapack": lapack,
        "mkl": _search(r"Math Kernel Library Version (.+?)(?: for .*)?$", text),
        "onednn": _search(r"MKL-DNN v(\S+)", text),
        "onednn_git_hash": _search(r"MKL-DNN v\S+ \(Git Hash (\w+)\)", text),
        "openmp": _search(r"^\s*- OpenMP (.+)$", text),
        "compiler": compiler,
        "cxx_version": _search(r"C\+\+ Version: (\S+)", text),
        "cpu_capability_usage": _search(r"CPU capability usage: (\S+)", text),
        # These lines appear only once CUDA is initialised; the build settings always have them.
        "cuda_runtime": _search(r"^\s*- CUDA Runtime (\S+)", text) or settings.get("CUDA_VERSION"),
        "cudnn": _search(r"^\s*- CuDNN (.+)$", text) or settings.get("CUDNN_VERSION"),
        "magma": _search(r"^\s*- Magma (\S+)", text),
        "build_type": settings.get("BUILD_TYPE"),
        "use_cuda": _switch(settings.get("USE_CUDA")),
        "use_cudnn": _switch(settings.get("USE_CUDNN")),
        "use_mkl": _switch(settings.get("USE_MKL")),
        "use_mkldnn": _switch(settings.get("USE_MKLDNN")),
        "use_openmp": _switch(settings.get("USE_OPENMP")),
        "use_rocm": _switch(settings.get("USE_ROCM")),
        "build_settings": settings,
    }


def parse_parallel_info(text: str) -> dict[str, Any]:
    """``omp_max``, ``mkl_max`` and ``backend`` from ``torch.__config__.parallel_info()``."""

    def count(name: str) -> int | None:
        value = _search(rf"{name}\(\)\s*:\s*(\d+)", text)
        return int(value) if value is not None else None

    return {
        "omp_max": count("omp_get_max_threads"),
        "mkl_max": count("mkl_get_max_threads"),
        "backend": _search(r"ATen parallel backend:\s*(.+)$", text),
    }


def capture_torch() -> dict[str, Any]:
    """The ``torch`` section."""
    build = compat.fp_build()
    return {
        "version": build["version"],
        "git_version": build["git_version"],
        "debug": build["debug"],
        "cuda_compiled": build["cuda"],
        "hip_compiled": build["hip"],
        "config": parse_config(build["config_show"]),
        "config_raw": build["config_show"],
        "parallel_raw": build["parallel_info"],
    }


def capture_threads(parallel_raw: str) -> dict[str, Any]:
    """The ``threads`` section (ATen's own counts, OpenMP/MKL maxima from parallel_info)."""
    intra, inter = compat.fp_threads()
    return {"intra_op": intra, "inter_op": inter, **parse_parallel_info(parallel_raw)}


def capture_determinism() -> dict[str, Any]:
    """The ``determinism`` section."""
    return compat.fp_determinism()


def _driver_version() -> str | None:
    # The kernel module's version, as the process's driver sees it; no nvidia-smi.
    try:
        text = Path("/proc/driver/nvidia/version").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return _search(r"Kernel Module(?: for \S+)?\s+([\d.]+)", text)


def _loaded_cudart() -> ctypes.CDLL | None:
    # The CUDA runtime this process actually loaded (not whatever is on PATH): find its
    # file in our own memory map; opening it again returns the same, already-loaded library.
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        path = fields[5] if len(fields) == 6 else ""
        if "/libcudart.so" in path:
            try:
                return ctypes.CDLL(path)
            except OSError:
                return None
    return None


def _cuda_version_call(lib: ctypes.CDLL | None, function: str) -> str | None:
    if lib is None:
        return None
    value = ctypes.c_int(0)
    try:
        status = getattr(lib, function)(ctypes.byref(value))
    except (AttributeError, OSError):
        return None
    if status != 0 or value.value <= 0:
        return None
    # CUDA encodes 12.4 as 12040.
    return f"{value.value // 1000}.{(value.value % 1000) // 10}"


def capture_cuda(compiled: str | None, hip: str | None) -> dict[str, Any]:
    """The ``cuda`` section: all null without a usable GPU, and no CUDA context created."""
    import hashlib

    section: dict[str, Any] = {
        "available": False,
        "compiled_version": compiled,
        "hip_compiled_version": hip,
        "runtime_version": None,
        "driver_version": None,
        "driver_cuda_version": None,
        "cudnn": None,
        "nccl": None,
        "devices": [],
    }
    if not compat.fp_cuda_available():
        return section
    details = compat.fp_cuda_details()
    cudart = _loaded_cudart()
    section.update(
        available=True,
        runtime_version=_cuda_version_call(cudart, "cudaRuntimeGetVersion"),
        driver_version=_driver_version(),
        driver_cuda_version=_cuda_version_call(cudart, "cudaDriverGetVersion"),
        cudnn=details["cudnn"],
        nccl=details["nccl"],
    )
    section["devices"] = [
        {
            "name": dev["name"],
            "capability": dev["capability"],
            "total_memory": dev["total_memory"],
            "multiprocessors": dev["multiprocessors"],
            "uuid_sha256": hashlib.sha256(dev["uuid"].encode()).hexdigest()
            if dev["uuid"]
            else None,
        }
        for dev in details["devices"]
    ]
    return section
