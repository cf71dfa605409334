"""The example GitHub Actions workflow (examples/ci/github-actions-matrix.yml) is valid.

Validated against the GitHub workflow schema that check-jsonschema ships inside its
package (``--builtin-schema vendor.github-workflows``: nothing is downloaded), and checked
for what docs/how-to/many-machines.md promises: a matrix over runners x lockfiles whose
every job runs ``reprocheck run`` and uploads its run, and a gather job whose baseline is
one of those runs.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "ci" / "github-actions-matrix.yml"


def _workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_workflow_passes_the_schema() -> None:
    """check-jsonschema with its vendored GitHub workflow schema accepts the file."""
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert exe is not None, "check-jsonschema comes with the test extra"
    done = subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_job_runs_and_uploads_and_the_gather_names_a_real_baseline() -> None:
    """Runners x lockfiles run and upload; the gather job compares against one of them."""
    jobs = _workflow()["jobs"]
    run_job, gather = jobs["run"], jobs["matrix"]
    matrix = run_job["strategy"]["matrix"]
    devices = {m["device"] for m in matrix["machine"]}
    assert devices == {"cpu", "cuda"}  # CPU kinds and GPU kinds
    for lockfile in matrix["lockfile"]:
        assert (ROOT / "lockfiles" / f"{lockfile}.txt").is_file(), lockfile
    steps = run_job["steps"]
    assert any("reprocheck run" in s.get("run", "") for s in steps)
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") for s in steps)
    assert gather["needs"] == "run"
    names = {
        f"{m['name']}-{lf}" for m, lf in itertools.product(matrix["machine"], matrix["lockfile"])
    }
    command = next(s["run"] for s in gather["steps"] if "reprocheck.matrix" in s.get("run", ""))
    words = command.split()
    assert words[:4] == ["python", "-m", "reprocheck.matrix", "gathered"]
    assert words[words.index("--baseline") + 1] in names
