"""`python -m plugin stats --check`: the week's topics, posts and likes beside the forum's own reports
(`GET /admin/reports/bulk.json`, one call), with the difference and what explains it; a lost delivery that reconcile
has not caught up shows as a wider difference. Real simulator, receiver, Redis and RQ."""

from __future__ import annotations

import re

import pytest

from plugin.__main__ import main
from tests.companion import Companion, companion, sim_forum  # noqa: F401, F811  (fixtures)
from tests.test_amendments_e2e import like
from tests.test_care_e2e import general_topic
from tests.test_digest_e2e import use_the_companion_from_the_command_line
from worker import services as worker_services


def checked(capsys: pytest.CaptureFixture[str]) -> dict[str, tuple[int, int, int]]:
    """figure → (companion, forum, forum - companion), as printed."""
    worker_services.reset()
    assert main(["stats", "--check"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^(topics|posts|likes)\s+(\d+)\s+(\d+)\s+([+-]\d+)$", out, re.MULTILINE)
    assert len(rows) == 3, out
    return {name: (int(a), int(b), int(d)) for name, a, b, d in rows}


def test_the_check_prints_both_counts_and_a_lost_delivery_widens_the_difference(
    companion: Companion, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    c = companion
    topic = general_topic(c)
    reply = c.member("bob").create_post("Thank you all for the kind words this week.", topic_id=topic)
    like(c, "carol", reply["id"])
    c.settle()
    use_the_companion_from_the_command_line(c, monkeypatch)
    before = checked(capsys)
    figures = c.services.engagement.figures(__import__("plugin.domain.engagement").domain.engagement.iso_week(
        __import__("time").time()))
    assert (before["posts"][0], before["topics"][0], before["likes"][0]) == (figures.posts, figures.topics,
                                                                              figures.likes)
    forum = c.sim.forum
    public = [p for p in forum.posts.values() if not forum.topics[p.topic_id].is_pm and p.post_type == 1
              and p.deleted_at is None]
    assert before["posts"][1] == len(public)  # the forum counts the companion's own posts too
    assert all(forum_count >= ours for ours, forum_count, _ in before.values())

    c.sim.app.extensions["webhooks"].faults.drop = 1.0
    c.member("dave").create_post("A post whose delivery is lost on the way here.", topic_id=topic)
    c.settle()
    after = checked(capsys)
    assert after["posts"][2] == before["posts"][2] + 1  # one more post in the forum than the companion heard of
    assert after["posts"][0] == before["posts"][0]
