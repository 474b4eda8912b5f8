"""The digest's chart: a valid PNG of a sensible size, labelled, the same bytes for the same figures."""
from __future__ import annotations

import io
import math
import struct

import pytest
from PIL import Image

from plugin.text.chart import DPI, ENGAGED_LABEL, HEIGHT_INCHES, TTFR_LABEL, WIDTH_INCHES, chart_figure, render_chart
from plugin.domain.engagement import WeekFigures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def week(label: str, engaged: int, ttfr: float | None) -> WeekFigures:
    return WeekFigures(week=label, engaged_members=engaged, new_contributors=0, returning_contributors=0,
                       inactive_contributors=0, topics=0, posts=0, replies=0, likes=0, ttfr_median_hours=ttfr,
                       ttfr_p90_hours=None, ttfr_mean_hours=None, topics_no_response_24h=None,
                       topics_no_response_7d=None, reciprocity=None, gini=None, absence_factor=None)


TWELVE = [week(f"2026-W{n:02d}", engaged=3 + n % 7, ttfr=None if n == 40 else n / 10) for n in range(36, 48)]


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def test_the_chart_is_a_valid_png_of_a_readable_size() -> None:
    data = render_chart(TWELVE)
    assert png_size(data) == (round(WIDTH_INCHES * DPI), round(HEIGHT_INCHES * DPI)) == (800, 360)
    image = Image.open(io.BytesIO(data))
    image.verify()                                   # every chunk's CRC and the compressed data are sound
    assert image.format == "PNG"
    # small enough for any forum's upload limit, big enough to hold a drawing (a blank 800×360 PNG is ~2 KB)
    assert 10_000 < len(data) < 200_000


def test_the_chart_is_drawn_not_blank() -> None:
    image = Image.open(io.BytesIO(render_chart(TWELVE))).convert("RGB")
    colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 20                          # bars, a line, text: many colours, not one background
    green = (0x4C, 0x9F, 0x70)
    assert any(colour == green for _, colour in colours)     # the bars' colour is there


def test_the_chart_is_labelled() -> None:
    figure = chart_figure(TWELVE)
    members_axis, hours_axis = figure.axes
    assert members_axis.get_ylabel() == ENGAGED_LABEL
    assert hours_axis.get_ylabel() == TTFR_LABEL
    assert members_axis.get_title() == "Participation and response time, last 12 weeks"
    ticks = [t.get_text() for t in members_axis.get_xticklabels()]
    assert ticks[0] == "W36\n2026" and ticks[1:3] == ["W37", "W38"] and ticks[-1] == "W47"
    assert [round(b.get_height()) for b in members_axis.patches] == [f.engaged_members for f in TWELVE]
    line = hours_axis.get_lines()[0]
    heights = list(line.get_ydata())
    assert math.isnan(heights[4])                     # W40 had no response time: a gap, not a zero
    assert heights[0] == pytest.approx(3.6) and heights[-1] == pytest.approx(4.7)
    legend = figure.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [ENGAGED_LABEL, TTFR_LABEL]


def test_the_same_figures_give_the_same_bytes() -> None:
    """A rerun uploads the same bytes, which the forum dedupes (by SHA-1) into the same upload."""
    assert render_chart(TWELVE) == render_chart(list(TWELVE))
    changed = [*TWELVE[:-1], week("2026-W47", engaged=TWELVE[-1].engaged_members + 1, ttfr=4.7)]
    assert render_chart(changed) != render_chart(TWELVE)


def test_a_first_week_and_a_week_without_any_response_draw_too() -> None:
    assert png_size(render_chart([week("2027-W01", engaged=0, ttfr=None)])) == (800, 360)
    ticks = [t.get_text() for t in chart_figure([week("2026-W52", 1, 1.0), week("2027-W01", 2, None)])
             .axes[0].get_xticklabels()]
    assert ticks == ["W52\n2026", "W01\n2027"]


def test_no_weeks_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one week"):
        render_chart([])
