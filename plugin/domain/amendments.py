"""The amendment lifecycle, as pure functions over plain data.

An amendment is one `[amend]` block of one post: `coc-amendment-<post id>-<n>`. It is *open* while it gathers
support, *drafted* once it reached the threshold and a draft topic exists, and then *applied*, *rejected*,
*withdrawn* or *stale* (the section changed after it was written). Nothing here does I/O: the worker loads an
Amendment, asks these functions what should happen, and performs the effects through the forum adapter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

OPEN, DRAFTED, APPLIED, REJECTED, WITHDRAWN, STALE = "open", "drafted", "applied", "rejected", "withdrawn", "stale"
FINAL = frozenset({APPLIED, REJECTED, WITHDRAWN, STALE})


@dataclass(frozen=True)
class Amendment:
    id: str
    post_id: int
    index: int
    topic_id: int
    proposer: str
    section_slug: str
    section_title: str
    base_fingerprint: str  # the section's fingerprint when the proposal was written (staleness)
    text: str
    status: str = OPEN
    draft_topic_id: int | None = None
    supporters: int = 1
    decided_by: str = ""
    reason: str = ""
    history: tuple[str, ...] = field(default=())  # short, dated lines: what happened, in order


@dataclass(frozen=True)
class Voter:
    """What support counting needs to know of one member."""

    username: str
    trust_level: int
    suspended: bool = False


def count_support(proposer: str, likers: Iterable[Voter], *, bot_username: str, min_trust_level: int) -> list[str]:
    """Distinct supporters: the proposer plus every liker who may count (not the bot, not suspended, trusted)."""
    supporters = [proposer]
    seen = {proposer.lower(), bot_username.lower()}
    for voter in likers:
        name = voter.username.lower()
        if name in seen or voter.suspended or voter.trust_level < min_trust_level:
            continue
        seen.add(name)
        supporters.append(voter.username)
    return supporters


def reaches_threshold(supporters: int, threshold: int, *, discussants: int = 0, quorum: float = 0.0) -> bool:
    """Real support: at least `threshold` distinct supporters and, if a quorum is set, that share of the section's
    discussants (a quorum of 0.5 over 10 discussants needs 5)."""
    if supporters < threshold:
        return False
    return quorum <= 0 or discussants == 0 or supporters >= quorum * discussants


@dataclass(frozen=True)
class Decision:
    """What a command in a draft topic leads to."""

    outcome: str  # APPLIED, REJECTED, WITHDRAWN, STALE, "not_allowed", "ignored"
    reason: str = ""


def decide(
    amendment: Amendment,
    *,
    verb: str,
    reason: str,
    actor: str,
    actor_is_moderator: bool,
    current_fingerprint: str | None,
) -> Decision:
    """The outcome of `/approve`, `/reject <reason>` or `/withdraw` by `actor` on a drafted amendment.

    Authority comes from the forum (the caller checks staff and group membership), never from the text. A decided
    amendment ignores further commands. Approval of a section that changed since the proposal is STALE.
    """
    if amendment.status != DRAFTED:
        return Decision("ignored")
    if verb == "withdraw":
        if actor.lower() != amendment.proposer.lower():
            return Decision("not_allowed")
        return Decision(WITHDRAWN)
    if not actor_is_moderator:
        return Decision("not_allowed")
    if verb == "reject":
        return Decision(REJECTED, reason.strip() or "No reason was given.")
    if verb == "approve":
        if current_fingerprint is None or current_fingerprint != amendment.base_fingerprint:
            return Decision(STALE)
        return Decision(APPLIED)
    return Decision("ignored")


def record(amendment: Amendment, when: str, line: str, **changes: object) -> Amendment:
    """The amendment with `changes` applied and a dated line added to its history."""
    return replace(amendment, history=(*amendment.history, f"{when} {line}"), **changes)  # type: ignore[arg-type]
