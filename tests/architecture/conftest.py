"""The package's source, parsed once, for the architecture tests (read, never imported)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "reprocheck"


@dataclass(frozen=True)
class Module:
    """One module of reprocheck: its dotted name, its path from the repository root, its AST."""

    name: str
    rel: str
    is_package: bool
    lines: int
    tree: ast.Module


def _load() -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        source = path.read_text(encoding="utf-8")
        name = ".".join(parts)
        modules[name] = Module(
            name=name,
            rel=path.relative_to(PACKAGE_DIR.parent).as_posix(),
            is_package=is_package,
            lines=len(source.splitlines()),
            tree=ast.parse(source, filename=str(path)),
        )
    return modules


@pytest.fixture(scope="session")
def modules() -> dict[str, Module]:
    """Every module of the reprocheck package by dotted name."""
    return _load()


@pytest.fixture(scope="session")
def parse_module() -> Callable[[str], Module]:
    """Source text -> a Module named ``m`` (for the tests that show a check can fail)."""

    def parse(source: str) -> Module:
        return Module("m", "reprocheck/m.py", False, len(source.splitlines()), ast.parse(source))

    return parse
