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
    session.install("mkdocs>=1.6,<2", "click>=8.2", *pip_install_options())
    root = Path(__file__).resolve().parent
    session.run("python", "scripts/gen_cli_docs.py", env={"PYTHONPATH": str(root)})
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, mypy (strict) and the layer contracts (lint-imports) over the package."""
    session.install(TEST_TORCH, *pip_install_options())
    session.install("-e", ".[lint]", *pip_install_options())
    session.run("ruff", "check", ".")
    session.run("mypy")
    session.run("lint-imports")


# The dependencies whose declared floors (pyproject's ``>=``) minimum_versions installs exactly.
FLOORED = ("click", "deepdiff", "nox", "pip-tools", "safetensors")


def _declared_floors() -> list[str]:
    """``name==floor`` for each of FLOORED, read from pyproject.toml so it cannot drift."""
    from packaging.requirements import Requirement

    floors: dict[str, str] = {}
    for line in nox.project.load_toml("pyproject.toml")["project"]["dependencies"]:
        requirement = Requirement(line)
        lowest = [s.version for s in requirement.specifier if s.operator == ">="]
        if requirement.name in FLOORED and lowest:
            floors[requirement.name] = lowest[0]
    missing = sorted(set(FLOORED) - set(floors))
    if missing:
        raise ValueError(f"pyproject.toml declares no '>=' floor for {', '.join(missing)}")
    return [f"{name}=={floors[name]}" for name in FLOORED]


@nox.session(default=False)
def minimum_versions(session: nox.Session) -> None:
    """The fast tests against the declared floors of click, deepdiff, safetensors, nox, pip-tools.

    Those five are installed at exactly the ``>=`` versions in pyproject.toml (kept there by
    a constraints file while the project and its test extra install), so a floor that is too
    low fails here. ``nox --list`` then loads this noxfile with that nox, which registers the
    matrix sessions through reprocheck.nox. Posargs replace ``-m "not integration"``.
    """
    from reprocheck.pinned.pipconfig import uv_install_options

    pins = _declared_floors()
    constraints = Path(session.create_tmp()) / "floors.txt"
    constraints.write_text("".join(f"{pin}\n" for pin in pins), encoding="utf-8")
    # Old releases may be only on a later index than the newest ones: uv must look at all.
    options = uv_install_options() if session.venv_backend == "uv" else pip_install_options()
    session.install(TEST_TORCH, *options)
    session.install("-c", str(constraints), *pins, *options)
    session.install("-c", str(constraints), "-e", ".[test]", *options)
    names = [pin.split("==")[0] for pin in pins]
    session.run(
        "python",
        "-c",
        "import sys; from importlib.metadata import version; "
        "print('installed:', ', '.join(f'{n} {version(n)}' for n in sys.argv[1:]))",
        *names,
    )
    session.run("nox", "--list", "--noxfile", "noxfile.py", silent=True)
    session.run("pytest", *(session.posargs or ["-m", "not integration"]))
