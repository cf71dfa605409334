"""The built-in scenarios catch real drifts: thread count and CPU dispatch level.

Fresh processes replay the scenarios with OMP_NUM_THREADS=1 and 2, and with
ATEN_CPU_CAPABILITY=avx2 on an AVX-512 machine. ``mlp`` must stay bitwise identical under
the thread change (its matrices are too small to be split), while ``cnn`` and
``transformer`` must move; the dispatch-level change must move ``mlp`` too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.integration

PROBE = """
import json
from reprocheck.replay import replay_scenario
print(json.dumps({n: replay_scenario(n, steps=2, trace_steps=0)[0].steps[-1].param_digests
                  for n in ("mlp", "cnn", "transformer")}))
"""


def _digests(**env: str) -> dict[str, dict[str, str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, dict[str, str]] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_thread_count_moves_cnn_and_transformer_not_mlp() -> None:
    """1 vs 2 threads: mlp identical, cnn and transformer differ bitwise."""
    one = _digests(OMP_NUM_THREADS="1")
    two = _digests(OMP_NUM_THREADS="2")
    assert one["mlp"] == two["mlp"]
    assert one["cnn"] != two["cnn"]
    assert one["transformer"] != two["transformer"]


@pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() != "AVX512", reason="needs an AVX-512 CPU"
)
def test_cpu_capability_moves_every_scenario_here() -> None:
    """ATEN_CPU_CAPABILITY=avx2 instead of AVX-512 changes mlp, cnn and transformer."""
    native = _digests()
    avx2 = _digests(ATEN_CPU_CAPABILITY="avx2")
    for name in ("mlp", "cnn", "transformer"):
        assert native[name] != avx2[name], name
