"""The pytest plugin's helpers: scenario names, baseline directory names, the project root.

The plugin end to end (pytester) is in tests/integration/test_pytest_plugin.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reprocheck.integrations import pytest_plugin


def build(ctx: object) -> object:
    """A module-level build function (never called here)."""
    return ctx


def test_build_function_is_named_module_colon_function() -> None:
    """check_scenario(mymodel.build) replays "mymodel:build"."""
    assert pytest_plugin._scenario_name(build) == f"{__name__}:build"
    assert pytest_plugin._scenario_name("mlp") == "mlp"


def test_lambda_is_refused_with_what_to_pass_instead() -> None:
    """A lambda cannot be imported by name: TypeError saying what is accepted."""
    with pytest.raises(TypeError, match="module-level build function"):
        pytest_plugin._scenario_name(lambda ctx: ctx)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("mymodel:build", "mymodel_build"),
        ("TestModel.test_x[cpu-2]", "TestModel.test_x[cpu-2]"),
        ("../../etc", "etc"),
        ("..", "_"),
    ],
)
def test_directory_names_stay_inside_the_baseline_directory(name: str, safe: str) -> None:
    """Scenario and test names become one plain directory name, never a path out."""
    assert pytest_plugin._safe(name) == safe


def test_project_dir_is_the_nearest_pyproject_above(tmp_path: Path) -> None:
    """Tolerances come from the closest pyproject.toml above the test file."""
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    tests = tmp_path / "pkg" / "tests"
    tests.mkdir(parents=True)
    assert pytest_plugin._project_dir(tests) == tmp_path
    (tmp_path / "pkg" / "pyproject.toml").write_text("", encoding="utf-8")
    assert pytest_plugin._project_dir(tests) == tmp_path / "pkg"
