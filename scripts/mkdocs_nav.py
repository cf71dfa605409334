"""MkDocs hook: the site's navigation is docs/index.md's sections and links, in order.

docs/index.md is the one table of contents: each ``## Section`` with ``- [Title](page.md)``
items becomes a nav section, so adding a page there adds it to the site too. Sections
without page links (prose) are left out. Loaded by ``hooks:`` in mkdocs.yml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_SECTION = re.compile(r"^##\s+(?P<title>.+?)\s*$")
_ITEM = re.compile(r"^\s*[-*]\s+\[(?P<title>[^\]]+)\]\((?P<page>[^)#\s]+\.md)\)")


def nav_from_index(text: str) -> list[dict[str, Any]]:
    """The nav structure MkDocs expects, from the text of docs/index.md."""
    nav: list[dict[str, Any]] = [{"Home": "index.md"}]
    pages: list[dict[str, str]] = []
    for line in text.splitlines():
        section = _SECTION.match(line)
        if section:
            pages = []
            nav.append({section["title"]: pages})
            continue
        item = _ITEM.match(line)
        if item:
            pages.append({item["title"]: item["page"]})
    return [entry for entry in nav if any(entry.values())]


def on_config(config: Any) -> Any:
    """Replace the (empty) nav with docs/index.md's structure."""
    index = Path(config["docs_dir"]) / "index.md"
    config["nav"] = nav_from_index(index.read_text(encoding="utf-8"))
    return config
