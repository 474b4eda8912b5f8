"""What happened to the Code of Care in a week, section by section: the digest's "Code of Care this week".

Pure: counts are made from the document, the amendments' dated history lines and the per-section discussion
records; posts that asked for care are left out entirely.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from plugin.domain.amendments import WITHDRAWN, Amendment
from plugin.domain.document import GENERAL_SLUG, parse_document

GENERAL_TITLE = "The Code as a whole"
"""How the digest names the discussion of no section in particular."""

DECIDED = ("applied by ", "rejected by ", "withdrawn by ", "stale by ")
"""How a decision starts in an amendment's history (worker.amendments.close writes "<outcome> by <who>")."""


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
