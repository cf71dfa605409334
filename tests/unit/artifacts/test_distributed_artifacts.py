"""Distributed fields in records and fingerprints, and how compare ranks their changes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from compare_support import fingerprint as fake_fingerprint

from reprocheck.comparison.envdiff import diff_fingerprints, suspect_phrase
from reprocheck.env import fingerprint
from reprocheck.env.distributed import capture_distributed
from reprocheck.env.envvars import capture_env
from reprocheck.errors import ArtifactError
from reprocheck.model.fingerprint import Fingerprint, compute_digest
from reprocheck.model.records import ScenarioConfig, ScenarioRecord

_CONFIG = {"steps": 2, "seed": 0, "device": "cpu", "dtype": "float32", "trace_steps": 1}


def _record(**config: Any) -> ScenarioRecord:
    return ScenarioRecord(
        name="mlp",
        source="builtin",
        config=ScenarioConfig(**{**_CONFIG, **config}),
        init_digests={},
        steps=(),
        trace=(),
        tensors={},
    )


def test_single_process_config_writes_no_distributed_keys() -> None:
    """World size 1 writes the config exactly as before the distributed fields existed."""
    assert ScenarioConfig(**_CONFIG).to_dict() == _CONFIG
    assert "ranks_agree" not in _record().to_dict()


def test_config_written_before_the_fields_existed_reads_as_one_process() -> None:
    """An old config dict loads with world size 1 and no backend or bucket size."""
    config = ScenarioConfig.from_dict(dict(_CONFIG))
    assert (config.world_size, config.backend, config.bucket_cap_mb) == (1, None, None)


def test_distributed_record_round_trips() -> None:
    """World size, backend, bucket size and per-step agreement survive to_dict/from_dict."""
    record = _record(world_size=2, backend="gloo", bucket_cap_mb=25.0)
    record = dataclasses.replace(record, ranks_agree=(True, False))
    again = ScenarioRecord.from_dict(record.to_dict())
    assert again == record
    assert again.to_dict()["config"]["world_size"] == 2


@pytest.mark.parametrize(
    ("key", "value"),
    [("ranks_agree", [1, 0]), ("ranks_agree", "yes")],
)
def test_bad_agreement_list_is_an_artifact_error(key: str, value: Any) -> None:
    """ranks_agree must be a list of booleans."""
    data = _record().to_dict()
    data[key] = value
    with pytest.raises(ArtifactError, match="ranks_agree"):
        ScenarioRecord.from_dict(data)


def test_bad_backend_is_an_artifact_error() -> None:
    """A backend that is not a string is refused on load."""
    with pytest.raises(ArtifactError, match="backend"):
        ScenarioConfig.from_dict({**_CONFIG, "world_size": 2, "backend": 3})


def test_fingerprint_records_backends_and_the_process_world_size() -> None:
    """A plain capture lists the backends on offer and world size 1 with no backend."""
    section = fingerprint().distributed
    assert section["available"] is True
    assert section["backends"]["gloo"] is True
    assert (section["world_size"], section["backend"], section["bucket_cap_mb"]) == (1, None, None)


def test_run_layout_and_launcher_world_size_go_in_the_section() -> None:
    """The run's layout wins; without one, WORLD_SIZE set by a launcher is reported."""
    run = {"world_size": 2, "backend": "gloo", "bucket_cap_mb": 25.0}
    assert capture_distributed({}, run)["world_size"] == 2
    assert capture_distributed({}, run)["bucket_cap_mb"] == 25.0
    assert capture_distributed({"WORLD_SIZE": "4"})["world_size"] == 4
    assert capture_distributed({"WORLD_SIZE": "four"})["world_size"] == 1


def test_fingerprint_without_distributed_section_still_loads() -> None:
    """Files written before the section existed load, and their digest is unchanged."""
    data = fingerprint().to_dict()
    del data["distributed"]
    old = Fingerprint.from_dict(data)
    assert dict(old.distributed) == {}
    with_section = {**data, "distributed": {"world_size": 2}}
    assert compute_digest(data) != compute_digest(with_section)


def test_gloo_and_nccl_variables_are_allow_listed_but_not_secrets() -> None:
    """NCCL_*, GLOO_* and TP_SOCKET_IFNAME are recorded; credential-like names never."""
    env = {
        "NCCL_ALGO": "Ring",
        "GLOO_SOCKET_IFNAME": "lo",
        "TP_SOCKET_IFNAME": "lo",
        "GLOO_AUTH_TOKEN": "secret",
        "MASTER_PORT": "29500",
    }
    assert capture_env(env) == {
        "GLOO_SOCKET_IFNAME": "lo",
        "NCCL_ALGO": "Ring",
        "TP_SOCKET_IFNAME": "lo",
    }


def test_world_size_change_ranks_before_threads_and_is_named() -> None:
    """World size 1 -> 2 is listed before a thread change and named first as a suspect."""
    a = fake_fingerprint(distributed={"world_size": 1, "backend": None})
    b = fake_fingerprint(distributed={"world_size": 2, "backend": "gloo"}, threads__intra_op=1)
    changes = diff_fingerprints(a, b)
    assert [c.path for c in changes] == [
        "distributed.world_size",
        "distributed.backend",
        "threads.intra_op",
    ]
    assert (changes[0].baseline, changes[0].candidate) == (1, 2)
    assert suspect_phrase(changes).startswith("world size 1 → 2")


def test_bucket_size_and_nccl_variables_are_distributed_changes() -> None:
    """A DDP bucket size change and an NCCL tuning variable rank as distributed."""
    a = fake_fingerprint(distributed={"bucket_cap_mb": 25.0})
    b = fake_fingerprint(distributed={"bucket_cap_mb": 1.0}, env={"NCCL_ALGO": "Tree"})
    changes = diff_fingerprints(a, b)
    assert {c.path: c.category for c in changes} == {
        "distributed.bucket_cap_mb": "distributed",
        "env.NCCL_ALGO": "distributed",
    }
    assert "DDP bucket MB 25.0 → 1.0" in suspect_phrase(changes)
