"""Figures as people read them: one way to show a count, a duration, a share or a ratio, and its change.

The digest's tables and `python -m plugin stats` both show figures through `format_value`, so a figure reads the
same wherever it appears.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from plugin.domain.engagement import WeekFigures, week_bounds

COUNT, HOURS, SHARE, RATIO = "count", "hours", "share", "ratio"
"""The kinds of figure."""
NO_VALUE = "—"
"""Shown when there is nothing to measure."""
NO_CHANGE = "no change"


def format_value(value: float | int | None, kind: str) -> str:
    """A figure as shown: counts whole, hours as minutes/hours/days, shares in %, ratios to two decimals."""
    if value is None:
        return NO_VALUE
    if kind == COUNT:
        return f"{int(value)}"
    if kind == HOURS:
        return _duration(float(value))
    if kind == SHARE:
        return f"{round(float(value) * 100)} %"
    if kind == RATIO:
        return f"{float(value):.2f}"
    raise ValueError(f"unknown kind of figure {kind!r}")


def format_change(now: float | int | None, before: float | int | None, kind: str) -> str:
    """The change from the week before: "+3", "−2", "+1.5 h", "+5 points" (of a share), or "no change"."""
    if now is None or before is None:
        return NO_VALUE
    delta = float(now) - float(before)
    if kind == SHARE:
        shown, size = f"{abs(round(delta * 100))} points", round(delta * 100)
    elif kind == HOURS:
        shown, size = _duration(abs(delta)), round(abs(delta) * 60)
    elif kind == RATIO:
        shown, size = f"{abs(delta):.2f}", round(abs(delta) * 100)
    elif kind == COUNT:
        shown, size = f"{abs(int(delta))}", int(delta)
    else:
        raise ValueError(f"unknown kind of figure {kind!r}")
    if size == 0:
        return NO_CHANGE
    return ("+" if delta > 0 else "−") + shown


def _duration(hours: float) -> str:
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


ROWS: tuple[tuple[str, str, str], ...] = (
    ("engaged_members", "engaged members", COUNT),
    ("new_contributors", "new contributors", COUNT),
    ("returning_contributors", "returning contributors", COUNT),
    ("inactive_contributors", "inactive contributors (90 days)", COUNT),
    ("topics", "topics", COUNT),
    ("posts", "posts", COUNT),
    ("replies", "replies", COUNT),
    ("likes", "likes given", COUNT),
    ("ttfr_median_hours", "first response, median", HOURS),
    ("ttfr_p90_hours", "first response, 90th percentile", HOURS),
    ("ttfr_mean_hours", "first response, mean (Discourse-comparable)", HOURS),
    ("topics_no_response_24h", "topics without response after 24 h", SHARE),
    ("topics_no_response_7d", "topics without response after 7 days", SHARE),
    ("reciprocity", "reciprocity (4 weeks)", RATIO),
    ("gini", "participation Gini", RATIO),
    ("absence_factor", "contributor absence factor", COUNT),
)
"""The table's rows: field of WeekFigures, label, kind of value."""


def figures_table(
    figures: WeekFigures, *, category_id: int | None = None, category_name: str | None = None, frozen: bool = False
) -> str:
    """The week's figures as an aligned two-column table, under a heading that names the week and scope (the
    category by its name too, when it is known)."""
    start, end = week_bounds(figures.week)
    if category_id is None:
        scope = "the whole forum"
    elif category_name is None:
        scope = f"category {category_id}"
    else:
        scope = f"category {category_name} (id {category_id})"
    heading = f"Engagement in {figures.week} ({start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d}, UTC), {scope}" + (
        " — frozen when its digest was posted" if frozen else ""
    )
    width = max(len(label) for _, label, _ in ROWS)
    lines = [heading, ""]
    lines += [f"{label:<{width}}  {format_value(getattr(figures, name), kind):>8}" for name, label, kind in ROWS]
    return "\n".join(lines)


CHECKED = (
    (
        "topics",
        "topics",
        "the forum counts every topic outside messages, the companion's own and its bots' too, and topics opened by "
        "a care post",
    ),
    (
        "posts",
        "posts",
        "the forum counts every regular post outside messages, the companion's own and its bots' too, and care posts",
    ),
    (
        "likes",
        "likes",
        "the forum counts likes in messages, likes of the companion's and bots' posts and of care posts; a like "
        "given late on a Sunday may count in the next week here (the companion counts a like when it arrives)",
    ),
)
"""The figures the forum's own reports count too (GET /admin/reports/bulk.json): the companion's name, the report's
name, and what the forum counts that the companion leaves out."""


def check_table(figures: WeekFigures, forum: Mapping[str, int]) -> str:
    """The week's figures beside the forum's own reports (`forum`: report name → the week's total), with the
    difference and what explains a forum count above the companion's. A companion count ABOVE the forum's, or a
    difference larger than those reasons allow, is what a lost delivery that reconcile missed looks like."""
    start, end = week_bounds(figures.week)
    lines = [
        f"{figures.week} ({start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d}, UTC): the companion beside the "
        "forum's own reports",
        "",
        f"{'':<8}  {'companion':>9}  {'forum':>7}  {'forum - companion':>17}",
    ]
    notes = []
    for name, report, why in CHECKED:
        ours, theirs = int(getattr(figures, name)), int(forum.get(report, 0))
        lines.append(f"{name:<8}  {ours:>9}  {theirs:>7}  {theirs - ours:>+17}")
        if theirs < ours:
            notes.append(
                f"{name}: the companion counts {ours - theirs} more than the forum — a post the forum has since "
                "deleted or moved into a message, or a delivery counted twice; run `python -m plugin reconcile`"
            )
        elif theirs > ours:
            notes.append(f"{name}: {why}")
    return "\n".join([*lines, "", *notes] if notes else lines)
