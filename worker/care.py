"""Care, from "direct support" to a person who reached out: every job of the `care` queue, which workers serve first.

- **A request** (`route`): a member's own words ask for "direct support". The peer-support group gets a message
  and the member gets one, each exactly once (an effect keyed by the post, and a topic with an `external_id` of
  its own, which the forum refuses to create twice). The request is saved, its reminder and alert are scheduled,
  and the post is taken out of everything public for good.
- **Its two conversations** (`on_conversation_post`, `on_topic`): what the member writes in theirs is relayed
  into the team's; the first team reply picks the request up and the member is told who; `/done` or closing the
  team's conversation closes it. The team's own coordination stays among the team.
- **Its timers** (`on_timer`): one reminder to the team, one alert to the backup group, while nobody picked it up.

Each handler loads the request under its lock, asks `plugin.domain.care` what to do, and does it; every message
is an effect made once, so a job may run twice or die half-way.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

from plugin.domain.care import (
    ESCALATE,
    MEMBER,
    REMIND,
    TEAM,
    CareRequest,
    conversation_of,
    due,
    on_closed,
    on_team_reply,
    relays,
    timer_at,
)
from plugin.domain.engagement import parse_time
from plugin.domain.events import Post, PostEvent, TopicEvent
from plugin.domain.names import (
    care_alert_id,
    care_closed_effect,
    care_effects,
    care_message_ids,
    care_pickup_effect,
    care_relay_effect,
    care_timer_effect,
    care_timer_job_id,
    unreachable_effect,
)
from plugin.domain.safety import is_service
from plugin.domain.wording import marker_in
from plugin.queues import JOB_CARE_TIMER, QUEUE_CARE
from plugin.text import care_wording as wording
from plugin.text.care import (
    CLOSED_MARKER,
    PICKUP_MARKER,
    REMINDER_MARKER,
    UNREACHABLE_MARKER,
    alert,
    closed_note,
    member_message,
    pickup_notice,
    relay,
    relay_marker,
    reminder,
    team_message,
    unreachable_notice,
)
from worker import care_wording
from worker.effects import message_once, reply_once
from worker.feedback import admitted, withdraw_post
from worker.services import Services


def handle(s: Services, event: PostEvent | TopicEvent) -> str:
    """A job of the `care` queue: a post or a status change in a care conversation, or a new request."""
    if isinstance(event, TopicEvent):
        return on_topic(s, event)
    request = s.store.care_request_of_topic(event.post.topic_id) if event.post.is_pm else None
    if request is not None:
        return on_conversation_post(s, request, event)
    if event.post.is_pm and s.store.is_care_wording_topic(event.post.topic_id):
        return care_wording.on_reply(s, event)  # the team's words for the care messages, never a request
    return route(s, event)


# ------------------------------------------------------------------------------------------------ a request


def route(s: Services, event: PostEvent) -> str:
    post = event.post
    if not post.private:
        admitted(s, event)  # known as seen (for reconcile), whatever its version: it is routed anyway
    forget(s, post)
    if is_service(post.username, s.settings.bot_username):
        return "the service's own words"
    with s.store.care_lock(post.id):
        # the team's clock starts when the team is told (a request found late by reconcile is not overdue at once)
        request = s.store.care_request(post.id) or CareRequest(post.id, post.username, time.time())
        s.store.save_care_request(request)
        schedule_timers(s, request)
        request, refused = send_messages(s, request, post)
    if refused:
        tell_team_unreachable(s, request, refused)
        return f"care: the team was messaged; the member could not be ({refused})"
    return "care: the team and the member were messaged"


def send_messages(s: Services, request: CareRequest, post: Post) -> tuple[CareRequest, str]:
    """The team's message and the member's, once each; the request with their conversations (each saved as soon
    as it is known), and the forum's words if it refused the member's."""
    group = s.settings.care_group
    team_key, member_key = care_effects(post.id)
    team_id, member_id = care_message_ids(post.id)
    post_url = s.forum.post_in_topic_url(post.topic_slug, post.topic_id, post.post_number)
    words = s.store.care_wordings()  # the team's own words, where they gave theirs (plugin.text.care_wording)
    title, raw = team_message(
        member=post.username,
        group=group,
        post_url=post_url,
        private=post.private,
        template=words.get(wording.TEAM),
    )
    team = message_once(s, team_key, title=title, raw=raw, recipients=[group], external_id=team_id)
    request = replace(request, team_topic_id=request.team_topic_id or _topic_id(s, team.post, team_id))
    s.store.save_care_request(request)  # known at once: the team's replies are routed to care from now on
    title, raw = member_message(member=post.username, group=group, template=words.get(wording.MEMBER))
    member = message_once(s, member_key, title=title, raw=raw, recipients=[post.username], external_id=member_id)
    if not member.refused:
        request = replace(request, member_topic_id=request.member_topic_id or _topic_id(s, member.post, member_id))
        s.store.save_care_request(request)  # known at once: the member's replies are routed to care from now on
    return request, member.refused


def _topic_id(s: Services, sent: Post | None, external_id: str) -> int | None:
    """The conversation a message started: from the forum's answer, or (sent by an earlier run) looked up."""
    if sent is not None:
        return sent.topic_id
    found = s.forum.topic_by_external_id(external_id)
    return None if found is None else found.topic.id


def schedule_timers(s: Services, request: CareRequest) -> None:
    """The request's reminder and alert, as RQ scheduled jobs (they survive restarts; scheduling again moves them)."""
    for timer in (REMIND, ESCALATE):
        at = timer_at(request, timer, **_waits(s))
        s.schedule(
            QUEUE_CARE,
            JOB_CARE_TIMER,
            request.post_id,
            timer,
            at=datetime.fromtimestamp(at, UTC),
            job_id=care_timer_job_id(request.post_id, timer),
        )


def tell_team_unreachable(s: Services, request: CareRequest, reason: str) -> None:
    """The forum refused the member's message: say so in the team's conversation (once), so that the team reaches
    out another way instead of waiting for a reply that cannot come."""
    team_topic_id = request.team_topic_id
    if team_topic_id is None:
        found = s.forum.topic_by_external_id(care_message_ids(request.post_id)[0])
        team_topic_id = None if found is None else found.topic.id
    template = s.store.care_wordings().get(wording.UNREACHABLE)
    text = unreachable_notice(member=request.member, reason=reason, template=template)
    reply_once(
        s,
        unreachable_effect(request.post_id),
        team_topic_id,
        None,
        text,
        marker=marker_in(text, UNREACHABLE_MARKER),
    )


def forget(s: Services, post: Post) -> None:
    """Take a care post out of everything public, for good."""
    s.store.mark_care_post(post.id)
    withdraw_post(s, post.id, why="a care post is never feedback")
    s.engagement.forget_post(post.id, opened_topic=post.topic_id if post.post_number == 1 else None)


# ------------------------------------------------------------------------------------------------ its conversations


def on_conversation_post(s: Services, request: CareRequest, event: PostEvent) -> str:
    post = event.post
    if event.name not in ("post_created", "post_edited") or is_service(post.username, s.settings.bot_username):
        return "care conversation: nothing to do"
    which = conversation_of(request, post.topic_id)
    if which == MEMBER:  # what the member writes, and what they change of it, reaches the team
        return relay_reply(s, request, post, changed=event.name == "post_edited")
    if which == TEAM and event.name == "post_created":
        return team_reply(s, request, post)
    return "care conversation: not this request's"


def relay_reply(s: Services, request: CareRequest, post: Post, *, changed: bool = False) -> str:
    """What the member wrote (or changed) reaches the team, in the team's conversation, once."""
    if not relays(request, author=post.username):
        return "care conversation: not the member's words"
    with s.store.care_lock(request.post_id):
        number = s.store.relay_number(request.post_id, post.id)
    at = post.updated_at if changed else ""
    when = datetime.fromtimestamp(parse_time(at), UTC).strftime("%H:%M:%S") if at else ""
    reply_once(
        s,
        care_relay_effect(post.id, at),
        request.team_topic_id,
        None,
        relay(member=request.member, raw=post.raw, number=number, changed=when),
        marker=relay_marker(number, when),
    )
    return "care: the member's words reached the team"


def team_reply(s: Services, request: CareRequest, post: Post) -> str:
    """A team member replied in the team's conversation: a pickup, `/done`, or the team's own coordination."""
    with s.store.care_lock(request.post_id):
        request = s.store.care_request(request.post_id) or request
        answer = on_team_reply(
            request, post_id=post.id, author=post.username, raw=post.raw, at=parse_time(post.created_at)
        )
        if answer.request != request:
            s.store.save_care_request(answer.request)
    request = answer.request
    if answer.picked_up:
        picker = request.picked_by if s.settings.care_tell_member_who else None
        notice = pickup_notice(picker=picker, template=s.store.care_wordings().get(wording.PICKUP))
        marker = marker_in(notice, PICKUP_MARKER)
        reply_once(s, care_pickup_effect(request.post_id), request.member_topic_id, None, notice, marker=marker)
        return "care: picked up; the member was told"
    if answer.closed:
        template = s.store.care_wordings().get(wording.CLOSED)
        note = closed_note(closer=request.closed_by or post.username, member=request.member, template=template)
        marker = marker_in(note, CLOSED_MARKER)
        reply_once(s, care_closed_effect(request.post_id), request.team_topic_id, None, note, marker=marker)
        return "care: closed"
    return "care: the team's own words"


def on_topic(s: Services, event: TopicEvent) -> str:
    """The team's conversation was closed: so is the request."""
    topic = event.topic
    request = s.store.care_request_of_topic(topic.id)
    if request is None or not topic.closed or conversation_of(request, topic.id) != TEAM:
        return "care conversation: nothing to do"
    with s.store.care_lock(request.post_id):
        current = s.store.care_request(request.post_id) or request
        closed = on_closed(current, by=None, at=time.time())
        if closed is not None:
            s.store.save_care_request(closed)
    return "care: closed with its conversation" if closed is not None else "care: already closed"


# ------------------------------------------------------------------------------------------------ its timers


def on_timer(s: Services, request_id: int, timer: str) -> str:
    """A request's reminder or alert, at its time: once, and only while nobody has picked it up."""
    with s.store.care_lock(request_id):
        request = s.store.care_request(request_id)
        if request is None:
            return "care timer: no such request"
        now = time.time()
        if not due(request, timer, now=now, **_waits(s)):
            if request.waiting and now < timer_at(request, timer, **_waits(s)):
                schedule_timers(s, request)  # the wait was made longer since it was scheduled
            return f"care timer: no {timer} ({request.status})"
        waited = now - request.asked_at
        words = s.store.care_wordings()
        if timer == REMIND:
            text = reminder(member=request.member, waited_seconds=waited, template=words.get(wording.REMINDER))
            effect = care_timer_effect(request_id, REMIND)
            reply_once(s, effect, request.team_topic_id, None, text, marker=marker_in(text, REMINDER_MARKER))
            s.store.save_care_request(replace(request, reminded=True))
            return "care: the team was reminded"
        backup, group = s.settings.care_backup_group, s.settings.care_group
        title, raw = alert(
            member=request.member, group=group, backup=backup, waited_seconds=waited, template=words.get(wording.ALERT)
        )
        effect = care_timer_effect(request_id, ESCALATE)
        sent = message_once(s, effect, title=title, raw=raw, recipients=[backup], external_id=care_alert_id(request_id))
        s.store.save_care_request(replace(request, escalated=True))
        return f"care: the {backup} group could not be alerted ({sent.refused})" if sent.refused else "care: escalated"


def _waits(s: Services) -> dict[str, float]:
    return {
        "remind_after": s.settings.care_remind_minutes * 60,
        "escalate_after": s.settings.care_escalate_minutes * 60,
    }
