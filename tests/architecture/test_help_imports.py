"""No module that ``reprocheck --help`` imports has a module-level import of a heavy package.

tests/test_imports.py checks at run time that ``--help`` loads no heavy package. This test
names the line to fix: it asks a fresh interpreter which reprocheck modules ``reprocheck
--help`` and every subcommand's ``--help`` import (the subcommands listed by the CLI
itself, so a new command is covered), then reads each of those modules for an ``import`` of
torch, numpy, safetensors or deepdiff outside a function (``if TYPE_CHECKING:`` blocks do not
run and are skipped).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Module

HEAVY = frozenset({"torch", "numpy", "safetensors", "deepdiff"})

PROBE = """
import sys
import click
from reprocheck.cli import cli, main
def help(args):
    try:
        main(args)
    except SystemExit:
        pass
help(["--help"])
for name in cli.list_commands(click.Context(cli)):
    help([name, "--help"])
print("\\n".join(sorted(m for m in sys.modules if m.split(".")[0] == "reprocheck")))
"""


def modules_imported_by_help() -> list[str]:
    """The reprocheck modules loaded by ``--help`` of the group and of every subcommand."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines() if line.startswith("reprocheck")]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, package)`` of each import that runs when the module is imported."""
    found: list[tuple[int, str]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            found += module_level_imports(ast.Module(body=node.orelse, type_ignores=[]))
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        else:
            found += module_level_imports(node)
    return found


def test_help_reaches_no_module_level_heavy_import(modules: dict[str, Module]) -> None:
    """Every module --help imports keeps torch and friends inside functions."""
    loaded = modules_imported_by_help()
    assert "reprocheck.cli" in loaded
    offences = [
        f"{modules[name].rel}:{line}: import {package}"
        for name in loaded
        if name in modules
        for line, package in module_level_imports(modules[name].tree)
        if package in HEAVY
    ]
    assert not offences, (
        "modules that `reprocheck --help` imports import a heavy package at module level "
        "(import it inside the function that needs it):\n" + "\n".join(offences)
    )


def test_the_scan_skips_functions_and_type_checking() -> None:
    """The check can fail: module-level and class-level imports count, lazy ones do not."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "import torch.nn\n"
        "if TYPE_CHECKING:\n    import numpy\n"
        "try:\n    import deepdiff\nexcept ImportError:\n    pass\n"
        "class C:\n    import safetensors\n"
        "def f():\n    import torch\n"
    )
    assert [p for _, p in module_level_imports(ast.parse(source)) if p in HEAVY] == [
        "torch",
        "deepdiff",
        "safetensors",
    ]
