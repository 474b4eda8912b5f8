"""The forum API budget that every worker shares: `COC_API_BUDGET_PER_MIN` calls per rolling minute, in Redis.

Discourse gives the whole site ONE admin API bucket (60 requests a minute by default, FACTS.md); the service keeps
to its own, smaller share so that other integrations still work. Spending is one Lua script: a sorted set holds the
time of every call of the last minute, and a pause key holds the moment until which nobody may spend (set when the
forum itself answered 429). A caller that gets a wait back defers its job instead of sleeping.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from redis import Redis

from plugin.adapters.keys import Keys
from plugin.config import Settings

WINDOW_SECONDS = 61.0
"""The rolling window the budget counts over: Discourse's admin bucket is per minute, plus one second for the
time between spending a call here and the request reaching the forum (a call spent at t and sent at t + 0.4 s
must not share the forum's minute with one spent and sent at t + 60 s: the fault harness saw 601 in 600)."""

_SPEND_SCRIPT = """
-- KEYS[1] the window (sorted set: one member per call, scored by its time), KEYS[2] the pause-until key
-- ARGV[1] now, ARGV[2] calls wanted, ARGV[3] calls allowed per window, ARGV[4] window seconds, ARGV[5] a unique token
-- Returns "0" when spent, else the seconds to wait (as a string: Lua numbers would be truncated to integers).
local now = tonumber(ARGV[1])
local wanted = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local paused_until = tonumber(redis.call("GET", KEYS[2]) or "0")
if paused_until > now then
    return tostring(paused_until - now)
end
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now - window)
local used = redis.call("ZCARD", KEYS[1])
if used + wanted <= limit then
    for i = 1, wanted do
        redis.call("ZADD", KEYS[1], now, ARGV[5] .. ":" .. i)
    end
    redis.call("EXPIRE", KEYS[1], math.ceil(window) + 1)
    return "0"
end
-- the (used + wanted - limit)-th oldest call must leave the window before enough room is free
local must_age = used + wanted - limit
local entry = redis.call("ZRANGE", KEYS[1], must_age - 1, must_age - 1, "WITHSCORES")
return tostring(tonumber(entry[2]) + window - now)
"""

_PAUSE_SCRIPT = """
-- KEYS[1] the pause-until key; ARGV[1] now, ARGV[2] seconds. Never shortens a pause already in place.
local now = tonumber(ARGV[1])
local seconds = tonumber(ARGV[2])
local current = tonumber(redis.call("GET", KEYS[1]) or "0")
local wanted = now + seconds
if wanted > current then
    redis.call("SET", KEYS[1], tostring(wanted), "PX", math.ceil(seconds * 1000) + 1000)
end
return tostring(math.max(wanted, current))
"""


class ApiBudget:
    """All workers share ONE budget of `per_minute` forum calls per rolling minute, in Redis.

    `key` is the window's sorted set and `pause_key` the pause-until value (both from `plugin.adapters.keys.Keys`:
    `api_budget`, `api_pause`; `pause_key` defaults to `key + ":pause"`). `clock` gives seconds since the epoch;
    every process sharing a budget should use the same (wall) clock.
    """

    def __init__(
        self,
        connection: Redis,
        *,
        key: str,
        per_minute: int,
        clock: Callable[[], float] = time.time,
        pause_key: str | None = None,
    ):
        if per_minute < 1:
            raise ValueError(f"the API budget must allow at least 1 call a minute, got {per_minute}")
        self.connection = connection
        self.key = key
        self.pause_key = pause_key if pause_key is not None else f"{key}:pause"
        self.per_minute = per_minute
        self.clock = clock
        self._spend = connection.register_script(_SPEND_SCRIPT)
        self._pause = connection.register_script(_PAUSE_SCRIPT)

    @classmethod
    def for_settings(cls, connection: Redis, settings: Settings) -> ApiBudget:
        """The budget the configured service shares (`COC_API_BUDGET_PER_MIN`, keys under `COC_REDIS_PREFIX`)."""
        keys = Keys(settings.redis_prefix)
        return cls(connection, key=keys.api_budget, pause_key=keys.api_pause, per_minute=settings.api_budget_per_min)

    def try_spend(self, n: int = 1) -> float:
        """Spend `n` calls now and return 0.0, or spend nothing and return the seconds to wait before trying again."""
        if not 1 <= n <= self.per_minute:
            raise ValueError(f"can only spend 1 to {self.per_minute} calls at once, not {n}")
        answer = self._spend(
            keys=[self.key, self.pause_key],
            args=[repr(self.clock()), n, self.per_minute, WINDOW_SECONDS, secrets.token_hex(8)],
        )
        return max(0.0, float(answer))

    def remaining(self) -> int:
        """Calls that could be spent right now (0 while paused)."""
        now = self.clock()
        paused_until, used = self._read(now)
        if paused_until > now:
            return 0
        return max(0, self.per_minute - used)

    def paused_for(self) -> float:
        """Seconds until the pause the forum asked for is over (0.0 when not paused)."""
        now = self.clock()
        paused_until, _ = self._read(now)
        return max(0.0, paused_until - now)

    def pause(self, seconds: float) -> None:
        """The forum said 429: nobody spends until `seconds` from now (shared by every process; never shortened)."""
        if seconds <= 0:
            return
        self._pause(keys=[self.pause_key], args=[repr(self.clock()), repr(float(seconds))])

    def _read(self, now: float) -> tuple[float, int]:
        pipe = self.connection.pipeline(transaction=False)
        pipe.get(self.pause_key)
        pipe.zcount(self.key, f"({now - WINDOW_SECONDS!r}", "+inf")
        paused, used = pipe.execute()
        return (float(paused) if paused is not None else 0.0), int(used)
