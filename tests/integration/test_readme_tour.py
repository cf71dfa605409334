"""The README's tour, line by line, in an empty directory, with the exit codes it states.

The tour block promises that every line works as written from an empty directory and
that a comment ending in ``(exit N)`` gives the exit code (0 otherwise). This test reads
the block out of README.md, so the README cannot drift from what the commands do.

One line needs a file of the user's: ``mymodel:build`` is the user's own scenario, which
the README points to docs/scenarios.md for; the test saves that page's example (the
test data's ``my_scenarios.py``) as ``mymodel.py`` first, as a reader following the link
would. ``lock`` asks the package
index for hashes, as it does for every user.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_EXIT = re.compile(r"\(exit (\d+)\)\s*$")

# The scenario docs/scenarios.md shows, as a user following the link would save it.
MYMODEL = ROOT / "tests" / "data" / "user_scenario" / "my_scenarios.py"


def tour_lines() -> list[tuple[str, int]]:
    """``(command, expected exit code)`` for each command line of the README's tour."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## A short tour", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = []
    for raw in block.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue  # a comment continued from the line above
        command, _, comment = raw.partition("  #")
        found = _EXIT.search(comment)
        lines.append((command.strip(), int(found[1]) if found else 0))
    return lines


def test_tour_block_is_found_and_parsed() -> None:
    """The parser sees the commands the README shows (guards against a silent empty tour)."""
    commands = [command for command, _ in tour_lines()]
    assert "reprocheck run --out runs/a" in commands
    assert len(commands) >= 10
    assert dict(tour_lines())["reprocheck compare runs/a runs/b"] == 1


def test_every_tour_line_exits_as_the_readme_says(tmp_path: Path) -> None:
    """Each line, in order, in one empty directory, exits with the code the README states."""
    shutil.copy(MYMODEL, tmp_path / "mymodel.py")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for variable in ("ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS", "REPROCHECK_LOCKFILE"):
        env.pop(variable, None)
    seen = []
    for command, expected in tour_lines():
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        seen.append((command, done.returncode))
        assert done.returncode == expected, (
            f"`{command}` exited {done.returncode}, the README says {expected}\n"
            f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
        )
        assert "Traceback" not in done.stderr, command
    assert (tmp_path / "lockfiles" / "torch-2.13.0.txt").is_file()
    assert (tmp_path / "report.html").is_file()
    assert len(seen) == len(tour_lines())
