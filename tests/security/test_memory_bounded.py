"""compare holds one pair of tensors at a time: its peak memory follows the largest tensor.

Two runs of two scenarios, each with two large float32 tensors (every element of the
candidate differs by a rounding step, so compare does its full element-wise work), are
compared in a fresh process; its peak resident memory (``ru_maxrss`` of that one child,
from ``os.wait4``) must stay under 3 x the largest tensor + 300 MiB, far below the 4 x 2
large tensors the two runs hold.

The tensor size is ``REPROCHECK_MEMORY_TEST_MIB`` MiB (default 64, which keeps the test
at a few seconds on a 2-core CI machine; the figures with 256 MiB are in the report that
added this test).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from compare_support import fingerprint, scenario

from reprocheck.artifacts.run_writer import RunWriter
from reprocheck.artifacts.runs import load_run
from reprocheck.model.records import ScenarioRecord

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
SIZE_MIB = int(os.environ.get("REPROCHECK_MEMORY_TEST_MIB", "64"))
SCENARIOS = ("big_a", "big_b")
BIG = ("param/big.weight", "optim/big.weight/exp_avg")
LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _write(out: Path, *, nudge: bool) -> None:
    numel = SIZE_MIB * MIB // 4
    with RunWriter(out, fingerprint=fingerprint()) as writer:
        for n, name in enumerate(SCENARIOS):
            record, tensors = scenario(name)
            for i, key in enumerate(BIG):
                g = torch.Generator().manual_seed(100 * n + i)
                big = torch.rand(numel, generator=g) + 0.5
                if nudge:  # one ULP up everywhere: within tolerance, every element differs
                    big = torch.nextafter(big, torch.tensor(2.0))
                tensors[key] = big
                record["tensors"][key] = {"dtype": "float32", "shape": [numel]}
            writer.add(ScenarioRecord.from_dict(record), tensors)
            del tensors


def test_compare_peak_memory_follows_the_largest_tensor(tmp_path: Path) -> None:
    """Peak RSS of `reprocheck compare` < 3 x largest tensor + 300 MiB."""
    _write(tmp_path / "base", nudge=False)
    _write(tmp_path / "cand", nudge=True)
    assert len(load_run(tmp_path / "cand").records) == len(SCENARIOS)
    report = tmp_path / "report.json"
    # A small launcher starts compare and reports its peak: a child forked straight from
    # this test process would count this process's memory, which it shares until exec.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            LAUNCHER,
            sys.executable,
            "-m",
            "reprocheck",
            "compare",
            str(tmp_path / "base"),
            str(tmp_path / "cand"),
            "--format",
            "json",
            "-o",
            str(report),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"within_tolerance"' in report.read_text(encoding="utf-8")
    peak = int(done.stdout.split()[-1]) * 1024  # Linux reports KiB
    largest = SIZE_MIB * MIB
    print(  # shown with -s; the figures the issue asks for
        f"compare of 2 x {2 * len(SCENARIOS)} tensors of {SIZE_MIB} MiB: "
        f"peak RSS {peak / MIB:.0f} MiB (bound {(3 * largest + 300 * MIB) / MIB:.0f} MiB)"
    )
    assert peak < 3 * largest + 300 * MIB
