"""reprocheck.record without ``out`` writes where $REPROCHECK_OUT says (the nox matrix sets it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import reprocheck
from reprocheck.artifacts.runs import load_run
from reprocheck.errors import InputError
from reprocheck.workflows.record import OUT_ENV


def _train_one_step(recorder: reprocheck.Recorder, model: torch.nn.Module) -> None:
    with recorder as rec:
        model(torch.ones(1, 2)).sum().backward()
        rec.step(1.0)


def test_record_without_out_writes_to_reprocheck_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(OUT_ENV, str(tmp_path / "runs" / "env-a"))
    model = torch.nn.Linear(2, 2)
    recorder = reprocheck.record(model=model)
    assert recorder.out == tmp_path / "runs" / "env-a"
    _train_one_step(recorder, model)
    assert list(load_run(tmp_path / "runs" / "env-a").records) == ["train"]


def test_an_explicit_out_wins_over_reprocheck_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(OUT_ENV, str(tmp_path / "from-env"))
    model = torch.nn.Linear(2, 2)
    _train_one_step(reprocheck.record(tmp_path / "given", model=model), model)
    assert (tmp_path / "given").is_dir()
    assert not (tmp_path / "from-env").exists()


@pytest.mark.parametrize("value", [None, ""])
def test_no_out_and_no_reprocheck_out_is_an_input_error(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(OUT_ENV, raising=False)
    else:
        monkeypatch.setenv(OUT_ENV, value)
    with pytest.raises(InputError, match="REPROCHECK_OUT") as info:
        reprocheck.record(model=torch.nn.Linear(2, 2))
    assert info.value.field == "out"
