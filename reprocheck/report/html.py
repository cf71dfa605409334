"""The report as one self-contained HTML page: no script, nothing fetched when it is opened.

Every string that comes from an artifact (scenario, operator, module and parameter names,
environment values, paths) is untrusted data and goes through :func:`html.escape`. A
Content-Security-Policy in the page forbids loading anything but the inline style and the
``data:`` images, so even a mistake here could not make the page reach the network.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from reprocheck._version import __version__
from reprocheck.comparison.result import EnvChange, ScenarioComparison
from reprocheck.comparison.summary import divergence_phrase
from reprocheck.report import plots
from reprocheck.report.html_model import CandidateReport, LossCurves, Report
from reprocheck.report.text import number_text

__all__ = ["render_html"]

#: Environment changes shown before the rest fold into a <details> element.
ENV_SHOWN = 15
#: Final tensors listed per scenario (worst first).
TENSORS_SHOWN = 10
_VALUE_CHARS = 100
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_LABELS = {"identical": "identical", "within_tolerance": "within tolerance", "drift": "drift"}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
  margin: 0 auto; max-width: 1340px; padding: 16px 24px 48px; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px; margin-top: 2em; }
h3 { margin-top: 1.6em; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.6em 0 1em; }
th, td { border: 1px solid #d0d0d0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.value { max-width: 520px; overflow-wrap: anywhere; }
.verdict { font-size: 1.1em; padding: 10px 14px; border-radius: 6px; margin: 0.6em 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600;
  font-size: 0.85em; }
.identical { background: #d8f3dc; color: #1b4332; }
.within_tolerance { background: #fff3bf; color: #6b4f00; }
.drift { background: #ffd6d6; color: #7a0010; }
.missing { background: #eee; color: #555; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; flex: 1 1 520px; max-width: 640px; }
figure img { width: 100%; height: auto; border: 1px solid #e4e4e4; background: #fff; }
figcaption { font-size: 0.88em; color: #444; }
table.heatmap td { text-align: center; min-width: 120px; }
table.heatmap td a { color: inherit; text-decoration: none; display: block; }
.muted { color: #666; }
footer { margin-top: 3em; font-size: 0.85em; color: #666; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _badge(verdict: str) -> str:
    return f'<span class="badge {_e(verdict)}">{_e(_LABELS.get(verdict, verdict))}</span>'


def _value(value: Any) -> str:
    """A fingerprint value as a table cell: shortened, the whole value in the tooltip."""
    if value is None:
        text = "(none)"
    elif isinstance(value, list):
        text = ", ".join(str(v) for v in value) or "(none)"
    elif isinstance(value, dict):
        text = ", ".join(f"{k}={v}" for k, v in value.items()) or "{}"
    else:
        text = str(value)
    if len(text) <= _VALUE_CHARS:
        return f'<td class="value mono">{_e(text)}</td>'
    return f'<td class="value mono" title="{_e(text)}">{_e(text[: _VALUE_CHARS - 1])}…</td>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table; ``rows`` hold ready HTML cells (``<td>...</td>``)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: Any, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f"<td{klass}>{_e(text)}</td>"


def _anchor(i: int, j: int | None = None) -> str:
    return f"candidate-{i}" if j is None else f"scenario-{i}-{j}"


# --- sections ----------------------------------------------------------------------------


def _verdict_section(report: Report) -> str:
    lines = [f"<li><b>{_e(c.label)}</b>: {_e(c.result.summary)}</li>" for c in report.candidates]
    return (
        '<section id="verdict">'
        f'<div class="verdict {_e(report.verdict)}"><b>Verdict: '
        f"{_e(_LABELS[report.verdict])}</b> "
        f"({len(report.candidates)} candidate(s) compared with the baseline)</div>"
        f"<ul>{''.join(lines)}</ul>"
        f'<p class="muted">Baseline <code>{_e(report.baseline)}</code>; candidates '
        + ", ".join(f"<code>{_e(c.path)}</code>" for c in report.candidates)
        + ".</p></section>"
    )


def _heatmap_section(report: Report) -> str:
    """Scenario x environment: one coloured cell per verdict, linking to the details."""
    rows = []
    for name in report.scenario_names:
        cells = [f"<th>{_e(name)}</th>"]
        for i, c in enumerate(report.candidates):
            found = [(j, s) for j, s in enumerate(c.result.scenarios) if s.name == name]
            if not found:
                cells.append('<td class="missing">-</td>')
                continue
            j, s = found[0]
            kind = f"<br><small>{_e(s.kind)}</small>" if s.kind else ""
            cells.append(
                f'<td class="{_e(s.verdict)}"><a href="#{_anchor(i, j)}">'
                f"{_e(_LABELS[s.verdict])}{kind}</a></td>"
            )
        rows.append(cells)
    overall = ["<th>all scenarios</th>"] + [
        f'<td class="{_e(c.result.verdict)}"><a href="#{_anchor(i)}">'
        f"<b>{_e(_LABELS[c.result.verdict])}</b></a></td>"
        for i, c in enumerate(report.candidates)
    ]
    head = "".join(f"<th>{_e(c.label)}</th>" for c in report.candidates)
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in [*rows, overall])
    return (
        '<section id="heatmap"><h2>Verdicts: scenario &times; environment</h2>'
        f'<table class="heatmap"><thead><tr><th>scenario</th>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
        '<p class="muted">Each column compares one candidate with the baseline. Green: '
        "bitwise identical; yellow: within tolerance; red: drift. A cell links to its "
        "details.</p></section>"
    )


def _env_rows(changes: Sequence[EnvChange], start: int) -> list[list[str]]:
    return [
        [
            _td(start + n),
            f'<td class="mono">{_e(c.path)}</td>',
            _td(c.category),
            _value(c.baseline),
            _value(c.candidate),
        ]
        for n, c in enumerate(changes)
    ]


def _env_section(c: CandidateReport, i: int) -> str:
    changes = c.result.environment
    title = f'<h3 id="environment-{i}">Environment changes</h3>'
    if not changes:
        return title + "<p>No environment change between the two fingerprints.</p>"
    headers = ["rank", "path", "category", "baseline", "candidate"]
    text = (
        title + f"<p>{len(changes)} change(s), the most likely to move numbers first.</p>"
        f"{_table(headers, _env_rows(changes[:ENV_SHOWN], 1), 'environment')}"
    )
    if len(changes) > ENV_SHOWN:
        rest = _table(headers, _env_rows(changes[ENV_SHOWN:], ENV_SHOWN + 1), "environment")
        text += f"<details><summary>{len(changes) - ENV_SHOWN} more</summary>{rest}</details>"
    return text


def _first_divergence(s: ScenarioComparison) -> str:
    fd = s.first_divergence
    if fd is None:
        return "<p>The runs do not part: every recorded number and traced output is equal.</p>"
    row = [
        _td(fd.step),
        _td(fd.phase),
        f'<td class="mono">{_e(fd.operator or "-")}</td>',
        f'<td class="mono">{_e(fd.location)}</td>',
        f'<td class="mono">{_e(fd.parameter or "-")}</td>',
        _td(fd.kind or "-"),
    ]
    headers = ["step", "phase", "operator", "module", "parameter", "kind"]
    detail = f"<p>{_e(fd.detail)}</p>" if fd.detail else ""
    if fd.evidence is not None:
        detail += f"<p>evidence: {_e(fd.evidence.text)}</p>"
    return (
        f"<h4>First divergence</h4><p>{_e(divergence_phrase(fd))}</p>"
        f"{_table(headers, [row], 'first-divergence')}{detail}"
    )


def _structural(s: ScenarioComparison) -> str:
    st = s.structural
    if not st.count:
        return ""
    examples = "".join(f"<li><code>{_e(e)}</code></li>" for e in st.examples)
    return (
        '<div class="structural"><h4>Structural differences</h4>'
        f"<p>{st.count} traced operator call(s) on one side only: {st.baseline_only} only in "
        f"the baseline (<code>-</code>), {st.candidate_only} only in the candidate "
        f"(<code>+</code>). The operator sequence changed; operators are aligned by module "
        f"and order before their outputs are compared.</p><ul>{examples}</ul></div>"
    )


def _tensors(s: ScenarioComparison) -> str:
    if not s.tensors:
        return ""
    total = sum(s.tensor_counts.values())
    rows = [
        [
            f'<td class="mono">{_e(t.key.removeprefix(s.name + "/"))}</td>',
            _td(t.status),
            _td(number_text(t.max_abs)),
            _td(number_text(t.max_rel)),
            _td("-" if t.ulp_max is None else t.ulp_max),
        ]
        for t in s.tensors[:TENSORS_SHOWN]
    ]
    return (
        f"<h4>Final tensors</h4><p>{len(s.tensors)} of {total} differ; the worst "
        f"{min(len(s.tensors), TENSORS_SHOWN)}:</p>"
        + _table(["tensor", "status", "max abs", "max rel", "ULP max"], rows, "tensors")
    )


def _loss_caption(curves: LossCurves) -> str:
    pairs = list(zip(curves.steps, curves.baseline, curves.candidate, strict=False))
    gaps = [(abs(b - c), step) for step, b, c in pairs if math.isfinite(b) and math.isfinite(c)]
    if all(gap == 0 for gap, _ in gaps) and len(gaps) == len(pairs):
        tail = "The two curves are bitwise equal."
    elif gaps:
        gap, step = max(gaps)
        tail = f"Largest loss difference: {number_text(gap)} at step {step}."
    else:
        tail = "No finite loss to compare."
    bad = [step for step, b, c in pairs if not (math.isfinite(b) and math.isfinite(c))]
    if bad:
        tail += f" Non-finite loss (not drawn) at step(s) {', '.join(map(str, bad))}."
    return "Loss per step: baseline (blue, solid) and candidate (orange, dashed). " + tail


def _growth_caption(s: ScenarioComparison) -> str:
    scale = plots.growth_scale(s.growth)
    text = (
        "Largest relative difference per step over the loss, gradient norm and parameter "
        f"norms (log scale; trend: {s.trend})."
    )
    if scale.zeros:
        text += (
            f" {len(scale.zeros)} step(s) with no difference at all are drawn as hollow "
            f"circles at the floor {scale.floor:.0e}."
        )
    if scale.nonfinite:
        text += f" Infinite or NaN differences are drawn at {scale.ceiling:.0e}."
    return text


def _plots(c: CandidateReport, s: ScenarioComparison) -> str:
    figures = []
    curves = c.losses.get(s.name)
    if curves is not None and curves.steps:
        uri = plots.svg_data_uri(plots.loss_svg(curves))
        figures.append(
            f'<figure class="plot loss"><img src="{uri}" alt="loss per step, baseline and '
            f'candidate"><figcaption>{_e(_loss_caption(curves))}</figcaption></figure>'
        )
    if s.growth:
        uri = plots.svg_data_uri(plots.growth_svg(s.growth))
        figures.append(
            f'<figure class="plot growth"><img src="{uri}" alt="largest relative difference '
            f'per step, log scale"><figcaption>{_e(_growth_caption(s))}</figcaption></figure>'
        )
    return f'<div class="plots">{"".join(figures)}</div>' if figures else ""


def _scenario_section(c: CandidateReport, s: ScenarioComparison, i: int, j: int) -> str:
    kind = f" <small>({_e(s.kind)})</small>" if s.kind else ""
    envelope = [s.envelope.text()] if s.envelope is not None else []
    notes = "".join(f"<li>{_e(n)}</li>" for n in (*envelope, *s.notes))
    return (
        f'<section class="scenario" id="{_anchor(i, j)}">'
        f"<h3>{_e(s.name)} {_badge(s.verdict)}{kind}</h3>"
        f"{_plots(c, s)}{_first_divergence(s)}{_structural(s)}{_tensors(s)}"
        + (f"<h4>Notes</h4><ul>{notes}</ul>" if notes else "")
        + "</section>"
    )


def _summary_table(c: CandidateReport, i: int) -> str:
    rows = []
    for j, s in enumerate(c.result.scenarios):
        where = "-" if s.first_divergence is None else divergence_phrase(s.first_divergence)
        rows.append(
            [
                f'<td><a href="#{_anchor(i, j)}">{_e(s.name)}</a></td>',
                f"<td>{_badge(s.verdict)}</td>",
                _td(s.kind or "-"),
                _td(where),
                _td("-" if s.max_ulp is None else s.max_ulp),
                _td(s.trend),
            ]
        )
    headers = ["scenario", "verdict", "kind", "first divergence", "max ULP", "growth"]
    return _table(headers, rows, "scenarios")


def _candidate_section(c: CandidateReport, i: int) -> str:
    r = c.result
    parts = [
        f'<section class="candidate" id="{_anchor(i)}">',
        f"<h2>{_e(c.label)} {_badge(r.verdict)}</h2>",
        f"<p><code>{_e(r.baseline)}</code> → <code>{_e(r.candidate)}</code></p>",
        f'<p class="summary">{_e(r.summary)}</p>',
    ]
    if r.scenarios:
        parts.append(_summary_table(c, i))
    parts.append(_env_section(c, i))
    parts += [_scenario_section(c, s, i, j) for j, s in enumerate(r.scenarios)]
    parts.append("</section>")
    return "".join(parts)


def render_html(report: Report) -> str:
    """The whole page. The same report always gives the same bytes (no dates, fixed ids)."""
    body = [
        "<h1>reprocheck report</h1>",
        _verdict_section(report),
        _heatmap_section(report) if len(report.candidates) > 1 else "",
        *(_candidate_section(c, i) for i, c in enumerate(report.candidates)),
        f"<footer>Made by reprocheck {_e(__version__)}. This page runs no script and "
        "fetches nothing.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>reprocheck report: {_e(_LABELS[report.verdict])}</title>"
        f"<style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(b for b in body if b)
        + "\n</body></html>\n"
    )
