"""The weekly digest: freeze a week's figures, draw and upload the chart, post the topic — once per week.

Exactly once, even with two schedulers, a rerun or a manual `python -m plugin digest` beside the scheduled job:
- one job at a time works on a week (a Redis lock per week);
- the topic is created with external_id `coc-digest-<week>`, which the forum refuses twice (the adapter's
  `create_topic` then returns the existing topic): the forum is the lasting record;
- the chart's upload URL and the topic's id are remembered per week, so a rerun neither uploads nor posts again
  (and after a Redis loss the same chart bytes give the forum's same upload back: Discourse dedupes by SHA-1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from plugin.adapters.forum import ForumRefused
from plugin.adapters.store import Store
from plugin.config import ConfigError, digest_zone
from plugin.domain.activity import SectionActivity, section_activity
from plugin.domain.document import GENERAL_SLUG, parse_document
from plugin.domain.engagement import WeekFigures, check_week, last_completed_week, shift_week, week_bounds
from plugin.domain.names import TAG_DIGEST, digest_external_id
from plugin.text.digest import render_digest
from worker.services import Services

HISTORY_WEEKS = 12
"""Weeks shown in the chart, the digest's week last."""
TOP_THREADS = 5
THREAD_CANDIDATES = 20
"""How many of the week's busiest topics are looked at to find the TOP_THREADS that everyone may read."""
LOCK_SECONDS = 300
"""How long one digest job may hold its week's lock (it waits as long for another job to finish)."""


class WeekNotOver(ValueError):
    """The week asked for has not ended yet (in UTC, as the figures count it): its digest would be partial."""


@dataclass(frozen=True)
class DigestDraft:
    """A digest as it would be posted: the week, the topic's title and raw text, and the chart's PNG bytes."""

    week: str
    title: str
    raw: str
    chart: bytes


def post_digest(
    s: Services,
    week: str | None = None,
    *,
    now: datetime | None = None,
    keep_chart: Callable[[bytes], None] | None = None,
) -> str:
    """Post the digest of `week` (None: the last completed week in COC_TIMEZONE), unless it is already posted.
    Freezes the week's figures first. Returns what happened, for the job's result and the command line.

    `keep_chart` is given the chart's PNG bytes (for `digest --chart`), also when the week was posted already: its
    figures are frozen, so the chart is the one posted."""
    moment = now or datetime.now(UTC)
    week = check_week(week or last_completed_week(moment, digest_zone(s.settings.timezone)))
    ensure_over(week, moment)
    with s.store.digest_lock(week, timeout=LOCK_SECONDS):
        posted = s.store.digest_topic(week)
        if posted is not None:
            if keep_chart is not None:
                keep_chart(draw_chart(s, week))
            return f"digest {week} already posted as topic {posted}"
        figures = s.engagement.freeze(week)
        chart = draw_chart(s, week)
        if keep_chart is not None:
            keep_chart(chart)
        chart_url = upload_chart(s, week, chart)
        title, raw = compose(s, week, figures, chart_url=chart_url)
        first = s.forum.create_topic(
            title=title,
            raw=raw,
            category_id=digest_category_id(s),
            tags=[TAG_DIGEST],
            external_id=digest_external_id(week),
        )
        topic_id = first.topic_id
        s.store.remember_digest_topic(week, topic_id)
    # the per-post detail of the weeks before the window folds into their frozen figures (memory bounded by it)
    compacted = s.engagement.compact(shift_week(week, 1 - s.settings.window_weeks))
    return f"digest {week} posted as topic {topic_id}; {compacted.weeks_compacted} older week(s) compacted"


def preview_digest(s: Services, week: str | None = None, *, now: datetime | None = None) -> DigestDraft:
    """The digest `post_digest` would post now, from the week's current figures: freezes, uploads and posts
    nothing (it reads from the forum the consent group, 1 call when the week had new contributors, and which busy
    topics everyone may read: see `public_threads`). WeekNotOver for a week `post_digest` would refuse."""
    moment = now or datetime.now(UTC)
    week = check_week(week or last_completed_week(moment, digest_zone(s.settings.timezone)))
    ensure_over(week, moment)
    chart = draw_chart(s, week)
    title, raw = compose(s, week, s.engagement.figures(week), chart_url=None)
    return DigestDraft(week=week, title=title, raw=raw, chart=chart)


def posted_digest(s: Services, week: str) -> int | None:
    """The id of the week's digest topic if it is posted already, else None. Changes nothing: the topic id
    `post_digest` remembered, else the forum's topic with the week's external_id (lasting longer than the mark; 1
    call when there is none, 2 when there is one)."""
    topic_id = s.store.digest_topic(week)
    if topic_id is not None:
        return topic_id
    found = s.forum.topic_by_external_id(digest_external_id(week))
    return None if found is None else found.topic.id


def ensure_over(week: str, now: datetime) -> None:
    end = week_bounds(week)[1]
    if now < end:
        raise WeekNotOver(
            f"the week {week} is not over until {end:%Y-%m-%d %H:%M} UTC: its digest would be "
            "partial, and posting it would freeze its figures"
        )


def compose(s: Services, week: str, figures: WeekFigures, *, chart_url: str | None) -> tuple[str, str]:
    """(title, raw) of the week's digest, from the engagement store, the Code of Care state and the forum's
    consent group."""
    start, end = week_bounds(week)
    names = s.engagement.new_contributor_names(week)
    return render_digest(
        week=week,
        figures=figures,
        previous=s.engagement.figures(shift_week(week, -1)),
        sections=code_of_care_activity(s, start, end),
        threads=public_threads(s, week),
        new_count=figures.new_contributors,
        credited_names=consenting(s, names) if names else [],
        chart_url=chart_url,
    )


def public_threads(s: Services, week: str) -> list[tuple[int, str, int]]:
    """The week's most active topics that every member may read, for the digest to list by title. A topic in a
    read-restricted category, or one the bot cannot open, is left out, title and all: the engagement store counts
    every category (webhooks carry no permissions). 1 call for the categories, then 1 per topic looked at."""
    public = {c.id for c in s.forum.categories() if not c.read_restricted}
    shown: list[tuple[int, str, int]] = []
    for topic_id, title, posts in s.engagement.top_topics(week, n=THREAD_CANDIDATES):
        if len(shown) == TOP_THREADS:
            break
        try:
            category = s.forum.topic(topic_id).topic.category_id
        except ForumRefused as refused:
            if refused.status in (403, 404, 410):
                continue
            raise
        if category is not None and category in public:
            shown.append((topic_id, title, posts))
    return shown


def code_of_care_activity(s: Services, start: datetime, end: datetime) -> list[SectionActivity]:
    """Each section's discussion, proposals, drafts and decisions between `start` and `end`; care posts excluded."""
    document = s.store.document()
    raw = document["raw"] if document else ""
    amendments = s.store.all_amendments()
    slugs = {section.slug for section in parse_document(raw).sections} | {a.section_slug for a in amendments}
    slugs.add(GENERAL_SLUG)
    return section_activity(
        document_raw=raw,
        amendments=amendments,
        discussions={slug: s.store.discussion(slug) for slug in sorted(slugs)},
        start=start,
        end=end,
        excluded_posts=CarePosts(s.store),
    )


def consenting(s: Services, usernames: Iterable[str]) -> list[str]:
    """The members among `usernames` who are in the consent group (COC_CONSENT_GROUP); none if it does not exist."""
    try:
        group = {name.lower() for name in s.forum.group_members(s.settings.consent_group)}
    except ForumRefused as refused:
        if refused.not_found:
            return []
        raise
    return [name for name in usernames if name.lower() in group]


def draw_chart(s: Services, week: str) -> bytes:
    """The chart of the HISTORY_WEEKS weeks ending with `week`, oldest first."""
    from plugin.text.chart import render_chart  # noqa: PLC0415  (matplotlib loads in a second: only where a chart is drawn)

    return render_chart(s.engagement.history(week, n=HISTORY_WEEKS))


def upload_chart(s: Services, week: str, png: bytes) -> str:
    """The chart's `upload://…` URL: uploaded once per week (as the bot), then remembered."""
    known = s.store.digest_chart(week)
    if known is not None:
        return known
    url = s.forum.upload_png(f"{digest_external_id(week)}.png", png)
    s.store.remember_digest_chart(week, url)
    return url


def digest_category_id(s: Services) -> int | None:
    name = s.settings.digest_category or s.settings.drafts_category
    category_id = s.forum.category_id(name)
    if category_id is None:
        raise ConfigError(
            f"COC_DIGEST_CATEGORY: the bot sees no category named {name!r}; name an existing one "
            "(by name, slug or id), or leave it empty for the drafts category"
        )
    return category_id


class CarePosts:
    """`post_id in CarePosts(store)`: whether a post asked for direct support (so it counts nowhere)."""

    def __init__(self, store: Store):
        self.store = store

    def __contains__(self, post_id: object) -> bool:
        return isinstance(post_id, int) and self.store.is_care_post(post_id)
