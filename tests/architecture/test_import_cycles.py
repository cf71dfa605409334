"""No import cycle between reprocheck's modules, lazy (function-level) imports included.

Every ``import`` and ``from ... import`` anywhere in a file is an edge, also those inside
functions and under ``if TYPE_CHECKING:``: a lazy import only hides a cycle until the
function runs. ``from reprocheck.x import y`` is an edge to ``reprocheck.x.y`` when ``y`` is
a submodule, else to ``reprocheck.x`` (whose ``__init__`` re-exports count as its edges).
"""

from __future__ import annotations

import ast
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Module

Graph = dict[str, dict[str, int]]  # module -> imported module -> first line of the import


def _known(name: str, modules: dict[str, Module]) -> str | None:
    """The longest prefix of the dotted ``name`` that is a reprocheck module."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _from_base(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def _targets(module: Module, node: ast.AST, modules: dict[str, Module]) -> list[str | None]:
    if isinstance(node, ast.Import):
        return [_known(alias.name, modules) for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = _from_base(module, node)
        return [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else _known(base, modules)
            for alias in node.names
        ]
    return []


def import_graph(modules: dict[str, Module]) -> Graph:
    """Every module's imports of other reprocheck modules, with the line of the first one."""
    graph: Graph = {name: {} for name in modules}
    for module in modules.values():
        for node in ast.walk(module.tree):
            for target in _targets(module, node, modules):
                if target is not None and target != module.name:
                    graph[module.name].setdefault(target, node.lineno)
    return graph


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def a_cycle(graph: Graph, component: list[str]) -> str:
    """One cycle through the component's first module, as ``a (l.3) -> b (l.9) -> a``."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in graph[node]:
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                path.reverse()
                pairs = zip(path, [*path[1:], start], strict=True)
                hops = [f"{a} (l.{graph[a][b]})" for a, b in pairs]
                return " -> ".join([*hops, start])
            if succ in members and succ not in came_from and succ != start:
                came_from[succ] = node
                queue.append(succ)
    raise AssertionError(f"no cycle found in {component}")  # pragma: no cover


def test_no_import_cycle_between_modules(modules: dict[str, Module]) -> None:
    """The module graph is acyclic: each strongly connected component is a single module."""
    graph = import_graph(modules)
    cycles = [a_cycle(graph, component) for component in strongly_connected(graph)]
    assert not cycles, "import cycles (lazy imports count):\n" + "\n".join(cycles)


def test_the_cycle_finder_names_a_planted_cycle() -> None:
    """The check can fail: a three-module loop is found and named with its lines."""
    graph: Graph = {"a": {"b": 3}, "b": {"c": 5}, "c": {"a": 7}, "d": {"a": 1}}
    (component,) = strongly_connected(graph)
    assert component == ["a", "b", "c"]
    assert a_cycle(graph, component) == "a (l.3) -> b (l.5) -> c (l.7) -> a"
