"""Fixtures shared by the whole suite, one section per service the tests run against."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from plugin.ops.local_redis import RedisRuntime, ensure_redis, url_with_db

pytest_plugins = ["tests.simulator_fixtures", "tests.demo_run"]

# --------------------------------------------------------------------------------------------------
# Redis: one real Redis per session (REDIS_URL, the local one, or a server started for the run);
# the tests use their own database number and flush only that database.
# --------------------------------------------------------------------------------------------------

ENV_TEST_REDIS_DB = "COC_TEST_REDIS_DB"
DEFAULT_TEST_REDIS_DB = 13


def redis_test_db() -> int:
    """The database number the tests use: `$COC_TEST_REDIS_DB`, else 13."""
    value = os.environ.get(ENV_TEST_REDIS_DB, "").strip()
    if not value:
        return DEFAULT_TEST_REDIS_DB
    if not value.isdigit():
        raise pytest.UsageError(f"{ENV_TEST_REDIS_DB} must be a database number, got {value!r}")
    return int(value)




@pytest.fixture(scope="session")
def redis_runtime() -> Iterator[RedisRuntime]:
    """The Redis for this session; a server started for it is stopped at the end."""
    runtime = ensure_redis()
    yield runtime
    runtime.stop()


@pytest.fixture(scope="session")
def redis_url(redis_runtime: RedisRuntime) -> str:
    """The session's Redis URL, pointing at the tests' own database."""
    return url_with_db(redis_runtime.url, redis_test_db())


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the tests' database, which is empty before the test and emptied after it."""
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()
