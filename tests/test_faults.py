"""The fault-replay harness in a small form (`bench/faults.py` runs the full one): a seeded stream run clean and
run under every kind of fault at once must leave the same forum and the same state, within the API budget. Its care
posts are five times the full stream's share, so that their follow-through (members writing back, pickups,
coordination and `/done` in the team's conversations) has something of every kind."""
from __future__ import annotations

import pytest

from bench.faults import Outcome, Plan, Run, compare, report
from plugin.text.care import CLOSED_MARKER, PICKUP_MARKER, RELAY_MARKER

SMALL = Plan(events=300, rounds=2, kills=6, redis_restarts=1,
             outages=(("429", 4.0), ("429-user", 4.0), ("503", 4.0), ("timeout", 4.0)), delay_seconds=(1.0, 5.0),
             maintenance_seconds=5, rate=60.0, members=20, unreachable_every=5, care_share=0.05)
CARE_KINDS = ("member writes back", "team picks up", "team coordinates", "/done after a pickup")


@pytest.mark.timeout(900)
def test_a_stream_under_faults_ends_as_the_clean_one() -> None:
    clean = Run(SMALL, faulty=False).play()
    faulty = Run(SMALL, faulty=True).play()
    diff = compare(clean, faulty)
    print(report(SMALL, clean, faulty, diff))                               # shown on failure, or with -s
    assert sum(clean.effects.values()) > 20 and clean.care_latencies          # the stream did make things happen
    assert not diff["lost"], diff["lost"]
    assert not diff["doubled"], diff["doubled"]
    assert diff["divergent"] == []
    assert faulty.peak_per_minute <= SMALL.budget_per_min and faulty.refused_by_bucket == 0
    assert clean.failed_jobs == faulty.failed_jobs == 0
    kinds = faulty.faults
    assert kinds["SIGKILL worker"] + kinds["SIGKILL work horse"] == SMALL.kills
    assert kinds["Redis killed and restarted"] == 1
    for name in ("webhook drop", "webhook duplicate", "webhook reorder", "webhook retry", "webhook delay"):
        assert kinds[name] > 0, name
    assert kinds["forum 429-user for 4 s"] == 1
    assert kinds["webhook drop on purpose (a post in a care conversation)"] > 0   # reconcile must catch them up
    assert clean.messages_refused > 0 and faulty.messages_refused > 0    # members the forum would not let us message
    assert clean.care_actions == faulty.care_actions                    # the same follow-through played in both
    for kind in CARE_KINDS:
        assert clean.care_actions[kind] > 0, kind
    assert any(kind.endswith("(member cannot be messaged)") for kind in clean.care_actions)   # only the team acts
    for marker in (RELAY_MARKER.split("(")[0], PICKUP_MARKER, CLOSED_MARKER):   # what the bot made for them
        assert made(clean, marker) > 0, marker
    statuses = {r["status"] for r in clean.state["store"]["care_requests"].values()}
    assert statuses == {"open", "picked_up", "closed"}, statuses


def made(outcome: Outcome, words: str) -> int:
    """How many of the bot's posts (compared effects) hold `words`."""
    return sum(n for effect, n in outcome.effects.items() if words in effect)
