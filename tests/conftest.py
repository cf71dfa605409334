"""Shared test configuration: the ``cuda`` marker skips where no GPU is visible."""

from __future__ import annotations

import pytest


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any(item.get_closest_marker("cuda") for item in items) and not _cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU; runs where one is lent")
        for item in items:
            if item.get_closest_marker("cuda"):
                item.add_marker(skip)
