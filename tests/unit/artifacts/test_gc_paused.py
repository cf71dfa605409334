"""gc_paused: the cycle collector is off while records are built and back as it was after."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from reprocheck.artifacts import runs
from reprocheck.artifacts.jsonfile import gc_paused
from reprocheck.errors import ArtifactError


@pytest.fixture(autouse=True)
def _restore_gc() -> object:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_paused_inside_and_enabled_again_after() -> None:
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_load_run_pauses_and_resumes_even_when_it_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = runs._load_run

    def spy(path: Path) -> runs.Run:
        seen.append(gc.isenabled())
        return real(path)

    monkeypatch.setattr(runs, "_load_run", spy)
    gc.enable()
    with pytest.raises(ArtifactError):
        runs.load_run(tmp_path / "missing")
    assert seen == [False]
    assert gc.isenabled()
