"""An operator's schema arguments (``OpOverload._schema``, private), for the op trace."""

from __future__ import annotations

from typing import Any

__all__ = ["op_arguments", "tensor_version"]


def op_arguments(func: Any) -> tuple[tuple[str, bool, bool, Any], ...]:
    """``(name, kwarg_only, has_default, default)`` per schema argument (defaults fill in
    what the dispatcher leaves out)."""
    args = getattr(getattr(func, "_schema", None), "arguments", ())
    return tuple(
        (str(a.name), bool(a.kwarg_only), bool(a.has_default_value()), _default(a)) for a in args
    )


def _default(arg: Any) -> Any:
    return arg.default_value if arg.has_default_value() else None


def tensor_version(t: Any) -> int:
    """A tensor's version counter (``Tensor._version``): it moves with every in-place write."""
    return int(t._version)
