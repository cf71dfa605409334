"""reprocheck: will your PyTorch training numbers change after this upgrade?

The public API is imported lazily: ``import reprocheck`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reprocheck._version import __version__
from reprocheck.errors import ReprocheckError
from reprocheck.scenario import Scenario, ScenarioContext

if TYPE_CHECKING:
    from reprocheck.check import check_against
    from reprocheck.comparison import (
        ComparisonResult,
        Policy,
        Tolerance,
        compare,
        load_policy,
        render,
    )
    from reprocheck.determinism import DeterminismResult, check_determinism
    from reprocheck.environment import Fingerprint, fingerprint
    from reprocheck.replay import load_scenario, replay_scenario, run_scenarios
    from reprocheck.store import Run, load_run

__all__ = [
    "ComparisonResult",
    "DeterminismResult",
    "Fingerprint",
    "Policy",
    "ReprocheckError",
    "Run",
    "Scenario",
    "ScenarioContext",
    "Tolerance",
    "__version__",
    "check_against",
    "check_determinism",
    "compare",
    "fingerprint",
    "load_policy",
    "load_run",
    "load_scenario",
    "render",
    "replay_scenario",
    "run_scenarios",
]

# name -> module that defines it; resolved on first access (PEP 562).
_LAZY: dict[str, str] = {
    "Fingerprint": "reprocheck.environment",
    "fingerprint": "reprocheck.environment",
    "ComparisonResult": "reprocheck.comparison",
    "Policy": "reprocheck.comparison",
    "Tolerance": "reprocheck.comparison",
    "compare": "reprocheck.comparison",
    "load_policy": "reprocheck.comparison",
    "render": "reprocheck.comparison",
    "check_against": "reprocheck.check",
    "DeterminismResult": "reprocheck.determinism",
    "check_determinism": "reprocheck.determinism",
    "load_scenario": "reprocheck.replay",
    "replay_scenario": "reprocheck.replay",
    "run_scenarios": "reprocheck.replay",
    "Run": "reprocheck.store",
    "load_run": "reprocheck.store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reprocheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
