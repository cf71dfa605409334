"""The report's plots, drawn with matplotlib (the optional ``reprocheck[report]`` extra).

matplotlib is imported only inside these functions: the rest of reprocheck (and
``reprocheck --help``) works without it. Figures are made with the object-oriented API
(``matplotlib.figure.Figure``), never ``pyplot``, so no GUI backend is chosen and no global
figure state leaks into the caller's process; settings apply inside ``rc_context`` only.

Output is deterministic: SVG with a fixed ``svg.hashsalt`` (the ids of clip paths and
glyphs), no creation date, and glyphs drawn as paths so a browser shows the same picture
whatever fonts it has. No text from an artifact is ever handed to matplotlib (a ``$`` would
start mathtext): names and titles are written by the HTML layer, which escapes them.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from reprocheck.errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from reprocheck.comparison.result import GrowthPoint
    from reprocheck.report.html_model import LossCurves

__all__ = [
    "BASELINE_COLOUR",
    "CANDIDATE_COLOUR",
    "GrowthScale",
    "growth_scale",
    "growth_svg",
    "loss_svg",
    "require_matplotlib",
    "svg_data_uri",
]

BASELINE_COLOUR = "#1f77b4"
CANDIDATE_COLOUR = "#ff7f0e"
_ZERO_COLOUR = "#7f7f7f"
_INF_COLOUR = "#d62728"
_SIZE = (5.4, 3.3)  # inches; two plots side by side fill a laptop-wide page
_RC: Any = {  # typed Any: matplotlib types rc keys as a Literal of every name
    "svg.hashsalt": "reprocheck-report",
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def require_matplotlib() -> None:
    """Fail early, with the install hint, when the ``report`` extra is missing.

    Raises:
        InputError: matplotlib cannot be imported.
    """
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "matplotlib":
            raise
        raise InputError(
            "reprocheck report needs matplotlib, which this environment lacks",
            hint='pip install "reprocheck[report]"',
        ) from None


@contextmanager
def _figure() -> Iterator[tuple[Figure, Axes]]:
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=_SIZE, layout="constrained")
        ax = fig.add_subplot()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step")
        yield fig, ax


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    # Date=None: no timestamp, so the same inputs give the same bytes.
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def svg_data_uri(svg: str) -> str:
    """``data:image/svg+xml;base64,...``: an image the page holds, fetched from nowhere.

    As an ``<img>``, an SVG cannot run script and its ids cannot clash with the page's.
    """
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _finite(values: Sequence[float]) -> list[float]:
    return [v if math.isfinite(v) else math.nan for v in values]


def loss_svg(curves: LossCurves) -> str:
    """Baseline and candidate loss per step, one over the other (non-finite values left out)."""
    with _figure() as (fig, ax):
        steps = list(curves.steps)
        ax.plot(
            steps,
            _finite(curves.baseline),
            color=BASELINE_COLOUR,
            marker="o",
            markersize=4,
            linewidth=1.8,
            label="baseline",
        )
        # Dashed with hollow markers: where the two curves coincide, both stay visible.
        ax.plot(
            steps,
            _finite(curves.candidate),
            color=CANDIDATE_COLOUR,
            marker="s",
            markersize=6,
            markerfacecolor="none",
            linestyle="--",
            linewidth=1.4,
            label="candidate",
        )
        ax.set_ylabel("loss")
        ax.legend(loc="best", frameon=False)
        return _svg(fig)


@dataclasses.dataclass(frozen=True, slots=True)
class GrowthScale:
    """Where the growth plot draws what a log axis cannot show.

    Attributes:
        floor: the height at which steps with no difference (0) are drawn.
        ceiling: the height at which infinite or NaN differences are drawn.
        zeros: steps whose difference is 0.
        nonfinite: steps whose difference is infinite or NaN.
    """

    floor: float
    ceiling: float
    zeros: tuple[int, ...]
    nonfinite: tuple[int, ...]


def growth_scale(growth: Sequence[GrowthPoint]) -> GrowthScale:
    """A floor a decade below the smallest non-zero difference (1e-12 when all are 0)."""
    measured = [g.max_rel for g in growth if math.isfinite(g.max_rel) and g.max_rel > 0]
    if measured:
        floor = 10.0 ** (math.floor(math.log10(min(measured))) - 1)
        ceiling = 10.0 ** (math.ceil(math.log10(max(measured))) + 1)
    else:
        floor, ceiling = 1e-12, 1.0
    zeros = tuple(g.step for g in growth if g.max_rel == 0)
    nonfinite = tuple(g.step for g in growth if not math.isfinite(g.max_rel))
    return GrowthScale(floor, ceiling, zeros, nonfinite)


def growth_svg(growth: Sequence[GrowthPoint]) -> str:
    """The largest relative difference per step on a log axis; 0 at a floor, inf at a ceiling."""
    scale = growth_scale(growth)

    def height(value: float) -> float:
        if not math.isfinite(value):
            return scale.ceiling
        return value if value > 0 else scale.floor

    with _figure() as (fig, ax):
        ax.set_yscale("log")
        steps = [g.step for g in growth]
        ax.plot(steps, [height(g.max_rel) for g in growth], color=CANDIDATE_COLOUR, linewidth=1.2)
        measured = [g for g in growth if math.isfinite(g.max_rel) and g.max_rel > 0]
        if measured:
            ax.plot(
                [g.step for g in measured],
                [g.max_rel for g in measured],
                color=CANDIDATE_COLOUR,
                marker="o",
                markersize=5,
                linestyle="none",
                label="largest relative difference",
            )
        if scale.zeros:
            ax.axhline(scale.floor, color=_ZERO_COLOUR, linestyle=":", linewidth=1)
            ax.plot(
                list(scale.zeros),
                [scale.floor] * len(scale.zeros),
                color=_ZERO_COLOUR,
                marker="o",
                markersize=6,
                markerfacecolor="white",
                linestyle="none",
                label=f"bitwise equal (0), drawn at {scale.floor:.0e}",
            )
        if scale.nonfinite:
            ax.plot(
                list(scale.nonfinite),
                [scale.ceiling] * len(scale.nonfinite),
                color=_INF_COLOUR,
                marker="^",
                markersize=7,
                linestyle="none",
                label=f"infinite or NaN, drawn at {scale.ceiling:.0e}",
            )
        ax.set_ylim(scale.floor / 3, scale.ceiling * 3)
        ax.set_ylabel("largest relative difference")
        ax.legend(loc="best", frameon=False, fontsize=8)
        return _svg(fig)
