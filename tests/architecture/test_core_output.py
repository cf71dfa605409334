"""The core never prints: only the CLI and the integrations write to stdout or stderr.

The core reports through :func:`reprocheck._log.log`; the CLI installs the callback that
renders. Core is every module except ``reprocheck/cli/``, ``reprocheck/integrations/``,
``reprocheck/__main__.py`` and ``reprocheck/nox.py``. Read from the source (``ast``): a call
or any other use of ``print``, any use of ``sys.stdout``/``sys.stderr`` (writing, flushing,
passing them on) and ``from sys import stdout``.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Module

OUTSIDE_CORE = ("reprocheck/cli/", "reprocheck/integrations/")
OUTSIDE_CORE_FILES = ("reprocheck/__main__.py", "reprocheck/nox.py")
STREAMS = frozenset({"stdout", "stderr", "__stdout__", "__stderr__"})

# "path::function" -> why it may write. Empty: every entry point lives in cli/ or
# integrations/ (the rank processes' channel to their launcher is reprocheck.cli.rank).
ALLOWED: dict[str, str] = {}


def is_core(module: Module) -> bool:
    """Whether ``module`` belongs to the core (everything that must not print)."""
    return not (module.rel.startswith(OUTSIDE_CORE) or module.rel in OUTSIDE_CORE_FILES)


class _Writes(ast.NodeVisitor):
    """Collects ``(function, line, what)`` for every write to the terminal in one module."""

    def __init__(self) -> None:
        self.scope: list[str] = []
        self.sys_names: set[str] = set()
        self.found: list[tuple[str, int, str]] = []

    def _note(self, node: ast.expr | ast.stmt, what: str) -> None:
        self.found.append((".".join(self.scope) or "<module>", node.lineno, what))

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._scoped(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.sys_names.update(alias.asname or "sys" for alias in node.names if alias.name == "sys")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "sys" and any(alias.name in STREAMS for alias in node.names):
            self._note(node, "from sys import a stream")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "print" and isinstance(node.ctx, ast.Load):
            self._note(node, "print")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        value = node.value
        if isinstance(value, ast.Name) and value.id in self.sys_names and node.attr in STREAMS:
            self._note(node, f"sys.{node.attr}")
        self.generic_visit(node)


def terminal_writes(module: Module) -> list[tuple[str, int, str]]:
    """``(function, line, what)`` for each place ``module`` writes to stdout or stderr."""
    visitor = _Writes()
    # Imports first, so that `sys` is known wherever it is used.
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            visitor.visit_Import(node)
    visitor.visit(module.tree)
    return visitor.found


def test_the_core_does_not_print(modules: dict[str, Module]) -> None:
    """No core module calls print or writes to sys.stdout/sys.stderr (it logs instead)."""
    offences = [
        f"{module.rel}:{line} in {function}: {what}"
        for module in modules.values()
        if is_core(module)
        for function, line, what in terminal_writes(module)
        if f"{module.rel}::{function}" not in ALLOWED
    ]
    assert not offences, (
        "the core writes to the terminal; report through reprocheck._log.log instead:\n"
        + "\n".join(offences)
    )


def test_the_scan_finds_print_and_stream_writes(
    parse_module: Callable[[str], Module],
) -> None:
    """The check can fail: print, sys.stderr.write and a passed-on sys.stdout are all found."""
    source = (
        "import sys as _sys\n"
        "def f():\n    print('x')\n"
        "def g():\n    _sys.stderr.write('x')\n"
        "def h(run):\n    run(out=_sys.stdout)\n"
    )
    module = parse_module(source)
    assert terminal_writes(module) == [
        ("f", 3, "print"),
        ("g", 5, "sys.stderr"),
        ("h", 7, "sys.stdout"),
    ]
