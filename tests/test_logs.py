"""Structured logs: one JSON line per event, with the event id and the job id."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import redis
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.serializers import JSONSerializer

from plugin import logs
from plugin.ops.demo import REPO_ROOT
from plugin.ops.processes import stop_process, wait_until


def test_a_job_logs_one_json_line_with_its_event_and_job_id(redis_conn: redis.Redis) -> None:
    stream = io.StringIO()
    logs.configure(stream=stream)
    try:
        queue = Queue("events", connection=redis_conn, serializer=JSONSerializer)
        job = queue.enqueue("tests.test_logs.log_an_event", "31001")
        SimpleWorker([queue], connection=redis_conn, serializer=JSONSerializer).work(burst=True,
                                                                                      logging_level="ERROR")
    finally:
        logs.reset()
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["message"] == "event" and line["event_id"] == "31001" and line["event"] == "post_created"
    assert line["job_id"] == job.id and line["queue"] == "events" and line["level"] == "info"


def log_an_event(event_id: str) -> None:
    logging.getLogger("worker.jobs").info("event", extra={"event": "post_created", "event_id": event_id})


def process_env(redis_url: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("DISCOURSE_", "REDIS_", "COC_"))},
            "PYTHONPATH": str(REPO_ROOT), "REDIS_URL": redis_url, "COC_REDIS_PREFIX": "coc-test:"}


def json_lines(text: str) -> list[dict[str, object]]:
    """Every line of `text` as a JSON object (a line that is not one fails the test, naming it)."""
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
        assert isinstance(lines[-1], dict), line
    return lines


def test_the_worker_command_logs_only_json_lines_rq_s_own_included(redis_conn: redis.Redis, redis_url: str,
                                                                    tmp_path: Path) -> None:
    job = Queue("events", connection=redis_conn, serializer=JSONSerializer).enqueue(
        "tests.test_logs.log_an_event", "31002")
    result = subprocess.run([sys.executable, "-m", "plugin", "worker", "--burst"], cwd=tmp_path,
                            env=process_env(redis_url), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout) + json_lines(result.stderr)
    rq_lines = [line for line in lines if str(line["logger"]).startswith("rq.")]
    messages = " | ".join(str(line["message"]) for line in rq_lines)
    assert "started with PID" in messages and f"Job OK ({job.id})" in messages, messages
    (ours,) = [line for line in lines if line["logger"] == "worker.jobs"]
    assert ours["event_id"] == "31002" and ours["job_id"] == job.id


def test_the_scheduler_command_logs_only_json_lines_on_stderr(redis_conn: redis.Redis, redis_url: str,
                                                               tmp_path: Path) -> None:
    """stdout holds its plan, one plain line per cron job (tests/test_schedule.py); every log record is JSON."""
    with subprocess.Popen([sys.executable, "-m", "plugin", "scheduler"], cwd=tmp_path, env=process_env(redis_url),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert wait_until(lambda: process.poll() is not None or bool(CronScheduler.all(redis_conn)),
                              timeout=30)
        finally:
            code = stop_process(process)
        stderr = process.stderr.read() if process.stderr else ""
    assert code == 0, stderr
    lines = json_lines(stderr)
    messages = [str(line["message"]) for line in lines if line["logger"] == "rq.cron"]
    assert any(m.endswith("starting...") for m in messages) and any(m.endswith("shutdown complete")
                                                                    for m in messages), stderr
