"""The rounding envelope: how far benign reorderings move each recorded quantity, per step.

``reprocheck calibrate`` replays a scenario in one environment several times under changes
that only reorder floating-point arithmetic (another thread count, the initial parameters
moved by one ULP) and keeps, per step and per recorded quantity, the largest absolute
deviation from the reference replay. Compare then measures a candidate's difference in
multiples of that envelope instead of against fixed per-dtype tolerances.

Quantities are named as compare names metric series: ``loss``, ``grad_norm``,
``param_norm``, ``param_norms/<parameter>``, ``metrics/<name>``; final tensors as in the
record (``param/fc1.weight``). This module holds the values only; the file is
:mod:`reprocheck.artifacts.envelope`'s.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from reprocheck._schema import decode_float, encode_float, req_dict, req_list, req_str
from reprocheck.errors import ArtifactError

__all__ = ["ScenarioEnvelope", "deviation", "step_quantities"]


def step_quantities(step: Any) -> dict[str, float]:
    """The rounding-sensitive numbers of one :class:`~reprocheck.model.records.StepRecord`.

    The learning rate is left out on purpose: no reordering moves it, so any change of it
    is a change of the computation, judged as such.
    """
    out = {"loss": step.loss, "grad_norm": step.grad_norm, "param_norm": step.param_norm}
    out.update({f"param_norms/{k}": v for k, v in step.param_norms.items()})
    out.update({f"metrics/{k}": v for k, v in step.metrics.items()})
    return out


def _floats(data: Mapping[str, Any], where: str) -> dict[str, float]:
    if not isinstance(data, Mapping):
        raise ArtifactError(f"{where}: expected an object of numbers")
    values = {str(k): decode_float(v, f"{where}[{k!r}]") for k, v in data.items()}
    for key, value in values.items():
        if not value >= 0:  # also refuses NaN
            raise ArtifactError(f"{where}[{key!r}]: a deviation must be >= 0, found {value!r}")
    return values


@dataclasses.dataclass(frozen=True)
class ScenarioEnvelope:
    """One scenario's rounding envelope.

    Attributes:
        name: the scenario.
        variants: the benign variants replayed, e.g. ``("threads=1", "init+1ulp seed 1")``.
        steps: per step, quantity -> the largest absolute deviation any variant showed.
        tensors: final tensor -> the largest absolute elementwise deviation.
    """

    name: str
    variants: tuple[str, ...]
    steps: tuple[dict[str, float], ...]
    tensors: dict[str, float]

    def bound(self, step: int, quantity: str) -> float:
        """The envelope of ``quantity`` at ``step``, never below an earlier step's.

        Rounding differences do not shrink as training goes on (they are carried in the
        parameters), so the envelope at a step is the running maximum up to it; a
        quantity the calibration never saw (or a step beyond it) has envelope 0.
        """
        seen = [s.get(quantity, 0.0) for s in self.steps[: step + 1]]
        return max(seen, default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "variants": list(self.variants),
            "steps": [{k: encode_float(v) for k, v in s.items()} for s in self.steps],
            "tensors": {k: encode_float(v) for k, v in self.tensors.items()},
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "envelope") -> ScenarioEnvelope:
        name = req_str(data, "name", where)
        where = f"{where} {name!r}"
        variants = req_list(data, "variants", where)
        if not all(isinstance(v, str) for v in variants):
            raise ArtifactError(f"{where}: key 'variants' must be a list of strings")
        steps = req_list(data, "steps", where)
        return cls(
            name=name,
            variants=tuple(variants),
            steps=tuple(_floats(s, f"{where}.steps[{i}]") for i, s in enumerate(steps)),
            tensors=_floats(req_dict(data, "tensors", where), f"{where}.tensors"),
        )


def deviation(a: float, b: float) -> float:
    """``|a - b|``; infinite when only one is NaN or they are unequal infinities."""
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    if a == b:
        return 0.0
    return abs(a - b)
