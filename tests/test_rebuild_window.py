"""Rebuild reads the window, not the forum's whole history: the public posts back to the window's start, the Code
of Care's proposals whatever their age, and each like in the week it was given (`GET /user_actions.json`).

The simulator's clock is set back to write an old history (as an import would): a proposal and ordinary talk 20
weeks ago, a reply 3 weeks ago; then likes now. Everything over real HTTP, Redis and RQ.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from plugin.domain.amendments import DRAFTED
from plugin.domain.engagement import iso_week
from plugin.domain.names import amendment_id
from tests.companion import Companion, companion, sim_forum  # noqa: F401, F811  (fixtures)
from tests.test_amendments_e2e import like, propose
from tests.test_care_e2e import general_topic
from tests.test_data_explorer import enable
from worker.rebuild import rebuild


def at(c: Companion, weeks_ago: float) -> None:
    """Write what follows as if it were `weeks_ago` weeks ago (0: now)."""
    moment = datetime.now(UTC) - timedelta(weeks=weeks_ago)
    c.sim.forum.clock = (lambda: moment) if weeks_ago else (lambda: datetime.now(UTC))


@pytest.mark.parametrize("explored", [False, True], ids=["api", "data-explorer"])
def test_a_rebuild_reads_the_window_and_the_code_of_care_and_counts_each_like_in_its_week(
    companion: Companion, explored: bool
) -> None:
    c = companion
    if explored:
        enable(c.sim)
    topic = general_topic(c)
    at(c, 20)
    old_proposal = propose(c, "gina", section="Harm and repair", text="When harm is done we repair it together.")
    like(c, "bob", old_proposal["id"])
    old_talk = [c.member("olga").create_post(f"An old thought, number {n}, from long ago.", topic_id=topic)
                for n in range(60)]
    at(c, 3)
    recent = c.member("dave").create_post("A reply three weeks ago, about listening.", topic_id=topic)
    at(c, 0)
    like(c, "carol", recent["id"])  # given now, to a post three weeks old
    like(c, "erin", old_proposal["id"])  # given now, to a proposal twenty weeks old
    c.settle()
    key = amendment_id(old_proposal["id"], 1)
    built = c.store.amendment(key).status

    c.store.wipe()
    forum = c.services.forum
    before = forum.calls_made
    report = rebuild(c.services)
    c.settle()
    calls = forum.calls_made - before

    assert c.store.amendment(key).status == built == DRAFTED  # found whatever its age, and its draft with it
    assert {n.lower() for n in c.store.likers(old_proposal["id"])} == {"bob", "erin"}  # its support, all of it
    this_week, recent_week = iso_week(time.time()), iso_week(recent["created_at"])
    figures = c.services.engagement.figures(this_week)
    assert figures.likes == 2  # both likes given this week, in this week
    if recent_week != this_week:
        assert c.services.engagement.figures(recent_week).likes == 0
        assert c.services.engagement.figures(recent_week).posts >= 1
    old_week = iso_week(old_talk[0]["created_at"])
    assert c.services.engagement.figures(old_week).posts == 0  # before the window: not read, not counted
    assert report.posts < len(old_talk), report  # the 60 old posts were never read back
    assert calls < 40, calls
    assert report.via == ("data-explorer" if explored else "api")


def test_the_window_is_whole_iso_weeks_ending_with_this_one_and_at_least_one() -> None:
    from plugin.config import ConfigError, Settings  # noqa: PLC0415
    from plugin.domain.readback import window_start, window_start_week  # noqa: PLC0415

    wednesday = datetime(2026, 12, 2, 15, 0, tzinfo=UTC).timestamp()
    assert window_start_week(wednesday, 1) == "2026-W49"
    assert window_start_week(wednesday, 12) == "2026-W38"
    assert datetime.fromtimestamp(window_start(wednesday, 12), UTC) == datetime(2026, 9, 14, tzinfo=UTC)  # a Monday
    assert Settings.from_env({"COC_WINDOW_WEEKS": "26"}, dotenv=False).window_weeks == 26
    with pytest.raises(ConfigError, match="COC_WINDOW_WEEKS must be at least 1"):
        Settings.from_env({"COC_WINDOW_WEEKS": "0"}, dotenv=False)
