"""Small, strict readers for JSON values: every mismatch is an ArtifactError, never a crash.

``where`` names the file (and key path) so the one-line error says exactly what is wrong.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping
from typing import Any, TypeVar

from reprocheck.errors import ArtifactError

__all__ = [
    "SURROGATE_ESCAPE",
    "decode_float",
    "encode_float",
    "find_lone_surrogate",
    "req",
    "req_dict",
    "req_float",
    "req_int",
    "req_list",
    "req_str",
]

T = TypeVar("T")


def _bad(where: str, key: str, what: str) -> ArtifactError:
    return ArtifactError(f"{where}: key {key!r} {what}")


def req(obj: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...], where: str) -> Any:
    """Return ``obj[key]`` after checking it exists and has type ``kind``."""
    if not isinstance(obj, Mapping):
        raise ArtifactError(f"{where}: expected an object, found {type(obj).__name__}")
    if key not in obj:
        raise _bad(where, key, "is missing")
    value = obj[key]
    # bool is an int in Python; a JSON true where a count is expected is still wrong.
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise _bad(where, key, "must be a number, found a boolean")
    if not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise _bad(where, key, f"must be {name}, found {type(value).__name__}")
    return value


def req_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    """A required string."""
    return str(req(obj, key, str, where))


def req_int(obj: Mapping[str, Any], key: str, where: str, *, minimum: int | None = None) -> int:
    """A required integer, optionally bounded below."""
    value = int(req(obj, key, int, where))
    if minimum is not None and value < minimum:
        raise _bad(where, key, f"must be >= {minimum}, found {value}")
    return value


def req_float(obj: Any, key: str, where: str) -> float:
    """A required float, written as a number or as one of "nan", "inf", "-inf"."""
    if isinstance(obj, Mapping) and isinstance(obj.get(key), str):
        return decode_float(obj[key], f"{where}: key {key!r}")
    return decode_float(req(obj, key, (int, float), where), f"{where}: key {key!r}")


def req_list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """A required list."""
    return list(req(obj, key, list, where))


def req_dict(obj: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    """A required object."""
    return dict(req(obj, key, dict, where))


# The NaN ``float("nan")`` gives: written as plain "nan", as before NaN bits were kept.
_PLAIN_NAN = struct.unpack("<Q", struct.pack("<d", math.nan))[0]


def encode_float(value: float) -> float | str:
    """JSON has no NaN or infinity: write them as strings so every reader can parse the file.

    A NaN keeps its bits: ``"nan"`` is the plain quiet NaN, any other (a negative NaN from
    ``0 * inf`` on x86, a payload) is ``"nan:0x"`` and its 16 hex digits, so a NaN read
    back from JSON is bitwise the NaN that was written.
    """
    if math.isnan(value):
        bits = struct.unpack("<Q", struct.pack("<d", value))[0]
        return "nan" if bits == _PLAIN_NAN else f"nan:0x{bits:016x}"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def decode_float(value: Any, where: str) -> float:
    """Inverse of :func:`encode_float` (bit-exact, NaNs included)."""
    if isinstance(value, bool):
        raise ArtifactError(f"{where}: expected a number, found a boolean")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # a JSON integer with hundreds of digits
            bits = int(value).bit_length()
            raise ArtifactError(f"{where}: a {bits}-bit integer is out of range") from None
    if value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, str) and value.startswith("nan:0x") and len(value) == 22:
        try:
            found = struct.unpack("<d", struct.pack("<Q", int(value[6:], 16)))[0]
        except ValueError:
            found = 0.0
        if math.isnan(found):
            return float(found)
    raise ArtifactError(f"{where}: expected a number, found {value!r}")


#: Only a surrogate escape (backslash-u D800 to DFFF) in JSON decodes into text that is
#: not valid Unicode: raw bytes without one need no :func:`find_lone_surrogate` walk.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def find_lone_surrogate(data: Any) -> str | None:
    """The first string (key or value) in ``data`` that is not valid Unicode, else None.

    JSON may spell a lone surrogate (``"\\udcff"``); Python decodes it into a string that
    cannot be encoded again, so a report naming it would crash when printed or written.
    Walks iteratively: a JSON value is at most as deep as the parser allowed.
    """
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return ascii(item[:80])
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None
