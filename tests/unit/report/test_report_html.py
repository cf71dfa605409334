"""The HTML report: sections, escaping, determinism, the heatmap and the growth plot's scale."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from compare_support import fingerprint, make_run, pair, write_fingerprint, write_run

from reprocheck.comparison import GrowthPoint
from reprocheck.errors import InputError
from reprocheck.report import build_report, render_html
from reprocheck.report.html_model import LossCurves
from reprocheck.report.plots import growth_scale, growth_svg, loss_svg

EVIL = "<script>alert(1)</script>"
EVIL_OP = 'aten.x"><img src=x onerror=alert(2)>.default'


def _drift(records: dict[str, Any], tensors: dict[str, Any]) -> None:
    """The loss of step 1 far off, a forward operator's output changed, a weight moved."""
    for name, record in records.items():
        record["steps"][1]["loss"] = 7.5
        record["trace"][1]["digest"] = "0" * 64
        record["trace"][1]["sample"] = [v + 1.0 for v in record["trace"][1]["sample"]]
        tensors[name]["param/fc.weight"] += 0.5


def _html(base: Path, *cands: Path) -> str:
    return render_html(build_report(base, list(cands)))


def test_report_has_verdict_environment_plots_and_first_divergence(tmp_path: Path) -> None:
    """One drifting candidate: every section, both plots and the operator table are there."""
    base, cand = pair(tmp_path, _drift, candidate_fp=fingerprint(torch__version="2.14.0"))
    page = _html(base, cand)
    assert 'id="verdict"' in page
    assert "Verdict: drift" in page
    assert 'id="environment-0"' in page
    assert "<td>torch</td>" in page  # the torch.version change, with its category
    assert page.count('class="plot loss"') == 1
    assert page.count('class="plot growth"') == 1
    table = re.search(r'<table class="first-divergence">.*?</table>', page)
    assert table is not None
    for header in ("step", "phase", "operator", "module", "parameter", "kind"):
        assert f"<th>{header}</th>" in table.group(0)
    assert "aten.addmm.default" in table.group(0)
    assert 'id="heatmap"' not in page  # one candidate: no heatmap


def test_structural_differences_are_listed(tmp_path: Path) -> None:
    """An operator only the candidate traced appears as a structural difference."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        extra = copy.deepcopy(records["mlp"]["trace"][2])
        extra["op"] = "aten.gelu.default"
        records["mlp"]["trace"].insert(3, extra)
        for i, entry in enumerate(records["mlp"]["trace"]):
            entry["index"] = i

    page = _html(*pair(tmp_path, edit))
    assert 'class="structural"' in page
    assert "1 only in the candidate" in page
    assert "+aten.gelu.default" in page


def test_artifact_strings_are_escaped(tmp_path: Path) -> None:
    """Scenario, operator and environment strings from artifacts cannot inject markup."""
    records, tensors = make_run("mlp")
    records[EVIL] = records.pop("mlp")
    tensors[EVIL] = tensors.pop("mlp")
    records[EVIL]["name"] = EVIL
    records[EVIL]["trace"][1]["op"] = EVIL_OP
    base = write_run(tmp_path / "base", records, tensors)
    records_c = copy.deepcopy(records)
    tensors_c = {n: {k: v.clone() for k, v in ts.items()} for n, ts in tensors.items()}
    _drift(records_c, tensors_c)
    fp = fingerprint(torch__version="<b>2.14.0</b>", env={"X": EVIL})
    cand = write_run(tmp_path / "cand", records_c, tensors_c, fp)
    page = _html(base, cand)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;b&gt;2.14.0&lt;/b&gt;" in page
    assert "<script" not in page
    assert "<img src=x" not in page
    assert "<b>2.14.0" not in page


def test_page_fetches_nothing(tmp_path: Path) -> None:
    """Every image is inline data, every link an anchor, a CSP forbids loads, no script."""
    page = _html(*pair(tmp_path, _drift))
    sources = re.findall(r'\bsrc="([^"]*)"', page)
    assert sources
    assert all(s.startswith("data:image/svg+xml;base64,") for s in sources)
    assert all(h.startswith("#") for h in re.findall(r'\bhref="([^"]*)"', page))
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    assert "<script" not in page.lower()
    assert "@import" not in page
    assert "url(" not in page


def test_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    """Two reports of the same runs are byte for byte the same (no dates, fixed SVG ids)."""
    base, cand = pair(tmp_path, _drift)
    assert _html(base, cand) == _html(base, cand)


def test_svg_has_no_date() -> None:
    """The SVG carries no creation date (matplotlib writes one unless told not to)."""
    svg = loss_svg(LossCurves((0, 1), (1.0, 0.5), (1.0, 0.6)))
    assert "<dc:date>" not in svg
    assert svg.lstrip().startswith("<?xml")


def test_two_candidates_get_a_heatmap(tmp_path: Path) -> None:
    """Several candidates: a scenario x environment table with one coloured cell each."""
    records, tensors = make_run("mlp", "cnn")
    base = write_run(tmp_path / "base", records, tensors)
    same = write_run(tmp_path / "same", records, tensors)
    records_c = copy.deepcopy(records)
    tensors_c = {n: {k: v.clone() for k, v in ts.items()} for n, ts in tensors.items()}
    _drift(records_c, tensors_c)
    moved = write_run(tmp_path / "moved", records_c, tensors_c)
    report = build_report(base, [same, moved])
    assert report.exit_code == 1
    page = render_html(report)
    heatmap = re.search(r'<section id="heatmap">.*?</section>', page, re.S)
    assert heatmap is not None
    rows = re.findall(r"<tr><th>(.*?)</th>(.*?)</tr>", heatmap.group(0))
    cells = {name: re.findall(r'<td class="(\w+)"', row) for name, row in rows}
    assert cells["mlp"] == ["identical", "drift"]
    assert cells["cnn"] == ["identical", "drift"]
    assert cells["all scenarios"] == ["identical", "drift"]
    assert "<th>same</th><th>moved</th>" in heatmap.group(0)


def test_loss_curves_come_from_the_records(tmp_path: Path) -> None:
    """The overlay draws each run's recorded loss per step."""
    base, cand = pair(tmp_path, _drift)
    report = build_report(base, [cand])
    (candidate,) = report.candidates
    curves = candidate.losses["mlp"]
    assert curves.steps == (0, 1, 2)
    assert curves.baseline == pytest.approx((1.0, 0.5, 1 / 3))
    assert curves.candidate == pytest.approx((1.0, 7.5, 1 / 3))


def test_identical_runs_say_the_curves_are_equal(tmp_path: Path) -> None:
    """Identical runs: exit code 0, and the captions say there is nothing between them."""
    base, cand = pair(tmp_path)
    report = build_report(base, [cand])
    assert report.exit_code == 0
    page = render_html(report)
    assert "The two curves are bitwise equal." in page
    assert "3 step(s) with no difference at all are drawn as hollow circles" in page


def test_candidates_with_the_same_folder_name_are_told_apart(tmp_path: Path) -> None:
    """Two candidates both called ``run``: their labels are the paths as given."""
    records, tensors = make_run("mlp")
    base = write_run(tmp_path / "base", records, tensors)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write_run(tmp_path / "a" / "run", records, tensors)
    two = write_run(tmp_path / "b" / "run", records, tensors)
    labels = [c.label for c in build_report(base, [one, two]).candidates]
    assert labels == [str(one), str(two)]


def test_fingerprint_files_give_an_environment_only_report(tmp_path: Path) -> None:
    """Two fingerprint files: the environment table, no plots."""
    a = write_fingerprint(tmp_path / "a.json", fingerprint())
    b = write_fingerprint(tmp_path / "b.json", fingerprint(threads__intra_op=4))
    page = _html(a, b)
    assert "threads.intra_op" in page
    assert 'class="plot' not in page


def test_no_candidate_is_an_input_error(tmp_path: Path) -> None:
    """build_report needs at least one candidate."""
    base, _ = pair(tmp_path)
    with pytest.raises(InputError, match="no candidate"):
        build_report(base, [])


def test_growth_floor_is_a_decade_below_the_smallest_difference() -> None:
    """Zeros are drawn one decade below the smallest non-zero difference."""
    scale = growth_scale([GrowthPoint(0, 0.0), GrowthPoint(1, 3e-8), GrowthPoint(2, 2e-3)])
    assert scale.floor == pytest.approx(1e-9)
    assert scale.ceiling == pytest.approx(1e-1)
    assert scale.zeros == (0,)
    assert scale.nonfinite == ()


def test_growth_of_all_zeros_has_a_fixed_floor() -> None:
    """Nothing differs: every step sits at the 1e-12 floor."""
    scale = growth_scale([GrowthPoint(0, 0.0), GrowthPoint(1, 0.0)])
    assert scale.floor == 1e-12
    assert scale.zeros == (0, 1)


def test_infinite_growth_is_drawn_at_the_ceiling() -> None:
    """An infinite or NaN difference is kept apart, and the plot still renders."""
    growth = [GrowthPoint(0, 1e-6), GrowthPoint(1, float("inf")), GrowthPoint(2, float("nan"))]
    scale = growth_scale(growth)
    assert scale.nonfinite == (1, 2)
    assert scale.ceiling == pytest.approx(1e-5)
    svg = growth_svg(growth)
    # Glyphs are drawn as paths; matplotlib keeps each text as an SVG comment beside them.
    assert "<!-- infinite or NaN, drawn at 1e-05 -->" in svg
    assert "<!-- largest relative difference -->" in svg


def test_non_finite_loss_is_named_in_the_caption(tmp_path: Path) -> None:
    """A NaN loss is left out of the curve and named in the caption."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        records["mlp"]["steps"][2]["loss"] = float("nan")
        tensors["mlp"]["param/fc.weight"] += torch.ones(4, 3)

    page = _html(*pair(tmp_path, edit))
    assert "Non-finite loss (not drawn) at step(s) 2." in page
