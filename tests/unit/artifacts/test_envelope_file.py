"""The rounding envelope file: written, read back, refused when corrupt."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprocheck.artifacts.envelope import load_envelope, write_envelope
from reprocheck.errors import ArtifactError
from reprocheck.model.envelope import ScenarioEnvelope
from reprocheck.model.formats import ENVELOPE

ENV = ScenarioEnvelope(
    name="mlp",
    variants=("threads=1", "init±1ulp seed 1"),
    steps=({"loss": 1e-7, "grad_norm": 0.0},),
    tensors={"param/w": 3e-8},
)


def test_an_envelope_reads_back_as_written(tmp_path: Path) -> None:
    write_envelope(tmp_path, [ENV])
    assert load_envelope(tmp_path) == {"mlp": ENV}


def test_a_run_without_an_envelope_has_none(tmp_path: Path) -> None:
    assert load_envelope(tmp_path) is None


@pytest.mark.parametrize(
    "text",
    [
        "{",
        '{"schema_version": 1, "kind": "reprocheck-run", "scenarios": []}',
        '{"schema_version": 1, "kind": "reprocheck-envelope", "scenarios": [{"name": "m", '
        '"variants": [], "steps": [{"loss": -1}], "tensors": {}}]}',
    ],
)
def test_a_corrupt_envelope_is_an_artifact_error(tmp_path: Path, text: str) -> None:
    (tmp_path / ENVELOPE).write_text(text, encoding="utf-8")
    with pytest.raises(ArtifactError):
        load_envelope(tmp_path)
