"""The trace reader's fast path builds exactly what the careful reader builds."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reprocheck.errors import ArtifactError
from reprocheck.model._trace_fast import trace_entries
from reprocheck.model.records import TraceEntry

PLAIN: dict[str, Any] = {
    "step": 0,
    "index": 3,
    "phase": "forward",
    "op": "aten.addmm.default",
    "module": "mlp.0",
    "shapes": [[4, 16]],
    "dtypes": ["float32"],
    "digest": "0a1b2c3d100",
    "absmax": 1.5,
    "mean": 2,
    "sample": [0.25, -1, 3.0],
}


def _variants() -> list[dict[str, Any]]:
    out = [PLAIN]
    for key, value in [
        ("absmax", None),
        ("mean", "nan"),
        ("sample", ["inf", 1.0]),
        ("mean", 1 << 60),
        ("shapes", [[], [2, 3]]),
        ("sample", []),
        ("args", {"eps": 1e-05, "normalized_shape": [64]}),
        ("inputs", "bcb7fabc63d1306ad17b889f"),
        ("in_dtypes", ["float32", "bfloat16"]),
    ]:
        changed = copy.deepcopy(PLAIN)
        changed[key] = value
        out.append(changed)
    missing = copy.deepcopy(PLAIN)
    del missing["sample"], missing["mean"]
    return [*out, missing]


def test_the_fast_path_builds_what_from_dict_builds() -> None:
    docs = _variants()
    careful = [TraceEntry.from_dict(d, "t").to_dict() for d in docs]  # NaN-safe equality
    assert [e.to_dict() for e in trace_entries(docs, "t", TraceEntry)] == careful


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("step", -1),
        ("step", True),
        ("shapes", [[1.5]]),
        ("dtypes", [3]),
        ("mean", "x"),
        ("args", [1]),
        ("inputs", 3),
        ("in_dtypes", [None]),
    ],
)
def test_a_bad_entry_still_gets_the_careful_error(key: str, value: object) -> None:
    bad = {**copy.deepcopy(PLAIN), key: value}
    with pytest.raises(ArtifactError, match=r"trace\[0\]"):
        trace_entries([bad], "rec", TraceEntry)
