"""A fast path for reading trace entries: a large model's trace holds thousands.

:func:`trace_entries` builds each :class:`~reprocheck.model.records.TraceEntry` straight
from a JSON object whose every value already has its exact type (what reprocheck
writes), and leaves any other to the careful reader (``TraceEntry.from_dict``), which
names whatever is wrong. Both build the same entries from the same documents.

:class:`LazyTrace` defers even that to the first use: comparing two runs whose traces
are the same JSON document needs no entry at all (``same_document``), and reading a
67M-parameter GPT's 8,500 entries took longer than comparing its identical tensors.
A malformed entry is still an :class:`~reprocheck.errors.ArtifactError` naming it, raised
where the trace is first read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

# TraceEntry (not imported: records imports this module).
T = TypeVar("T")

__all__ = ["LazyTrace", "fast_entry", "same_document", "trace_entries"]


class LazyTrace(Sequence[T], Generic[T]):
    """A record's trace: its JSON list, read into entries on first use (then kept)."""

    __slots__ = ("_cls", "_entries", "_raw", "_where")

    def __init__(self, raw: list[Any], where: str, cls: type[T]) -> None:
        self._raw, self._where, self._cls = raw, where, cls
        self._entries: tuple[T, ...] | None = None

    def entries(self) -> tuple[T, ...]:
        if self._entries is None:
            self._entries = trace_entries(self._raw, self._where, self._cls)
        return self._entries

    def document(self) -> list[Any]:
        """The JSON list the entries are read from (not to be changed)."""
        return self._raw

    def entry(self, index: int) -> T:
        """Entry ``index`` alone, read (and checked) as :meth:`entries` reads it."""
        if self._entries is not None:
            return self._entries[index]
        return trace_entries(self._raw[index : index + 1], self._where, self._cls, start=index)[0]

    def __len__(self) -> int:
        return len(self._raw)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self.entries()[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self.entries())

    def __eq__(self, other: object) -> bool:
        if same_document(self, other):
            return True
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self.entries() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.entries())

    def __repr__(self) -> str:
        return f"LazyTrace({len(self)} entries)"


def same_document(a: object, b: object) -> bool:
    """Whether two traces were read from equal JSON lists (so their entries are equal)."""
    return (
        isinstance(a, LazyTrace)
        and isinstance(b, LazyTrace)
        and a._cls is b._cls
        and (a._raw is b._raw or a._raw == b._raw)
    )


_KEYS = frozenset(
    ("step", "index", "phase", "op", "module", "shapes", "dtypes", "digest", "absmax", "mean")
)


def _number(value: Any) -> bool:
    return type(value) is float or (type(value) is int and abs(value) < 1 << 53)


def trace_entries(trace: list[Any], where: str, cls: type[T], *, start: int = 0) -> tuple[T, ...]:
    """Every entry of a record's ``trace`` list (the careful reader where needed);
    ``start``: the position of the list's first entry in the whole trace (for messages)."""
    careful = cls.from_dict  # type: ignore[attr-defined]
    return tuple(
        (fast_entry(t, cls) if _plain(t) else None) or careful(t, f"{where}.trace[{i}]")
        for i, t in enumerate(trace, start)
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
