"""The care group's private weekly summary end to end (simulator, receiver over HTTP, real Redis and RQ): a week of
requests — one picked up after 10 minutes, one after 2 hours, one escalated and still waiting — then the summary
job, as the weekly schedule enqueues it: it reaches the care group only, with the week's figures, once; and the
public digest of the same week carries nothing of it.

A request's clock starts when the team is told (real time); the forum's clock runs ahead as the test says, so a
team reply made now can be "10 minutes later". The summary's own "now" is moved to the Monday after the week.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq import Queue
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

import worker.care_summary
from plugin.domain.care import OPEN, PICKED_UP
from plugin.domain.engagement import iso_week, week_bounds
from plugin.domain.names import care_summary_effect, care_summary_id, digest_external_id
from plugin.ops.processes import wait_until
from plugin.queues import JOB_CARE_SUMMARY, QUEUE_CARE, QUEUE_DIGEST, RETRY_FOR_QUEUE
from plugin.text.digest import week_dates
from simulator.state import Forum as SimForum
from tests.companion import Companion, companion, start_companion  # noqa: F401  (fixture)
from tests.test_care_e2e import WORDS, general_topic
from tests.test_care_followthrough_e2e import (  # noqa: F401  (the quick fixture)
    conversations,
    quick,
    reply,
    run_due_timers,
    team_member,
)
from tests.test_schedule import settings as schedule_settings
from worker.care_summary import send_summary
from worker.digest import WeekNotOver, post_digest
from worker.schedule import GRACE, DigestCron
from worker.services import Services

QUIET = "2026-W08"
FIGURES = (
    "- **3 requests** for direct support came in.\n"
    "- **2 requests** were picked up by one of you: half of them within **10 minutes**, and nine in ten within "
    "**2 hours**.\n"
    "- **1 request** waited long enough that the moderators group was alerted.\n"
    "- **1 request** is still waiting for someone to pick it up: its conversation is in this group's messages.\n"
)


class Clock:
    """The forum's time: now, plus however far ahead the test has moved it (a team reply "10 minutes later")."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim_forum(clock: Clock) -> SimForum:
    forum = SimForum(clock=clock)
    forum.settings["max_admin_api_reqs_per_minute"] = 100_000
    return forum




def asks(c: Companion, username: str, topic_id: int) -> dict:
    post = c.member(username).create_post(WORDS, topic_id=topic_id)
    c.settle()
    return post


def team_conversation(c: Companion, post: dict) -> int:
    return conversations(c, post["id"])[0].id


def summaries(c: Companion) -> list:
    return [t for t in c.sim.forum.topics.values() if t.title.startswith("Care in the week of")]


def first_raw(c: Companion, topic) -> str:  # type: ignore[no-untyped-def]
    return c.sim.forum.posts[topic.post_ids[0]].raw


def test_the_weekly_care_summary_reaches_the_care_group_only_once_and_never_the_digest(
    quick: Companion, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = quick
    team_member(c, "pat")
    team_member(c, "sam")
    topic_id = general_topic(c)

    bob = asks(c, "bob", topic_id)
    clock.ahead += timedelta(minutes=10)
    reply(c, "pat", team_conversation(c, bob), "I know Bob, I'll write to him now.")  # picked up after 10 minutes
    c.settle()
    erin = asks(c, "erin", topic_id)
    clock.ahead += timedelta(hours=2)
    reply(c, "sam", team_conversation(c, erin), "I can take this one.")  # picked up after 2 hours
    c.settle()
    dave = asks(c, "dave", topic_id)  # nobody answers
    escalate_at = c.store.care_request(dave["id"]).asked_at + 0.04 * 60
    assert wait_until(lambda: time.time() > escalate_at + 0.2, timeout=30, interval=0.1)
    run_due_timers(c)
    requests = {p["id"]: c.store.care_request(p["id"]) for p in (bob, erin, dave)}
    assert [(r.status, r.escalated) for r in requests.values()] == [
        (PICKED_UP, False), (PICKED_UP, False), (OPEN, True)
    ]
    (week,) = {iso_week(r.asked_at) for r in requests.values()}
    monday_after = week_bounds(week)[1] + timedelta(hours=9)
    dates = week_dates(week)

    # Monday 09:00 after the week: the care summary job, as the weekly schedule enqueues it (on a real RQ worker)
    monkeypatch.setattr(worker.care_summary, "utcnow", lambda: monday_after)
    DigestCron(c.settings).enqueue_week(c.conn, QUEUE_CARE, JOB_CARE_SUMMARY, care_summary_id(week), week, monday_after)
    c.settle()

    (summary,) = summaries(c)
    assert summary.title == f"Care in the week of {dates}" and summary.external_id == care_summary_id(week)
    raw = first_raw(c, summary)
    assert FIGURES in raw and f"Here is how the week of {dates} went" in raw
    group = c.sim.forum.group_by_name(c.settings.care_group)
    assert summary.is_pm and summary.allowed_group_ids == [group.id] and not summary.allowed_user_ids[1:]
    for name in ("bob", "erin", "dave", "pat", "sam", "alice"):  # figures only: nobody named
        assert name not in raw, name
    assert "slept" not in raw and f"/t/{team_conversation(c, dave)}" not in raw
    anywhere = [p for p in c.sim.forum.posts.values() if "for direct support came in" in p.raw]
    assert [p.topic_id for p in anywhere] == [summary.id]  # nowhere else on the forum

    # exactly once: the job again, the handler by hand, and a run that lost Redis' mark of what it did
    c.services.enqueue(QUEUE_CARE, JOB_CARE_SUMMARY, week, job_id=f"{care_summary_id(week)}-again")
    c.settle()
    assert send_summary(c.services, week) == f"care summary {week} already sent"
    c.conn.delete(c.keys.effect(care_summary_effect(week)))
    send_summary(c.services, week)  # the forum refuses a second message with the same external_id
    assert summaries(c) == [summary] and len(summary.post_ids) == 1 and first_raw(c, summary) == raw

    # the public digest of the same week carries nothing of it
    post_digest(c.services, week, now=monday_after)
    digest = c.topic_by_external_id(digest_external_id(week))
    assert digest is not None and not digest.is_pm
    digest_raw = first_raw(c, digest)
    for absent in ("Care in the week", "direct support", "picked up", "alerted", "still waiting", "moderators"):
        assert absent not in digest_raw, absent


def test_a_quiet_week_gets_a_short_kind_note(companion: Companion) -> None:  # noqa: F811
    c = companion
    group = c.settings.care_group
    assert send_summary(c.services, QUIET) == f"care summary {QUIET} sent to the {group} group (0 requests)"
    (note,) = summaries(c)
    raw = first_raw(c, note)
    assert note.title == "Care in the week of 16–22 February 2026"
    assert "Nobody asked for direct support in the week of 16–22 February 2026." in raw
    assert "Thank you" in raw and "- " not in raw  # no table of zeros
    assert note.allowed_group_ids == [c.sim.forum.group_by_name(c.settings.care_group).id]


def test_a_week_that_is_not_over_has_no_care_summary(redis_conn: redis.Redis) -> None:
    s = Services(schedule_settings(), redis_conn)
    with pytest.raises(WeekNotOver, match="2026-03-09 00:00 UTC: its care summary would be partial"):
        send_summary(s, "2026-W10", now=datetime(2026, 3, 8, 23, tzinfo=UTC))


def test_the_schedule_enqueues_the_care_summary_beside_the_digest_once(redis_conn: redis.Redis) -> None:
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    for moment in (monday, monday + timedelta(seconds=2)):  # two schedulers, or one restarted
        DigestCron(schedule_settings()).enqueue(redis_conn, at=moment)
    care = Queue(QUEUE_CARE, connection=redis_conn, serializer=JSONSerializer)
    assert care.job_ids == ["coc-care-summary-2026-W47"]
    job = care.fetch_job("coc-care-summary-2026-W47")
    assert job is not None and job.func_name == JOB_CARE_SUMMARY and job.args == ["2026-W47"]
    assert job.retries_left == RETRY_FOR_QUEUE[QUEUE_CARE].max
    assert Queue(QUEUE_DIGEST, connection=redis_conn, serializer=JSONSerializer).job_ids == ["coc-digest-2026-W47"]


def test_before_the_week_is_over_in_utc_the_care_summary_waits_for_it(redis_conn: redis.Redis) -> None:
    sunday_evening = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)  # Monday 09:00 in Auckland
    DigestCron(schedule_settings(timezone="Pacific/Auckland")).enqueue(redis_conn, at=sunday_evening)
    assert Queue(QUEUE_CARE, connection=redis_conn, serializer=JSONSerializer).job_ids == []
    registry = ScheduledJobRegistry(QUEUE_CARE, connection=redis_conn, serializer=JSONSerializer)
    assert registry.get_job_ids() == ["coc-care-summary-2026-W47"]
    assert registry.get_scheduled_time("coc-care-summary-2026-W47") == datetime(2026, 11, 23, tzinfo=UTC) + GRACE
