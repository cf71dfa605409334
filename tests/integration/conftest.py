"""Fixtures shared by the integration tests: real runs made once per test session."""

from __future__ import annotations

import pytest
from real_runs import RealRuns


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> RealRuns:
    """Real runs of mlp, cnn and transformer (2 steps), made on first use and shared."""
    return RealRuns(tmp_path_factory.mktemp("real-runs"))
