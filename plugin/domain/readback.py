"""Reading the forum back, as pure rules: what `reconcile` feeds and `rebuild` finds in what the forum shows.

`worker.reconcile` reads the forum's listing of the latest posts back page by page (`Sweep`, then `older_page` for
the walk down the older posts) and asks here what each post it read is news of (`post_change`), which of its likes
were never seen (`unseen_likes`) and which open proposals to read again (`open_proposal_chunks`).
`worker.rebuild` reads each closed draft topic's posts and asks here which of them decided it (`last_word`) and what
that decision was (`read_decision`). Nothing here does I/O: the worker reads, asks, and writes what it is told.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from plugin.domain.amendments import APPLIED, DRAFTED, OPEN, REJECTED, STALE, Amendment, decide, record
from plugin.domain.decisions import decision_effects
from plugin.domain.engagement import iso_week, shift_week, week_bounds
from plugin.domain.events import Post, Topic
from plugin.domain.names import TAG_APPROVED, TAG_REJECTED, not_allowed_effect
from plugin.domain.proposals import parse_command
from plugin.domain.safety import is_service

POST_CREATED, POST_EDITED = "post_created", "post_edited"

# ------------------------------------------------------------------------------------------------ the window


def window_start_week(now: float, weeks: int) -> str:
    """The first ISO week of a window of `weeks` weeks that ends with the week of `now`."""
    return shift_week(iso_week(now), -(max(1, weeks) - 1))


def window_start(now: float, weeks: int) -> float:
    """When that window begins: Monday 00:00 UTC of its first week (epoch seconds)."""
    return week_bounds(window_start_week(now, weeks))[0].timestamp()


def proposes(post: Post) -> bool:
    """Whether a post, as a topic's listing shows it (cooked HTML, no raw), may hold an `[amend]` block: the forum
    leaves the unknown BBCode as it was written."""
    return "[amend" in (post.cooked or post.raw).lower()


# ------------------------------------------------------------------------------------------------ the delivery log

PENDING_GRACE = 600.0
"""Seconds a delivery may show no answer yet (on its way, delayed) before it is taken for lost and redelivered."""
RETRIED_STATUSES = frozenset({408, 409, 425, 429})
"""Refusals of the receiver that another try may pass; any other 4xx is final (a bad signature, a body it cannot
read: the same bytes sent again would be refused again)."""


@dataclass(frozen=True)
class LoggedDelivery:
    """One row of a webhook's delivery log: its id, the receiver's answer (0: none yet, -1: none came), when it was
    made (epoch seconds) and whether a redelivery is under way."""

    id: int
    status: int
    at: float
    redelivering: bool = False

    @property
    def settled(self) -> bool:
        """Received (2xx), or refused by the receiver for good."""
        return 200 <= self.status < 300 or (400 <= self.status < 500 and self.status not in RETRIED_STATUSES)

    def lost(self, now: float) -> bool:
        """Not received, and not on its way: to be redelivered."""
        if self.settled or self.redelivering:
            return False
        return self.status not in (0,) or now - self.at > PENDING_GRACE


@dataclass
class LogRead:
    """One reconcile pass's read of the webhook's delivery log, newest first (`take` each page), down to `mark`:
    every delivery up to that id was settled when a pass last looked.

    `covered` once the read met the mark: every delivery since is in `rows`. Reading to the log's end without
    meeting it (the forum purges old deliveries, or the mark belongs to a log never read) leaves a gap, which only
    reading the posts themselves can close."""

    mark: int
    rows: list[LoggedDelivery] = field(default_factory=list)
    covered: bool = False
    ended: bool = False

    def take(self, page: Sequence[LoggedDelivery], page_size: int) -> None:
        for row in page:
            if row.id <= self.mark:
                self.covered = True
                return
            self.rows.append(row)
        self.ended = len(page) < page_size
        self.covered = self.ended and self.mark == 0  # no delivery has an id of 0: the whole log was read

    @property
    def reading(self) -> bool:
        return not (self.covered or self.ended)

    def lost(self, now: float) -> list[int]:
        """The deliveries to send again, oldest first."""
        return sorted(row.id for row in self.rows if row.lost(now))

    def next_mark(self, redelivered: Collection[int]) -> int:
        """The mark for the next pass: below the oldest delivery not yet settled (one redelivered now included:
        the next pass sees whether it arrived); the mark unchanged if this read did not reach it."""
        if not (self.covered or self.ended):
            return self.mark
        unsettled = [row.id for row in self.rows if not row.settled or row.id in redelivered]
        if unsettled:
            return min(unsettled) - 1
        return max((row.id for row in self.rows), default=self.mark)


# ------------------------------------------------------------------------------------------------ reconcile


@dataclass(frozen=True)
class SweepCursor:
    """Where reconcile's passes are, kept from one pass to the next (0: not set)."""

    cursor: int = 0
    """The newest post the last finished sweep read: the next sweep reads back to a little below it."""
    top: int = 0
    """The newest post of the current (or last) sweep."""
    floor: int = 0
    """The current sweep reads down to this id (not included)."""
    before: int = 0
    """Where an unfinished sweep goes on (0: it finished; the next pass reads the newest posts again)."""
    older: int = 0
    """Where the walk down the older posts goes on (0: it came round; it starts again below the newest posts)."""

    @classmethod
    def from_fields(cls, fields: Mapping[str, int]) -> SweepCursor:
        return cls(**{name: fields.get(name, 0) for name in asdict(cls())})

    def fields(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Sweep:
    """One pass's read of the newest posts, newest first, one page at a time (`take`): from the newest post (or
    where an unfinished sweep stopped) down to `lookback` ids below the last sweep's newest post (the first sweep:
    below the lowest post the service has heard of, `lowest_heard`), at most `max_pages` pages."""

    saved: SweepCursor
    max_pages: int
    lookback: int
    lowest_heard: int | None
    page_size: int
    pages: int = 0
    posts: dict[int, Post] = field(default_factory=dict)
    """The posts read that are above the floor, by id."""
    low: int | None = None
    """The lowest id of the pages read."""
    more: bool = True

    def __post_init__(self) -> None:
        self.before: int | None = self.saved.before or None
        self.high: int | None = self.before - 1 if self.before else None
        """The listing covers every id from the lowest read up to here (None: up to the newest)."""
        self.top, self.floor = self.saved.top, self.saved.floor

    @property
    def reading(self) -> bool:
        """Whether to read another page (from `before`; None: the newest)."""
        return self.more and self.pages < self.max_pages

    def take(self, page: Sequence[Post]) -> None:
        """One page read from `before`: a new sweep starts with it; an empty page, the floor or the listing's last
        page stops the sweep."""
        self.pages += 1
        if not page:
            self.more = False
            return
        ids = [p.id for p in page]
        if self.before is None:  # a new sweep: from the newest post to below the last one read
            self.top = max(ids)
            self.floor = max(0, (self.saved.cursor or first_heard(self.top, self.lowest_heard)) - self.lookback)
        self.posts.update({p.id: p for p in page if p.id > self.floor})
        self.before = self.low = min(ids)
        if self.before <= self.floor or len(page) < self.page_size:
            self.before = None
            self.more = False

    @property
    def finished(self) -> bool:
        """The sweep reached its floor (a pass that stops before goes on from `before` at the next)."""
        return self.before is None

    @property
    def pages_left(self) -> int:
        return self.max_pages - self.pages

    def listed(self) -> tuple[int, int | str]:
        """The ids (low, high; high may be "+inf") the pages read list every live post of: a live post there that
        they do not list was deleted, or is hidden from the listing."""
        lowest = self.floor + 1 if self.finished else (self.low or self.floor + 1)
        return max(lowest, self.floor + 1), self.high if self.high is not None else "+inf"

    def older_start(self) -> int:
        """Where the walk down the older posts goes on: where the last one stopped, else just above the floor."""
        return self.saved.older or self.floor + 1

    def cursor_after(self, older: int) -> SweepCursor:
        """What the next pass goes on from, `older` being where the walk down the older posts goes on."""
        return SweepCursor(
            cursor=self.top if self.finished else self.saved.cursor,
            top=self.top,
            floor=self.floor,
            before=self.before or 0,
            older=older,
        )


def first_heard(top: int, lowest_heard: int | None) -> int:
    """Where the first sweep starts from: the lowest post the service has heard of (it began listening there), so
    that everything since is read back, however much was written before the first pass."""
    return top if lowest_heard is None else min(top, lowest_heard)


@dataclass(frozen=True)
class OlderPage:
    """One page of the walk down the older posts."""

    posts: dict[int, Post]
    """The posts to check, by id: none below the bottom."""
    low: int
    """The walk goes on below this id; the page lists every live post from here to `high`."""
    high: int


def older_page(page: Sequence[Post], before: int, bottom: int, page_size: int) -> OlderPage:
    """What a page of the posts below `before` holds, no lower than `bottom` (the lowest post the service has heard
    of); the listing's last page reaches the bottom."""
    low = bottom if len(page) < page_size else max(min((p.id for p in page), default=bottom), bottom)
    return OlderPage(posts={p.id: p for p in page if p.id >= bottom}, low=low, high=before - 1)


def came_round(before: int, bottom: int) -> bool:
    """Whether the walk down the older posts has reached the lowest post the service has heard of."""
    return before <= max(bottom, 1)


def post_change(post: Post, known: tuple[int, str] | None) -> str | None:
    """What a post read from the forum is news of, given the newest (version, updated_at) of it the service has
    applied: `post_created` if none, `post_edited` if it is newer now, else None."""
    if known is None:
        return POST_CREATED
    if (post.version, post.updated_at) > known:
        return POST_EDITED
    return None


def likes_unseen(like_count: int, seen: Collection[str]) -> bool:
    """Whether a post has more likes than likers seen (then its likers are read)."""
    return like_count > len(seen)


def unseen_likes(likes: Iterable[tuple[int, str]], seen: Iterable[str], bot_username: str) -> list[tuple[int, str]]:
    """The (liker id, username) of the likes not seen (`seen`: the likers' usernames), the service's own left out."""
    known = {name.lower() for name in seen}
    return [(i, name) for i, name in likes if name.lower() not in known and not is_service(name, bot_username)]


def open_proposal_chunks(amendments: Iterable[Amendment], read: set[int], chunk: int) -> list[tuple[int, list[int]]]:
    """(topic id, post ids) to read, `chunk` posts at most at a time, of the open proposals whose posts were not
    `read`: a missed like or edit of them changes what is drafted, whatever their age."""
    topics: dict[int, set[int]] = {}
    for a in amendments:
        if a.status == OPEN and a.post_id not in read:
            topics.setdefault(a.topic_id, set()).add(a.post_id)
    chunks = []
    for topic_id, wanted in sorted(topics.items()):
        ordered = sorted(wanted)
        chunks += [(topic_id, ordered[start : start + chunk]) for start in range(0, len(ordered), chunk)]
    return chunks


# ------------------------------------------------------------------------------------------------ rebuild


@dataclass(frozen=True)
class LastWord:
    """The service's last reply in a closed draft topic, and the command post it answers: the decision is the
    service's last word before it closes the topic."""

    answer: Post
    command: Post
    refusals: tuple[str, ...]
    """The effect keys of the service's earlier replies: kind answers to members who may not decide."""


def last_word(posts: Sequence[Post], bot_username: str) -> LastWord | None:
    """Which of a closed draft topic's `posts` decided it, if any: the post the service's last reply answers."""
    by_number = {p.post_number: p for p in posts}
    answers = [p for p in posts if is_service(p.username, bot_username) and p.reply_to_post_number]
    if not answers:
        return None
    command = by_number.get(answers[-1].reply_to_post_number or 0)
    if command is None:
        return None
    answered = (by_number.get(earlier.reply_to_post_number or 0) for earlier in answers[:-1])
    return LastWord(answers[-1], command, tuple(not_allowed_effect(p.id) for p in answered if p is not None))


def draft_found(amendment: Amendment, topic: Topic) -> Amendment:
    """The amendment whose draft topic the forum holds: drafted."""
    return record(amendment, "", "draft found in the forum", status=DRAFTED, draft_topic_id=topic.id)


@dataclass(frozen=True)
class DraftReading:
    """What a draft topic says of its amendment."""

    amendment: Amendment
    outcome: str | None = None
    """How it was decided, or None: drafted and no more."""
    done: tuple[str, ...] = ()
    """The effect keys of what deciding it made (the forum shows them made): never made again."""


def read_decision(amendment: Amendment, topic: Topic, word: LastWord, command_raw: str) -> DraftReading:
    """The amendment as its closed draft topic shows it, `command_raw` being the text of the command post the
    service's last word answers: decided by that command if the topic's tags agree (an approval without the
    approved tag was stale; a rejection without the rejected tag is not shown), else drafted."""
    drafted = draft_found(amendment, topic)
    command = parse_command(command_raw)
    if command is None:
        return DraftReading(drafted)
    actor = word.command.username
    decision = decide(
        drafted,
        verb=command.verb,
        reason=command.reason,
        actor=actor,
        actor_is_moderator=True,
        current_fingerprint=amendment.base_fingerprint,
    )
    outcome = decision.outcome
    if outcome == APPLIED and TAG_APPROVED not in topic.tags:
        outcome = STALE
    if outcome == REJECTED and TAG_REJECTED not in topic.tags:
        return DraftReading(drafted)
    reason = decision.reason if outcome != STALE else ""
    decided = record(
        drafted, word.answer.created_at, f"{outcome} by {actor}", status=outcome, decided_by=actor, reason=reason
    )
    return DraftReading(decided, outcome, tuple(decision_effects(amendment.id, outcome)))
