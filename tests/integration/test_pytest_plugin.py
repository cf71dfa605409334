"""The pytest plugin for real: a user's test project run by pytest through ``pytester``.

The project has its own scenario (``mymodel:build``, whose last layer's weight is scaled by
``1 + 1e-3`` when ``PERTURB`` is set) and a test computing a tensor (one element moved by
``1e-3`` when ``PERTURB`` is set). The inner pytest runs in this process (a subprocess per
run would cost seconds of torch import each), except where the test is about what pytest
imports at startup.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

SCENARIO = """
import os

import torch
import reprocheck


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    if os.environ.get("PERTURB"):
        with torch.no_grad():
            model[2].weight.mul_(1 + 1e-3)
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    y = torch.randint(0, 2, (ctx.steps, 4), generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=lambda step: (x[step], y[step]),
        loss=lambda model, batch: torch.nn.functional.cross_entropy(model(batch[0]), batch[1]),
    )
"""

TESTS = """
import os

import torch


def test_scenario(reprocheck_baseline):
    reprocheck_baseline.check_scenario("mymodel:build", steps=2)


def test_tensors(reprocheck_baseline):
    out = torch.linspace(-1, 1, 12).reshape(3, 4)
    if os.environ.get("PERTURB"):
        out[1, 2] += 1e-3
    reprocheck_baseline.check_tensors({"out": out, "index": torch.arange(3)})
"""


@pytest.fixture(scope="module", autouse=True)
def _warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Run each kind of check once before any inner pytest.

    pytester removes every module an inner run imported when the run ends; a torch
    extension module imported for the first time inside a run and then removed crashes
    the interpreter when it is imported again. Checks done here first import all of them
    outside any inner run, so they stay.
    """
    import torch

    from reprocheck.replay.options import ReplayOptions
    from reprocheck.workflows import baseline

    where = tmp_path_factory.mktemp("warm")
    for _ in range(2):  # record, then compare
        baseline.check_scenario(where / "run", "mlp", ReplayOptions(steps=1))
        baseline.check_tensors(where / "set", {"t": torch.ones(2)})


PYPROJECT = """
[tool.pytest.ini_options]
filterwarnings = ["error"]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """The user's project, with its baselines recorded (the first run fails, as designed)."""
    pytester.makepyfile(mymodel=SCENARIO, test_model=TESTS)
    pytester.makefile(".toml", pyproject=PYPROJECT)
    first = pytester.runpytest()
    first.assert_outcomes(failed=2)
    return pytester


def test_missing_baseline_is_recorded_and_the_test_fails_once(pytester: pytest.Pytester) -> None:
    """No baseline yet: it is written beside the test and the test fails asking for a re-run."""
    pytester.makepyfile(mymodel=SCENARIO, test_model=TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*baseline recorded at *reprocheck_baselines/test_model/test_scenario/mymodel_build;"
            " re-run the test*",
            "*reprocheck baselines written*",
        ]
    )
    scenario = pytester.path / "reprocheck_baselines" / "test_model" / "test_scenario"
    assert (scenario / "mymodel_build" / "run.json").is_file()
    tensors = pytester.path / "reprocheck_baselines" / "test_model" / "test_tensors" / "tensors"
    assert sorted(p.name for p in tensors.iterdir()) == ["tensors.json", "tensors.safetensors"]


def test_project_passes_against_its_baseline(project: pytest.Pytester) -> None:
    """Unchanged code against the recorded baselines: both checks pass."""
    project.runpytest().assert_outcomes(passed=2)


def test_planted_perturbation_fails_with_the_first_divergence(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A weight scaled by 1+1e-3 and a tensor element moved: both fail, naming where."""
    monkeypatch.setenv("PERTURB", "1")
    result = project.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*scenario 'mymodel:build' drifted from its baseline*",
            "first divergence: step 0, init, 2.weight*",
            "*worst param/*: exceeds_tolerance, max abs * ULP max *",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*tensors 'tensors' differ from their baseline*1 tensor(s) beyond tolerance",
            "first divergence: tensors/out: exceeds_tolerance, 1 of 12 elements beyond "
            "tolerance, max abs 0.001 at [[]1, 2[]], * ULP max *",
        ]
    )
    assert "--reprocheck-update" in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_update_rerecords_then_the_changed_code_passes(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--reprocheck-update re-records the failing baselines and passes; later runs pass."""
    monkeypatch.setenv("PERTURB", "1")
    updated = project.runpytest("--reprocheck-update")
    updated.assert_outcomes(passed=2)
    updated.stdout.fnmatch_lines(["*reprocheck baselines written*", "*mymodel_build"])
    project.runpytest().assert_outcomes(passed=2)
    monkeypatch.delenv("PERTURB")
    project.runpytest().assert_outcomes(failed=2)


def test_update_leaves_passing_baselines_untouched(project: pytest.Pytester) -> None:
    """Nothing drifted: --reprocheck-update rewrites no file (no churn under git)."""
    manifest = next((project.path / "reprocheck_baselines").rglob("run.json"))
    before = manifest.read_bytes()
    result = project.runpytest("--reprocheck-update")
    result.assert_outcomes(passed=2)
    assert "reprocheck baselines written" not in result.stdout.str()
    assert manifest.read_bytes() == before


def test_pyproject_tolerance_is_honoured(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A [tool.reprocheck] rule loose enough for the moved element makes the check pass."""
    project.makefile(
        ".toml",
        pyproject=PYPROJECT
        + '[[tool.reprocheck.tensor]]\nmatch = "tensors/out"\nrtol = 1e-2\natol = 1e-2\n',
    )
    monkeypatch.setenv("PERTURB", "1")
    result = project.runpytest("-k", "test_tensors")
    result.assert_outcomes(passed=1, deselected=1)


def test_settings_other_than_the_baseline_fail_with_a_hint(project: pytest.Pytester) -> None:
    """Asking for other steps than the baseline was recorded with fails and says so."""
    project.makepyfile(
        test_model=TESTS.replace('"mymodel:build", steps=2', '"mymodel:build", steps=3')
    )
    result = project.runpytest("-k", "test_scenario")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*recorded with other settings (steps 2 -> 3)*"])


def test_bad_input_fails_the_test_without_a_traceback(pytester: pytest.Pytester) -> None:
    """A value that is not a tensor: one line naming it and a hint, not a traceback."""
    pytester.makepyfile(
        "def test_list(reprocheck_baseline):\n"
        "    reprocheck_baseline.check_tensors({'x': [1.0, 2.0]})\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*reprocheck could not check: 'x' is list, not a torch.Tensor", "Hint: Convert it*"]
    )
    assert not (pytester.path / "reprocheck_baselines").exists()


def test_pytest_startup_does_not_import_torch(pytester: pytest.Pytester) -> None:
    """With the plugin installed, a project that does not use it never imports torch."""
    pytester.makepyfile(
        "import sys\n\n"
        "HEAVY = ('torch', 'numpy', 'safetensors', 'deepdiff')\n\n"
        "def test_light():\n"
        "    assert [m for m in HEAVY if m in sys.modules] == []\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["plugins:*reprocheck*"])
