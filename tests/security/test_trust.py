"""Artifacts are data: reading one never runs code, and compare never imports a scenario.

* No module of the package can unpickle or evaluate: no pickle-family import, no
  ``torch.load``/``numpy.load``/``yaml.load``, no ``eval``/``exec``/``compile``/
  ``__import__`` (checked on the syntax tree, so comments and strings do not count).
* The modules compare runs through (the reader, the comparison) cannot import anything
  by name at all: no ``importlib``.
* A run whose scenario is named ``evil_mod:build``, compared in a directory holding an
  ``evil_mod.py`` that leaves a marker when imported: compare leaves no marker.
  ``check`` does import it: replaying the baseline's scenarios by name is its job, and
  docs/security.md says so.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from compare_support import fingerprint as make_fingerprint
from compare_support import make_run, write_fingerprint, write_run

from reprocheck.cli import cli

PACKAGE = Path(__file__).resolve().parents[2] / "reprocheck"
BANNED_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "joblib",
    "marshal",
    "shelve",
    "yaml",
}
BANNED_CALLS = {"eval", "exec", "compile", "__import__", "execfile"}
BANNED_ATTRIBUTE_CALLS = {
    ("torch", "load"),
    ("jit", "load"),
    ("np", "load"),
    ("numpy", "load"),
    ("yaml", "load"),
    ("yaml", "unsafe_load"),
}
# What `compare` imports to read and judge artifacts; none may import anything by name.
COMPARE_PATH = ["artifacts", "_schema.py", "model", "comparison"]


def _modules(*parts: str) -> list[Path]:
    found: list[Path] = []
    for part in parts or (".",):
        path = PACKAGE / part
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _calls(tree: ast.AST) -> list[str]:
    bad: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in BANNED_CALLS:
            bad.append(f"{func.id}() at line {node.lineno}")
        if isinstance(func, ast.Attribute) and isinstance(func.value, (ast.Name, ast.Attribute)):
            owner = func.value.id if isinstance(func.value, ast.Name) else func.value.attr
            if (owner, func.attr) in BANNED_ATTRIBUTE_CALLS:
                bad.append(f"{owner}.{func.attr}() at line {node.lineno}")
    return bad


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_can_unpickle_or_evaluate(path: Path) -> None:
    """No pickle-family import, no torch.load, no eval/exec of anything."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert not (_imports(tree) & BANNED_MODULES)
    assert _calls(tree) == []


def test_compare_path_cannot_import_by_name() -> None:
    """The reader and the comparison hold no importlib: they cannot load a named module."""
    for path in _modules(*COMPARE_PATH):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert "importlib" not in _imports(tree), path


def test_ast_checks_catch_what_they_look_for() -> None:
    """The checks above are not vacuous: they flag each banned form."""
    tree = ast.parse("import pickle\nimport torch\ntorch.load('x')\neval('1')\nexec('x=1')\n")
    assert _imports(tree) & BANNED_MODULES == {"pickle"}
    assert len(_calls(tree)) == 3


EVIL = """\
from pathlib import Path
Path(__file__).with_name("IMPORTED").write_text("evil_mod was imported")

def build(ctx):
    from tiny import build as real
    return real(ctx)
"""


@pytest.fixture
def evil_workspace(tmp_path: Path) -> Path:
    """Two runs of scenario `evil_mod:build`, beside an evil_mod.py that marks its import."""
    records, tensors = make_run("evil_mod:build")
    write_run(tmp_path / "base", records, tensors)
    write_run(tmp_path / "cand", records, tensors)
    write_fingerprint(tmp_path / "fp.json", make_fingerprint())
    (tmp_path / "evil_mod.py").write_text(EVIL, encoding="utf-8")
    tiny = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "tiny.py"
    (tmp_path / "tiny.py").write_text(tiny.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


@pytest.mark.integration
def test_compare_never_imports_a_scenario_named_in_an_artifact(evil_workspace: Path) -> None:
    """compare (every format, and the fingerprint form) leaves no import marker behind."""
    for args in (["base", "cand"], ["base", "cand", "--format", "json"], ["fp.json", "fp.json"]):
        done = subprocess.run(
            [sys.executable, "-m", "reprocheck", "compare", *args],
            cwd=evil_workspace,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "evil_mod:build" in done.stdout or args[0] == "fp.json"
    assert not (evil_workspace / "IMPORTED").exists()


def test_check_imports_the_baseline_scenario_on_purpose(
    evil_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """check replays the baseline's scenarios by name, so it imports them (the trust model)."""
    monkeypatch.chdir(evil_workspace)
    monkeypatch.syspath_prepend(str(evil_workspace))
    monkeypatch.delitem(sys.modules, "evil_mod", raising=False)
    monkeypatch.delitem(sys.modules, "tiny", raising=False)
    try:
        result = CliRunner().invoke(cli, ["check", "--baseline", "base"])
    finally:
        sys.modules.pop("evil_mod", None)
        sys.modules.pop("tiny", None)
    assert result.exit_code in (0, 1, 2), result.output
    assert (evil_workspace / "IMPORTED").exists()
