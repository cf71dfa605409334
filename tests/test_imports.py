"""The command line and the package import without torch (``--help`` must stay fast)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
{code}
heavy = sorted(m for m in ("torch", "numpy", "safetensors", "deepdiff") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


def _loaded_after(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code)], capture_output=True, text=True, check=True
    )
    marker = [line for line in out.stdout.splitlines() if line.startswith("HEAVY=")]
    return marker[-1].removeprefix("HEAVY=")


def test_help_does_not_import_torch() -> None:
    """`reprocheck --help` runs without importing torch or any heavy dependency."""
    code = (
        "from reprocheck.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert _loaded_after(code) == ""


@pytest.mark.parametrize(
    "command", ["fingerprint", "run", "determinism", "compare", "check", "lock"]
)
def test_subcommand_help_does_not_import_torch(command: str) -> None:
    """Every subcommand's --help is torch-free too."""
    code = (
        "from reprocheck.cli import main\n"
        f"try:\n    main([{command!r}, '--help'])\nexcept SystemExit:\n    pass"
    )
    assert _loaded_after(code) == ""


def test_import_reprocheck_does_not_import_torch() -> None:
    """`import reprocheck` stays light; torch loads on first use of the API."""
    assert _loaded_after("import reprocheck") == ""


def test_every_public_name_resolves() -> None:
    """Every name in reprocheck.__all__ is importable through the lazy loader."""
    import reprocheck

    for name in reprocheck.__all__:
        assert getattr(reprocheck, name) is not None, name


def test_unknown_attribute_raises_attribute_error() -> None:
    """A misspelt API name fails like any module attribute would."""
    import reprocheck

    with pytest.raises(AttributeError, match="no attribute 'comapre'"):
        _ = reprocheck.comapre  # type: ignore[attr-defined]
