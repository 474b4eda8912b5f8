"""The shared fixtures in conftest.py: the tests' own Redis database, emptied around each test."""

from __future__ import annotations

import redis

from tests.conftest import redis_test_db


def test_redis_conn_is_on_the_tests_database(redis_conn: redis.Redis, redis_url: str) -> None:
    db = redis_test_db()
    assert redis_url.endswith(f"/{db}")
    assert redis_conn.connection_pool.connection_kwargs["db"] == db
    assert redis_conn.client_info()["db"] == db


def test_redis_conn_starts_empty_and_works(redis_conn: redis.Redis) -> None:
    assert redis_conn.dbsize() == 0
    redis_conn.set("coc:test:key", "value")
    assert redis_conn.get("coc:test:key") == b"value"


def test_redis_conn_was_emptied_after_the_previous_test(redis_conn: redis.Redis) -> None:
    assert redis_conn.get("coc:test:key") is None
