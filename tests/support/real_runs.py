"""Real runs of the built-in scenarios, and a measurement of them that trusts no comparison.

Whether a scenario moves when the thread count changes is a fact about the CPU and the
maths libraries torch loads on it (on many CPUs the ``mlp`` is thread-invariant; on AMD
EPYC, among others, MKL's matrix products are not). Tests that depend on such a fact never
assume it: they measure it first, by comparing the final tensors of two real runs bit for
bit straight from their safetensors files (not through reprocheck's comparison), and then
check that reprocheck reports what was measured.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from reprocheck.artifacts.runs import load_run

SCENARIOS = ("mlp", "cnn", "transformer")


class RealRuns:
    """``reprocheck run`` in fresh processes, at most once per setting."""

    scenarios = SCENARIOS

    def __init__(self, root: Path) -> None:
        self._root = root
        self._runs: dict[tuple[int, str | None], Path] = {}

    def get(self, *, threads: int, capability: str | None = None) -> Path:
        """The run with ``OMP_NUM_THREADS=threads`` at the native dispatch level, or at
        ``ATEN_CPU_CAPABILITY=capability`` when given."""
        key = (threads, capability)
        if key not in self._runs:
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            env.pop("ATEN_CPU_CAPABILITY", None)  # native unless asked for
            if capability is not None:
                env["ATEN_CPU_CAPABILITY"] = capability
            out = self._root / f"threads-{threads}-{capability or 'native'}"
            argv = [sys.executable, "-m", "reprocheck", "run", *SCENARIOS, "--steps", "2"]
            done = subprocess.run(
                [*argv, "--out", str(out)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            self._runs[key] = out
        return self._runs[key]

    @staticmethod
    def same_bits(a: Path, b: Path, name: str) -> bool:
        """Measured: are scenario ``name``'s final tensors bitwise equal in runs a and b?

        Read with safetensors directly and compared byte for byte, so the measurement does
        not depend on the comparison it is used to check.
        """
        left = load_file(load_run(a).tensor_path(name))
        right = load_file(load_run(b).tensor_path(name))
        if left.keys() != right.keys():
            return False
        return all(_raw(left[k]) == _raw(right[k]) for k in left)

    @staticmethod
    def capability(run: Path) -> str:
        """The dispatch level a run's process used, as its fingerprint recorded it."""
        return str(load_run(run).fingerprint["cpu"]["capability"])


def _raw(t: torch.Tensor) -> tuple[str, tuple[int, ...], bytes]:
    flat = t.detach().contiguous().reshape(-1)
    return str(t.dtype), tuple(t.shape), flat.view(torch.uint8).numpy().tobytes()
