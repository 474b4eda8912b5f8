"""Reconcile where the delivery log cannot tell, on a forum that runs Data Explorer: the window's posts and likes are
read 10,000 a call, and what never arrived is fed exactly once, each missing like without a call of its own.

Everything real: the simulator (its Data Explorer over its own data; its webhook faults drop deliveries as a failing
network would), the receiver over HTTP, Redis and RQ workers.
"""

from __future__ import annotations

from plugin.adapters.data_explorer import DataExplorer
from plugin.domain.amendments import DRAFTED
from plugin.domain.names import amendment_id
from tests.companion import Companion, companion, sim_forum  # noqa: F401, F811  (fixtures)
from tests.test_amendments_e2e import like, propose
from tests.test_data_explorer import enable
from worker.reconcile import reconcile
from worker.reports import ReconcileReport
from worker.services import Services


def dropping(c: Companion, rate: float = 1.0) -> None:
    c.sim.app.extensions["webhooks"].faults.drop = rate


def read_back(s: Services) -> ReconcileReport:
    """A pass where the delivery log cannot tell (as after a long stop): the posts are read back."""
    s.store.forget_delivery_log()
    return reconcile(s)


def test_lost_posts_and_likes_are_found_through_data_explorer_and_fed_once(companion: Companion) -> None:
    c = companion
    enable(c.sim)
    DataExplorer(c.services.forum).ensure_queries()          # as install saves them
    topic_id = c.store.document()["topic_id"]
    c.member("erin").create_post("A thought about care that arrives as it should.", topic_id=topic_id)
    c.settle()
    first = read_back(c.services)   # the whole window: the Code's own first post, made before the webhook, too
    assert first.explored and first.posts == 2, first
    c.settle()
    quiet = read_back(c.services)
    assert quiet.explored and sum(quiet.fed.values()) == 0, quiet   # nothing missing: nothing fed
    dropping(c)
    proposal = propose(c, "alice")
    like(c, "bob", proposal["id"])
    like(c, "carol", proposal["id"])
    lost = c.member("dave").create_post("Another thought about care, never delivered.", topic_id=topic_id)
    c.settle()
    key = amendment_id(proposal["id"], 1)
    assert c.store.amendment(key) is None                       # nothing arrived
    dropping(c, 0.0)

    forum = c.services.forum
    before = forum.calls_made
    report = read_back(c.services)
    calls = forum.calls_made - before
    assert report.explored and "through Data Explorer" in str(report), report
    assert report.fed["post_created"] == 2 and report.fed["post_liked"] == 2 and report.accepted == 4, report
    # the care listing, the webhook's log, Data Explorer's listing and a test run, a page of posts, a page of
    # likes: no call per post, nor per like
    assert calls <= 7, (calls, report)
    c.settle()
    assert c.store.amendment(key).status == DRAFTED
    assert len([t for t in c.sim.forum.topics.values() if t.external_id == key]) == 1
    assert {name.lower() for name in c.store.likers(proposal["id"])} == {"bob", "carol"}
    assert c.store.known_versions([lost["id"]])[lost["id"]] is not None

    again = read_back(c.services)                                # all there now: nothing fed twice
    assert again.explored and sum(again.fed.values()) == 0 and again.accepted == 0, again


def test_without_data_explorer_the_posts_are_read_through_the_api(companion: Companion) -> None:
    c = companion
    report = read_back(c.services)
    assert not report.explored and "through Data Explorer" not in str(report), report
