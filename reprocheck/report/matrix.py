"""The environment matrix for people: the scenario x environment table and the verdict block.

``render_table`` is a row per scenario and a column per environment, a cell showing the
verdict (and kind) of that environment's comparison with the baseline; ``render_verdict``
is the ``matrix verdict: ...`` line and a line per environment, drawn from the
:class:`MatrixResult` alone (so a host without torch can print it from ``runs/matrix.json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprocheck.model.matrix import Matrix, MatrixCell, MatrixResult

if TYPE_CHECKING:
    from reprocheck.comparison.result import ComparisonResult

__all__ = ["render_markdown", "render_table", "render_text", "render_verdict"]


def _cell_text(cell: MatrixCell[ComparisonResult], scenario: str) -> str:
    if cell.state == "baseline":
        return "baseline"
    if cell.result is None:
        return cell.state
    try:
        s = cell.result.scenario(scenario)
    except KeyError:
        return "-"
    return s.verdict if s.kind is None else f"{s.verdict} ({s.kind})"


def _scenarios(matrix: Matrix[ComparisonResult]) -> list[str]:
    names: list[str] = []
    for cell in matrix.cells:
        if cell.result is not None:
            names += [s.name for s in cell.result.scenarios if s.name not in names]
    return names


def render_table(matrix: Matrix[ComparisonResult]) -> str:
    """The scenario x environment table alone (a row per scenario, a column per environment)."""
    envs = [c.env for c in matrix.cells]
    rows = [["scenario", *envs]]
    scenarios = _scenarios(matrix)
    rows += [[name, *(_cell_text(c, name) for c in matrix.cells)] for name in scenarios]
    if not scenarios:
        rows.append(["(none)", *(_cell_text(c, "") for c in matrix.cells)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


def render_verdict(result: MatrixResult) -> str:
    """The ``matrix verdict: ...`` line, then one indented line per environment."""
    width = max(len(env) for env, _ in result.lines)
    lines = [result.summary]
    lines += [f"  {env.ljust(width)}  {line}" for env, line in result.lines]
    return "\n".join(lines) + "\n"


def render_text(matrix: Matrix[ComparisonResult]) -> str:
    """The table, then the overall verdict and a line per environment."""
    return render_table(matrix) + "\n" + render_verdict(matrix.result())


def render_markdown(matrix: Matrix[ComparisonResult]) -> str:
    """The matrix as GitHub-flavoured markdown (for ``$GITHUB_STEP_SUMMARY``)."""
    envs = [c.env for c in matrix.cells]
    lines = [f"## reprocheck matrix (baseline `{matrix.baseline}`)", ""]
    lines.append("| scenario | " + " | ".join(f"`{e}`" for e in envs) + " |")
    lines.append("|---" * (len(envs) + 1) + "|")
    for name in _scenarios(matrix) or ["(none)"]:
        cells = [_cell_text(c, name) for c in matrix.cells]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- **{c.env}**: {c.line}" for c in matrix.cells]
    lines += ["", f"**{matrix.verdict_line}**"]
    return "\n".join(lines) + "\n"
