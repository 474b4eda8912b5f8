"""Reconcile reads the forum's delivery log first: a delivery that did not arrive is sent again by the forum itself
(its Redeliver: the same Event-Id, headers and body), within one pass, and a quiet pass costs a call or two.

Everything real: the simulator (whose webhook faults drop deliveries as a failing network would, and whose log
shows them failed, as Discourse's does), the receiver over HTTP, Redis and RQ workers.
"""

from __future__ import annotations

from plugin.domain.amendments import DRAFTED
from plugin.domain.names import amendment_id
from tests.companion import Companion, companion, sim_forum  # noqa: F401, F811  (fixtures)
from tests.test_amendments_e2e import like, propose
from worker.reconcile import reconcile


def dropping(c: Companion, rate: float = 1.0) -> None:
    c.sim.app.extensions["webhooks"].faults.drop = rate


def test_deliveries_that_never_arrived_are_sent_again_by_the_forum_within_one_pass(companion: Companion) -> None:
    c = companion
    first = reconcile(c.services)  # the first pass reads the posts back, and the log from then on
    assert first.log_pages == 1 and first.redelivered == 0
    dropping(c)
    proposal = propose(c, "alice")
    like(c, "bob", proposal["id"])
    like(c, "carol", proposal["id"])
    c.settle()
    key = amendment_id(proposal["id"], 1)
    assert c.store.amendment(key) is None  # nothing arrived
    dropping(c, 0.0)
    report = reconcile(c.services)
    assert report.redelivered >= 3 and report.pages == 0, report  # no post read: the log told
    c.settle()
    assert c.store.amendment(key).status == DRAFTED
    assert len([t for t in c.sim.forum.topics.values() if t.external_id == key]) == 1
    assert {name.lower() for name in c.store.likers(proposal["id"])} == {"bob", "carol"}
    again = reconcile(c.services)
    assert again.redelivered == 0 and again.pages == 0, again


def test_a_quiet_pass_costs_two_calls(companion: Companion) -> None:
    c = companion
    reconcile(c.services)
    propose(c, "alice")
    c.settle()
    reconcile(c.services)  # settles what the last pass saw on its way
    forum = c.services.forum
    before = forum.calls_made
    report = reconcile(c.services)
    assert forum.calls_made - before == 2, report  # the care conversations' listing, one page of the log


def test_a_log_the_forum_has_purged_falls_back_to_reading_the_posts(companion: Companion) -> None:
    """Discourse deletes deliveries older than `retain_web_hook_events_period_days`: a service stopped that long
    cannot learn from the log what it missed, so the posts are read back."""
    c = companion
    c.member("bob").create_post("Hello, everyone, glad to be part of this.", title="Saying hello to everyone here")  # a delivery in the log
    c.settle()
    reconcile(c.services)
    dropping(c)
    post = c.member("alice").create_post("A thought on consent, while you were away.", title="While you were away")
    c.settle()
    dropping(c, 0.0)
    c.sim.forum.web_hook_events.clear()  # purged (the Redeliver button has nothing left to send)
    report = reconcile(c.services)
    assert report.pages >= 1 and report.fed["post_created"] >= 1, report
    c.settle()
    assert c.store.known_versions([post["id"]])[post["id"]] is not None
