"""Sessions for developing reprocheck (tests, lint) and for its pinned environments.

``nox -s replay compare`` (or ``python -m reprocheck.nox``, which also exits 3 when an
environment cannot be built) builds one environment per lockfile in ``lockfiles/``,
replays the scenarios in each and prints the matrix against ``torch-2.13.0``. The host
needs only nox (and uv): reprocheck is imported from this checkout, never installed here,
because installing it would pull the newest multi-GB torch into the host.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

# reprocheck.nox and reprocheck.pinned.pipconfig import neither torch nor any other dependency.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import reprocheck.nox
from reprocheck.pinned.pipconfig import pip_install_options

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint"]

# torch is pinned for the test environment: an unpinned torch would pull the newest CUDA build.
TEST_TORCH = "torch==2.13.0"

reprocheck.nox.matrix(lockfiles="lockfiles", runs="runs", baseline="torch-2.13.0")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (unit, CLI and integration) against the installed package."""
    session.install(TEST_TORCH, *pip_install_options())
    session.install("-e", ".[test]", *pip_install_options())
    session.run("pytest", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site with MkDocs in strict mode (any warning fails) into site/.

    The CLI reference (docs/cli.md) is regenerated from the click commands first. Only
    MkDocs and click are installed: the generator imports reprocheck's torch-free CLI
    modules from this checkout.
    """
    session.install("mkdocs>=1.6,<2", "click>=8.1", *pip_install_options())
    root = Path(__file__).resolve().parent
    session.run("python", "scripts/gen_cli_docs.py", env={"PYTHONPATH": str(root)})
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy (strict) over the package."""
    session.install(TEST_TORCH, *pip_install_options())
    session.install("-e", ".[lint]", *pip_install_options())
    session.run("ruff", "check", ".")
    session.run("mypy")
