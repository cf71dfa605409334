"""The report of two real runs, opened in headless Chromium: no console errors, visible plots.

Which runs:

* When the nox matrix has left real torch 2.6.0 and 2.13.0 runs in ``runs/`` (a developer's
  checkout), the report compares those: the older-torch upgrade a reviewer would look at.
* Otherwise (CI: ``runs/`` is git-ignored, and building a torch 2.6.0 environment there
  would cost minutes and a download), it makes its own pair from a real environment
  difference this environment has: two real ``python -m reprocheck run`` subprocesses, one
  with ``OMP_NUM_THREADS=1`` and one with ``2``. On most CPUs the thread count changes
  the reduction order in convolution, batch norm and attention, so cnn and transformer
  part by rounding; where they do not, the report shows them identical. Nothing below
  depends on which: the exit code is checked against the verdict the report states, and
  the plots (loss curves and growth) are drawn either way.

The browser is Debian's ``chromium`` (``$REPROCHECK_CHROMIUM`` names another binary). The
tests never install it: install it first (Debian/Ubuntu: ``apt-get install chromium``, as
root or with sudo). Without it the tests here are skipped, and the skip reason says how to
get it, unless ``REPROCHECK_REQUIRE_CHROMIUM=1`` is set: then a missing browser fails them
with the same message. CI installs Chromium in ``.ci/run`` and sets that variable, so the
browser test always runs there.

The page is driven over the DevTools pipe, so every console message, log entry and request
the page makes is seen; the full-page screenshot is written under ``tmp_path`` and its
path printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from chromium import (
    PageReport,
    chromium_required,
    find_chromium,
    missing_chromium_message,
    open_page,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OLD_TORCH = ROOT / "runs" / "torch-2.6.0"
NEW_TORCH = ROOT / "runs" / "torch-2.13.0"
SCENARIOS = ("cnn", "transformer")


@dataclasses.dataclass(frozen=True)
class Opened:
    """A report made by the CLI and what Chromium saw of it."""

    source: str
    scenarios: int
    exit_code: int
    stderr: str
    page: Path
    seen: PageReport


def _thread_runs(tmp: Path) -> tuple[Path, Path]:
    """Two real runs of cnn and transformer, with 1 and with 2 OpenMP threads."""
    runs = []
    for threads in (1, 2):
        out = tmp / f"threads-{threads}"
        subprocess.run(
            [sys.executable, "-m", "reprocheck", "run", *SCENARIOS, "--steps", "4", "--out", out],
            env={**os.environ, "OMP_NUM_THREADS": str(threads)},
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(out)
    return runs[0], runs[1]


def _pick_runs(tmp: Path) -> tuple[str, Path, Path]:
    if (OLD_TORCH / "run.json").is_file() and (NEW_TORCH / "run.json").is_file():
        return "torch 2.6.0 vs 2.13.0 (runs/)", OLD_TORCH, NEW_TORCH
    base, cand = _thread_runs(tmp)
    return "OMP_NUM_THREADS 1 vs 2", base, cand


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Opened:
    """Make the report with the real CLI, open it in Chromium, keep what it saw."""
    chromium = find_chromium()
    if chromium is None:
        if chromium_required():
            pytest.fail(f"REPROCHECK_REQUIRE_CHROMIUM is set and {missing_chromium_message()}")
        pytest.skip(missing_chromium_message())
    tmp = tmp_path_factory.mktemp("report")
    source, base, cand = _pick_runs(tmp)
    page = tmp / "report.html"
    proc = subprocess.run(
        [sys.executable, "-m", "reprocheck", "report", str(base), str(cand), "-o", str(page)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    from reprocheck.artifacts.runs import load_run

    scenarios = len(load_run(base).records)
    seen = open_page(chromium, page, tmp / "report.png")
    print(f"\nreport of {source}: {page}\nscreenshot: {seen.screenshot}")
    return Opened(source, scenarios, proc.returncode, proc.stderr, page, seen)


def test_exit_code_follows_the_verdict(opened: Opened) -> None:
    """The CLI exits 1 when a candidate drifts and 0 otherwise, and says so on stderr."""
    drift = ": drift" in opened.stderr
    assert opened.exit_code == (1 if drift else 0)
    assert f"report written to {opened.page}" in opened.stderr


def test_page_logs_no_console_message_or_error(opened: Opened) -> None:
    """No console message, no uncaught exception, no browser log entry (CSP, failed load)."""
    assert opened.seen.console == []
    assert opened.seen.exceptions == []
    assert [e for e in opened.seen.log if e[0] in ("error", "warning")] == []
    assert opened.seen.failed == []


def test_page_requests_nothing_but_itself_and_inline_images(opened: Opened) -> None:
    """Opening the page fetches no file and nothing from any network."""
    url = opened.page.resolve().as_uri()
    others = [r for r in opened.seen.requests if r != url and not r.startswith("data:image/")]
    assert others == []
    assert url in opened.seen.requests


def test_every_plot_is_decoded_and_laid_out(opened: Opened) -> None:
    """Two plots per scenario; each image decoded and drawn at a readable size."""
    images = opened.seen.images
    assert len(images) == 2 * opened.scenarios
    for image in images:
        assert image["complete"]
        assert image["naturalWidth"] > 0
        assert image["width"] >= 300
        assert image["height"] >= 180


def test_screenshot_shows_both_curves(opened: Opened) -> None:
    """The rendered pixels hold the baseline's blue and the candidate's orange lines."""
    from PIL import Image

    from reprocheck.report.plots import BASELINE_COLOUR, CANDIDATE_COLOUR

    assert opened.seen.screenshot is not None
    with Image.open(opened.seen.screenshot) as shot:
        assert shot.width == 1400
        colours = shot.convert("RGB").getcolors(maxcolors=1 << 24) or []

    def pixels_near(hex_colour: str) -> int:
        target = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        return sum(
            n
            for n, rgb in colours
            if all(abs(p - q) <= 8 for p, q in zip(rgb, target, strict=True))
        )

    assert pixels_near(BASELINE_COLOUR) > 500
    assert pixels_near(CANDIDATE_COLOUR) > 500
