"""The bad-input corpus: every command, every input it reads, broken one way at a time.

An ``error`` case must exit 2 with one ``Error:`` line naming the file and the problem
(and a ``Hint:``), no traceback, and leave every file in its workspace as it was (no
``-o`` or ``--out`` target created, nothing half-written). A ``finding`` case (NaN and
Inf in tensors, a dtype or shape that changed between two sound runs) must get compare's
verdict, 0 or 1, never exit 2. See ``badinput_harness`` for the workspace and checks.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import badinput_artifacts
import badinput_bisect
import badinput_inputs
import pytest
from badinput_artifacts import structural_positions
from badinput_harness import (
    HUGE_GROWTH_LIMIT,
    Case,
    Table,
    Workspace,
    build_pristine,
    check_error,
    check_finding,
    invoke,
    peak_rss,
    snapshot,
)

_TABLE = Table()
badinput_artifacts.build(_TABLE)
badinput_inputs.build(_TABLE)
badinput_bisect.build(_TABLE)
CASES = _TABLE.cases


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pristine(tmp_path_factory.mktemp("badinput") / "pristine")


@pytest.fixture
def workspace(pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    root = tmp_path / "ws"
    shutil.copytree(pristine, root, symlinks=True)
    monkeypatch.chdir(root)  # pyproject.toml and user scenario modules are read from here
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return Workspace(root)


def test_corpus_is_large_enough() -> None:
    """At least 60 distinct bad inputs, across every command."""
    assert len({c.id for c in CASES}) == len(CASES) >= 60
    commands = {c.command for c in CASES}
    assert commands >= {"compare", "check", "run", "determinism", "fingerprint", "lock"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, workspace: Workspace, request: pytest.FixtureRequest) -> None:
    """The command refuses the input cleanly (or reports it as a finding); nothing changes."""
    argv = case.make(workspace)
    before = snapshot(workspace.root)
    rss = peak_rss()
    result = invoke(argv, env=case.env)
    if case.outcome == "error":
        check_error(result, case.fragments)
    else:
        check_finding(result, case.exit_codes[0], case.fragments)
    assert snapshot(workspace.root) == before, "the command wrote or changed a file"
    if case.huge:
        assert peak_rss() - rss < HUGE_GROWTH_LIMIT, "a claimed size was allocated"
    request.node.user_properties.append(("corpus", case.outcome))


_FLIP_TARGETS = {
    "run.json": lambda ws: ws.manifest,
    "record.json": lambda ws: ws.record,
    "tensors.safetensors": lambda ws: ws.tensors,
    "fingerprint": lambda ws: ws.fp_cand,
    "policy": lambda ws: ws.policy,
    "lockfile": lambda ws: ws.lockfile,
}


def _argv(target: str, ws: Workspace) -> list[str]:
    if target == "fingerprint":
        return ["compare", str(ws.fp_base), str(ws.fp_cand)]
    if target == "policy":
        return ws.compare("--policy", str(ws.policy))
    if target == "lockfile":
        return ["lock", "--verify", str(ws.lockfile)]
    return ws.compare()


@pytest.mark.parametrize("target", sorted(_FLIP_TARGETS))
def test_random_bit_flips_never_crash(
    target: str, workspace: Workspace, request: pytest.FixtureRequest
) -> None:
    """Seeded random bit flips anywhere in a file: exit 0, 1 or 2, never a traceback.

    A flip inside a number or a string may leave a sound file (exit 0 or 1: the flipped
    value is data); anything else must be a clean exit 2.
    """
    path = _FLIP_TARGETS[target](workspace)
    pristine_bytes = path.read_bytes()
    rng = random.Random(f"flips-{target}")
    for _ in range(12):
        raw = bytearray(pristine_bytes)
        at = rng.randrange(len(raw))
        raw[at] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(raw))
        result = invoke(_argv(target, workspace))
        assert result.exit_code in (0, 1, 2), (at, result.exit_code, result.output)
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        ), f"flip at byte {at}: unhandled {result.exception!r}"
        if result.exit_code == 2:
            check_error(result, ())
        request.node.user_properties.append(("corpus", "random-flip"))


def test_structural_positions_skip_string_contents() -> None:
    """The corpus's seeded flips land on JSON structure, never inside a string."""
    text = b'{"a:b": [1, "x,]"]}'
    assert [chr(text[i]) for i in structural_positions(text)] == list('{"":[,""]}')
