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
    from reprocheck.environment import Fingerprint, fingerprint

__all__ = [
    "Fingerprint",
    "ReprocheckError",
    "Scenario",
    "ScenarioContext",
    "__version__",
    "fingerprint",
]

# name -> module that defines it; resolved on first access (PEP 562).
_LAZY: dict[str, str] = {
    "Fingerprint": "reprocheck.environment",
    "fingerprint": "reprocheck.environment",
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
