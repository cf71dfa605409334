"""Tolerance policy: which difference between two runs counts as drift.

A :class:`Policy` starts from a preset (``bitwise``, ``default``, ``loose``), may replace
per-dtype tolerances, and may override tolerances for single tensors or metrics by glob.
It comes from a TOML policy file, from ``[tool.reprocheck]`` in ``pyproject.toml``, or is the
``default`` preset. The format is documented in ``docs/tolerances.md``.

The rule for one element is torch.testing's: ``|candidate - baseline| <= atol + rtol *
|baseline|``. Integer and bool tensors always compare exactly; tolerances do not apply.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reprocheck.errors import PolicyError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "DEFAULT_TOLERANCES",
    "EXACT",
    "FLOAT_DTYPES",
    "LOOSE_TOLERANCES",
    "PRESETS",
    "Policy",
    "Tolerance",
    "load_policy",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Tolerance:
    """Relative and absolute tolerance, as in ``torch.testing.assert_close``."""

    rtol: float
    atol: float

    def to_dict(self) -> dict[str, float]:
        return {"rtol": self.rtol, "atol": self.atol}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "tolerance") -> Tolerance:
        """Read ``{"rtol": ..., "atol": ...}``; both keys are required and must be >= 0."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"{where}: expected a table with 'rtol' and 'atol'")
        unknown = sorted(set(data) - {"rtol", "atol", "match"})
        if unknown:
            raise PolicyError(f"{where}: unknown key {unknown[0]!r} (expected 'rtol' and 'atol')")
        return cls(rtol=_tol_value(data, "rtol", where), atol=_tol_value(data, "atol", where))


EXACT = Tolerance(0.0, 0.0)

# torch.testing.assert_close's defaults (torch/testing/_comparison.py); complex dtypes use
# the tolerance of their float parts.
DEFAULT_TOLERANCES: Mapping[str, Tolerance] = {
    "float16": Tolerance(1e-3, 1e-5),
    "bfloat16": Tolerance(1.6e-2, 1e-5),
    "float32": Tolerance(1.3e-6, 1e-5),
    "float64": Tolerance(1e-7, 1e-7),
    "complex32": Tolerance(1e-3, 1e-5),
    "complex64": Tolerance(1.3e-6, 1e-5),
    "complex128": Tolerance(1e-7, 1e-7),
}

# Every floating dtype a policy may name. float8 types are not in torch.testing's table:
# they compare exactly unless the policy gives them a tolerance.
FLOAT_DTYPES: tuple[str, ...] = (
    *DEFAULT_TOLERANCES,
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e5m2",
    "float8_e5m2fnuz",
)

# "loose" accepts rounding that moves across versions and accumulates over a few steps:
# ten times the relative and a hundred times the absolute tolerance of "default".
LOOSE_TOLERANCES: Mapping[str, Tolerance] = {
    "float16": Tolerance(1e-2, 1e-3),
    "bfloat16": Tolerance(1.6e-1, 1e-3),
    "float32": Tolerance(1.3e-5, 1e-3),
    "float64": Tolerance(1e-6, 1e-5),
    "complex32": Tolerance(1e-2, 1e-3),
    "complex64": Tolerance(1.3e-5, 1e-3),
    "complex128": Tolerance(1e-6, 1e-5),
}

PRESETS: tuple[str, ...] = ("bitwise", "default", "loose")

# Keys of [tool.reprocheck] that belong to other reprocheck features (none yet). The
# policy reader rejects every other unknown key so a typo never passes silently.
_OTHER_TOOL_KEYS: frozenset[str] = frozenset()

_POLICY_KEYS = ("preset", "dtypes", "tensor", "metric")


def _tol_value(data: Mapping[str, Any], key: str, where: str) -> float:
    if key not in data:
        raise PolicyError(f"{where}: key {key!r} is missing (give both 'rtol' and 'atol')")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PolicyError(f"{where}: key {key!r} must be a number, found {value!r}")
    try:
        value = float(value)
    except OverflowError:  # an integer too large for a float
        value = math.inf
    if not math.isfinite(value) or value < 0:
        raise PolicyError(f"{where}: key {key!r} must be a finite number >= 0, found {value!r}")
    return value


def _preset_table(name: str) -> dict[str, Tolerance]:
    if name == "bitwise":
        return dict.fromkeys(DEFAULT_TOLERANCES, EXACT)
    if name == "default":
        return dict(DEFAULT_TOLERANCES)
    if name == "loose":
        return dict(LOOSE_TOLERANCES)
    raise PolicyError(
        f"unknown tolerance preset {name!r}",
        hint=f"Use one of: {', '.join(PRESETS)}.",
    )


def _first_match(rules: tuple[tuple[str, Tolerance], ...], key: str) -> Tolerance | None:
    for pattern, tolerance in rules:
        if fnmatch.fnmatchcase(key, pattern):
            return tolerance
    return None


@dataclasses.dataclass(frozen=True)
class Policy:
    """Tolerances for a comparison.

    Attributes:
        preset: The preset the policy starts from: ``bitwise``, ``default`` or ``loose``.
        dtype_tolerances: Tolerance per floating dtype name (``"float32"``, ``"bfloat16"``...).
        overrides: ``(glob, tolerance)`` for tensors, matched against
            ``"<scenario>/<tensor name>"``; the first match, in file order, wins.
        metric_overrides: The same for metrics (``"mlp/loss"``, ``"mlp/metrics/acc"``).
    """

    preset: str = "default"
    dtype_tolerances: Mapping[str, Tolerance] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_TOLERANCES)
    )
    overrides: tuple[tuple[str, Tolerance], ...] = ()
    metric_overrides: tuple[tuple[str, Tolerance], ...] = ()

    @classmethod
    def from_preset(cls, name: str) -> Policy:
        """The policy of preset ``name`` with no overrides (PolicyError if unknown).

        (``Policy.preset`` is the field naming the preset, hence not ``Policy.preset(name)``.)
        """
        return cls(preset=name, dtype_tolerances=_preset_table(name))

    def tolerance_for(self, key: str, dtype: str) -> Tolerance:
        """Tolerance for tensor ``key`` (``"mlp/param/fc1.weight"``) of dtype ``dtype``.

        Integer, bool and unknown dtypes compare exactly; for floating dtypes the first
        matching tensor override wins, then the dtype table.
        """
        if dtype not in FLOAT_DTYPES:
            return EXACT
        found = _first_match(self.overrides, key)
        if found is not None:
            return found
        return self.dtype_tolerances.get(dtype, EXACT)

    def tolerance_for_metric(self, key: str) -> Tolerance:
        """Tolerance for metric ``key`` (``"mlp/loss"``, ``"mlp/grad_norm"``...).

        Metrics are float32 values from the training loop, so without a matching metric
        override they use the policy's float32 tolerance.
        """
        found = _first_match(self.metric_overrides, key)
        if found is not None:
            return found
        return self.dtype_tolerances.get("float32", EXACT)

    def to_dict(self) -> dict[str, Any]:
        """The policy in the policy-file layout (round-trips through :meth:`from_dict`)."""
        return {
            "preset": self.preset,
            "dtypes": {k: t.to_dict() for k, t in self.dtype_tolerances.items()},
            "tensor": [{"match": m, **t.to_dict()} for m, t in self.overrides],
            "metric": [{"match": m, **t.to_dict()} for m, t in self.metric_overrides],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "policy") -> Policy:
        """Build a policy from the policy-file layout, validating every key.

        Raises:
            PolicyError: an unknown key or preset, a negative or non-numeric tolerance,
                a ``match`` that is not a string, an unknown dtype name.
        """
        if not isinstance(data, Mapping):
            raise PolicyError(f"{where}: expected a table")
        unknown = sorted(set(data) - set(_POLICY_KEYS))
        if unknown:
            raise PolicyError(
                f"{where}: unknown key {unknown[0]!r}",
                hint=f"Policy keys are: {', '.join(_POLICY_KEYS)} (see docs/tolerances.md).",
            )
        preset = data.get("preset", "default")
        if not isinstance(preset, str):
            raise PolicyError(f"{where}: key 'preset' must be a string, found {preset!r}")
        try:
            table = _preset_table(preset)
        except PolicyError as exc:
            raise PolicyError(f"{where}: {exc.message}", hint=exc.hint) from None
        dtypes = data.get("dtypes", {})
        if not isinstance(dtypes, Mapping):
            raise PolicyError(f"{where}: key 'dtypes' must be a table of dtype = {{rtol, atol}}")
        for name, value in dtypes.items():
            if name not in FLOAT_DTYPES:
                raise PolicyError(
                    f"{where}: dtypes: unknown floating dtype {name!r}",
                    hint=f"Use one of: {', '.join(FLOAT_DTYPES)} "
                    "(integer and bool tensors always compare exactly).",
                )
            table[name] = Tolerance.from_dict(value, f"{where}: dtypes.{name}")
        return cls(
            preset=preset,
            dtype_tolerances=table,
            overrides=_rules(data, "tensor", where),
            metric_overrides=_rules(data, "metric", where),
        )


def _rules(data: Mapping[str, Any], key: str, where: str) -> tuple[tuple[str, Tolerance], ...]:
    entries = data.get(key, [])
    if not isinstance(entries, list):
        raise PolicyError(f"{where}: key {key!r} must be an array of tables ([[{key}]])")
    rules: list[tuple[str, Tolerance]] = []
    for number, entry in enumerate(entries, start=1):
        here = f"{where}: [[{key}]] entry {number}"
        if not isinstance(entry, Mapping):
            raise PolicyError(f"{here}: expected a table with 'match', 'rtol' and 'atol'")
        pattern = entry.get("match")
        if not isinstance(pattern, str) or not pattern:
            raise PolicyError(f"{here}: key 'match' must be a non-empty glob string")
        rules.append((pattern, Tolerance.from_dict(entry, here)))
    return tuple(rules)


def _read_toml(path: Path) -> dict[str, Any]:
    if path.exists() and not path.is_dir() and not path.is_file():  # a FIFO would block
        raise PolicyError(f"{path}: not a regular file, expected a TOML policy file")
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found") from None
    except IsADirectoryError:
        raise PolicyError(f"{path}: is a directory, expected a TOML policy file") from None
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: invalid TOML: {str(exc).splitlines()[0]}") from None
    except ValueError as exc:  # an integer literal past Python's digit limit
        raise PolicyError(f"{path}: invalid TOML: {str(exc).splitlines()[0]}") from None
    except RecursionError:  # arrays or inline tables nested thousands deep
        raise PolicyError(f"{path}: invalid TOML: nested too deeply to be a policy") from None


def load_policy(path: Path | None = None, *, project_dir: Path | None = None) -> Policy:
    """Load the tolerance policy in force.

    Args:
        path: A TOML policy file. When given, it alone decides.
        project_dir: Where to look for ``pyproject.toml`` (default: the current directory);
            its ``[tool.reprocheck]`` table is used when ``path`` is None.

    Returns:
        The policy from ``path``, else from ``[tool.reprocheck]``, else the ``default`` preset.

    Raises:
        PolicyError: a one-line message naming the file and key that is wrong.
    """
    if path is not None:
        path = Path(path)
        return Policy.from_dict(_read_toml(path), where=str(path))
    pyproject = (Path.cwd() if project_dir is None else Path(project_dir)) / "pyproject.toml"
    if not pyproject.is_file():
        return Policy.from_preset("default")
    tool = _read_toml(pyproject).get("tool", {})
    section = tool.get("reprocheck") if isinstance(tool, Mapping) else None
    if section is None:
        return Policy.from_preset("default")
    where = f"{pyproject}: [tool.reprocheck]"
    if not isinstance(section, Mapping):
        raise PolicyError(f"{where} must be a table")
    own = {k: v for k, v in section.items() if k not in _OTHER_TOOL_KEYS}
    return Policy.from_dict(own, where=where)
