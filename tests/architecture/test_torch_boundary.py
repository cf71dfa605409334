"""Only ``reprocheck/_compat`` touches private torch API or reads torch's version.

Everything that depends on how one torch release differs from another goes through one door
(``reprocheck._compat.torch``), so an upgrade that moves a private name is fixed in one place.
Read from the source (``ast``): ``import torch._x``, ``from torch._x import ...``,
``from torch import _x``, any ``torch...._x`` or ``torch.__version__`` attribute (dunders are
private too), and ``getattr(torch..., "_x")``, through any name torch is bound to.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Module

DOOR = "reprocheck/_compat/"


def _private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split(".")[1:])


def _torch_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> the torch module it is bound to (``import torch as t``, ``from torch
    import nn``)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "torch":
                    names[alias.asname or "torch"] = alias.name if alias.asname else "torch"
        elif (
            isinstance(node, ast.ImportFrom)
            and not node.level
            and (node.module or "").split(".")[0] == "torch"
        ):
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, names: dict[str, str]) -> str | None:
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in names:
        return ".".join([names[node.id], *reversed(attrs)])
    return None


def private_torch_uses(module: Module) -> list[tuple[int, str]]:
    """``(line, what)`` for each use of private torch API or of torch's version string."""
    names = _torch_names(module.tree)
    # Inner links of a chain (`torch._C` in `torch._C._x`): only the whole chain is reported.
    inner = {
        id(node.value)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
    }
    found: list[tuple[int, str]] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, f"import {a.name}")
                for a in node.names
                if a.name.split(".")[0] == "torch" and _private(a.name)
            ]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module.split(".")[0] == "torch":
                found += [
                    (node.lineno, f"from {node.module} import {a.name}")
                    for a in node.names
                    if _private(f"{node.module}.{a.name}")
                ]
        elif isinstance(node, ast.Attribute) and id(node) not in inner:
            dotted = _dotted(node, names)
            if dotted is not None and _private(dotted):
                found.append((node.lineno, dotted))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and node.args[1].value.startswith("_")
        ):
            owner = _dotted(node.args[0], names)
            if owner is not None:
                found.append((node.lineno, f"{node.func.id}({owner}, {node.args[1].value!r})"))
    return sorted(set(found))


def test_only_compat_touches_private_torch(modules: dict[str, Module]) -> None:
    """No module outside reprocheck/_compat uses torch._... or torch.__version__."""
    offences = [
        f"{module.rel}:{line}: {what}"
        for module in modules.values()
        if not module.rel.startswith(DOOR)
        for line, what in private_torch_uses(module)
    ]
    assert not offences, (
        "private torch API or torch's version outside reprocheck/_compat (add a function to "
        "reprocheck/_compat/torch.py):\n" + "\n".join(offences)
    )


def test_the_scan_finds_private_torch_through_aliases(
    parse_module: Callable[[str], Module],
) -> None:
    """The check can fail: aliases, from-imports, dunders and getattr are all seen."""
    source = (
        "import torch as t\n"
        "from torch import nn\n"
        "from torch._C import _x\n"
        "v = t.__version__\n"
        "n = nn.modules._private\n"
        "g = getattr(t.backends, '_flag')\n"
        "ok = t.nn.Linear, t.version.cuda\n"
    )
    module = parse_module(source)
    assert private_torch_uses(module) == [
        (3, "from torch._C import _x"),
        (4, "torch.__version__"),
        (5, "torch.nn.modules._private"),
        (6, "getattr(torch.backends, '_flag')"),
    ]
