"""The digest's chart: participation and median time to first response over the last weeks, as PNG bytes.

Pure: figures in, bytes out. It draws with matplotlib's object API on the Agg canvas (no pyplot, no global state,
no display), so it is safe in a worker and gives the same bytes for the same figures — the forum then keeps one
upload for a rerun (Discourse dedupes uploads by their SHA-1). Importing this module loads matplotlib (about a
second): import it only where a chart is drawn, never on the path of every job.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from plugin.domain.engagement import WeekFigures

WIDTH_INCHES, HEIGHT_INCHES, DPI = 8.0, 3.6, 100
"""800 × 360 pixels: readable inside a forum post on a phone and on a wide screen."""
TITLE = "Participation and response time, last {n} weeks"
ENGAGED_LABEL = "Members who took part"
TTFR_LABEL = "Median hours to first response"
BAR_COLOUR, LINE_COLOUR = "#4C9F70", "#C2553A"


def render_chart(history: Sequence[WeekFigures]) -> bytes:
    """A PNG of engaged members (bars, left axis) and median hours to first response (line, right axis), one
    point per week, oldest first. A week without a response time leaves a gap in the line."""
    out = io.BytesIO()
    chart_figure(history).savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def chart_figure(history: Sequence[WeekFigures]) -> Figure:
    """The chart as a matplotlib Figure on an Agg canvas (what `render_chart` saves)."""
    if not history:
        raise ValueError("a chart needs at least one week of figures")
    labels = [week_label(f.week, with_year=i == 0) for i, f in enumerate(history)]
    positions = list(range(len(history)))
    engaged = [f.engaged_members for f in history]
    ttfr = [math.nan if f.ttfr_median_hours is None else f.ttfr_median_hours for f in history]

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    members_axis = figure.add_subplot()
    bars = members_axis.bar(positions, engaged, color=BAR_COLOUR, width=0.6, label=ENGAGED_LABEL)
    members_axis.bar_label(bars, fontsize=8, padding=2)
    members_axis.set_ylabel(ENGAGED_LABEL, color=BAR_COLOUR)
    members_axis.set_ylim(0, max(max(engaged), 1) * 1.15)
    locator = members_axis.yaxis.get_major_locator()
    if isinstance(locator, MaxNLocator):  # the default (AutoLocator) is one
        locator.set_params(integer=True)
    members_axis.set_xticks(positions, labels, fontsize=8)
    members_axis.spines[["top"]].set_visible(False)

    hours_axis = members_axis.twinx()
    hours_axis.plot(positions, ttfr, color=LINE_COLOUR, marker="o", linewidth=2, label=TTFR_LABEL)
    hours_axis.set_ylabel(TTFR_LABEL, color=LINE_COLOUR)
    known = [h for h in ttfr if not math.isnan(h)]
    hours_axis.set_ylim(0, max(max(known, default=1.0), 1.0) * 1.15)
    hours_axis.spines[["top"]].set_visible(False)

    members_axis.set_title(TITLE.format(n=len(history)), fontsize=11)
    # The bars' container is a legend handle (drawn as its first bar), though matplotlib's stubs take Artists only.
    handles = [bars, *hours_axis.get_lines()]
    figure.legend(handles, [ENGAGED_LABEL, TTFR_LABEL], loc="outside lower center", ncols=2, fontsize=8, frameon=False)  # type: ignore[call-overload]
    return figure


def week_label(week: str, *, with_year: bool = False) -> str:
    """ "2026-W47" → "W47"; with the year under it ("W47\n2026") when asked, and on the first week of a year."""
    year, _, number = week.partition("-W")
    return f"W{number}\n{year}" if with_year or number == "01" else f"W{number}"
