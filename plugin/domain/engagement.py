"""Engagement figures: what they are and how they are computed, as pure functions over plain data.

Each figure follows a published definition; the README's "Engagement figures" section lists them with sources:
Discourse's admin reports (`daily_engaged_users`, `new_contributors`, `likes`, `time_to_first_response`,
`topics_with_no_response`), CHAOSS metrics (New, Inactive and returning Contributors; Contributor Absence Factor)
and NetworkX (`reciprocity` of a directed graph). Weeks are ISO weeks in UTC.

The Redis-backed bookkeeping that gathers a week's activity from events lives in `plugin.adapters.engagement_store`; it
hands a `WeekActivity` to `summarize_week`, which is where every figure of `WeekFigures` is computed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

DAY_SECONDS = 86400
INACTIVE_DAYS = 90
"""CHAOSS Inactive Contributors' interval: members who posted in the 90 days before the week."""
RECIPROCITY_WEEKS = 4
"""The reply graph for reciprocity spans this many weeks, ending with the week reported."""
NO_RESPONSE_HOURS = (24.0, 7 * 24.0)
"""Discourse's `topics_with_no_response`, at two horizons: 24 hours and 7 days."""
NEVER = -math.inf
"""A day before every day: "posted before, we do not know when" (a member seeded without a date)."""

_WEEK = re.compile(r"(\d{4})-W(\d{2})")


# ------------------------------------------------------------------------------------------------ the figures


@dataclass(frozen=True)
class WeekFigures:
    """One ISO week's engagement figures (for the whole forum, or one category)."""

    week: str
    engaged_members: int
    """Distinct members who created a topic, replied or liked (Discourse `daily_engaged_users`, per week)."""
    new_contributors: int
    """Members whose first public post ever was this week (Discourse `new_contributors`; CHAOSS New Contributors)."""
    returning_contributors: int
    """Posted this week and at some time before, but not in the 90 days before this week (CHAOSS)."""
    inactive_contributors: int
    """Posted in the 90 days before this week but not this week (CHAOSS Inactive Contributors, 90-day interval)."""
    topics: int
    posts: int
    """Every counted post, topics' first posts included."""
    replies: int
    """Posts #2 and later."""
    likes: int
    """Likes given, gross (Discourse `likes` report: there is no unlike webhook)."""
    ttfr_median_hours: float | None
    ttfr_p90_hours: float | None
    ttfr_mean_hours: float | None
    """The mean, "Discourse-comparable" (Discourse's `time_to_first_response` report averages)."""
    topics_no_response_24h: float | None
    """Share (0..1) of the week's topics with no first response within 24 h (Discourse `topics_with_no_response`)."""
    topics_no_response_7d: float | None
    """Share (0..1) of the week's topics with no first response within 7 days."""
    reciprocity: float | None
    """Reciprocated edges / edges of the reply graph of the 4 weeks ending with this week (NetworkX `reciprocity`)."""
    gini: float | None
    """Participation Gini over posts per active member (0 = all equal, towards 1 = one member writes all)."""
    absence_factor: int | None
    """The fewest members who wrote half the week's posts (CHAOSS Contributor Absence Factor)."""


# ------------------------------------------------------------------------------------------------ weeks and days


def parse_time(value: str | float | datetime) -> float:
    """Epoch seconds from Discourse's `created_at` ("2026-11-17T09:26:53.589Z"), a datetime or a number."""
    if isinstance(value, (int, float)):
        return float(value)
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso_week(when: str | float | datetime) -> str:
    """The ISO week of a moment, in UTC: "2026-W47"."""
    year, week, _ = datetime.fromtimestamp(parse_time(when), UTC).isocalendar()
    return f"{year}-W{week:02d}"


def check_week(week: str) -> str:
    """`week` if it is an ISO week such as "2026-W47" that exists; ValueError naming the problem otherwise."""
    match = _WEEK.fullmatch(week.strip())
    if match is None:
        raise ValueError(f"an ISO week looks like 2026-W47, got {week!r}")
    year, number = int(match.group(1)), int(match.group(2))
    weeks_in_year = date(year, 12, 28).isocalendar()[1]
    if not 1 <= number <= weeks_in_year:
        raise ValueError(f"{year} has ISO weeks 1 to {weeks_in_year}, got {week!r}")
    return week.strip()


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """Monday 00:00 UTC of the week, and of the week after (the end is exclusive)."""
    year, number = (int(part) for part in _WEEK.fullmatch(check_week(week)).groups())  # type: ignore[union-attr]
    start = datetime.combine(date.fromisocalendar(year, number, 1), datetime.min.time(), UTC)
    return start, start + timedelta(days=7)


def shift_week(week: str, weeks: int) -> str:
    """The ISO week `weeks` weeks after (negative: before) `week`."""
    start, _ = week_bounds(week)
    return iso_week(start + timedelta(weeks=weeks))


def weeks_ending(last_week: str, n: int) -> list[str]:
    """The `n` ISO weeks that end with `last_week`, oldest first."""
    return [shift_week(last_week, offset) for offset in range(1 - n, 1)]


def day_number(when: str | float | datetime) -> int:
    """Whole UTC days since 1970-01-01: the day a moment falls on."""
    return int(parse_time(when) // DAY_SECONDS)


def week_start_day(week: str) -> int:
    return day_number(week_bounds(week)[0])


def weeks_between(first: str, stop: str) -> list[str]:
    """The ISO weeks from `first` up to `stop` (not included), oldest first; none when `stop` is not later."""
    count = (week_start_day(stop) - week_start_day(first)) // 7
    return [shift_week(first, offset) for offset in range(count)]


@dataclass(frozen=True)
class Lookback:
    """What the figures of the weeks from `window_start` on read of the time before it, so what must outlive the
    detail of the weeks before it (`Engagement.compact`):

    - `first_day`: the window's first day; posts written earlier belong to weeks whose figures are frozen;
    - `days_from`: who posted on each day from here on (the 90 days before the window's first week: its inactive and
      returning contributors, INACTIVE_DAYS); before it, only each member's first day (new contributors) is read;
    - `reply_weeks`: the weeks before the window whose replies the reply graph of its first weeks spans
      (reciprocity over RECIPROCITY_WEEKS weeks ending with the week reported).

    Nothing else looks back: a topic's first response is looked for after it was opened, never before.
    """

    window_start: str
    first_day: int
    days_from: int
    reply_weeks: tuple[str, ...]


def lookback(window_start: str) -> Lookback:
    """What the weeks from `window_start` on still read of the time before it."""
    first_day = week_start_day(window_start)
    before = shift_week(window_start, -1)
    return Lookback(
        window_start=window_start,
        first_day=first_day,
        days_from=first_day - INACTIVE_DAYS,
        reply_weeks=tuple(weeks_ending(before, RECIPROCITY_WEEKS - 1)),
    )


# ------------------------------------------------------------------------------------------------ statistics


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """The `fraction` (0..1) percentile by linear interpolation between closest ranks (NumPy's default);
    None for no values. `percentile(v, 0.5)` is the median."""
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    position = (len(ordered) - 1) * fraction
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def mean(values: Collection[float]) -> float | None:
    return sum(values) / len(values) if values else None


def gini(values: Iterable[float]) -> float | None:
    """Gini coefficient of non-negative amounts: 0 when everyone has the same, towards 1 when one has everything.

    G = Σᵢ Σⱼ |xᵢ − xⱼ| / (2 n² x̄), computed on the sorted amounts as (2 Σᵢ i·x₍ᵢ₎) / (n Σ x) − (n + 1) / n.
    None for no values or a zero total.
    """
    ordered = sorted(values)
    if not ordered or sum(ordered) == 0:
        return None
    if ordered[0] < 0:
        raise ValueError("the Gini coefficient is defined for non-negative amounts")
    n, total = len(ordered), sum(ordered)
    weighted = sum(rank * value for rank, value in enumerate(ordered, start=1))
    return 2 * weighted / (n * total) - (n + 1) / n


def absence_factor(counts: Iterable[int]) -> int | None:
    """CHAOSS Contributor Absence Factor: the fewest contributors who together made half of the contributions
    (contributions sorted from the most, added up until they reach 50% of the total). None for no contributions."""
    ordered = sorted((c for c in counts if c > 0), reverse=True)
    half = sum(ordered) / 2
    running = 0
    for members, count in enumerate(ordered, start=1):
        running += count
        if running >= half:
            return members
    return None


def reciprocity(edges: Iterable[tuple[str, str]]) -> float | None:
    """Share of a directed graph's edges whose reverse edge is also there (NetworkX `reciprocity(G)` for the whole
    graph: reciprocated edges / edges). Self-loops are not edges here. None for a graph without edges."""
    graph = {(u, v) for u, v in edges if u != v}
    if not graph:
        return None
    return sum(1 for u, v in graph if (v, u) in graph) / len(graph)


# ------------------------------------------------------------------------------------------------ the week's data


class PostFact(NamedTuple):
    """One counted post, as the engagement store keeps it (never its text). A NamedTuple rather than a dataclass:
    a busy week holds tens of thousands, and a tuple is several times quicker to build."""

    id: int
    username: str
    topic_id: int
    category_id: int | None
    at: float  # epoch seconds
    number: int  # post_number: 1 opens the topic
    reply_to: str | None = None  # the username of the post it answers (Discourse `reply_to_user`), if any

    @property
    def is_reply(self) -> bool:
        return self.number > 1


@dataclass(frozen=True)
class TopicStart:
    """A topic opened in the week, and when it was first answered (None: not yet)."""

    topic_id: int
    at: float
    first_response_at: float | None


@dataclass(frozen=True)
class WeekActivity:
    """What `summarize_week` needs to know about one week (in one category, or the whole forum).

    `earliest_day` holds, for each member who posted this week, the first day they ever posted as far as is known
    (`NEVER` for "before, but unknown when"); `window` the members who posted in the 90 days before the week.
    """

    week: str
    posts: tuple[PostFact, ...]
    likers: tuple[str, ...]  # one entry per like given in the week
    topics: tuple[TopicStart, ...]
    reply_edges: frozenset[tuple[str, str]]  # over the 4 weeks ending with this one
    earliest_day: Mapping[str, float]
    window: frozenset[str]
    now: float


def first_responses(opened: Iterable[PostFact], replies: Iterable[PostFact]) -> dict[int, float]:
    """When each topic opened by a post of `opened` was first answered (topics not answered are left out).

    A reply qualifies as in Discourse's `Topic.time_to_first_response`: post #2 or later in the topic, not by the
    topic's author, written after the topic. `replies` are counted posts only, so they are regular, not deleted,
    and not by a bot or the service.
    """
    starts = {p.topic_id: (p.username, p.at) for p in opened}
    first: dict[int, float] = {}
    for reply in replies:
        start = starts.get(reply.topic_id)
        if (
            start is not None
            and reply.number > 1
            and reply.username != start[0]
            and reply.at > start[1]
            and reply.at < first.get(reply.topic_id, math.inf)
        ):
            first[reply.topic_id] = reply.at
    return first


def reply_edges(posts: Iterable[PostFact], topic_authors: Mapping[int, str | None]) -> set[tuple[str, str]]:
    """The who-replies-to-whom edges of some posts: a reply goes to the author of the post it answers, else to the
    topic's author. A topic's first post, an unknown target and a self-loop make no edge."""
    edges = set()
    for post in posts:
        if post.number > 1:
            target = post.reply_to or topic_authors.get(post.topic_id)
            if target and target != post.username:
                edges.add((post.username, target))
    return edges


@dataclass(frozen=True)
class Contributors:
    new: frozenset[str]
    returning: frozenset[str]
    inactive: frozenset[str]


def contributors(
    posters: Collection[str], earliest_day: Mapping[str, float], window: Collection[str], start_day: int
) -> Contributors:
    """CHAOSS contributor figures for a week that starts on `start_day`.

    new: posted this week and never before (first public post ever: Discourse `new_contributors`);
    returning: posted this week, not in the 90 days before it (`window`), but at some time before that;
    inactive: posted in the 90 days before the week, not this week (CHAOSS Inactive Contributors).
    """
    posted = set(posters)
    before = {m for m in posted if earliest_day.get(m, start_day) < start_day}
    return Contributors(
        new=frozenset(posted - before),
        returning=frozenset(before - set(window)),
        inactive=frozenset(set(window) - posted),
    )


def response_summary(topics: Collection[TopicStart], now: float) -> tuple[float | None, ...]:
    """(median, 90th percentile, mean) hours to first response over the answered topics, and the shares of topics
    with no response within 24 h and within 7 days.

    A share counts only the topics old enough to tell (created at least that long before `now`): a topic opened an
    hour ago without an answer has not gone unanswered for a day. None when there is nothing to measure.
    """
    hours = [(t.first_response_at - t.at) / 3600 for t in topics if t.first_response_at is not None]
    shares: list[float | None] = []
    for horizon in NO_RESPONSE_HOURS:
        decided = [t for t in topics if now - t.at >= horizon * 3600]
        unanswered = [
            t for t in decided if t.first_response_at is None or (t.first_response_at - t.at) / 3600 > horizon
        ]
        shares.append(len(unanswered) / len(decided) if decided else None)
    return (percentile(hours, 0.5), percentile(hours, 0.9), mean(hours), *shares)


def summarize_week(activity: WeekActivity) -> WeekFigures:
    """Every figure of one week from its activity."""
    posts_per_member = Counter(p.username for p in activity.posts)
    who = contributors(posts_per_member, activity.earliest_day, activity.window, week_start_day(activity.week))
    median, p90, average, no_24h, no_7d = response_summary(activity.topics, activity.now)
    return WeekFigures(
        week=activity.week,
        engaged_members=len(set(posts_per_member) | set(activity.likers)),
        new_contributors=len(who.new),
        returning_contributors=len(who.returning),
        inactive_contributors=len(who.inactive),
        topics=sum(1 for p in activity.posts if p.number == 1),
        posts=len(activity.posts),
        replies=sum(1 for p in activity.posts if p.number > 1),
        likes=len(activity.likers),
        ttfr_median_hours=median,
        ttfr_p90_hours=p90,
        ttfr_mean_hours=average,
        topics_no_response_24h=no_24h,
        topics_no_response_7d=no_7d,
        reciprocity=reciprocity(activity.reply_edges),
        gini=gini(posts_per_member.values()),
        absence_factor=absence_factor(posts_per_member.values()),
    )


def last_completed_week(now: datetime, zone: tzinfo) -> str:
    """The latest ISO week whose Sunday is over on the calendar of `zone` at `now` (on a Monday: last week)."""
    today = now.astimezone(zone).date()
    sunday = today - timedelta(days=today.isoweekday())
    return iso_week(datetime.combine(sunday, time(12, 0), tzinfo=UTC))
