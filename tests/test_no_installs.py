"""Running the tests never installs anything: no test file calls a package manager.

System packages (Chromium for the report's browser test) are installed beforehand, by the
developer or by ``.ci/run``, never from inside pytest. This test reads every file under
``tests/`` (and ``examples/*/tests/``) and fails naming the file and the line of each call
of the system package tools (apt, apt-get, dpkg) or of an install by pip (plain pip, pip
run as ``python -m``, or uv's pip interface).

What counts as a call, in Python files (read with :mod:`ast`, so a call split over lines
is seen whole, and a hint that names a command mid-sentence is not taken for one):

* an argument vector, a list or tuple display or the positional arguments of a
  ``subprocess``/``os.exec*``/``os.spawn*``/``os.system`` style call, whose string items
  include one of those tools, or ``pip`` followed later by ``install``;
* a string that holds a shell command line starting with one of them (at its start,
  after a newline, or after ``&&``, ``||``, ``;``, ``|`` or ``$(``); a string that is
  just the name of a system package tool counts too, since it can only be there to be
  run (or looked for, which a test has no reason to do either).

Other files (shell scripts, TOML, text) are read line by line for the shell form.

Product code that builds environments (the nox matrix, ``uv pip sync``) is what some tests
test, and it lives in ``reprocheck/``, not here. ``pip-compile`` is not an install.

This file is scanned like any other. Its own patterns are written so that they do not
match themselves: the tool names only ever appear inside regular expressions, spelt with
character classes (``a[p]t``), never as a bare string item or at a command position.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: A system package tool, as an argv item (a path to it counts too).
_SYSTEM_TOOL = re.compile(r"(?:.*/)?(?:a[p]t(?:-get)?|d[p]kg)\Z")
#: pip itself as an argv item (``pip``, ``pip3``, ``pip3.11``, a path to one).
_PIP = re.compile(r"(?:.*/)?p[i]p[0-9.]*\Z")
_INSTALL = re.compile(r"i[n]stall\Z")
#: A shell command line that runs one of the tools.
_SHELL = re.compile(
    r"(?:^|&&|\|\||;|\||\$\()\s*(?:s[u]do\s+(?:-\S+\s+)*)?(?:\S+=\S*\s+)*"
    r"(?:(?:\S*/)?(?:a[p]t(?:-get)?|d[p]kg)\b"
    r"|(?:\S*python[0-9.]*\s+-m\s+|\S*uv\s+)?(?:\S*/)?p[i]p[0-9.]*\s+(?:\S+\s+)*?i[n]stall\b)",
    re.MULTILINE,
)
#: Calls whose positional arguments are an argument vector or a command line.
_RUNNER = re.compile(
    r"(?:run|Popen|call|check_call|check_output|getoutput|getstatusoutput|system|popen"
    r"|exec[lv]p?e?|spawn[lv]p?e?|create_subprocess_exec|create_subprocess_shell)\Z"
)
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def _files() -> Iterator[Path]:
    roots = [ROOT / "tests", *sorted((ROOT / "examples").glob("*/tests"))]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not _SKIP_DIRS.intersection(path.relative_to(root).parts):
                yield path


def _argv_findings(items: list[ast.expr]) -> Iterator[tuple[int, str]]:
    strings = [(i, i.value) for i in items if isinstance(i, ast.Constant)]
    strings = [(node, value) for node, value in strings if isinstance(value, str)]
    pip_at = None
    for node, value in strings:
        if _SYSTEM_TOOL.match(value):
            yield node.lineno, f"runs {value!r}"
        elif _PIP.match(value):
            pip_at = node
        elif pip_at is not None and _INSTALL.match(value):
            yield pip_at.lineno, "runs pip's install"


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _shell_command(text: str, match: re.Match[str]) -> str:
    """The matched command, to the end of its line."""
    end = text.find("\n", match.end())
    command = text[match.start() : len(text) if end < 0 else end]
    return f"shell command {command.lstrip(' ;|&$(').strip()!r}"


def findings_in_python(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for each installer call in Python ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.List, ast.Tuple)):
            found += _argv_findings(node.elts)
        elif isinstance(node, ast.Call) and _RUNNER.match(_callee(node)):
            found += _argv_findings(node.args)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in _SHELL.finditer(node.value):
                line = node.lineno + node.value.count("\n", 0, match.start())
                found.append((line, _shell_command(node.value, match)))
    return sorted(dict(reversed(found)).items())  # one finding a line, the first


def findings_in_text(text: str) -> list[tuple[int, str]]:
    """``(line, what)`` for each shell command line in ``text`` that runs an installer."""
    return [
        (text.count("\n", 0, match.start()) + 1, _shell_command(text, match))
        for match in _SHELL.finditer(text)
    ]


def test_no_test_file_runs_an_installer() -> None:
    """Every file under tests/ (and examples/*/tests/) is free of installer calls."""
    problems = []
    scanned = 0
    for path in _files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary data (stored tensors, images)
        scanned += 1
        found = findings_in_python(text) if path.suffix == ".py" else findings_in_text(text)
        name = path.relative_to(ROOT)
        problems += [f"{name}:{line}: {what}" for line, what in found]
    assert scanned > 10, "the scanner found almost no files: is ROOT right?"
    assert problems == [], (
        "tests must not install anything (install system packages beforehand, "
        "see .ci/run):\n" + "\n".join(problems)
    )


def _tool(*parts: str) -> str:
    """A tool's name, joined at run time so that this file does not contain it."""
    return "".join(parts)


APT_GET = _tool("ap", "t-get")
DPKG = _tool("dp", "kg")
PIP = _tool("pi", "p")


def test_the_scanner_finds_each_kind_of_installer_call() -> None:
    """The scanner is not vacuous: each form of an install it promises to find is found."""
    bad_python = {
        f'subprocess.run(["{APT_GET}", "update", "-qq"])': 1,
        f'subprocess.run(["sudo", "{DPKG}", "-i", "x.deb"])': 1,
        f'subprocess.run([sys.executable, "-m",\n    "{PIP}", "install", "x"])': 2,
        f'argv = [str(find_uv_bin()), "{PIP}", "install", "--python", python]': 1,
        f'os.execvp("{APT_GET}", ["x"])': 1,
        f'subprocess.run("cd /tmp && {APT_GET} install -y chromium", shell=True)': 1,
        f'os.system("DEBIAN_FRONTEND=noninteractive {APT_GET} install -y x")': 1,
        f'subprocess.run("python3 -m {PIP} install --target site x", shell=True)': 1,
        f'subprocess.run("uv {PIP} install -q x", shell=True)': 1,
    }
    for source, line in bad_python.items():
        found = findings_in_python(source)
        assert [found_line for found_line, _ in found] == [line], (source, found)
    assert findings_in_text(f"#!/bin/sh\nset -e\nsudo {APT_GET} install -y chromium\n") == [
        (3, f"shell command 'sudo {APT_GET} install -y chromium'")
    ]


def test_the_scanner_ignores_what_is_not_an_installer_call() -> None:
    """Hints in prose, pip-compile, pip config and ``uv pip sync`` are not flagged."""
    fine_python = [
        f'"""Without it, install it (Debian/Ubuntu: ``{APT_GET} install chromium``)."""',
        f'HINT = "install it first (Debian/Ubuntu: `sudo {APT_GET} install chromium`)"',
        'subprocess.run(["pip-compile", "--generate-hashes", "in.txt"])',
        f'subprocess.run([sys.executable, "-m", "{PIP}", "config", "get", "global.index-url"])',
        f'subprocess.run(["uv", "{PIP}", "sync", "lock.txt"])',
        'subprocess.run(["python", "-m", "reprocheck", "run", "mlp"])',
        "which = shutil.which('chromium')",
    ]
    for source in fine_python:
        assert findings_in_python(source) == [], source
