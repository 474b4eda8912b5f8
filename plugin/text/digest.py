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
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plugin.config import ConfigError
from plugin.domain.amendments import WITHDRAWN, Amendment
from plugin.domain.document import parse_document
from plugin.domain.engagement import WeekFigures, check_week, iso_week, week_bounds
from plugin.text.drafts import neutralize_mentions

DIGEST_TAG = "coc-digest"
EXTERNAL_ID = "coc-digest-{week}"

TITLE = "Weekly digest: {dates} ({week})"
INTRO = (
    "How our community took part in the week of {dates} ({week}), beside the week before. Posts in topics "
    "count, as numbers only where a category is closed to some; private messages, whispers, deleted posts "
    "and the companion's own posts never do."
)
FIGURES_HEADER = "| {what} | this week | the week before | change |\n|---|---:|---:|---:|"
NO_VALUE = "—"
NO_CHANGE = "no change"
CHART = "![Participation and response time over the last weeks]({url})"

CODE_HEADING = "### The Code of Care this week"
CODE_QUIET = (
    "A quiet week for the Code of Care: nobody discussed a section or proposed new wording. Everyone is "
    'welcome to, in the Code\'s topic or with `[amend section="…"]`.'
)
GENERAL_SLUG = "general"
"""The discussion bucket for replies in the document topic that name no section (worker.feedback.GENERAL)."""
GENERAL_TITLE = "The Code as a whole"

THREADS_HEADING = "### Most active threads"
THREADS_NONE = "No public thread had new posts this week."
THREAD_LINE = "{n}. [{title}](/t/{topic_id}) — {posts}"

WELCOME_HEADING = "### Welcome"
WELCOME_NONE = "Nobody posted here for the first time this week; the door stays open."
WELCOME_ONE = "Thank you to the member who posted here for the first time this week: welcome!"
WELCOME_MANY = "Thank you to the {count} members who posted here for the first time this week: welcome!"
WELCOME_NAMED = " Among them, {names} chose to be named."
FOOTER = (
    "*Each figure's definition and source (Discourse's reports, CHAOSS, NetworkX) is in the companion's "
    "README. The figures of a week are frozen when its digest is posted.*"
)

MAX_TITLE_CHARS = 120
MAX_NAMES = 50

COUNT, HOURS, SHARE, RATIO = "count", "hours", "share", "ratio"
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

DECIDED = ("applied by ", "rejected by ", "withdrawn by ", "stale by ")
"""How a decision starts in an amendment's history (worker.amendments.close writes "<outcome> by <who>")."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")
_INLINE_MARKS = re.compile(r"[\\`*_\[\]<>#~|&!()]")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


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


def last_completed_week(now: datetime, zone: tzinfo) -> str:
    """The latest ISO week whose Sunday is over on the calendar of `zone` at `now` (on a Monday: last week)."""
    today = now.astimezone(zone).date()
    sunday = today - timedelta(days=today.isoweekday())
    return iso_week(datetime.combine(sunday, time(12, 0), tzinfo=UTC))


def digest_external_id(week: str) -> str:
    return EXTERNAL_ID.format(week=check_week(week))


def digest_zone(name: str) -> ZoneInfo:
    """`COC_TIMEZONE` as a time zone, or ConfigError saying what it must be."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"COC_TIMEZONE must be an IANA time zone name such as UTC or Europe/Berlin, got {name!r}"
        ) from None


def digest_clock(text: str) -> tuple[int, int]:
    """`COC_DIGEST_TIME` ("HH:MM", 24-hour) as (hour, minute), or ConfigError saying what it must be."""
    match = _CLOCK.fullmatch(text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ConfigError(f"COC_DIGEST_TIME must be a time of day as HH:MM (24-hour), e.g. 09:00; got {text!r}")
    return int(match.group(1)), int(match.group(2))


# ------------------------------------------------------------------------------------------------ Code of Care


@dataclass(frozen=True)
class SectionActivity:
    """One section's Code of Care activity in a week."""

    title: str  # as people name it: "3. Consent"
    discussion: int = 0  # posts that discussed it
    proposals: int = 0  # new wording proposed
    drafts: int = 0  # drafts opened (a proposal reached its support)
    decisions: int = 0  # drafts decided: approved, rejected, withdrawn, or found stale
    applied: tuple[int, ...] = ()  # draft topics whose change was applied to the Code

    @property
    def quiet(self) -> bool:
        return not (self.discussion or self.proposals or self.drafts or self.decisions or self.applied)


def section_activity(
    *,
    document_raw: str,
    amendments: Iterable[Amendment],
    discussions: Mapping[str, Mapping[int, Mapping[str, str]]],
    start: datetime,
    end: datetime,
    excluded_posts: Container[int] = (),
) -> list[SectionActivity]:
    """Each section's activity between `start` (included) and `end` (excluded), in the document's order, the
    Code as a whole last; sections with nothing that week are left out.

    `discussions` is `Store.discussion(slug)` per slug (post id → {author, at}); amendments are dated by their
    history lines. A post in `excluded_posts` (care posts) counts nowhere, and neither does a proposal withdrawn
    before it was drafted (its post was deleted, edited away, or asked for care).
    """
    titles = {s.slug: s.label for s in parse_document(document_raw).sections} if document_raw else {}
    counts: dict[str, dict[str, int]] = {}
    applied: dict[str, list[int]] = {}

    def add(slug: str, what: str) -> None:
        counts.setdefault(slug, {}).setdefault(what, 0)
        counts[slug][what] += 1

    for slug, posts in discussions.items():
        for post_id, about in posts.items():
            if post_id not in excluded_posts and _within(about.get("at", ""), start, end):
                add(slug, "discussion")
    for amendment in amendments:
        if amendment.post_id in excluded_posts or (amendment.status == WITHDRAWN and not amendment.draft_topic_id):
            continue
        titles.setdefault(amendment.section_slug, amendment.section_title)
        for n, (when, line) in enumerate(_dated(amendment.history)):
            if not _within(when, start, end):
                continue
            if n == 0:
                add(amendment.section_slug, "proposals")
            elif line.startswith("drafted with "):
                add(amendment.section_slug, "drafts")
            elif line.startswith(DECIDED):
                add(amendment.section_slug, "decisions")
                if line.startswith("applied by ") and amendment.draft_topic_id:
                    applied.setdefault(amendment.section_slug, []).append(amendment.draft_topic_id)
    order = [slug for slug in titles if slug in counts] + sorted(s for s in counts if s not in titles)
    order.sort(key=lambda slug: slug == GENERAL_SLUG)
    activities = [
        SectionActivity(
            title=titles.get(slug) or (GENERAL_TITLE if slug == GENERAL_SLUG else slug),
            applied=tuple(sorted(applied.get(slug, ()))),
            **counts[slug],
        )
        for slug in order
    ]
    return [a for a in activities if not a.quiet]


def _dated(history: Sequence[str]) -> list[tuple[str, str]]:
    """History lines ("<when> <what>") as (when, what); a line without a date has when = ""."""
    return [(line.partition(" ")[0], line.partition(" ")[2]) for line in history]


def _within(moment: str, start: datetime, end: datetime) -> bool:
    at = _moment(moment)
    return at is not None and start <= at < end


def _moment(text: str) -> datetime | None:
    """An ISO 8601 time as Discourse and the service write them ("…Z" or with an offset); None if it is not one."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
