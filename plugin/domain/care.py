"""A request for care, from "direct support" to a person who reached out: its states and every rule about them.

A request is **open** from the moment a member asks until someone of the peer-support team answers in the team's
conversation: it is then **picked up** by that person. It is **closed** when a team member closes it (a reply
that starts with `/done`, or closing the conversation). While it is open, one reminder goes to the team after
`remind_after` seconds and one alert to the backup group after `escalate_after` seconds; neither goes once it is
picked up or closed.

Two private conversations belong to a request: the member's (the companion and the member) and the team's (the
companion and the care group). What the member writes in theirs reaches the team; what the team writes in theirs
stays among the team, except that the member is told who picked their request up.

Pure: the handlers in `worker/care.py` load a request, ask these functions what to do, and do it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

OPEN, PICKED_UP, CLOSED = "open", "picked_up", "closed"
STATUSES = (OPEN, PICKED_UP, CLOSED)
TEAM, MEMBER = "team", "member"
"""The two conversations of a request."""
REMIND, ESCALATE = "remind", "escalate"
"""The two timers of an open request."""

_DONE = re.compile(r"\A\s*/done\b", re.IGNORECASE)


@dataclass(frozen=True)
class CareRequest:
    """One member's request, keyed by the post (or private message) in which they asked."""

    post_id: int
    member: str
    asked_at: float  # epoch seconds: when the service first routed it (the team was told then)
    team_topic_id: int | None = None
    member_topic_id: int | None = None
    status: str = OPEN
    picked_by: str | None = None
    picked_at: float | None = None
    picked_post_id: int | None = None  # the team's reply that picked it up
    closed_by: str | None = None
    closed_at: float | None = None
    closed_post_id: int | None = None  # the team's `/done`, if that is how it closed
    reminded: bool = False
    escalated: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown care request status {self.status!r}; expected one of {', '.join(STATUSES)}")

    @property
    def waiting(self) -> bool:
        """Nobody has picked it up yet, and it is not closed."""
        return self.status == OPEN

    def pickup_seconds(self) -> float | None:
        """How long the member waited for a person, once someone picked the request up."""
        return None if self.picked_at is None else max(0.0, self.picked_at - self.asked_at)


@dataclass(frozen=True)
class TeamReply:
    """What a reply in the team's conversation does to its request."""

    request: CareRequest  # the request after the reply
    picked_up: bool = False  # this reply picked it up: tell the member who, if the team wants that
    closed: bool = False  # this reply closed it


def conversation_of(request: CareRequest, topic_id: int) -> str | None:
    """Which of the request's conversations `topic_id` is (TEAM or MEMBER), or None."""
    if topic_id == request.team_topic_id:
        return TEAM
    if topic_id == request.member_topic_id:
        return MEMBER
    return None


def asks_to_close(raw: str) -> bool:
    """A team reply that starts with `/done` (any case) closes the request."""
    return bool(_DONE.match(raw or ""))


def on_team_reply(request: CareRequest, *, post_id: int, author: str, raw: str, at: float) -> TeamReply:
    """A team member (not the companion) replied in the team's conversation (post `post_id`).

    `/done` closes the request, whatever its state; any other first reply picks an open request up for its
    author; later replies are the team's own coordination and change nothing. The same reply handled again (a
    job that ran twice) answers as it did the first time, so that what it must make is made.
    """
    if post_id == request.picked_post_id:
        return TeamReply(request, picked_up=True)
    if post_id == request.closed_post_id:
        return TeamReply(request, closed=True)
    if request.status == CLOSED:
        return TeamReply(request)
    if asks_to_close(raw):
        closed = replace(request, status=CLOSED, closed_by=author, closed_at=at, closed_post_id=post_id)
        return TeamReply(closed, closed=True)
    if request.status == OPEN:
        picked = replace(request, status=PICKED_UP, picked_by=author, picked_at=at, picked_post_id=post_id)
        return TeamReply(picked, picked_up=True)
    return TeamReply(request)


def on_closed(request: CareRequest, *, by: str | None, at: float) -> CareRequest | None:
    """The team's conversation was closed: the request is closed (None: it already was)."""
    if request.status == CLOSED:
        return None
    return replace(request, status=CLOSED, closed_by=by, closed_at=at)


def relays(request: CareRequest, *, author: str) -> bool:
    """Whether a reply in the member's conversation reaches the team: everything the member writes there does,
    whatever the request's state (a closed request may be asked again)."""
    return author.lower() == request.member.lower()


def awaits(request: CareRequest, which: str | None, *, author: str, relayed: bool, delivered: bool) -> bool:
    """Whether a person's post in one of the request's conversations (`which`: MEMBER or TEAM) still waits for
    what it should make happen, so that `reconcile` hands it to the care queue again.

    The member's words wait until their relay is made (`relayed`), whatever became of their delivery: one that
    came before the conversation was known went elsewhere. A team reply waits if it was never `delivered`, or
    while the request is still open (delivered, then, before the conversation was known: a pickup not made).
    """
    if which == MEMBER:
        return relays(request, author=author) and not relayed
    if which == TEAM:
        return not delivered or request.status == OPEN
    return False


def due(request: CareRequest, timer: str, *, now: float, remind_after: float, escalate_after: float) -> bool:
    """Whether the `timer` (REMIND or ESCALATE) of `request` should go out now: once, only while it is open."""
    if not request.waiting:
        return False
    if timer == REMIND:
        return not request.reminded and now >= request.asked_at + remind_after
    if timer == ESCALATE:
        return not request.escalated and now >= request.asked_at + escalate_after
    raise ValueError(f"unknown care timer {timer!r}; expected {REMIND} or {ESCALATE}")


def timer_at(request: CareRequest, timer: str, *, remind_after: float, escalate_after: float) -> float:
    """When the `timer` of `request` is due (epoch seconds)."""
    if timer == REMIND:
        return request.asked_at + remind_after
    if timer == ESCALATE:
        return request.asked_at + escalate_after
    raise ValueError(f"unknown care timer {timer!r}; expected {REMIND} or {ESCALATE}")


# ------------------------------------------------------------------------------------------------ the team's view


@dataclass(frozen=True)
class CareSummary:
    """The care requests of a week, for the team's private weekly summary."""

    requests: int
    picked_up: int
    pickup_median_minutes: float | None
    pickup_p90_minutes: float | None
    escalated: int
    still_open: int


def summarize(requests: Iterable[CareRequest], *, start: float, end: float) -> CareSummary:
    """The requests asked between `start` (included) and `end` (excluded)."""
    week = [r for r in requests if start <= r.asked_at < end]
    waits = sorted(s / 60 for r in week if (s := r.pickup_seconds()) is not None)
    return CareSummary(
        requests=len(week),
        picked_up=len(waits),
        pickup_median_minutes=percentile(waits, 50),
        pickup_p90_minutes=percentile(waits, 90),
        escalated=sum(1 for r in week if r.escalated),
        still_open=sum(1 for r in week if r.waiting),
    )


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """The `p`-th percentile of sorted values (nearest rank); None when there are none."""
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def oldest_waiting_seconds(requests: Iterable[CareRequest], *, now: float) -> float:
    """How long the oldest request nobody has picked up has waited (0 when none waits): the alert to set."""
    return max((now - r.asked_at for r in requests if r.waiting), default=0.0)
