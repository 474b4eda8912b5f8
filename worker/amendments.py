"""Effects on the forum: drafting an amendment, deciding it, applying it, answering members.

Each function loads state, asks the pure domain what should happen and makes the effects through the one forum
adapter. Every effect is keyed (a topic by `external_id`; a reply or an edit by `Store.once`), so a job that runs
twice — or dies half-way and is retried — neither loses nor doubles anything.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plugin.adapters.forum import ForumRefused
from plugin.domain.amendments import APPLIED, DRAFTED, STALE, Amendment, Voter
from plugin.domain.decisions import (
    Support,
    application,
    command_decision,
    confirmed_support,
    credited,
    current_section,
    decided,
    decided_verb,
    decision_line,
    drafted_as,
    is_open,
    outcome_tags,
    source_post_ids,
    support_confirmed,
    tells_proposer,
)
from plugin.domain.names import (
    announce_effect,
    decision_effect,
    not_allowed_effect,
    problems_effect,
    rejection_effect,
    rejection_message_id,
)
from plugin.domain.proposals import Problem, parse_command
from plugin.text.drafts import (
    edit_reason,
    render_applied_announcement,
    render_decision,
    render_draft,
    render_not_allowed,
    render_problem_reply,
    render_rejection_pm,
    render_stale,
)
from worker.effects import message_once, reply_once
from worker.feedback import withdraw_post
from worker.services import Services


def draft(s: Services, key: str) -> str:
    """Confirm an amendment's support from the forum and, if it is real, create its draft topic (once)."""
    amendment = s.store.amendment(key)
    if not is_open(amendment):
        return "nothing to draft"
    try:
        likers = s.forum.likers(amendment.post_id)
    except ForumRefused as exc:
        if exc.status in (403, 404, 410):
            withdraw_post(s, amendment.post_id, why="the post is gone")
            return "the proposal's post is gone"
        raise
    support = confirmed_support(
        amendment,
        [voter(s, name) for name in likers],
        [d["author"] for d in s.store.discussion(amendment.section_slug).values()],
        bot_username=s.settings.bot_username,
        min_trust_level=s.settings.min_trust_level,
        threshold=s.settings.support_threshold,
        quorum=s.settings.support_quorum,
    )
    if not support.reached:
        s.store.save_amendment(support_confirmed(amendment, support, now()))
        return f"{support.count} supporter(s): not yet"
    topic_id = open_draft(s, amendment, support)
    s.store.save_amendment(drafted_as(amendment, support, topic_id, now()))
    return f"drafted as topic {topic_id}"


MAX_TITLE_TRIES = 5
"""Titles a draft tries (its section and the proposed wording's first words, then the day, then "proposal 2 of" that
day, …) while the forum refuses the title: Discourse wants public topic titles unique and readable."""


def open_draft(s: Services, amendment: Amendment, support: Support) -> int:
    """Create the amendment's draft topic (once: its `external_id` is the amendment's id); returns its id."""
    document = s.store.document()
    section = current_section(document["raw"] if document else None, amendment.section_slug)
    consenting = s.forum.group_members(s.settings.consent_group)
    credited_names = credited(support.supporters, consenting)
    links = source_links(s, amendment)
    category_id = s.forum.category_id(s.settings.drafts_category)
    for nth in range(1, MAX_TITLE_TRIES + 1):
        title, raw = render_draft(
            amendment_id=amendment.id,
            section_title=amendment.section_title,
            section_number=section.number if section else None,
            current=section.body if section else "",
            proposed=amendment.text,
            supporters=support.count,
            credited=credited_names,
            source_links=links,
            threshold=s.settings.support_threshold,
            drafted_on=today(s),
            nth=nth,
        )
        try:
            topic = s.forum.create_topic(
                title=title, raw=raw, category_id=category_id, tags=outcome_tags(DRAFTED), external_id=amendment.id
            )
        except ForumRefused as refused:
            if nth < MAX_TITLE_TRIES and title_refused(refused):
                continue  # the adapter found no topic with this external_id: only the title is in the way
            raise
        return topic.topic_id
    raise AssertionError("unreachable: the last try returns or raises")  # pragma: no cover


def decide_command(s: Services, key: str, post: dict) -> str:
    """A reply in a draft topic whose first line is a command: check who wrote it, then act."""
    amendment = s.store.amendment(key)
    command = parse_command(post["raw"])
    if amendment is None or command is None:
        return "no command"
    member = s.forum.member(post["username"])
    # Authority and state are decided here; whether the section is still as proposed is checked by `apply`, under
    # the document lock, on the text it is about to change.
    decision = command_decision(
        amendment,
        command,
        actor=post["username"],
        staff=member.staff,
        groups=member.groups,
        moderators_group=s.settings.moderators_group,
    )
    if decision.outcome == "ignored":
        return f"ignored: amendment is {amendment.status}"
    if decision.outcome == "not_allowed":
        reply_once(
            s,
            not_allowed_effect(post["id"]),
            amendment.draft_topic_id,
            post["post_number"],
            render_not_allowed(verb=command.verb, about=f"{amendment.id} answering post {post['id']}"),
        )
        return "not allowed: answered"
    if decision.outcome == APPLIED:
        return apply(s, amendment, post)
    return close(s, amendment, post, decision.outcome, decision.reason)


def apply(s: Services, amendment: Amendment, post: dict) -> str:
    """Apply an approved amendment to the document, one at a time; a section that moved on makes it stale."""
    with s.store.document_lock():
        document = s.store.document()
        assert document is not None, "the living document is not cached (install or rebuild caches it)"
        fresh = s.forum.post(document["post_id"])
        applied = application(amendment, fresh.raw)  # the same text when an earlier run applied it: finish the job
        if applied.stale:
            return close(s, amendment, post, STALE, "")
        reason = edit_reason(amendment.section_title, post["username"])
        if applied.raw != fresh.raw:
            version = s.forum.edit_post(document["post_id"], raw=applied.raw, edit_reason=reason).version
        else:
            version = fresh.version
        s.store.save_document(
            topic_id=document["topic_id"], post_id=document["post_id"], version=version, raw=applied.raw
        )
    assert amendment.draft_topic_id is not None, "only a drafted amendment is decided"
    draft_url = s.forum.topic_url(amendment.draft_topic_id)
    reply_once(
        s,
        announce_effect(amendment.id),
        document["topic_id"],
        None,
        marker=draft_url,
        raw=render_applied_announcement(section_title=amendment.section_title, draft_url=draft_url),
    )
    return close(s, amendment, post, APPLIED, "", version=version)


def close(s: Services, amendment: Amendment, post: dict, outcome: str, reason: str, version: int | None = None) -> str:
    """Tag, answer and close the draft; tell the proposer by PM when it was rejected."""
    topic_id = amendment.draft_topic_id
    assert topic_id is not None, "only a drafted amendment is decided"
    s.forum.set_tags(topic_id, outcome_tags(outcome))
    verb = decided_verb(outcome)
    if verb is None:
        text = render_stale(section_title=amendment.section_title, about=amendment.id)
    else:
        text = render_decision(verb=verb, decided_by=post["username"], reason=reason, about=amendment.id)
    reply_once(s, decision_effect(amendment.id), topic_id, post["post_number"], text)
    refused = send_rejection(s, amendment, topic_id, reason) if tells_proposer(outcome) else ""
    line = decision_line(outcome, post["username"], version=version, proposer=amendment.proposer, refused=refused)
    s.forum.close_topic(topic_id)
    s.store.save_amendment(decided(amendment, now(), line, outcome=outcome, decided_by=post["username"], reason=reason))
    return line


def send_rejection(s: Services, amendment: Amendment, topic_id: int, reason: str) -> str:
    """Tell the proposer by PM that their proposal was not adopted (once); returns the forum's words if it refused."""
    title, raw = render_rejection_pm(
        section_title=amendment.section_title, reason=reason, draft_url=s.forum.topic_url(topic_id)
    )
    return message_once(
        s,
        rejection_effect(amendment.id),
        title=title,
        raw=raw,
        recipients=[amendment.proposer],
        external_id=rejection_message_id(amendment.id),
    ).refused


def answer_problems(s: Services, post_id: int, topic_id: int, post_number: int, messages: list[str]) -> str:
    try:
        reply_once(
            s,
            problems_effect(post_id, len(messages)),
            topic_id,
            post_number,
            render_problem_reply([Problem(m) for m in messages], about=f"post {post_id}"),
        )
    except ForumRefused as refused:
        if refused.status not in (403, 404, 410, 422):
            raise
        # Discourse answers a reply to a closed, deleted or unreadable topic with 422 (`topic_not_found`)
        return f"not answered: the forum refused a reply in topic {topic_id} ({refused})"  # no retry
    return f"answered {len(messages)} problem(s)"


# ---------------------------------------------------------------------------------------------- helpers


def voter(s: Services, username: str) -> Voter:
    """A liker's standing: from the member cache (fed free by post webhooks) or, failing that, the forum."""
    known = s.store.member(username)
    if known is None or "suspended" not in known or "trust_level" not in known:
        member = s.forum.member(username)
        s.store.remember_member(
            username, trust_level=member.trust_level, staff=member.staff, suspended=member.suspended
        )
        return Voter(username, member.trust_level, member.suspended)
    return Voter(username, known["trust_level"], bool(known["suspended"]))


def source_links(s: Services, amendment: Amendment) -> list[str]:
    """The proposal post and every post that discussed the section (public ones only ever reach the store)."""
    return [s.forum.post_url(i) for i in source_post_ids(amendment, s.store.discussion(amendment.section_slug))]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def today(s: Services) -> str:
    """Today as members read it, in the forum's time zone: "14 March 2026"."""
    try:
        zone: tzinfo = ZoneInfo(s.settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    day = datetime.now(zone)
    return f"{day.day} {day:%B %Y}"


def title_refused(refused: ForumRefused) -> bool:
    """The forum refused a topic for its title: another public topic has it ("Title has already been used"), or
    Discourse's title checks found the member's words in it unfit ("Title seems unclear…", "Title is invalid")."""
    return refused.status == 422 and any(e.lower().startswith("title") for e in refused.errors)
