"""Regenerate docs/cli.md from the click commands' --help (the CLI reference).

Run ``python scripts/gen_cli_docs.py``; ``--check`` exits 1 when docs/cli.md is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reprocheck.cli import _COMMANDS, cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _help(command: click.Command, name: str, parent: click.Context | None) -> str:
    ctx = click.Context(
        command,
        info_name=name,
        parent=parent,
        terminal_width=88,
        max_content_width=88,
        help_option_names=["-h", "--help"],
    )
    return command.get_help(ctx)


def render() -> str:
    root = click.Context(
        cli,
        info_name="reprocheck",
        terminal_width=88,
        max_content_width=88,
        help_option_names=["-h", "--help"],
    )
    parts = [
        "# Command-line reference",
        "",
        "Generated from `--help` by `scripts/gen_cli_docs.py`; do not edit by hand.",
        "",
        "## reprocheck",
        "",
        "```text",
        cli.get_help(root),
        "```",
    ]
    for name in sorted(_COMMANDS):
        command = cli.get_command(root, name)
        if command is None:  # pragma: no cover - a wiring bug
            raise SystemExit(f"command {name} is registered but cannot be loaded")
        parts += ["", f"## reprocheck {name}", "", "```text", _help(command, name, root), "```"]
    return "\n".join(parts) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print("docs/cli.md is stale: run python scripts/gen_cli_docs.py")
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
