"""The whole service in one benchmark process: the test harness (`tests/companion.py`) on its own Redis database."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from plugin.ops.local_redis import ensure_redis, url_with_db
from simulator.state import Forum as SimForum
from tests.companion import Companion, start_companion
from tests.simulator_fixtures import start_sim

BENCH_DB = 14
"""The benchmarks' own Redis database, emptied before and after."""


@contextmanager
def running_companion(*, admin_limit: int = 1_000_000, **overrides: object) -> Iterator[tuple[Companion, str]]:
    """A simulator (by default with no practical admin API limit: the service's own budget is measured instead;
    `admin_limit=60` is Discourse's default), the receiver and an installed service (`overrides`: its Settings);
    yields it with its Redis URL and tears everything down after."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)    # not a line per request
    runtime = ensure_redis()
    url = url_with_db(runtime.url, BENCH_DB)
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    forum = SimForum()
    forum.settings["max_admin_api_reqs_per_minute"] = admin_limit
    sim, handle = start_sim(forum)
    companion = start_companion(sim, url, conn, **overrides)
    try:
        yield next(companion), url
    finally:
        companion.close()
        handle.shutdown()
        conn.flushdb()
        runtime.stop()
