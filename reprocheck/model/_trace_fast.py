"""A fast path for reading trace entries: a large model's trace holds thousands.

:func:`trace_entries` builds each :class:`~reprocheck.model.records.TraceEntry` straight
from a JSON object whose every value already has its exact type (what reprocheck
writes), and leaves any other to the careful reader (``TraceEntry.from_dict``), which
names whatever is wrong. Both build the same entries from the same documents.
"""

from __future__ import annotations

from typing import Any, TypeVar

# TraceEntry (not imported: records imports this module).
T = TypeVar("T")

__all__ = ["fast_entry", "trace_entries"]

_KEYS = frozenset(
    ("step", "index", "phase", "op", "module", "shapes", "dtypes", "digest", "absmax", "mean")
)


def _number(value: Any) -> bool:
    return type(value) is float or (type(value) is int and abs(value) < 1 << 53)


def trace_entries(trace: list[Any], where: str, cls: Any) -> tuple[Any, ...]:
    """Every entry of a record's ``trace`` list (the careful reader where needed)."""
    return tuple(
        (fast_entry(t, cls) if _plain(t) else None) or cls.from_dict(t, f"{where}.trace[{i}]")
        for i, t in enumerate(trace)
    )


def _plain(data: Any) -> bool:
    """Whether every value of ``data`` has exactly the type reprocheck writes."""
    if type(data) is not dict or not data.keys() >= _KEYS:
        return False
    step, index = data["step"], data["index"]
    if type(step) is not int or type(index) is not int or step < 0 or index < 0:
        return False
    texts = (data["phase"], data["op"], data["module"], data["digest"])
    shapes, dtypes = data["shapes"], data["dtypes"]
    absmax, mean, sample = data["absmax"], data["mean"], data.get("sample", [])
    args, inputs, in_dtypes = (
        data.get("args", {}),
        data.get("inputs", ""),
        data.get("in_dtypes", []),
    )
    return (
        type(args) is dict
        and type(inputs) is str
        and type(in_dtypes) is list
        and all(type(d) is str for d in in_dtypes)
        and all(type(t) is str for t in texts)
        and type(shapes) is list
        and all(type(s) is list and all(type(d) is int for d in s) for s in shapes)
        and type(dtypes) is list
        and all(type(d) is str for d in dtypes)
        and (absmax is None or _number(absmax))
        and (mean is None or _number(mean))
        and type(sample) is list
        and all(_number(v) for v in sample)
    )


def fast_entry(data: dict[str, Any], cls: type[T]) -> T:
    """The entry a :func:`_plain` ``data`` holds."""
    absmax, mean = data["absmax"], data["mean"]
    return cls(  # type: ignore[call-arg]
        step=data["step"],
        index=data["index"],
        phase=data["phase"],
        op=data["op"],
        module=data["module"],
        shapes=tuple(tuple(s) for s in data["shapes"]),
        dtypes=tuple(data["dtypes"]),
        digest=data["digest"],
        absmax=None if absmax is None else float(absmax),
        mean=None if mean is None else float(mean),
        sample=tuple(float(v) for v in data.get("sample", [])),
        args=data.get("args", {}),
        inputs=data.get("inputs", ""),
        in_dtypes=tuple(data.get("in_dtypes", ())),
    )
