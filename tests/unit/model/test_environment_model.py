"""The Fingerprint value: dict round trip, validation, freezing and the digest."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from reprocheck.env import fingerprint
from reprocheck.errors import ArtifactError, SchemaVersionError
from reprocheck.model.fingerprint import Fingerprint, compute_digest
from reprocheck.model.formats import FINGERPRINT_KIND, SCHEMA_VERSION


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    return fingerprint().to_dict()


def test_to_dict_has_kind_and_schema_version(captured: dict[str, Any]) -> None:
    """The dict form names its kind and schema version, as every artifact does."""
    assert captured["kind"] == FINGERPRINT_KIND
    assert captured["schema_version"] == SCHEMA_VERSION


def test_round_trip_through_json_is_equal(captured: dict[str, Any]) -> None:
    """to_dict -> JSON -> from_dict gives back an equal fingerprint."""
    again = Fingerprint.from_dict(json.loads(json.dumps(captured)))
    assert again.to_dict() == captured
    assert again == Fingerprint.from_dict(captured)


def test_fingerprint_is_frozen(captured: dict[str, Any]) -> None:
    """Neither the fields nor the sections of a fingerprint can be changed in place."""
    fp = Fingerprint.from_dict(captured)
    with pytest.raises(AttributeError):
        fp.digest = "0" * 64  # type: ignore[misc]
    with pytest.raises(TypeError):
        fp.threads["intra_op"] = 99  # type: ignore[index]


def test_fingerprint_is_hashable(captured: dict[str, Any]) -> None:
    """Fingerprints can be put in sets (equal ones hash alike)."""
    assert len({Fingerprint.from_dict(captured), Fingerprint.from_dict(captured)}) == 1


def test_to_dict_returns_a_fresh_mutable_copy(captured: dict[str, Any]) -> None:
    """Editing the dict form never changes the fingerprint it came from."""
    fp = Fingerprint.from_dict(captured)
    body = fp.to_dict()
    body["threads"]["intra_op"] = -1
    assert fp.threads["intra_op"] == captured["threads"]["intra_op"]


def test_digest_ignores_capture_time_and_paths(captured: dict[str, Any]) -> None:
    """Time, interpreter path and lockfile path do not move numbers, so not the digest."""
    other = copy.deepcopy(captured)
    other["captured_at"] = "1999-01-01T00:00:00+00:00"
    other["python"]["executable"] = "/elsewhere/bin/python"
    other["python"]["prefix"] = "/elsewhere"
    other["lockfile"] = {"path": "/x/requirements.txt", "sha256": "0" * 64}
    assert compute_digest(other) == compute_digest(captured)


def _other(value: Any, *choices: Any) -> Any:
    """The first of ``choices`` that differs from ``value`` (the host's own setting)."""
    return next(c for c in choices if c != value)


# Each change is made relative to what this host captured, so the "changed" value never
# happens to be the host's own (an AVX2 machine, one thread, OMP_NUM_THREADS=1 already set).
@pytest.mark.parametrize(
    ("section", "key", "change"),
    [
        pytest.param("threads", "intra_op", lambda v: v + 1, id="threads-intra_op"),
        pytest.param(
            "cpu", "capability", lambda v: _other(v, "DEFAULT", "AVX2"), id="cpu-capability"
        ),
        pytest.param(
            "determinism",
            "deterministic_algorithms",
            lambda v: not v,
            id="determinism-deterministic_algorithms",
        ),
        pytest.param("torch", "version", lambda v: _other(v, "2.1.0", "2.2.0"), id="torch-version"),
        pytest.param(
            "packages", "numpy", lambda v: _other(v, "1.0.0", "1.0.1"), id="packages-numpy"
        ),
        pytest.param("env", "OMP_NUM_THREADS", lambda v: _other(v, "1", "2"), id="env-omp"),
    ],
)
def test_digest_changes_with_number_moving_fields(
    captured: dict[str, Any], section: str, key: str, change: Callable[[Any], Any]
) -> None:
    """Threads, dispatch level, determinism, versions and variables all enter the digest."""
    other = copy.deepcopy(captured)
    before = other[section].get(key)
    other[section][key] = change(before)
    assert other[section][key] != before
    assert compute_digest(other) != compute_digest(captured)


def test_captured_digest_matches_its_sections(captured: dict[str, Any]) -> None:
    """The stored digest is the digest of the captured sections."""
    assert captured["digest"] == compute_digest(captured)


def test_from_dict_rejects_another_kind(captured: dict[str, Any]) -> None:
    """A run manifest or anything else is not read as a fingerprint."""
    bad = dict(captured, kind="reprocheck-run")
    with pytest.raises(ArtifactError, match="kind"):
        Fingerprint.from_dict(bad)


def test_from_dict_rejects_another_schema_version(captured: dict[str, Any]) -> None:
    """A newer schema version is refused with SchemaVersionError."""
    with pytest.raises(SchemaVersionError):
        Fingerprint.from_dict(dict(captured, schema_version=SCHEMA_VERSION + 1))


def test_from_dict_rejects_a_missing_section_key(captured: dict[str, Any]) -> None:
    """Every documented key of a section must be present."""
    bad = copy.deepcopy(captured)
    del bad["cuda"]["available"]
    with pytest.raises(ArtifactError, match=r"cuda\.available"):
        Fingerprint.from_dict(bad)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("threads", "intra_op", "two"),
        ("threads", "inter_op", True),
        ("cpu", "flags", "avx2"),
        ("cuda", "available", "no"),
        ("cuda", "devices", {}),
        ("determinism", "fp32_precision", "tf32"),
        ("torch", "config", []),
    ],
)
def test_from_dict_rejects_wrong_types(
    captured: dict[str, Any], section: str, key: str, value: Any
) -> None:
    """A field of the wrong type is an ArtifactError naming it, never a crash later."""
    bad = copy.deepcopy(captured)
    bad[section][key] = value
    with pytest.raises(ArtifactError, match=key):
        Fingerprint.from_dict(bad)


def test_from_dict_rejects_a_non_string_package_version(captured: dict[str, Any]) -> None:
    """packages maps names to version strings."""
    bad = copy.deepcopy(captured)
    bad["packages"]["torch"] = 2
    with pytest.raises(ArtifactError, match="packages"):
        Fingerprint.from_dict(bad)


def test_from_dict_rejects_a_malformed_digest(captured: dict[str, Any]) -> None:
    """The digest is 64 hex digits."""
    with pytest.raises(ArtifactError, match="digest"):
        Fingerprint.from_dict(dict(captured, digest="abc"))


def test_from_dict_rejects_a_non_object() -> None:
    """A JSON list at the top is not a fingerprint."""
    with pytest.raises(ArtifactError, match="object"):
        Fingerprint.from_dict([])  # type: ignore[arg-type]


def test_from_dict_keeps_unknown_keys_from_newer_writers(captured: dict[str, Any]) -> None:
    """A key added by a newer writer within the same schema version survives a round trip."""
    newer = copy.deepcopy(captured)
    newer["cpu"]["microcode"] = "0x1"
    assert Fingerprint.from_dict(newer).cpu["microcode"] == "0x1"
