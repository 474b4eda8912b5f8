"""The weekly digest topic, as markdown: pure functions over figures and counts.

What goes in: the week's engagement figures beside the previous week's and the change; the Code of Care's activity
per section (counts, and links to the drafts of applied changes); the most active public threads by title; a
thank-you to new contributors by count, naming only those who chose to be credited; the chart.

What never goes in: anything a member wrote (no excerpt, no quote — only public topic titles and usernames of
members who consented), and anything about a care post: those never reach the engagement store or the Code of
Care state, and `section_activity` leaves out the posts it is told to exclude, so they are not even counted.
Titles and names are flattened to one line with every markdown mark escaped and every `@` neutralized.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import timedelta

from plugin.domain.activity import SectionActivity
from plugin.domain.engagement import WeekFigures, week_bounds
from plugin.domain.safety import neutralize_mentions
from plugin.text.figures import COUNT, HOURS, RATIO, SHARE, format_change, format_value

TITLE = "Weekly digest: {dates}"
INTRO = (
    "Here is how our community took part in the week of {dates}, beside the week before. Posts in topics count "
    "(from categories that only some members can see, as numbers only); private messages, whispers, deleted "
    "posts and the companion's own posts never do."
)
FIGURES_HEADER = "| {what} | this week | the week before | change |\n|---|---:|---:|---:|"
CHART = "![Participation and response time over the last weeks]({url})"

CODE_HEADING = "### The Code of Care this week"
CODE_QUIET = (
    "A quiet week for the Code of Care: nobody discussed a section or proposed new wording. Everyone is "
    'welcome to, in the Code\'s topic, or by proposing new wording with `[amend section="…"]`.'
)

THREADS_HEADING = "### Most active threads"
THREADS_NONE = "No public thread had new posts this week."
THREAD_LINE = "{n}. [{title}](/t/{topic_id}) — {posts}"

WELCOME_HEADING = "### Welcome"
WELCOME_NONE = "Nobody posted here for the first time this week; the door stays open."
WELCOME_ONE = "Thank you to the member who posted here for the first time this week: welcome!"
WELCOME_MANY = "Thank you to the {count} members who posted here for the first time this week: welcome!"
WELCOME_NAMED = " Among them, {names} chose to be named."
FOOTER = (
    "*The figures follow Discourse's own reports and the community-health measures of the CHAOSS project. "
    "A week's figures stay as they are once its digest is posted.*"
)

MAX_TITLE_CHARS = 120
MAX_NAMES = 50

FIGURE_TABLES: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "Taking part",
        (
            ("Members who took part (started a topic, replied or liked)", "engaged_members", COUNT),
            ("New contributors (first post ever)", "new_contributors", COUNT),
            ("Returning contributors (back after 90 days or more)", "returning_contributors", COUNT),
            ("Inactive contributors (posted in the 90 days before, not this week)", "inactive_contributors", COUNT),
            ("Topics", "topics", COUNT),
            ("Posts", "posts", COUNT),
            ("Replies", "replies", COUNT),
            ("Likes given", "likes", COUNT),
        ),
    ),
    (
        "Being answered",
        (
            ("Time to first response, median", "ttfr_median_hours", HOURS),
            ("Time to first response, 90th percentile", "ttfr_p90_hours", HOURS),
            ("Time to first response, mean (Discourse-comparable)", "ttfr_mean_hours", HOURS),
            ("Topics without a response after 24 hours", "topics_no_response_24h", SHARE),
            ("Topics without a response after 7 days", "topics_no_response_7d", SHARE),
        ),
    ),
    (
        "Answering each other",
        (
            ("Reciprocity: replies answered in kind (last 4 weeks, 0 to 1)", "reciprocity", RATIO),
            ("Concentration: participation Gini (0 = everyone posts alike)", "gini", RATIO),
            ("Absence factor: fewest members who wrote half the posts", "absence_factor", COUNT),
        ),
    ),
)
"""The digest's figure tables: (heading, rows of (label, WeekFigures field, kind))."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")
_INLINE_MARKS = re.compile(r"[\\`*_\[\]<>#~|&!()]")


# ------------------------------------------------------------------------------------------------ weeks


def week_dates(week: str) -> str:
    """ "2026-W47" → "16–22 November 2026"; across months or years both ends carry them."""
    monday = week_bounds(week)[0].date()
    sunday = monday + timedelta(days=6)
    if monday.year != sunday.year:
        return f"{monday.day} {monday:%B %Y} – {sunday.day} {sunday:%B %Y}"
    if monday.month != sunday.month:
        return f"{monday.day} {monday:%B} – {sunday.day} {sunday:%B %Y}"
    return f"{monday.day}–{sunday.day} {sunday:%B %Y}"


# ------------------------------------------------------------------------------------------------ the post


def render_digest(
    *,
    week: str,
    figures: WeekFigures,
    previous: WeekFigures | None,
    sections: Sequence[SectionActivity],
    threads: Sequence[tuple[int, str, int]],
    new_count: int,
    credited_names: Sequence[str],
    chart_url: str | None,
) -> tuple[str, str]:
    """(title, raw) of the digest topic for `week`.

    `threads` are (topic id, public title, posts that week), most active first; `credited_names` are new
    contributors who are in the consent group; `chart_url` is the chart's `upload://…` URL (None: no chart).
    """
    dates = week_dates(week)
    parts = [INTRO.format(dates=dates, week=week)]
    for heading, rows in FIGURE_TABLES:
        lines = [FIGURES_HEADER.format(what=heading)]
        for label, name, kind in rows:
            now = getattr(figures, name)
            before = getattr(previous, name) if previous is not None else None
            lines.append(
                f"| {label} | {format_value(now, kind)} | {format_value(before, kind)} | "
                f"{format_change(now, before, kind)} |"
            )
        parts.append("\n".join(lines))
    if chart_url:
        parts.append(CHART.format(url=chart_url))
    parts.append(_code_of_care(sections))
    parts.append(_threads(threads))
    parts.append(_welcome(new_count, credited_names))
    parts.append(FOOTER)
    return TITLE.format(dates=dates, week=week), "\n\n".join(parts) + "\n"


def _code_of_care(sections: Sequence[SectionActivity]) -> str:
    active = [s for s in sections if not s.quiet]
    if not active:
        return f"{CODE_HEADING}\n\n{CODE_QUIET}"
    lines = [CODE_HEADING, ""]
    for section in active:
        said = [
            _counted(section.discussion, "post discussed it", "posts discussed it"),
            _counted(section.proposals, "proposal", "proposals"),
            _counted(section.drafts, "draft opened", "drafts opened"),
            _counted(section.decisions, "decision", "decisions"),
        ]
        line = f"- **{inline_text(section.title)}**: " + ", ".join(part for part in said if part)
        if section.applied:
            links = ", ".join(f"[change {n}](/t/{topic_id})" for n, topic_id in enumerate(section.applied, 1))
            line += f"; applied to the Code: {links}"
        lines.append(line)
    return "\n".join(lines)


def _counted(count: int, one: str, many: str) -> str:
    return "" if not count else f"1 {one}" if count == 1 else f"{count} {many}"


def _threads(threads: Sequence[tuple[int, str, int]]) -> str:
    if not threads:
        return f"{THREADS_HEADING}\n\n{THREADS_NONE}"
    lines = [THREADS_HEADING, ""]
    for n, (topic_id, title, posts) in enumerate(threads, 1):
        lines.append(
            THREAD_LINE.format(
                n=n,
                title=inline_text(title, MAX_TITLE_CHARS) or "(untitled)",
                topic_id=int(topic_id),
                posts="1 post" if posts == 1 else f"{posts} posts",
            )
        )
    return "\n".join(lines)


def _welcome(new_count: int, credited_names: Sequence[str]) -> str:
    if new_count <= 0:
        return f"{WELCOME_HEADING}\n\n{WELCOME_NONE}"
    text = WELCOME_ONE if new_count == 1 else WELCOME_MANY.format(count=new_count)
    names = _unique(inline_text(name) for name in credited_names)
    if names:
        shown, more = names[:MAX_NAMES], len(names) - MAX_NAMES
        listed = (
            ", ".join(shown) + f" and {more} more"
            if more > 0
            else shown[0]
            if len(shown) == 1
            else ", ".join(shown[:-1]) + " and " + shown[-1]
        )
        text += WELCOME_NAMED.format(names=listed)
    return f"{WELCOME_HEADING}\n\n{text}"


def _unique(items: Iterable[str]) -> list[str]:
    """Non-empty items, the first of each case-insensitive spelling, in order."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            kept.append(item)
    return kept


def inline_text(text: str, limit: int = 0) -> str:
    """A title or a name for the middle of a line: one line, shortened to `limit` characters (0 = any length),
    every markdown mark escaped, no mention."""
    flat = _WHITESPACE.sub(" ", _CONTROL.sub(" ", text)).strip()
    if limit and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return _INLINE_MARKS.sub(lambda m: "\\" + m.group(), neutralize_mentions(flat))
