"""What the draft and decision jobs decide between reading and writing, as pure functions over plain data.

- **Support**: what a proposal's support is (as the webhooks saw it, and as the forum confirms it) and whether it is
  enough for a draft.
- **Authority**: who may decide a draft (a moderator: staff or a member of the moderators' group; the proposer,
  to withdraw).
- **Staleness**: an approval applies only to the section as it was proposed against.
- **Outcome**: the tags, the verb, the history line and the effects of a decided draft.

`worker.amendments` loads what these need (the store, the forum), asks them, and makes the writes they name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeGuard

from plugin.domain.amendments import (
    APPLIED,
    DRAFTED,
    FINAL,
    OPEN,
    REJECTED,
    STALE,
    WITHDRAWN,
    Amendment,
    Decision,
    Voter,
    count_support,
    decide,
    reaches_threshold,
    record,
)
from plugin.domain.document import Section, parse_document
from plugin.domain.names import (
    TAG_APPROVED,
    TAG_DRAFT,
    TAG_REJECTED,
    announce_effect,
    decision_effect,
    rejection_effect,
)
from plugin.domain.proposals import Command
from plugin.domain.safety import neutralize_mentions

# ------------------------------------------------------------------------------------------------ support


def is_open(amendment: Amendment | None) -> TypeGuard[Amendment]:
    """An amendment that still gathers support: the only kind that is drafted."""
    return amendment is not None and amendment.status == OPEN


def seen_support(proposer: str, likers: Iterable[str]) -> int:
    """Support as the webhooks saw it: the proposer and each distinct liker (any case) other than the proposer. It
    only decides whether a draft job is worth its forum calls; the job confirms the support from the forum."""
    return 1 + len({name.lower() for name in likers} - {proposer.lower()})


@dataclass(frozen=True)
class Support:
    """A proposal's support as the forum confirms it."""

    supporters: tuple[str, ...]  # the proposer, then each liker who counts (see `count_support`)
    reached: bool  # enough for a draft

    @property
    def count(self) -> int:
        return len(self.supporters)


def confirmed_support(
    amendment: Amendment,
    voters: Iterable[Voter],
    discussants: Iterable[str],
    *,
    bot_username: str,
    min_trust_level: int,
    threshold: int,
    quorum: float,
) -> Support:
    """The supporters among the post's likers (`voters`) and whether they reach the threshold and, if one is set,
    the quorum of the section's distinct discussants (`discussants`: the authors of the posts that discuss it)."""
    supporters = count_support(amendment.proposer, voters, bot_username=bot_username, min_trust_level=min_trust_level)
    reached = reaches_threshold(len(supporters), threshold, discussants=len(set(discussants)), quorum=quorum)
    return Support(tuple(supporters), reached)


def support_confirmed(amendment: Amendment, support: Support, when: str) -> Amendment:
    """The open amendment once its support was confirmed short of a draft."""
    return record(amendment, when, f"support confirmed at {support.count}", supporters=support.count)


def drafted_as(amendment: Amendment, support: Support, topic_id: int, when: str) -> Amendment:
    """The amendment once its draft topic exists."""
    if not support.reached:
        raise ValueError(f"amendment {amendment.id} is drafted only once its support is reached")
    return record(
        amendment,
        when,
        f"drafted with {support.count} supporters",
        status=DRAFTED,
        draft_topic_id=topic_id,
        supporters=support.count,
    )


def credited(supporters: Iterable[str], consenting: Iterable[str]) -> list[str]:
    """The supporters a draft names: only those who consented to be named (usernames compare in any case)."""
    consent = {name.lower() for name in consenting}
    return [name for name in supporters if name.lower() in consent]


def source_post_ids(amendment: Amendment, discussion: Iterable[int]) -> list[int]:
    """The posts a draft links to: the proposal's own post first, then every post that discussed the section."""
    return [amendment.post_id] + sorted(i for i in discussion if i != amendment.post_id)


def current_section(document_raw: str | None, section_slug: str) -> Section | None:
    """The section as the living document has it now (None before install, or when it is gone)."""
    return parse_document(document_raw).find(section_slug) if document_raw else None


# ------------------------------------------------------------------------------------------------ authority


def is_moderator(*, staff: bool, groups: Iterable[str], moderators_group: str) -> bool:
    """Who may approve or reject: staff, or a member of the moderators' group when one is set (any case). It comes
    from the forum's record of the member, never from what they wrote."""
    return staff or (bool(moderators_group) and moderators_group.lower() in {g.lower() for g in groups})


def proposer_only(verb: str) -> bool:
    """Whether only the proposer may give the command (`withdraw`); the others are a moderator's."""
    return verb == "withdraw"


def command_decision(
    amendment: Amendment, command: Command, *, actor: str, staff: bool, groups: Iterable[str], moderators_group: str
) -> Decision:
    """What a command in a draft topic leads to, on authority and state alone. Whether the section is still as
    proposed is decided by `application`, under the document lock, on the text an approval is about to change."""
    return decide(
        amendment,
        verb=command.verb,
        reason=command.reason,
        actor=actor,
        actor_is_moderator=is_moderator(staff=staff, groups=groups, moderators_group=moderators_group),
        current_fingerprint=amendment.base_fingerprint,
    )


# ------------------------------------------------------------------------------------------------ staleness


def is_stale(amendment: Amendment, section: Section | None) -> bool:
    """The section is gone or its text changed since the amendment was proposed against it."""
    return section is None or section.fingerprint != amendment.base_fingerprint


@dataclass(frozen=True)
class Application:
    """What approving an amendment does to the living document."""

    stale: bool  # the section moved on: nothing is applied
    raw: str = ""  # the document's text with the amendment in it (the same text when it already was)


def application(amendment: Amendment, document_raw: str) -> Application:
    """The document with the approved amendment applied. Its text goes in with mentions neutralized (the document
    is the service's post: member words never ping). A section that already reads so was applied by an earlier run
    of this approval; one that changed since the proposal makes it stale. Raises ValueError when the text would
    change the document's sections."""
    doc = parse_document(document_raw)
    section = doc.find(amendment.section_slug)
    text = neutralize_mentions(amendment.text)
    if section is not None and section.body.strip() == text.strip():
        return Application(stale=False, raw=document_raw)
    if section is None or is_stale(amendment, section):
        return Application(stale=True)
    return Application(stale=False, raw=doc.replace(section, text).render())


# ------------------------------------------------------------------------------------------------ outcome

_VERBS: Mapping[str, str | None] = {APPLIED: "approve", REJECTED: "reject", WITHDRAWN: "withdraw", STALE: None}


def outcome_tags(status: str) -> list[str]:
    """A draft topic's tags in `status`: the draft tag, and the outcome's tag once approved or rejected."""
    if status != DRAFTED and status not in FINAL:
        raise ValueError(f"a draft is never {status!r}")
    return [TAG_DRAFT] + ([TAG_APPROVED] if status == APPLIED else [TAG_REJECTED] if status == REJECTED else [])


def decided_verb(outcome: str) -> str | None:
    """The command that led to `outcome`, as the decision reply names it; None for STALE (no command made it)."""
    if outcome not in _VERBS:
        raise ValueError(f"{outcome!r} is not how a draft is decided")
    return _VERBS[outcome]


def announces(outcome: str) -> bool:
    """An applied change is announced in the document's topic."""
    return outcome == APPLIED


def tells_proposer(outcome: str) -> bool:
    """A rejected proposal's proposer is told by personal message."""
    return outcome == REJECTED


def decision_effects(amendment_id: str, outcome: str) -> list[str]:
    """Every effect that deciding an amendment with `outcome` makes: the reply in the draft, and the announcement
    or the proposer's message that the outcome adds (any other outcome makes the reply only)."""
    return (
        [decision_effect(amendment_id)]
        + ([announce_effect(amendment_id)] if announces(outcome) else [])
        + ([rejection_effect(amendment_id)] if tells_proposer(outcome) else [])
    )


def decision_line(
    outcome: str, decided_by: str, *, version: int | None = None, proposer: str = "", refused: str = ""
) -> str:
    """The decision's history line (and the job's result): who decided, the document version an approval made, and
    the forum's words (`refused`) when it refused the message that tells `proposer`."""
    line = f"{outcome} by {decided_by}" + (f" (document version {version})" if version else "")
    return line + (f"; {proposer} could not be sent a message (the forum said: {refused})" if refused else "")


def decided(amendment: Amendment, when: str, line: str, *, outcome: str, decided_by: str, reason: str) -> Amendment:
    """The amendment once its draft is decided."""
    if outcome not in FINAL:
        raise ValueError(f"{outcome!r} does not decide an amendment")
    return record(amendment, when, line, status=outcome, decided_by=decided_by, reason=reason)
