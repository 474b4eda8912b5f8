"""Rebuild: Redis state made again from the forum alone equals the state webhooks built, and makes no effect twice.

A whole story is played through webhooks (drafts, an approval, a rejection with its PM, a member's /approve
answered, a withdrawal, problems answered, discussion, a care post, likes); then Redis is wiped, `rebuild` runs
against the same forum over HTTP, and `Store.snapshot()` plus the week's engagement figures must be equal.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import asdict, replace

import pytest

from bench.faults import differences
from plugin.domain.amendments import APPLIED, DRAFTED, OPEN, REJECTED, WITHDRAWN
from plugin.domain.names import amendment_id
from plugin.adapters.budget import ApiBudget
from plugin.domain.engagement import iso_week
from plugin.adapters.forum import Forum, Throttled
from tests.companion import Companion, companion, sim_forum  # noqa: F401  (fixtures)
from tests.test_amendments_e2e import APPROVE, backed_proposal, like, make_moderator, propose, reply
from tests.test_care_e2e import WORDS
from tests.test_data_explorer import enable
from worker.rebuild import Cursor, rebuild
from worker.services import Services

PRIVACY = ("What is shared here stays here unless the person who shared it says otherwise, and we never pass on "
           "screenshots of another member's words.")


def story(c: Companion) -> dict[str, str]:
    """A week of the Code of Care, through webhooks; returns the amendment ids by what became of them."""
    document_topic = c.store.document()["topic_id"]
    superseded_post = propose(c, "kim", text="We ask, and we listen to the answer, whatever it is, every time.")
    _, applied, applied_topic = backed_proposal(c)
    reply(c, "dave", applied_topic.id, "/approve\nI agree with this one, fully!")      # answered: not allowed
    make_moderator(c, "mod")
    reply(c, "mod", applied_topic.id, APPROVE)
    rejected_post = propose(c, "erin", section="Privacy", text=PRIVACY)
    for who in ("bob", "carol"):
        like(c, who, rejected_post["id"])
    c.settle()
    rejected = amendment_id(rejected_post["id"], 1)
    reply(c, "mod", c.store.amendment(rejected).draft_topic_id, "/reject We would rather keep the current words.")
    withdrawn_post = propose(c, "frank", section="Care", text="We look after each other, and we say so often.")
    for who in ("bob", "carol"):
        like(c, who, withdrawn_post["id"])
    c.settle()
    withdrawn = amendment_id(withdrawn_post["id"], 1)
    reply(c, "frank", c.store.amendment(withdrawn).draft_topic_id, "/withdraw\nI will come back with better words.")
    open_post = propose(c, "gina", section="Harm and repair", text="When harm is done we repair it together.")
    like(c, "bob", open_post["id"])
    reply(c, "harry", document_topic, '[quote="alice, post:1, topic:%d"]\nConsent\n[/quote]\nI like this part a '
                                      'lot, it is kind and clear.' % document_topic)
    reply(c, "ivy", document_topic, '[amend section="Nowhere"]\nA section that is not there.\n[/amend]')
    reply(c, "jolene", document_topic, WORDS)
    c.settle()
    return {"applied": applied, "rejected": rejected, "withdrawn": withdrawn,
            "open": amendment_id(open_post["id"], 1), "superseded": amendment_id(superseded_post["id"], 1)}


def state(c: Companion) -> dict:
    week = iso_week(time.time())
    return {"store": c.store.snapshot(), "figures": asdict(c.services.engagement.figures(week))}


def forum_content(c: Companion) -> tuple[int, int]:
    return len(c.sim.forum.posts), len(c.sim.forum.topics)


def test_rebuilt_state_equals_the_state_webhooks_built(companion: Companion) -> None:
    c = companion
    ids = story(c)
    statuses = {what: c.store.amendment(key).status for what, key in ids.items()}
    assert statuses == {"applied": APPLIED, "rejected": REJECTED, "withdrawn": WITHDRAWN, "open": OPEN,
                        "superseded": OPEN}
    built = state(c)
    assert built["store"]["amendments"][ids["superseded"]]["base_is_current"] is False
    assert built["store"]["amendments"][ids["open"]]["base_is_current"] is True
    assert built["store"]["care_posts"] and built["store"]["discussion"] and built["store"]["effects"]
    content = forum_content(c)

    wiped = c.store.wipe()
    assert wiped > 0 and c.store.all_amendments() == []
    report = rebuild(c.services)
    c.settle()
    assert state(c) == built, differences(state(c), built)
    assert forum_content(c) == content                        # nothing posted, edited or sent while rebuilding
    assert report.amendments == {APPLIED: 1, REJECTED: 1, WITHDRAWN: 1, OPEN: 2}, str(report)

    reply(c, "mod", c.store.amendment(ids["rejected"]).draft_topic_id, APPROVE)   # decided: ignored, no answer
    c.settle()
    assert forum_content(c)[1] == content[1] and c.store.amendment(ids["rejected"]).status == REJECTED


def test_a_rebuild_through_data_explorer_equals_the_state_webhooks_built_in_fewer_calls(
        companion: Companion) -> None:
    """Where the forum runs Data Explorer, posts, topics and likes come 10,000 rows a call: the same state."""
    c = companion
    story(c)
    built = state(c)
    c.store.wipe()
    before = c.services.forum.calls_made
    through_api = rebuild(c.services)
    api_calls = c.services.forum.calls_made - before
    c.settle()
    assert state(c) == built and through_api.via == "api"
    c.store.wipe()
    enable(c.sim)
    before = c.services.forum.calls_made
    report = rebuild(c.services)
    explored_calls = c.services.forum.calls_made - before
    c.settle()
    assert state(c) == built, differences(state(c), built)
    assert report.via == "data-explorer" and "through Data Explorer" in str(report)
    assert report.amendments == through_api.amendments and report.likes == through_api.likes
    assert explored_calls < api_calls + 8, (explored_calls, api_calls)  # 5 queries made once, then fewer reads


def test_a_rebuild_stopped_by_the_budget_goes_on_where_it_stopped(companion: Companion) -> None:
    c = companion
    story(c)
    built = state(c)
    c.store.wipe()
    tight = replace(c.settings, api_budget_per_min=6)
    with Forum(tight, budget=ApiBudget.for_settings(c.conn, tight)) as forum:
        services = Services(tight, c.conn)
        services.forum = forum
        with pytest.raises(Throttled):
            rebuild(services)
    stopped = Cursor(c.services)
    assert stopped.phase in ("code_of_care", "topics", "replay", "likes", "decisions"), stopped.state
    c.conn.delete(c.keys.api_budget)
    rebuild(c.services)
    c.settle()
    assert state(c) == built
    assert not c.conn.exists(c.keys.rebuild_cursor)


def test_the_command_shows_progress_and_its_report(companion: Companion) -> None:
    c = companion
    backed_proposal(c)
    env = {**os.environ, "DISCOURSE_URL": c.settings.discourse_url, "DISCOURSE_API_KEY": c.settings.discourse_api_key,
           "DISCOURSE_API_USERNAME": "system", "REDIS_URL": c.settings.redis_url,
           "COC_REDIS_PREFIX": c.settings.redis_prefix, "COC_API_BUDGET_PER_MIN": "1000"}
    result = subprocess.run([sys.executable, "-m", "plugin", "rebuild", "--fresh"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "replay" in result.stderr and "100%" in result.stderr
    assert result.stdout.startswith("rebuilt from ") and f"1 {DRAFTED}" in result.stdout, result.stdout

