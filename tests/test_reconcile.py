"""Reconcile: what the forum made but never delivered is fed through the receiver's own path, exactly once.

Everything real: the simulator (whose webhook faults drop deliveries as a failing network would), the receiver over
HTTP, Redis and RQ workers. Also the version guard that keeps a late, stale snapshot from undoing a newer one.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

from dataclasses import replace

import pytest
import requests
from rq import Queue
from rq.serializers import JSONSerializer

from plugin.domain.amendments import DRAFTED, OPEN
from plugin.domain.names import amendment_id
from plugin.domain.events import sign
from plugin.adapters.budget import ApiBudget
from plugin.adapters.forum import LATEST_POSTS_PAGE, Forum, Throttled
from plugin.queues import QUEUE_DIGEST
from plugin.adapters.store import DELETE, RECOVER
from tests.companion import Companion, companion, sim_forum  # noqa: F401  (fixtures)
from tests.test_amendments_e2e import NEW_CONSENT, like, propose
from worker.reconcile import AlreadyRunning
from worker.reconcile import reconcile as reconcile_pass
from worker.reports import ReconcileReport
from worker.services import Services
from plugin.domain.names import CRON_RECONCILE as RECONCILE_CRON_NAME
from worker.schedule import ReconcileCron, build_scheduler

T1, T2, T3 = "2026-11-01T10:00:00.000Z", "2026-11-01T10:01:00.000Z", "2026-11-01T10:09:00.000Z"


def reconcile(s: Services, **options) -> ReconcileReport:  # type: ignore[no-untyped-def]
    """A pass that reads the posts back, as where the forum's delivery log cannot tell (no pass has read the log
    yet): the fallback these tests are about. tests/test_reconcile_log.py is about the log."""
    s.store.forget_delivery_log()
    return reconcile_pass(s, **options)


def dropping(c: Companion, rate: float = 1.0) -> None:
    c.sim.app.extensions["webhooks"].faults.drop = rate


def test_dropped_proposal_and_likes_are_found_and_drafted_once(companion: Companion) -> None:
    c = companion
    reconcile(c.services)                                    # the first pass sets the cursor
    dropping(c)
    proposal = propose(c, "alice")
    like(c, "bob", proposal["id"])
    like(c, "carol", proposal["id"])
    c.settle()
    key = amendment_id(proposal["id"], 1)
    assert c.store.amendment(key) is None                    # nothing arrived
    dropping(c, 0.0)
    report = reconcile(c.services)
    assert report.fed["post_created"] == 1 and report.fed["post_liked"] == 2, report
    assert report.accepted == 3 and report.finished
    c.settle()
    assert c.store.amendment(key).status == DRAFTED
    drafts = [t for t in c.sim.forum.topics.values() if t.external_id == key]
    assert len(drafts) == 1
    again = reconcile(c.services)                           # nothing new: nothing fed
    assert sum(again.fed.values()) == 0 and again.accepted == 0, again


def test_the_first_pass_reads_back_to_where_the_service_began_to_listen(companion: Companion) -> None:
    c = companion
    topic_id = c.store.document()["topic_id"]
    heard = c.member("erin").create_post("The first thought the service hears about care.", topic_id=topic_id)
    c.settle()
    dropping(c)
    lost = [c.member("erin").create_post(f"A thought about care, number {n} of twelve, never delivered.",
                                         topic_id=topic_id)["id"] for n in range(12)]
    c.settle()
    dropping(c, 0.0)
    assert c.store.lowest_live_post() == heard["id"]
    report = reconcile(c.services, lookback=3)              # no pass before: far more than 3 posts below the top
    assert report.fed["post_created"] >= 12, report            # (and what was written before it: the document)
    c.settle()
    assert all(v is not None for v in c.store.known_versions(lost).values())


def test_a_delivery_that_was_only_late_is_not_accepted_twice(companion: Companion) -> None:
    c = companion
    dispatcher = c.sim.app.extensions["webhooks"]
    reconcile(c.services)
    proposal = propose(c, "alice")                           # delivered normally...
    c.settle()
    accepted_before = int(c.conn.hget(c.keys.receiver_stats, "post_created:accepted") or 0)
    c.conn.delete(c.keys.post_versions)                      # ...but as if reconcile had not seen it processed
    report = reconcile(c.services)
    assert report.fed["post_created"] >= 1
    assert report.accepted == 0                              # the receiver's dedupe knew the fact
    assert int(c.conn.hget(c.keys.receiver_stats, "post_created:accepted") or 0) == accepted_before
    assert dispatcher.wait_idle(timeout=30)
    assert c.store.amendment(amendment_id(proposal["id"], 1)).status == OPEN


def test_a_dropped_edit_is_fed_as_an_edit(companion: Companion) -> None:
    c = companion
    reconcile(c.services)
    proposal = propose(c, "alice")
    c.settle()
    dropping(c)
    edited = "We ask before we share anything about anyone, always, and we respect every no without question."
    response = c.sim.http("alice").put(f"{c.sim.url}/posts/{proposal['id']}.json", data={
        "post[raw]": f'Plainer:\n\n[amend section="Consent"]\n{edited}\n[/amend]'})
    assert response.status_code == 200, response.text
    c.settle()
    key = amendment_id(proposal["id"], 1)
    assert c.store.amendment(key).text == NEW_CONSENT
    dropping(c, 0.0)
    report = reconcile(c.services)
    assert report.fed["post_edited"] == 1 and report.accepted == 1, report
    c.settle()
    assert c.store.amendment(key).text == edited


def test_a_dropped_deletion_is_found(companion: Companion) -> None:
    c = companion
    reconcile(c.services)
    topic_id = c.store.document()["topic_id"]
    words = c.member("erin").create_post('[quote="alice, post:1, topic:%d"]\nConsent\n[/quote]\nThis part matters '
                                         'to me a great deal.' % topic_id, topic_id=topic_id)
    c.settle()
    assert any(words["id"] in c.store.discussion(slug) for slug in ("consent",)), c.store.discussion("consent")
    dropping(c)
    answer = c.sim.http("erin").delete(f"{c.sim.url}/posts/{words['id']}.json")
    assert answer.status_code == 200, answer.text
    c.settle()
    assert words["id"] in c.store.discussion("consent")          # the deletion never arrived
    dropping(c, 0.0)
    report = reconcile(c.services)
    assert report.fed["post_destroyed"] == 1 and report.accepted == 1, report
    c.settle()
    assert words["id"] not in c.store.discussion("consent")
    assert sum(reconcile(c.services).fed.values()) == 0             # and it is not looked at again


def test_a_dropped_deletion_of_an_old_post_is_found_by_the_walk_down_the_older_posts(companion: Companion) -> None:
    c = companion
    topic_id = c.store.document()["topic_id"]
    member = c.member("erin")
    old = member.create_post("An early thought about care, deleted much later.", topic_id=topic_id)
    for n in range(LATEST_POSTS_PAGE + 5):                  # the old post falls a page below the posts read back
        member.create_post(f"Another thought about care, number {n} of many.", topic_id=topic_id)
    c.settle()
    reconcile(c.services, lookback=3)
    dropping(c)
    answer = c.sim.http("erin").delete(f"{c.sim.url}/posts/{old['id']}.json")
    assert answer.status_code == 200, answer.text
    c.settle()
    dropping(c, 0.0)
    first = reconcile(c.services, lookback=3, max_pages=2)  # one page of the newest, one of the older posts
    assert first.older_pages == 1 and not first.came_round and first.fed["post_destroyed"] == 0, first
    second = reconcile(c.services, lookback=3, max_pages=2)  # the walk goes on where it stopped
    assert second.came_round and second.fed["post_destroyed"] == 1 and second.accepted == 1, second
    c.settle()
    assert old["id"] not in c.store.live_posts_between(0, "+inf")
    third = reconcile(c.services, lookback=3, max_pages=2)  # round again from the top: nothing more to find
    assert third.older_pages >= 1 and sum(third.fed.values()) == 0, third


def test_a_missed_like_of_an_old_open_proposal_is_found(companion: Companion) -> None:
    c = companion
    proposal = propose(c, "alice")
    topic_id = c.store.document()["topic_id"]
    for n in range(8):                                          # the proposal falls out of the pages read back
        c.member("erin").create_post(f"Another thought about care, number {n} of eight.", topic_id=topic_id)
    c.settle()
    reconcile(c.services, lookback=3)
    dropping(c)
    like(c, "bob", proposal["id"])
    like(c, "carol", proposal["id"])
    c.settle()
    dropping(c, 0.0)
    report = reconcile(c.services, lookback=3)
    assert report.fed["post_liked"] == 2, report
    c.settle()
    assert c.store.amendment(amendment_id(proposal["id"], 1)).status == DRAFTED


def test_a_pass_limited_to_one_page_goes_on_where_it_stopped(companion: Companion) -> None:
    c = companion
    reconcile(c.services)
    dropping(c)
    topic_id = c.store.document()["topic_id"]
    member = c.member("erin")
    made = [member.create_post(f"Thinking aloud about care, note number {n} of many.", topic_id=topic_id)["id"]
            for n in range(LATEST_POSTS_PAGE + 10)]
    c.settle()
    dropping(c, 0.0)
    first = reconcile(c.services, max_pages=1)
    assert not first.finished and first.pages == 1
    second = reconcile(c.services, max_pages=5)
    assert second.finished
    c.settle()
    known = c.store.known_versions(made)
    assert all(v is not None for v in known.values()), [i for i, v in known.items() if v is None]
    assert first.fed["post_created"] + second.fed["post_created"] == len(made)


def test_a_pass_stopped_by_the_budget_goes_on_at_the_next(companion: Companion) -> None:
    c = companion
    reconcile(c.services)
    dropping(c)
    topic_id = c.store.document()["topic_id"]
    made = [c.member("erin").create_post(f"A thought about care and trust, number {n}.", topic_id=topic_id)["id"]
            for n in range(2 * LATEST_POSTS_PAGE + 5)]
    c.settle()
    dropping(c, 0.0)
    tight = replace(c.settings, api_budget_per_min=2)
    c.conn.delete(c.keys.api_budget)
    with Forum(tight, budget=ApiBudget.for_settings(c.conn, tight)) as forum:
        services = Services(tight, c.conn)
        services.forum = forum
        with pytest.raises(Throttled):
            reconcile(services)
    c.conn.delete(c.keys.api_budget)
    reconcile(c.services)
    c.settle()
    assert all(v is not None for v in c.store.known_versions(made).values())


def test_one_pass_at_a_time(companion: Companion) -> None:
    c = companion
    lock = c.conn.lock(c.keys.reconcile_lock, timeout=30)
    assert lock.acquire(blocking=False)
    try:
        with pytest.raises(AlreadyRunning):
            reconcile(c.services)
    finally:
        lock.release()


def test_the_version_guard_keeps_the_newest_snapshot(companion: Companion) -> None:
    store = companion.store
    assert store.admit_post(1, 1, T1)
    assert store.admit_post(1, 1, T2)          # a ninja edit keeps the version: updated_at orders it
    assert not store.admit_post(1, 1, T1)      # the late post_created
    assert store.admit_post(1, 2, T3)
    assert not store.admit_post(1, 1, T2)
    assert store.admit_post(1, 2, T3)          # the same fact again: idempotent handlers may run again
    assert store.admit_post(1, 2, T3, DELETE)
    assert not store.admit_post(1, 2, T3)      # a late edit of a deleted post
    assert store.known_versions([1, 2]) == {1: (2, T3), 2: None}
    assert store.admit_post(1, 2, T3, RECOVER) and store.admit_post(1, 2, T3)


def test_a_post_discusses_what_its_newest_text_discusses_whichever_versions_arrived(companion: Companion) -> None:
    c = companion
    topic_id = c.store.document()["topic_id"]
    quoting = '[quote="alice, post:1, topic:%d"]\nConsent\n[/quote]\nThis part matters to me a great deal.' % topic_id
    seen = c.member("erin").create_post(quoting, topic_id=topic_id)
    c.settle()
    dropping(c)                                              # this one's post_created never arrives
    missed = c.member("frank").create_post(quoting, topic_id=topic_id)
    c.settle()
    dropping(c, 0.0)
    assert seen["id"] in c.store.discussion("consent") and missed["id"] not in c.store.discussion("consent")
    for post, who in ((seen, "erin"), (missed, "frank")):    # both edited: the quote is gone
        response = c.sim.http(who).put(f"{c.sim.url}/posts/{post['id']}.json",
                                       data={"post[raw]": "On reflection, the whole document reads well as it is."})
        assert response.status_code == 200, response.text
    c.settle()
    for post in (seen, missed):
        assert post["id"] not in c.store.discussion("consent") and post["id"] in c.store.discussion("general")


def test_the_discussion_is_written_only_from_the_newest_admitted_text(companion: Companion) -> None:
    store = companion.store
    assert store.admit_post(7, 2, T2)
    assert not store.record_discussion(7, {"consent"}, "erin", T1, snapshot=(1, T1))   # a job for version 1, late
    assert store.discussion("consent") == {}
    assert store.record_discussion(7, {"consent", "general"}, "erin", T1, snapshot=(2, T2))
    assert store.record_discussion(7, {"general"}, "erin", T1, snapshot=(2, T2))
    assert 7 not in store.discussion("consent") and 7 in store.discussion("general")
    store.forget_discussion(7)
    assert store.discussion("general") == {}


def test_a_late_stale_edit_does_not_undo_a_newer_one(companion: Companion) -> None:
    c = companion
    proposal = propose(c, "alice")
    c.settle()
    texts = ["We ask first, every time, and a no is always respected by every one of us here.",
             "We ask first, every time; a no is respected at once and without any question at all."]
    for n, text in enumerate(texts):
        dropping(c, 1.0 if n == 0 else 0.0)                  # the first edit's delivery is held back...
        response = c.sim.http("alice").put(f"{c.sim.url}/posts/{proposal['id']}.json", data={
            "post[raw]": f'Plainer:\n\n[amend section="Consent"]\n{text}\n[/amend]'})
        assert response.status_code == 200
        c.settle()
    key = amendment_id(proposal["id"], 1)
    assert c.store.amendment(key).text == texts[1]
    late = [e for e in c.sim.forum.web_hook_events.values() if e.event_name == "post_edited"][-2]
    assert texts[0] in late.payload
    body = late.payload.encode()                             # ...and arrives last, as a new delivery
    answer = requests.post(c.settings.public_url + c.settings.webhook_path, data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-Discourse-Event": "post_edited", "X-Discourse-Event-Type": "post",
        "X-Discourse-Event-Id": "987654", "X-Discourse-Event-Signature": sign(body, c.settings.discourse_webhook_secret)})
    assert answer.status_code == 202, answer.text
    c.settle()
    assert c.store.amendment(key).text == texts[1]


def test_the_scheduler_enqueues_one_json_reconcile_job_per_interval(companion: Companion) -> None:
    c = companion
    cron = ReconcileCron(c.settings)
    at = datetime(2026, 11, 23, 10, 1, tzinfo=timezone.utc)
    job = cron.enqueue(c.conn, at=at)
    same = cron.enqueue(c.conn, at=at.replace(minute=14))       # the same 15-minute interval
    assert same.id == job.id
    queue = Queue(QUEUE_DIGEST, connection=c.conn, serializer=JSONSerializer)
    assert queue.job_ids.count(job.id) == 1
    assert queue.fetch_job(job.id).func_name == "worker.jobs.reconcile"     # readable by the JSON workers
    c.settle()
    assert queue.fetch_job(job.id).return_value().startswith("read ")
    names = [j.name for j in build_scheduler(c.conn, c.settings).get_jobs()]
    assert RECONCILE_CRON_NAME in names
    off = build_scheduler(c.conn, type(c.settings)(**{**vars(c.settings), "reconcile_minutes": 0}))
    assert RECONCILE_CRON_NAME not in [j.name for j in off.get_jobs()]


def test_the_command_runs_one_pass(companion: Companion) -> None:
    c = companion
    env = {**os.environ, "DISCOURSE_URL": c.settings.discourse_url, "DISCOURSE_API_KEY": c.settings.discourse_api_key,
           "DISCOURSE_API_USERNAME": "system", "REDIS_URL": c.settings.redis_url,
           "COC_REDIS_PREFIX": c.settings.redis_prefix, "COC_API_BUDGET_PER_MIN": "1000"}
    result = subprocess.run([sys.executable, "-m", "plugin", "reconcile", "--pages", "2"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("read 1 page(s)"), result.stdout
