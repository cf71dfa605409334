"""The framework callbacks without their framework: the modules import, constructing a
callback says which extra to install. (That ``reprocheck.integrations.transformers``
does not shadow the real package: tests/integration/test_callbacks.py.)"""

from __future__ import annotations

import importlib
import sys

import pytest

from reprocheck.errors import InputError


@pytest.mark.parametrize(
    ("module", "framework", "extra"),
    [
        ("reprocheck.integrations.transformers", "transformers", "transformers"),
        ("reprocheck.integrations.lightning", "lightning", "lightning"),
    ],
)
def test_callback_without_its_framework_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, framework: str, extra: str
) -> None:
    for name in [m for m in sys.modules if m == framework or m.startswith(f"{framework}.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, framework, None)  # importing it now fails
    callbacks = importlib.import_module(module)
    with pytest.raises(InputError) as info:
        callbacks.ReprocheckCallback("runs/a")
    assert framework in str(info.value)
    assert f"reprocheck[{extra}]" in (info.value.hint or "")
