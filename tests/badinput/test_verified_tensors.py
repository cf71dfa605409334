"""Verified artifacts: a flipped bit anywhere in a real run's tensor file is exit 2.

The run is real (``reprocheck run mlp``); its candidate copy has one bit flipped at a
time, in every tensor's data (first byte, last byte, a seeded byte between) and in
every byte of the file's header. compare must refuse each with one ``Error:`` line
naming the file and the tensor (or the header), never give a verdict.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from badinput_harness import check_error, invoke

from reprocheck.artifacts.runs import Run, load_run
from reprocheck.artifacts.tensorfile import read_header
from reprocheck.errors import ArtifactError


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("verified")
    result = invoke(["run", "mlp", "--steps", "1", "--out", str(root / "base")])
    assert result.exit_code == 0, result.output
    shutil.copytree(root / "base", root / "cand")
    return root / "base", root / "cand"


def _flipped(path: Path, at: int, bit: int) -> bytes:
    raw = path.read_bytes()
    changed = bytearray(raw)
    changed[at] ^= 1 << bit
    path.write_bytes(bytes(changed))
    return raw


def _read_all(run: Run) -> None:
    with run.open_tensors("mlp") as reader:
        for key in list(reader.keys()):
            reader.get(key)


def test_a_flip_in_any_tensor_is_a_corrupt_artifact(runs: tuple[Path, Path]) -> None:
    base, cand = runs
    path = cand / "scenarios" / "mlp" / "tensors.safetensors"
    entries = read_header(path)
    assert len(entries) >= 6  # parameters and Adam state
    rng = random.Random("verified-tensors")
    for name, entry in entries.items():
        ends = (entry.offset, entry.offset + entry.nbytes - 1)
        for at in (*ends, rng.randrange(entry.offset, entry.offset + entry.nbytes)):
            pristine = _flipped(path, at, rng.randrange(8))
            try:
                result = invoke(["compare", str(base), str(cand)])
            finally:
                path.write_bytes(pristine)
            check_error(result, ("corrupt artifact", repr(name), str(path)))


def test_a_flip_in_the_header_is_refused(runs: tuple[Path, Path]) -> None:
    """Every byte of the header (length prefix included), one seeded bit each."""
    _, cand = runs
    path = cand / "scenarios" / "mlp" / "tensors.safetensors"
    raw = path.read_bytes()
    header_end = 8 + int.from_bytes(raw[:8], "little")
    rng = random.Random("verified-header")
    run = load_run(cand)
    for at in range(header_end):
        _flipped(path, at, rng.randrange(8))
        try:
            with pytest.raises(ArtifactError) as caught:
                _read_all(run)
        finally:
            path.write_bytes(raw)
        message = str(caught.value)
        assert str(path) in message, (at, message)
        assert "header" in message or "tensor" in message, (at, message)


@pytest.mark.parametrize("at", [0, 3, 12, 40, -2])
def test_a_flip_in_the_header_is_exit_2(runs: tuple[Path, Path], at: int) -> None:
    base, cand = runs
    path = cand / "scenarios" / "mlp" / "tensors.safetensors"
    header_end = 8 + int.from_bytes(path.read_bytes()[:8], "little")
    pristine = _flipped(path, at % header_end, 5)
    try:
        result = invoke(["compare", str(base), str(cand)])
    finally:
        path.write_bytes(pristine)
    check_error(result, (str(path),))
