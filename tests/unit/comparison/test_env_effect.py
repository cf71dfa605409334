"""The environment diff blames what can matter: no duplicates, no-op variables set aside.

Real fingerprints captured in subprocesses (the variable set to this CPU's own dispatch
level, a thread count), and small dicts for the rules themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from compare_support import fingerprint, write_fingerprint

from reprocheck.cli import cli
from reprocheck.comparison.env_effect import IN_FORCE
from reprocheck.comparison.envdiff import diff_fingerprints, is_suspect, suspect_phrase


def _captured(**env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY",)}
    cmd = [sys.executable, "-m", "reprocheck", "fingerprint", "--format", "json"]
    done = subprocess.run(cmd, env={**clean, **env}, capture_output=True, text=True, check=True)
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_capability_set_to_the_native_level_is_listed_but_not_a_suspect() -> None:
    native = _captured()
    level = str(native["cpu"]["capability"]).lower()
    asked = _captured(ATEN_CPU_CAPABILITY=level)
    assert asked["cpu"]["capability"] == native["cpu"]["capability"]  # it asked for a no-op
    changes = diff_fingerprints(native, asked)
    (change,) = (c for c in changes if "capability" in c.path.lower())
    assert change.path == "env.ATEN_CPU_CAPABILITY"
    assert change.category == IN_FORCE
    assert not is_suspect(change)
    assert "CAPABILITY" not in suspect_phrase(changes).upper()


def test_a_real_change_of_dispatch_level_is_listed_once() -> None:
    changes = diff_fingerprints(_captured(), _captured(ATEN_CPU_CAPABILITY="default"))
    paths = [c.path for c in changes]
    assert "cpu.aten_cpu_capability_env" not in paths
    assert paths.count("env.ATEN_CPU_CAPABILITY") == 1
    assert "cpu.capability" in paths
    assert suspect_phrase(changes)  # the dispatch level itself is named


def test_a_thread_variable_equal_to_the_default_is_not_a_suspect() -> None:
    a = fingerprint(threads__intra_op=2)
    b = fingerprint(threads__intra_op=2, threads__omp_max=None, env={"OMP_NUM_THREADS": "2"})
    del b["threads"]["omp_max"]
    changes = diff_fingerprints(a, b)
    (change,) = changes
    assert (change.path, change.category) == ("env.OMP_NUM_THREADS", IN_FORCE)
    assert suspect_phrase(changes) == ""


def test_the_verdict_line_names_in_process_values_before_variables() -> None:
    a = fingerprint(threads__intra_op=2, env={"OMP_NUM_THREADS": "2"})
    b = fingerprint(threads__intra_op=1, env={"OMP_NUM_THREADS": "1"})
    phrase = suspect_phrase(diff_fingerprints(a, b))
    assert phrase.startswith("threads.intra_op 2 → 1")


def test_every_change_is_listed_once() -> None:
    a = fingerprint(env={}, cpu__aten_cpu_capability_env=None)
    b = fingerprint(env={"ATEN_CPU_CAPABILITY": "default"}, cpu__aten_cpu_capability_env="default")
    b["cpu"]["capability"] = "DEFAULT"
    paths = [c.path for c in diff_fingerprints(a, b)]
    assert len(paths) == len(set(paths))
    assert paths == ["cpu.capability", "env.ATEN_CPU_CAPABILITY"]


def test_the_text_report_marks_a_variable_already_in_force(tmp_path: Path) -> None:
    native = _captured()
    asked = _captured(ATEN_CPU_CAPABILITY=str(native["cpu"]["capability"]).lower())
    a = write_fingerprint(tmp_path / "a.json", native)
    b = write_fingerprint(tmp_path / "b.json", asked)
    result = CliRunner().invoke(cli, ["compare", str(a), str(b)])
    (line,) = (x for x in result.stdout.splitlines() if "ATEN_CPU_CAPABILITY" in x)
    assert line.endswith("(already in force: not a suspect)")
    assert "CAPABILITY" not in result.stdout.splitlines()[-1].upper()
