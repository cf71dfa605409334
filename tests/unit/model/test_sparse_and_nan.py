"""Sparse digests, bit-exact NaNs through JSON, and the records' new optional fields."""

from __future__ import annotations

import json
import math
import struct

import pytest
import torch

from reprocheck._schema import decode_float, encode_float
from reprocheck.artifacts.tensorfile import storable
from reprocheck.errors import ArtifactError
from reprocheck.model.digest import dense_parts, tensor_bytes, tensor_digest
from reprocheck.model.records import NonFinite, ScenarioConfig, ScenarioRecord, TensorInfo


def _sparse(indices: list[list[int]], values: list[float]) -> torch.Tensor:
    return torch.sparse_coo_tensor(
        torch.tensor(indices), torch.tensor(values), (4,), check_invariants=True
    )


def test_sparse_digest_is_of_the_coalesced_tensor() -> None:
    """Duplicates summed and indices sorted: the same numbers digest alike."""
    messy = _sparse([[3, 1, 3]], [1.0, 2.0, 0.5])
    clean = _sparse([[1, 3]], [2.0, 1.5])
    assert tensor_digest(messy) == tensor_digest(clean)
    assert tensor_bytes(messy) == tensor_bytes(clean)
    assert tensor_digest(clean) != tensor_digest(_sparse([[1, 3]], [2.0, 1.25]))
    assert tensor_digest(clean) != tensor_digest(_sparse([[0, 3]], [2.0, 1.5]))
    # Never like the dense tensor of the same numbers; dense digests are unchanged.
    assert tensor_digest(clean) != tensor_digest(clean.to_dense())
    layout, parts = dense_parts(clean)
    assert layout == "sparse_coo"
    assert [p.tolist() for p in parts] == [[[1, 3]], [2.0, 1.5]]
    assert dense_parts(torch.ones(2))[0] == "strided"


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_sparse_csr_digests_as_its_coo_form() -> None:
    dense = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    assert tensor_digest(dense.to_sparse_csr()) == tensor_digest(dense.to_sparse())


def test_storable_densifies_sparse_and_copies_dense() -> None:
    sparse = _sparse([[3, 1, 3]], [1.0, 2.0, 0.5])
    assert storable(sparse).tolist() == [0.0, 2.0, 0.0, 1.5]
    dense = torch.arange(6.0).reshape(2, 3).t()
    out = storable(dense)
    assert out.is_contiguous()
    assert torch.equal(out, dense)
    assert out.data_ptr() != dense.data_ptr()


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        -math.nan,
        float(torch.tensor(0.0) * torch.tensor(math.inf)),  # -nan on x86
        struct.unpack("<d", bytes.fromhex("0100000000f87f7f"))[0],  # a payload
        math.inf,
        -math.inf,
        -0.0,
        1.5,
    ],
)
def test_floats_round_trip_bit_exactly_through_json(value: float) -> None:
    text = json.dumps(encode_float(value))
    back = decode_float(json.loads(text), "x")
    assert struct.pack("<d", back) == struct.pack("<d", value)


def test_plain_nan_is_still_written_and_read_as_nan() -> None:
    """Old files hold "nan"; the plain NaN is still written so."""
    assert encode_float(math.nan) == "nan"
    assert math.isnan(decode_float("nan", "x"))
    assert encode_float(-math.nan).startswith("nan:0x")


@pytest.mark.parametrize(
    "text", ["nan:0x", "nan:0x3ff0000000000000", "nan:0xzzzzzzzzzzzzzzzz", "nan:7ff8", "NaN"]
)
def test_malformed_nan_bits_are_artifact_errors(text: str) -> None:
    """A string that is not exactly a NaN's 16 hex digits is refused, not guessed."""
    with pytest.raises(ArtifactError, match="expected a number"):
        decode_float(text, "x")


def _record(**fields: object) -> ScenarioRecord:
    config = ScenarioConfig(steps=1, seed=0, device="cpu", dtype="float32", trace_steps=0)
    base = {"name": "s", "source": "s:b", "config": config, "init_digests": {}, "steps": ()}
    return ScenarioRecord(**{**base, "trace": (), "tensors": {}, **fields})  # type: ignore[arg-type]


def test_record_round_trips_first_nonfinite_and_layout() -> None:
    record = _record(
        first_nonfinite=NonFinite(step=4, what="grad of fc.weight"),
        tensors={"optim/e/m": TensorInfo("float32", (3, 2), layout="sparse_coo")},
    )
    data = json.loads(json.dumps(record.to_dict()))
    assert data["first_nonfinite"] == {"step": 4, "what": "grad of fc.weight"}
    assert data["tensors"]["optim/e/m"]["layout"] == "sparse_coo"
    assert ScenarioRecord.from_dict(data) == record
    assert record.first_nonfinite is not None
    assert record.first_nonfinite.text() == "grad of fc.weight non-finite from step 4"


def test_old_records_read_as_finite_and_strided() -> None:
    """A record from before the keys: first_nonfinite None, layout strided."""
    data = _record(tensors={"param/w": TensorInfo("float32", (2,))}).to_dict()
    assert data["first_nonfinite"] is None
    assert "layout" not in data["tensors"]["param/w"]
    del data["first_nonfinite"]
    back = ScenarioRecord.from_dict(data)
    assert back.first_nonfinite is None
    assert back.tensors["param/w"].layout == "strided"


@pytest.mark.parametrize("bad", [[], {"step": -1, "what": "loss"}, {"step": 1}])
def test_bad_first_nonfinite_is_an_artifact_error(bad: object) -> None:
    data = _record().to_dict()
    data["first_nonfinite"] = bad
    with pytest.raises(ArtifactError, match="first_nonfinite"):
        ScenarioRecord.from_dict(data)
