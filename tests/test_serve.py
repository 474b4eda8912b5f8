"""`python -m plugin serve` (gunicorn) and `python -m plugin worker` as real processes."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis
import requests
from rq.job import Job
from rq.serializers import JSONSerializer

from plugin.ops.demo import REPO_ROOT
from plugin.ops.processes import free_port, stop_process, wait_until
from tests.test_events import SAMPLE_SECRET, sample


def service_env(redis_url: str) -> dict[str, str]:
    return {**os.environ, "DISCOURSE_WEBHOOK_SECRET": SAMPLE_SECRET, "REDIS_URL": redis_url,
            "COC_REDIS_PREFIX": "coc-test:"}


@pytest.fixture
def served(redis_url: str, redis_conn: redis.Redis) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "plugin", "serve", "--port", str(port), "--workers", "2"],
                               cwd=REPO_ROOT, env=service_env(redis_url), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"

    def alive() -> bool:
        try:
            return requests.get(url + "/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False
    try:
        assert wait_until(lambda: process.poll() is not None or alive(), timeout=30), "receiver did not start"
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        yield url
    finally:
        stop_process(process)
        if process.stderr:
            process.stderr.close()


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
