"""The rounding envelope file, ``RUN/envelope.json``, written by ``reprocheck calibrate``.

A run made by ``calibrate`` is an ordinary run (the reference replay) plus this file::

    {"schema_version": 1, "kind": "reprocheck-envelope",
     "scenarios": [{"name": "mlp", "variants": [...], "steps": [{"loss": 1.2e-07, ...}],
                    "tensors": {"param/fc1.weight": 3.1e-08, ...}}]}

The envelope is written into the run before its manifest, so a calibrated run appears
complete with its envelope or not at all. Other runs have no such file, and
:func:`load_envelope` returns None for them. See docs/artifact-format.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reprocheck._io import atomic_write_text
from reprocheck._schema import req_list
from reprocheck.artifacts.jsonfile import check_schema, dumps, load_json
from reprocheck.artifacts.tensorfile import check_regular_file
from reprocheck.errors import ArtifactError
from reprocheck.model.envelope import ScenarioEnvelope
from reprocheck.model.formats import ENVELOPE, ENVELOPE_KIND, SCHEMA_VERSION

__all__ = ["load_envelope", "write_envelope"]


def write_envelope(run_dir: Path, envelopes: Sequence[ScenarioEnvelope]) -> Path:
    """Write ``envelopes`` as ``run_dir/envelope.json`` (atomically); return its path."""
    path = Path(run_dir) / ENVELOPE
    body = {
        "schema_version": SCHEMA_VERSION,
        "kind": ENVELOPE_KIND,
        "scenarios": [e.to_dict() for e in envelopes],
    }
    atomic_write_text(path, dumps(body))
    return path


def load_envelope(run_dir: Path) -> dict[str, ScenarioEnvelope] | None:
    """The envelopes of a calibrated run by scenario name; None for a run without one.

    Raises:
        ArtifactError: the file is there but corrupt (never silently ignored: a damaged
            envelope must not turn a judgement back into the per-dtype tables).
    """
    path = Path(run_dir) / ENVELOPE
    if not path.exists() and not path.is_symlink():
        return None
    check_regular_file(path, "rounding envelope")
    data = load_json(path, "rounding envelope")
    check_schema(data, ENVELOPE_KIND, path, "rounding envelope")
    out: dict[str, ScenarioEnvelope] = {}
    for i, entry in enumerate(req_list(data, "scenarios", str(path))):
        envelope = ScenarioEnvelope.from_dict(entry, f"{path}: scenarios[{i}]")
        if envelope.name in out:
            raise ArtifactError(f"{path}: scenario {envelope.name!r} is listed twice")
        out[envelope.name] = envelope
    return out
