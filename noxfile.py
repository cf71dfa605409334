"""Sessions for developing reprocheck (tests, lint) and for its pinned environments."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint"]

# torch is pinned for the test environment: an unpinned torch would pull the newest CUDA build.
TEST_TORCH = "torch==2.13.0"


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (unit, CLI and integration) against the installed package."""
    session.install(TEST_TORCH, *_find_links())
    session.install("-e", ".[test]", *_find_links())
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy (strict) over the package."""
    session.install(TEST_TORCH, *_find_links())
    session.install("-e", ".[lint]", *_find_links())
    session.run("ruff", "check", ".")
    session.run("mypy")


def _find_links() -> list[str]:
    """pip's configured find-links, passed on explicitly because uv does not read pip.conf."""
    from reprocheck.pipconfig import pip_install_options

    return pip_install_options()
