"""The fingerprint reads the running process: settings changed for it show up in it."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from typing import Any

import pytest
import torch

from reprocheck.env import fingerprint

pytestmark = pytest.mark.integration


def _fingerprint_in_subprocess(*unset: str, **env: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "reprocheck", "fingerprint", "--format", "json"],
        env={k: v for k, v in {**os.environ, **env}.items() if k not in unset},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_aten_cpu_capability_lowers_the_reported_dispatch_level() -> None:
    """ATEN_CPU_CAPABILITY=default makes the process dispatch to DEFAULT, and env records it.

    ``default`` lies below every vector level, so it lowers the dispatch level on any x86-64
    CPU whatever its native level (AVX2 or AVX-512), which is measured, not assumed.
    """
    native = _fingerprint_in_subprocess("ATEN_CPU_CAPABILITY")
    lowered = _fingerprint_in_subprocess(ATEN_CPU_CAPABILITY="default")
    assert native["cpu"]["capability"] == native["torch"]["config"]["cpu_capability_usage"]
    assert lowered["cpu"]["capability"] == "DEFAULT"
    assert lowered["torch"]["config"]["cpu_capability_usage"] == "DEFAULT"
    assert lowered["cpu"]["aten_cpu_capability_env"] == "default"
    assert lowered["env"]["ATEN_CPU_CAPABILITY"] == "default"
    assert lowered["digest"] != native["digest"]
    assert native["cpu"]["aten_cpu_capability_env"] is None
    if platform.machine().lower() in ("x86_64", "amd64"):
        # Every x86-64 CPU torch dispatches for has AVX2 at least: the level really fell.
        assert native["cpu"]["capability"] != "DEFAULT"


def test_omp_num_threads_sets_the_reported_thread_count() -> None:
    """OMP_NUM_THREADS=1 makes torch use one intra-op thread, and env records it."""
    single = _fingerprint_in_subprocess(OMP_NUM_THREADS="1")
    assert single["threads"]["intra_op"] == 1
    assert single["env"]["OMP_NUM_THREADS"] == "1"


def test_deterministic_algorithms_switch_is_seen_in_process() -> None:
    """use_deterministic_algorithms(True) in this process shows in the next capture."""
    before = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        torch.use_deterministic_algorithms(True)
        assert fingerprint().determinism["deterministic_algorithms"] is True
        torch.use_deterministic_algorithms(True, warn_only=True)
        assert fingerprint().determinism["warn_only"] is True
    finally:
        torch.use_deterministic_algorithms(before, warn_only=warn_only)
    assert fingerprint().determinism["deterministic_algorithms"] is before


def test_tf32_switch_is_seen_in_process() -> None:
    """Turning cuDNN TF32 off in-process shows in the next capture (even without a GPU)."""
    before = torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = not before
        assert fingerprint().determinism["cudnn_allow_tf32"] is (not before)
    finally:
        torch.backends.cudnn.allow_tf32 = before


@pytest.mark.cuda
def test_cuda_section_describes_the_visible_gpus() -> None:
    """On a GPU machine: available, versions as loaded, one entry per device, uuid hashed."""
    cuda = fingerprint().cuda
    assert cuda["available"] is True
    assert cuda["compiled_version"] == torch.version.cuda
    assert len(cuda["devices"]) == torch.cuda.device_count()
    first = cuda["devices"][0]
    assert first["name"] == torch.cuda.get_device_name(0)
    assert first["uuid_sha256"] is None or len(first["uuid_sha256"]) == 64
