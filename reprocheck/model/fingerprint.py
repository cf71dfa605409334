"""The fingerprint value: a frozen snapshot of one environment, its dict form and its digest.

The sections are plain JSON data (what ``--format json`` prints and run artifacts embed);
the value holds them deeply frozen so nobody can edit a captured fingerprint in place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
from collections.abc import Mapping
from typing import Any

from reprocheck._schema import req, req_str
from reprocheck.errors import ArtifactError, SchemaVersionError
from reprocheck.model.formats import FINGERPRINT_KIND, SCHEMA_VERSION

__all__ = ["SECTIONS", "Fingerprint", "compute_digest"]

# Section name -> the keys it must have. Newer writers may add keys; readers keep them.
SECTIONS: dict[str, tuple[str, ...]] = {
    "python": ("version", "implementation", "executable", "prefix"),
    "platform": ("system", "release", "version", "machine", "libc"),
    "cpu": ("model", "cores", "flags", "capability", "aten_cpu_capability_env"),
    "torch": (
        "version",
        "git_version",
        "debug",
        "cuda_compiled",
        "config",
        "config_raw",
        "parallel_raw",
    ),
    "threads": ("intra_op", "inter_op", "omp_max", "mkl_max", "backend"),
    "determinism": (
        "deterministic_algorithms",
        "warn_only",
        "cudnn_deterministic",
        "cudnn_benchmark",
        "cuda_matmul_allow_tf32",
        "cudnn_allow_tf32",
        "float32_matmul_precision",
        "fp32_precision",
        "fill_uninitialized_memory",
    ),
    "cuda": (
        "available",
        "compiled_version",
        "runtime_version",
        "driver_version",
        "cudnn",
        "nccl",
        "devices",
    ),
}
_MAPPINGS = ("env", "packages", "package_sources")
_HEX = re.compile(r"^[0-9a-f]{64}$")

# Keys left out of the digest: they differ between two identical environments (when and
# where the capture ran, a device's serial number) without moving a single number.
_DIGEST_DROP: dict[str, tuple[str, ...]] = {
    "python": ("executable", "prefix"),
    "platform": ("system", "release", "version", "libc"),
    "cpu": ("model",),
}
_DIGEST_SECTIONS = (
    "python",
    "platform",
    "cpu",
    "torch",
    "threads",
    "determinism",
    "cuda",
    "env",
    "packages",
    "distributed",
)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return types.MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def compute_digest(sections: Mapping[str, Any]) -> str:
    """sha256 over the parts of a fingerprint that can move numbers.

    Args:
        sections: a fingerprint in dict form (at least the sections named in the digest).

    Returns:
        64 lowercase hex digits; equal digests mean no number-moving field differs.
    """
    picked: dict[str, Any] = {}
    for name in _DIGEST_SECTIONS:
        section = _thaw(sections.get(name))
        drop = _DIGEST_DROP.get(name, ())
        if isinstance(section, dict) and drop:
            section = {k: v for k, v in section.items() if k not in drop}
        if name == "cuda" and isinstance(section, dict):
            # A different card of the same model computes the same numbers.
            section["devices"] = [
                {k: v for k, v in dev.items() if k != "uuid_sha256"}
                for dev in section.get("devices") or []
                if isinstance(dev, dict)
            ]
        if name == "env" and isinstance(section, dict):
            section.pop("REPROCHECK_LOCKFILE", None)  # a path; the packages say what it pins
        if name == "distributed" and section is None:
            continue  # written before the section existed: keep that digest unchanged
        picked[name] = section
    canonical = json.dumps(picked, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """Everything about one environment that can change a training run's numbers.

    Capture one with :func:`reprocheck.fingerprint`; read one back with :meth:`from_dict`.
    Each section is a read-only mapping whose keys are listed in docs/fingerprint.md.
    """

    reprocheck_version: str
    captured_at: str
    digest: str
    python: Mapping[str, Any]
    platform: Mapping[str, Any]
    cpu: Mapping[str, Any]
    torch: Mapping[str, Any]
    threads: Mapping[str, Any]
    determinism: Mapping[str, Any]
    cuda: Mapping[str, Any]
    env: Mapping[str, str]
    packages: Mapping[str, str]
    package_sources: Mapping[str, str]
    lockfile: Mapping[str, str] | None
    #: torch.distributed backends and the run's world size (empty in files written before
    #: it existed); see docs/distributed.md.
    distributed: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, (Mapping, list)):
                object.__setattr__(self, field.name, _freeze(value))

    def __hash__(self) -> int:
        # The sections are mappings (unhashable); equal fingerprints have equal digests.
        return hash((self.digest, self.captured_at))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``reprocheck fingerprint --format json``."""
        body: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "kind": FINGERPRINT_KIND,
        }
        for field in dataclasses.fields(self):
            body[field.name] = _thaw(getattr(self, field.name))
        return body

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "fingerprint") -> Fingerprint:
        """Validate and read the dict form.

        Args:
            data: what :meth:`to_dict` returned (possibly read back from JSON).
            where: names the source in error messages (a file path).

        Raises:
            ArtifactError: the data is not a fingerprint or a field has the wrong type.
            SchemaVersionError: it was written with another schema version.
        """
        if not isinstance(data, Mapping):
            raise ArtifactError(f"{where}: expected a JSON object, found {type(data).__name__}")
        if data.get("kind") != FINGERPRINT_KIND:
            raise ArtifactError(
                f"{where}: kind is {data.get('kind')!r}, expected {FINGERPRINT_KIND!r}"
            )
        version = data.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise ArtifactError(f"{where}: schema_version is missing or not an integer")
        if version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{where}: schema_version {version}, this reprocheck reads {SCHEMA_VERSION}"
            )
        digest = req_str(data, "digest", where)
        if not _HEX.match(digest):
            raise ArtifactError(f"{where}: digest {digest!r} is not 64 hex digits")
        sections: dict[str, Any] = {}
        for name, keys in SECTIONS.items():
            section = req(data, name, dict, where)
            for key in keys:
                if key not in section:
                    raise ArtifactError(f"{where}: key {name}.{key} is missing")
            sections[name] = section
        _check_types(sections, where)
        for name in _MAPPINGS:
            mapping = req(data, name, dict, where)
            for key, value in mapping.items():
                if not isinstance(value, str):
                    raise ArtifactError(f"{where}: {name}[{key!r}] must be a string")
            sections[name] = mapping
        distributed = _distributed_of(data, where)
        lockfile = data.get("lockfile")
        if lockfile is not None:
            req_str(lockfile, "path", f"{where}: lockfile")
            req_str(lockfile, "sha256", f"{where}: lockfile")
        return cls(
            reprocheck_version=req_str(data, "reprocheck_version", where),
            captured_at=req_str(data, "captured_at", where),
            digest=digest,
            lockfile=lockfile,
            distributed=distributed,
            **sections,
        )


def _distributed_of(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    # Optional: fingerprints written before the section existed have none.
    distributed = data.get("distributed", {})
    if not isinstance(distributed, dict):
        raise ArtifactError(f"{where}: distributed must be an object")
    return distributed


def _check_types(sections: Mapping[str, Any], where: str) -> None:
    # Only the fields later tools compute with; the rest are shown as they are.
    cpu, cuda, torch_ = sections["cpu"], sections["cuda"], sections["torch"]
    if not isinstance(cpu["flags"], list) or not all(isinstance(f, str) for f in cpu["flags"]):
        raise ArtifactError(f"{where}: cpu.flags must be a list of strings")
    if not isinstance(torch_["config"], dict):
        raise ArtifactError(f"{where}: torch.config must be an object")
    if not isinstance(cuda["available"], bool):
        raise ArtifactError(f"{where}: cuda.available must be true or false")
    if not isinstance(cuda["devices"], list) or not all(
        isinstance(d, dict) for d in cuda["devices"]
    ):
        raise ArtifactError(f"{where}: cuda.devices must be a list of objects")
    for key in ("intra_op", "inter_op", "omp_max", "mkl_max"):
        value = sections["threads"][key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ArtifactError(f"{where}: threads.{key} must be an integer or null")
    precision = sections["determinism"]["fp32_precision"]
    if precision is not None and not isinstance(precision, dict):
        raise ArtifactError(f"{where}: determinism.fp32_precision must be an object or null")
