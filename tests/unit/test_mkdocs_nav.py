"""The docs site's navigation is built from docs/index.md (scripts/mkdocs_nav.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mkdocs_nav", ROOT / "scripts" / "mkdocs_nav.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


INDEX = """\
# Docs

Intro with a [link](ignored.md) outside any section.

## Tutorial
- [Getting started](getting-started.md): in five minutes.

## How-to guides
- [Gate in CI](how-to/ci-gate.md)
- [Tolerances](tolerances.md#presets)
- [Own model](scenarios.md) (see also [the example](elsewhere.md))

## Choices made
- Exit codes follow the house style.
"""


def test_sections_and_links_become_the_nav_in_order() -> None:
    """Each ## section with page links is a nav section, its first link per item a page."""
    nav = _hook().nav_from_index(INDEX)
    assert nav == [
        {"Home": "index.md"},
        {"Tutorial": [{"Getting started": "getting-started.md"}]},
        {"How-to guides": [{"Gate in CI": "how-to/ci-gate.md"}, {"Own model": "scenarios.md"}]},
    ]


def test_every_page_in_the_real_nav_exists() -> None:
    """docs/index.md links only pages that exist (mkdocs --strict would fail otherwise)."""
    nav = _hook().nav_from_index((ROOT / "docs" / "index.md").read_text(encoding="utf-8"))
    pages = [
        page
        for section in nav[1:]
        for items in section.values()
        for item in items
        for page in item.values()
    ]
    assert pages
    assert [p for p in pages if not (ROOT / "docs" / p).is_file()] == []
