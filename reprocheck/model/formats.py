"""Format constants shared by whoever writes an artifact and whoever reads it.

One place for the schema version every file carries, the ``kind`` tags that say what a
JSON document is, and the file names inside a run directory. Only
:mod:`reprocheck.artifacts` reads and writes the files; producers and consumers elsewhere
name them through these constants, never as literals.
"""

from __future__ import annotations

__all__ = [
    "ENVELOPE",
    "ENVELOPE_KIND",
    "FINGERPRINT_KIND",
    "MANIFEST",
    "RECORD",
    "RUN_KIND",
    "SCENARIO_KIND",
    "SCHEMA_VERSION",
    "TENSORS",
]

#: The version of every artifact format reprocheck writes (runs, fingerprint files, ...).
SCHEMA_VERSION = 1
#: ``kind`` of a run's manifest.
RUN_KIND = "reprocheck-run"
#: ``kind`` of a scenario's record inside a run.
SCENARIO_KIND = "reprocheck-scenario"
#: ``kind`` of a fingerprint file (``reprocheck fingerprint -o FILE.json``).
FINGERPRINT_KIND = "reprocheck-fingerprint"
#: A run directory's manifest, written last: its presence means the run is complete.
MANIFEST = "run.json"
#: One scenario's record, under ``scenarios/<dir>/``.
RECORD = "record.json"
#: One scenario's final tensors, under ``scenarios/<dir>/``.
TENSORS = "tensors.safetensors"
#: ``kind`` of a run's rounding envelope (``reprocheck calibrate``).
ENVELOPE_KIND = "reprocheck-envelope"
#: A calibrated run's rounding envelope, beside its manifest (absent in other runs).
ENVELOPE = "envelope.json"
