"""The whole service in one benchmark process: the test harness (`tests/companion.py`) on its own Redis database."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from plugin.redis_runtime import ensure_redis, url_with_db
from simulator.state import Forum as SimForum
from tests.companion import Companion, start_companion
from tests.simulator_fixtures import start_sim

BENCH_DB = 14
"""The benchmarks' own Redis database, emptied before and after."""


@contextmanager
def running_companion() -> Iterator[tuple[Companion, str]]:
    """A simulator (with no practical admin API limit: the service's own budget is measured instead), the receiver
    and an installed service; yields it with its Redis URL and tears everything down after."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)    # not a line per request
    runtime = ensure_redis()
    url = url_with_db(runtime.url, BENCH_DB)
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    forum = SimForum()
    forum.settings["max_admin_api_reqs_per_minute"] = 1_000_000
    sim, handle = start_sim(forum)
    companion = start_companion(sim, url, conn)
    try:
        yield next(companion), url
    finally:
        companion.close()
        handle.shutdown()
        conn.flushdb()
        runtime.stop()
