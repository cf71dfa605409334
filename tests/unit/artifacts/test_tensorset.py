"""Tensor sets: written atomically through safetensors and JSON, read back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from reprocheck.artifacts import tensorsets as tensorset
from reprocheck.artifacts.tensorfile import DTYPES
from reprocheck.errors import ArtifactError, InputError, SchemaVersionError

FINGERPRINT = {"torch": {"version": "2.13.0"}}


def test_round_trip_keeps_names_dtypes_shapes_and_bits(tmp_path: Path) -> None:
    """What is written is what is read: every tensor bit for bit, in the given order."""
    given = {
        "logits": torch.randn(3, 4, generator=torch.Generator().manual_seed(0)),
        "ids": torch.arange(5),
        "half": torch.tensor([1.5, -0.0], dtype=torch.bfloat16),
    }
    tensorset.write(tmp_path / "set", given, name="forward", fingerprint=FINGERPRINT)
    saved = tensorset.load(tmp_path / "set")
    assert saved.name == "forward"
    assert list(saved.tensors) == ["logits", "ids", "half"]
    assert saved.tensors["half"].dtype == "bfloat16"
    assert saved.tensors["logits"].shape == (3, 4)
    assert saved.fingerprint == FINGERPRINT
    with saved.open() as reader:
        for key, tensor in given.items():
            assert torch.equal(reader.get(key).view(torch.uint8), tensor.view(torch.uint8))


@pytest.mark.parametrize("dtype_name", sorted({name for name, _ in DTYPES.values()}))
def test_every_dtype_the_reader_accepts_is_written(tmp_path: Path, dtype_name: str) -> None:
    """Each dtype the reader knows round-trips bit for bit (safetensors must write it too)."""
    dtype = getattr(torch, dtype_name, None)
    if dtype is None:
        pytest.skip(f"torch {torch.__version__} has no {dtype_name}")
    width = torch.empty((), dtype=dtype).element_size()
    raw = torch.arange(4 * width, dtype=torch.uint8)
    given = raw.remainder(2).bool() if dtype == torch.bool else raw.view(dtype)
    tensorset.write(tmp_path / "set", {"t": given}, name="x", fingerprint=FINGERPRINT)
    saved = tensorset.load(tmp_path / "set")
    assert saved.tensors["t"].dtype == dtype_name
    with saved.open() as reader:
        assert torch.equal(reader.get("t").view(torch.uint8), given.view(torch.uint8))


def test_non_contiguous_and_shared_tensors_are_saved(tmp_path: Path) -> None:
    """A transposed view and two views of one storage save (safetensors refuses both raw)."""
    base = torch.arange(6.0).reshape(2, 3)
    tensorset.write(
        tmp_path / "set", {"t": base.T, "row": base[0]}, name="x", fingerprint=FINGERPRINT
    )
    with tensorset.load(tmp_path / "set").open() as reader:
        assert torch.equal(reader.get("t"), base.T)


def test_rewrite_replaces_the_whole_set(tmp_path: Path) -> None:
    """Writing again replaces the set; no partial or old directory is left beside it."""
    tensorset.write(tmp_path / "set", {"a": torch.ones(2)}, name="x", fingerprint=FINGERPRINT)
    tensorset.write(tmp_path / "set", {"b": torch.zeros(1)}, name="x", fingerprint=FINGERPRINT)
    assert list(tensorset.load(tmp_path / "set").tensors) == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "the dict of tensors is empty"),
        ({"x": [1.0]}, "'x' is list, not a torch.Tensor"),
        ({"": torch.ones(1)}, "tensor name '' is not a non-empty string"),
        ([torch.ones(1)], "expected a dict of tensors, got list"),
    ],
)
def test_bad_input_is_rejected_before_writing(tmp_path: Path, given: object, message: str) -> None:
    """Anything but a non-empty dict of named tensors: InputError, nothing written."""
    with pytest.raises(InputError, match=message):
        tensorset.write(tmp_path / "set", given, name="x", fingerprint=FINGERPRINT)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_missing_manifest_is_an_artifact_error(tmp_path: Path) -> None:
    """A directory without tensors.json is not a tensor set."""
    (tmp_path / "set").mkdir()
    with pytest.raises(ArtifactError, match=r"is not a tensor set: tensors\.json is missing"):
        tensorset.load(tmp_path / "set")


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    """A manifest from a newer reprocheck names its schema version."""
    tensorset.write(tmp_path / "set", {"a": torch.ones(2)}, name="x", fingerprint=FINGERPRINT)
    manifest = tmp_path / "set" / tensorset.MANIFEST
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["schema_version"] = 99
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SchemaVersionError, match="schema_version 99"):
        tensorset.load(tmp_path / "set")


def test_order_must_list_each_tensor_once(tmp_path: Path) -> None:
    """An 'order' that drops or repeats a tensor makes the manifest invalid."""
    tensorset.write(tmp_path / "set", {"a": torch.ones(2)}, name="x", fingerprint=FINGERPRINT)
    manifest = tmp_path / "set" / tensorset.MANIFEST
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["order"] = ["a", "a"]
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ArtifactError, match="'order' does not list each tensor once"):
        tensorset.load(tmp_path / "set")


def test_tensor_listed_but_absent_is_an_artifact_error(tmp_path: Path) -> None:
    """A manifest naming a tensor the safetensors file lacks fails on open, naming it."""
    tensorset.write(tmp_path / "set", {"a": torch.ones(2)}, name="x", fingerprint=FINGERPRINT)
    manifest = tmp_path / "set" / tensorset.MANIFEST
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["tensors"]["ghost"] = {"dtype": "float32", "shape": [1]}
    data["order"].append("ghost")
    manifest.write_text(json.dumps(data), encoding="utf-8")
    saved = tensorset.load(tmp_path / "set")
    with pytest.raises(ArtifactError, match="lacks tensor 'ghost'"), saved.open():
        pass
