"""Strict readers and writers of the JSON fields of a comparison result (comparison.result)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from reprocheck._schema import encode_float, req, req_list
from reprocheck.errors import ArtifactError

__all__ = [
    "json_value",
    "read_choice",
    "read_items",
    "read_nested",
    "read_opt_str",
    "read_strs",
]

T = TypeVar("T")


def json_value(value: Any) -> Any:
    # JSON has no NaN or infinity; write them as strings like the artifacts do.
    if isinstance(value, float):
        return encode_float(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return value


def read_choice(
    data: Any, key: str, where: str, allowed: tuple[T, ...], *, null: bool = False
) -> T:
    """``data[key]``, which must be one of ``allowed`` (or None when ``null``)."""
    value = req(data, key, object, where)
    if value in allowed or (null and value is None):
        return value  # type: ignore[no-any-return]
    raise ArtifactError(f"{where}: key {key!r} must be one of {', '.join(map(str, allowed))}")


def read_opt_str(data: Any, key: str, where: str) -> str | None:
    value = req(data, key, (str, type(None)), where)
    return None if value is None else str(value)


def read_nested(cls: Any, data: Any, key: str, where: str) -> Any:
    """``cls.from_dict(data[key])``, or None where the key is missing or null."""
    value = data.get(key)
    return None if value is None else cls.from_dict(value, f"{where}.{key}")


def read_items(data: Any, key: str, where: str, read: Callable[[Any, str], T]) -> tuple[T, ...]:
    """Each element of the list ``data[key]``, read by ``read(element, where[i])``."""
    return tuple(read(v, f"{where}.{key}[{i}]") for i, v in enumerate(req_list(data, key, where)))


def read_strs(data: Any, key: str, where: str) -> tuple[str, ...]:
    values = req_list(data, key, where)
    if not all(isinstance(v, str) for v in values):
        raise ArtifactError(f"{where}: key {key!r} must be a list of strings")
    return tuple(values)
