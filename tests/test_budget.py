"""The shared forum API budget, against a real Redis: a rolling minute, shared by every process, paused by a 429."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from plugin.adapters.budget import WINDOW_SECONDS, ApiBudget
from plugin.config import Settings
from plugin.adapters.keys import Keys

KEYS = Keys("coc-test:")


class Clock:
    """A clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def budget(conn: redis.Redis, clock: Clock, per_minute: int = 3) -> ApiBudget:
    return ApiBudget(conn, key=KEYS.api_budget, pause_key=KEYS.api_pause, per_minute=per_minute, clock=clock)


@pytest.fixture
def other_conn(redis_url: str, redis_conn: redis.Redis) -> Iterator[redis.Redis]:
    """A second connection to the same database: another worker process, as far as the budget can tell."""
    conn = redis.Redis.from_url(redis_url)
    yield conn
    conn.close()


def test_spends_up_to_the_limit_then_says_how_long_to_wait(redis_conn: redis.Redis, clock: Clock) -> None:
    b = budget(redis_conn, clock)
    for _ in range(3):
        assert b.try_spend() == 0.0
        clock.advance(10)
    assert b.remaining() == 0
    assert b.try_spend() == pytest.approx(WINDOW_SECONDS - 30)     # the first call leaves the window at t=61


def test_a_refusal_spends_nothing(redis_conn: redis.Redis, clock: Clock) -> None:
    b = budget(redis_conn, clock)
    for _ in range(3):
        b.try_spend()
    before = redis_conn.zcard(KEYS.api_budget)
    assert b.try_spend() > 0 and b.try_spend() > 0
    assert redis_conn.zcard(KEYS.api_budget) == before == 3


def test_the_window_rolls(redis_conn: redis.Redis, clock: Clock) -> None:
    b = budget(redis_conn, clock)
    b.try_spend()                     # t=0
    clock.advance(30)
    b.try_spend()                     # t=30
    b.try_spend()                     # t=30
    clock.advance(WINDOW_SECONDS - 30)  # the call at t=0 has left the window, the two at t=30 have not
    assert b.remaining() == 1
    assert b.try_spend() == 0.0
    assert b.try_spend() == pytest.approx(30.0)


def test_several_at_once_all_or_nothing(redis_conn: redis.Redis, clock: Clock) -> None:
    b = budget(redis_conn, clock, per_minute=5)
    assert b.try_spend(3) == 0.0
    assert b.try_spend(3) == pytest.approx(WINDOW_SECONDS)   # only 2 left: nothing spent
    assert b.remaining() == 2
    assert b.try_spend(2) == 0.0
    with pytest.raises(ValueError):
        b.try_spend(6)


def test_every_process_shares_one_budget(redis_conn: redis.Redis, other_conn: redis.Redis, clock: Clock) -> None:
    first, second = budget(redis_conn, clock), budget(other_conn, clock)
    assert first.try_spend(2) == 0.0
    assert second.remaining() == 1
    assert second.try_spend() == 0.0
    assert first.try_spend() > 0


def test_concurrent_spending_never_exceeds_the_limit(redis_url: str, redis_conn: redis.Redis, clock: Clock) -> None:
    per_minute, threads, attempts = 40, 8, 25
    spent: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = redis.Redis.from_url(redis_url)
        b = budget(conn, clock, per_minute=per_minute)
        mine = sum(1 for _ in range(attempts) if b.try_spend() == 0.0)
        with lock:
            spent.append(mine)
        conn.close()

    running = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    assert len(spent) == threads
    assert sum(spent) == per_minute
    assert redis_conn.zcard(KEYS.api_budget) == per_minute


def test_a_pause_stops_everyone_until_it_is_over(redis_conn: redis.Redis, other_conn: redis.Redis,
                                                 clock: Clock) -> None:
    first, second = budget(redis_conn, clock), budget(other_conn, clock)
    first.pause(20)
    assert second.try_spend() == pytest.approx(20.0)
    assert second.remaining() == 0 and second.paused_for() == pytest.approx(20.0)
    clock.advance(15)
    assert first.try_spend() == pytest.approx(5.0)
    clock.advance(5)
    assert second.paused_for() == 0.0
    assert second.try_spend() == 0.0 and first.remaining() == 2


def test_a_shorter_pause_never_shortens_a_longer_one(redis_conn: redis.Redis, clock: Clock) -> None:
    b = budget(redis_conn, clock)
    b.pause(60)
    b.pause(5)
    assert b.try_spend() == pytest.approx(60.0)
    b.pause(0)
    assert b.paused_for() == pytest.approx(60.0)


def test_keys_expire_so_an_idle_budget_leaves_nothing_behind(redis_conn: redis.Redis, clock: Clock) -> None:
    b = budget(redis_conn, clock)
    b.try_spend()
    b.pause(3)
    assert 0 < redis_conn.ttl(KEYS.api_budget) <= WINDOW_SECONDS + 1
    assert 0 < redis_conn.pttl(KEYS.api_pause) <= 4000


def test_for_settings_uses_the_configured_prefix_and_size(redis_conn: redis.Redis) -> None:
    settings = Settings.from_env({}, dotenv=False, redis_prefix="coc-other:", api_budget_per_min=7)
    b = ApiBudget.for_settings(redis_conn, settings)
    assert (b.key, b.pause_key, b.per_minute) == (Keys("coc-other:").api_budget, Keys("coc-other:").api_pause, 7)
    assert b.try_spend() == 0.0
    assert redis_conn.zcard("coc-other:api:budget") == 1 and b.remaining() == 6


def test_a_budget_must_allow_a_call(redis_conn: redis.Redis) -> None:
    with pytest.raises(ValueError):
        ApiBudget(redis_conn, key=KEYS.api_budget, per_minute=0)


def test_the_pause_key_defaults_beside_the_window(redis_conn: redis.Redis) -> None:
    assert ApiBudget(redis_conn, key="k", per_minute=1).pause_key == "k:pause"
