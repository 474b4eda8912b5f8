"""The fault-replay harness in a small form (`bench/faults.py` runs the full one): a seeded stream run clean and
run under every kind of fault at once must leave the same forum and the same state, within the API budget."""
from __future__ import annotations

import pytest

from bench.faults import Plan, Run, compare

SMALL = Plan(events=300, rounds=2, kills=6, redis_restarts=1,
             outages=(("429", 4.0), ("429-user", 4.0), ("503", 4.0), ("timeout", 4.0)), delay_seconds=(1.0, 5.0),
             maintenance_seconds=5, rate=60.0, members=20, unreachable_every=5)


@pytest.mark.timeout(900)
def test_a_stream_under_faults_ends_as_the_clean_one() -> None:
    clean = Run(SMALL, faulty=False).play()
    faulty = Run(SMALL, faulty=True).play()
    diff = compare(clean, faulty)
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
    assert clean.messages_refused > 0 and faulty.messages_refused > 0    # members the forum would not let us message
