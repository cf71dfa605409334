"""``reprocheck_baseline.check_run``: a user's test records its own loop and checks the run.

A pytester project whose test trains a small model with its own loop under
``reprocheck.record`` (the last layer's weight scaled by ``1 + 1e-3`` when ``PERTURB`` is
set) and hands the run to the fixture. The inner pytest runs in this process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

TESTS = """
import os

import torch
import reprocheck


def train(out):
    reprocheck.seed_everything(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    if os.environ.get("PERTURB"):
        with torch.no_grad():
            model[2].weight.mul_(1 + 1e-3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(3, 4, 8), torch.randint(0, 2, (3, 4))
    with reprocheck.record(out, model=model, optimizer=opt, name="mine") as rec:
        for step in range(3):
            loss = torch.nn.functional.cross_entropy(model(x[step]), y[step])
            loss.backward()
            opt.step()
            opt.zero_grad()
            rec.step(loss)


def test_loop(reprocheck_baseline, tmp_path):
    train(tmp_path / "run")
    reprocheck_baseline.check_run(tmp_path / "run")


def test_not_a_run(reprocheck_baseline, tmp_path):
    reprocheck_baseline.check_run(tmp_path / "nothing-here")
"""


def _train_once(out: Path) -> None:
    import torch

    import reprocheck

    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with reprocheck.record(out, model=model, optimizer=opt) as rec:
        loss = model(torch.ones(1, 2)).sum()
        loss.backward()
        opt.step()
        rec.step(loss)


@pytest.fixture(scope="module", autouse=True)
def _warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Import what a check imports outside any inner run (see test_pytest_plugin.py)."""
    from reprocheck.workflows.run_baseline import check_run

    where = tmp_path_factory.mktemp("warm")
    _train_once(where / "run")
    for _ in range(2):  # record, then compare
        check_run(where / "baseline", where / "run")


def test_check_run_records_passes_and_catches_a_planted_change(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_model=TESTS)
    first = pytester.runpytest("-k", "test_loop")
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines(
        ["*baseline recorded at *reprocheck_baselines/test_model/test_loop/mine; re-run*"]
    )
    assert (pytester.path / "reprocheck_baselines/test_model/test_loop/mine/run.json").is_file()

    pytester.runpytest("-k", "test_loop").assert_outcomes(passed=1)

    monkeypatch.setenv("PERTURB", "1")
    drifted = pytester.runpytest("-k", "test_loop")
    drifted.assert_outcomes(failed=1)
    drifted.stdout.fnmatch_lines(
        ["*scenario 'mine' drifted from its baseline*", "first divergence: step 0, init, 2.weight*"]
    )
    assert "Traceback" not in drifted.stdout.str()

    updated = pytester.runpytest("-k", "test_loop", "--reprocheck-update")
    updated.assert_outcomes(passed=1)
    updated.stdout.fnmatch_lines(["*reprocheck baselines written*"])
    pytester.runpytest("-k", "test_loop").assert_outcomes(passed=1)  # the new baseline holds
    monkeypatch.delenv("PERTURB")
    pytester.runpytest("-k", "test_loop").assert_outcomes(failed=1)  # and the old code drifts


def test_check_run_on_a_missing_run_fails_with_a_hint(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_model=TESTS)
    result = pytester.runpytest("-k", "test_not_a_run")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*reprocheck could not check: *nothing-here*", "Hint: *"])
    assert "Traceback" not in result.stdout.str()
    assert not (pytester.path / "reprocheck_baselines").exists()
