"""Care that follows through, end to end (simulator, receiver over HTTP, real Redis and RQ): the member's words reach
the team and only the team, the first team reply picks the request up and the member is told who, `/done` or
closing the conversation closes it, and one reminder and one alert go out at their times while nobody picked it up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from plugin.domain.care import CLOSED, OPEN, PICKED_UP
from plugin.domain.names import care_message_ids
from plugin.ops.processes import wait_until
from plugin.queues import QUEUES
from plugin.text.care import ALERT_TITLE, CLOSED_MARKER, PICKUP_MARKER, REMINDER_MARKER, relay_marker
from tests.companion import Companion, companion, sim_forum, start_companion  # noqa: F401  (fixtures)
from tests.simulator_fixtures import Sim
from tests.test_care_e2e import WORDS, general_topic
from worker import care

NOT_CONTACTED = "Thank you. I'd rather not be contacted for now, I have a friend with me."


def team_member(c: Companion, username: str = "pat") -> None:
    """A member of the peer-support group."""
    c.member(username)
    forum = c.sim.forum
    forum.add_members(forum.require_group(c.settings.care_group), [forum.user_by_name(username)])


def conversations(c: Companion, post_id: int):  # type: ignore[no-untyped-def]
    team_id, member_id = care_message_ids(post_id)
    return c.topic_by_external_id(team_id), c.topic_by_external_id(member_id)


def raws(c: Companion, topic) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.sim.forum.posts[i].raw for i in topic.post_ids]


def reply(c: Companion, username: str, topic_id: int, raw: str) -> dict:
    return c.member(username).create_post(raw, topic_id=topic_id)


def asks(c: Companion, username: str = "bob") -> dict:
    post = c.member(username).create_post(WORDS, topic_id=general_topic(c))
    c.settle()
    return post


def run_due_timers(c: Companion) -> None:
    """What RQ's scheduler in a worker does: move the scheduled jobs that are due to their queue; then settle."""
    scheduler = RQScheduler(list(QUEUES), c.conn, serializer=JSONSerializer)
    scheduler.prepare_registries(list(QUEUES))
    scheduler.enqueue_scheduled_jobs()
    c.settle()


def test_what_the_member_writes_back_reaches_the_team_and_only_the_team(companion: Companion) -> None:
    c = companion
    post = asks(c)
    team, member = conversations(c, post["id"])
    reply(c, "bob", member.id, NOT_CONTACTED)
    reply(c, "bob", member.id, "Maybe tomorrow.")
    c.settle()
    relayed = [r for r in raws(c, team) if "rather not be contacted" in r]
    assert len(relayed) == 1 and relay_marker(1) in relayed[0] and "[quote]" in relayed[0]
    assert any(relay_marker(2) in r and "Maybe tomorrow." in r for r in raws(c, team))
    group = c.sim.forum.group_by_name(c.settings.care_group)
    assert team.allowed_group_ids == [group.id] and not team.allowed_user_ids[1:]  # the bot and the group only
    elsewhere = [p for p in c.sim.forum.posts.values() if "rather not be contacted for now" in p.raw]  # bob's own
    assert {p.topic_id for p in elsewhere} == {team.id, member.id}  # never public, never anywhere else
    assert c.store.care_request(post["id"]).status == OPEN  # the member's words pick nothing up


def test_the_first_team_reply_picks_up_and_the_member_is_told_who(companion: Companion) -> None:
    c = companion
    team_member(c, "pat")
    team_member(c, "sam")
    post = asks(c)
    team, member = conversations(c, post["id"])
    reply(c, "pat", team.id, "I know Bob from the gardening group, I'll write to him tonight.")
    c.settle()  # the first reply the companion hears of picks it up (see test_done_closes…)
    reply(c, "sam", team.id, "Thanks Pat, shout if you need a hand.")
    c.settle()
    request = c.store.care_request(post["id"])
    assert (request.status, request.picked_by) == (PICKED_UP, "pat")
    told = [r for r in raws(c, member) if PICKUP_MARKER in r]
    assert len(told) == 1 and "**pat**" in told[0]
    assert not any("gardening" in r or "shout" in r for r in raws(c, member))  # the team's words stay the team's


def test_the_member_is_told_only_that_someone_picked_it_up_when_the_team_prefers(
    sim: Sim, redis_url: str, redis_conn: redis.Redis
) -> None:
    for c in start_companion(sim, redis_url, redis_conn, care_tell_member_who=False):
        team_member(c, "pat")
        post = asks(c)
        team, member = conversations(c, post["id"])
        reply(c, "pat", team.id, "On it, I will write today.")
        c.settle()
        (told,) = [r for r in raws(c, member) if PICKUP_MARKER in r]
        assert "pat" not in told and "Someone" in told


def test_done_closes_and_closing_the_conversation_closes(companion: Companion) -> None:
    c = companion
    team_member(c, "pat")
    first, second = asks(c, "bob"), asks(c, "erin")
    team, _ = conversations(c, first["id"])
    reply(c, "pat", team.id, "Talked with Bob, he is with family now.")
    c.settle()  # the first reply the companion hears of picks it up; a /done heard first closes it unpicked
    reply(c, "pat", team.id, "/done — he is safe and with family.")
    c.settle()
    request = c.store.care_request(first["id"])
    assert (request.status, request.closed_by, request.picked_by) == (CLOSED, "pat", "pat")
    assert sum(CLOSED_MARKER in r for r in raws(c, team)) == 1
    other_team, _ = conversations(c, second["id"])
    c.sim.http("system").put(f"{c.sim.url}/t/{other_team.id}/status", data={"status": "closed", "enabled": "true"})
    c.settle()
    assert c.store.care_request(second["id"]).status == CLOSED


@pytest.fixture
def quick(sim: Sim, redis_url: str, redis_conn: redis.Redis) -> Iterator[Companion]:
    """Reminders after 1.2 s and alerts after 2.4 s (the settings take decimal minutes)."""
    yield from start_companion(sim, redis_url, redis_conn, care_remind_minutes=0.02, care_escalate_minutes=0.04)


def test_one_reminder_and_one_alert_at_their_times_and_none_after_a_pickup(quick: Companion) -> None:
    c = quick
    team_member(c, "pat")
    waiting, picked = asks(c, "bob"), asks(c, "erin")
    picked_team, _ = conversations(c, picked["id"])
    reply(c, "pat", picked_team.id, "I'll take this one.")
    c.settle()
    escalate_at = c.store.care_request(waiting["id"]).asked_at + 0.04 * 60
    assert wait_until(lambda: time.time() > escalate_at + 0.2, timeout=30, interval=0.1)
    run_due_timers(c)
    run_due_timers(c)  # the scheduler again: nothing twice
    team, _ = conversations(c, waiting["id"])
    assert sum(REMINDER_MARKER in r for r in raws(c, team)) == 1
    alerts = [t for t in c.sim.forum.topics.values() if t.is_pm and t.title == ALERT_TITLE]
    moderators = c.sim.forum.group_by_name(c.settings.care_backup_group)
    assert len(alerts) == 1 and alerts[0].allowed_group_ids == [moderators.id]
    assert "bob" in raws(c, alerts[0])[0] and "slept" not in raws(c, alerts[0])[0]  # names them, never quotes them
    request = c.store.care_request(waiting["id"])
    assert request.reminded and request.escalated and request.status == OPEN
    assert not any(REMINDER_MARKER in r for r in raws(c, picked_team))  # picked up in time: no reminder
    assert not c.store.care_request(picked["id"]).escalated


def test_every_care_job_run_twice_makes_nothing_twice(quick: Companion) -> None:
    c = quick
    team_member(c, "pat")
    post = asks(c)
    team, member = conversations(c, post["id"])
    relayed = reply(c, "bob", member.id, NOT_CONTACTED)
    picked = reply(c, "pat", team.id, "I'll write to Bob.")
    c.settle()
    for event_post in (relayed, picked):
        event = care_event(c, event_post["id"])
        care.handle(c.services, event)  # a worker died after the job's effects, before RQ marked it done
    care.on_timer(c.services, post["id"], "remind")
    assert sum(relay_marker(1) in r for r in raws(c, team)) == 1
    assert sum(PICKUP_MARKER in r for r in raws(c, member)) == 1
    assert not any(REMINDER_MARKER in r for r in raws(c, team))


def care_event(c: Companion, post_id: int):  # type: ignore[no-untyped-def]
    from plugin.domain.events import parse_delivery  # noqa: PLC0415
    from tests.companion import SECRET  # noqa: PLC0415

    row = next(e for e in c.sim.forum.web_hook_events.values()
               if e.event_name == "post_created" and f'"id":{post_id},' in e.payload)
    return parse_delivery(row.headers, row.payload.encode(), secret=SECRET)


def test_the_services_own_words_never_ask_for_care(companion: Companion) -> None:
    """The starter Code of Care tells members to write "direct support": the document is the service's post."""
    c = companion
    document = c.store.document()
    assert "direct support" in c.document_raw()
    assert c.store.care_requests() == []
    assert not c.store.is_care_post(document["post_id"])
    assert str(document["topic_id"]).encode() not in c.conn.smembers(c.keys.engagement_care_topics)


def test_a_lost_webhook_in_either_conversation_is_caught_up_by_reconcile(companion: Companion) -> None:
    from worker.reconcile import reconcile  # noqa: PLC0415

    c = companion
    team_member(c, "pat")
    post = asks(c)
    team, member = conversations(c, post["id"])
    reconcile(c.services)  # the first pass sets the cursor
    c.sim.app.extensions["webhooks"].faults.drop = 1.0  # every delivery from now on is lost
    reply(c, "bob", member.id, NOT_CONTACTED)
    reply(c, "pat", team.id, "I'll write to Bob.")
    c.settle()
    assert not any("rather not be contacted" in r for r in raws(c, team))  # nothing arrived
    c.sim.app.extensions["webhooks"].faults.drop = 0.0
    reconcile(c.services)
    c.settle()
    assert sum("rather not be contacted" in r for r in raws(c, team)) == 1
    assert c.store.care_request(post["id"]).status == PICKED_UP
    assert sum(PICKUP_MARKER in r for r in raws(c, member)) == 1
    reconcile(c.services)  # a second pass finds nothing new
    c.settle()
    assert sum("rather not be contacted" in r for r in raws(c, team)) == 1


def test_what_the_member_changes_of_a_reply_reaches_the_team_too(companion: Companion) -> None:
    c = companion
    post = asks(c)
    team, member = conversations(c, post["id"])
    said = reply(c, "bob", member.id, "I'm fine really, it was a bad evening.")
    c.settle()
    c.member("bob").update_post(said["id"], "Actually I'd rather not be contacted by anyone this week.")
    c.settle()
    care.handle(c.services, care_event(c, said["id"]))  # the first relay's job run again: nothing twice
    relays = [r for r in raws(c, team) if "bad evening" in r or "by anyone this week" in r]
    assert len(relays) == 2, relays
    assert relay_marker(1) in relays[0] and "changed message 1" in relays[1] and "by anyone this week" in relays[1]


def test_replies_after_done_whose_webhooks_were_lost_still_reach_the_team(companion: Companion) -> None:
    """A closed request's conversations are read back too: the member may write again after the team's `/done`."""
    from worker.reconcile import reconcile  # noqa: PLC0415

    c = companion
    team_member(c, "pat")
    post = asks(c)
    team, member = conversations(c, post["id"])
    reply(c, "pat", team.id, "/done — spoke with Bob on the phone.")
    c.settle()
    assert c.store.care_request(post["id"]).status == CLOSED
    reconcile(c.services)
    c.sim.app.extensions["webhooks"].faults.drop = 1.0
    reply(c, "bob", member.id, "Thank you for calling. Could someone check in again on Friday?")
    c.settle()
    c.sim.app.extensions["webhooks"].faults.drop = 0.0
    reconcile(c.services)
    c.settle()
    assert sum("check in again on Friday" in r for r in raws(c, team)) == 1


def test_a_reply_that_came_before_its_conversation_was_known_is_caught_up(companion: Companion) -> None:
    """The member (or the team) answered while the companion had not yet saved the conversation as a care one (a
    worker killed between sending and saving): the receiver took the reply for an ordinary message. Reconcile
    hands it to the care queue: relayed once, picked up once."""
    from worker.reconcile import reconcile  # noqa: PLC0415

    c = companion
    team_member(c, "pat")
    post = asks(c)
    team, member = conversations(c, post["id"])
    reconcile(c.services)
    c.conn.hdel(c.keys.care_conversations, team.id, member.id)  # as if not yet saved
    reply(c, "bob", member.id, NOT_CONTACTED)
    reply(c, "pat", team.id, "I'll write to Bob.")
    c.settle()
    assert not any("rather not be contacted" in r for r in raws(c, team))  # went elsewhere
    c.store.save_care_request(c.store.care_request(post["id"]))  # the rerun job saves it
    reconcile(c.services)
    c.settle()
    assert sum("rather not be contacted" in r for r in raws(c, team)) == 1
    assert c.store.care_request(post["id"]).status == PICKED_UP
    assert sum(PICKUP_MARKER in r for r in raws(c, member)) == 1
    reconcile(c.services)
    c.settle()
    assert sum("rather not be contacted" in r for r in raws(c, team)) == 1
    assert sum(PICKUP_MARKER in r for r in raws(c, member)) == 1


def test_a_quiet_reconcile_pass_spends_one_call_on_care(companion: Companion) -> None:
    """Only the conversations with a new post are read: nothing changed, one listing."""
    from worker.reconcile import _feed_care_conversations  # noqa: PLC0415
    from worker.reports import ReconcileReport  # noqa: PLC0415

    c = companion
    team_member(c, "pat")
    for who in ("bob", "erin", "dana"):
        post = asks(c, who)
        team, member = conversations(c, post["id"])
        reply(c, who, member.id, "Thank you.")
        reply(c, "pat", team.id, f"I'll write to {who}.")
    c.settle()
    forum = c.services.forum
    before = forum.calls_made
    _feed_care_conversations(c.services, ReconcileReport())
    assert forum.calls_made - before == 1 + 6  # the listing, then each changed conversation once
    before = forum.calls_made
    _feed_care_conversations(c.services, ReconcileReport())
    assert forum.calls_made - before == 1
    reply(c, "erin", conversations(c, c.store.care_requests()[1].post_id)[1].id, "One more thing.")
    c.settle()
    before = forum.calls_made
    _feed_care_conversations(c.services, ReconcileReport())
    assert forum.calls_made - before == 2  # erin's conversation; the team's got only the companion's relay


def test_replies_lost_across_more_than_a_page_of_conversations_are_caught_up_whatever_the_forums_clock(
    companion: Companion,
) -> None:
    """The listing is read down to the last pass's watermark in the forum's own time (here two days behind the
    service's), however many conversations were bumped since: 35 lost replies make two pages."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from worker.reconcile import reconcile  # noqa: PLC0415

    c = companion
    behind = timedelta(days=2)
    c.sim.forum.clock = lambda: datetime.now(UTC) - behind
    members = [f"member{n:02d}" for n in range(35)]
    asked = {who: asks(c, who) for who in members}
    member_topics = {who: conversations(c, asked[who]["id"])[1].id for who in members}
    for who in members:
        reply(c, who, member_topics[who], "Thank you for writing to me.")
    c.settle()
    reconcile(c.services)
    c.sim.app.extensions["webhooks"].faults.drop = 1.0
    for who in members:
        reply(c, who, member_topics[who], f"I would rather talk on Thursday evening ({who}).")
    c.settle()
    c.sim.app.extensions["webhooks"].faults.drop = 0.0
    c.store.forget_delivery_log()  # as where the forum's delivery log cannot tell: the care listing alone
    reconcile(c.services)
    c.settle()
    for who in members:
        team = conversations(c, asked[who]["id"])[0]
        assert sum(f"Thursday evening ({who})" in r for r in raws(c, team)) == 1, who
