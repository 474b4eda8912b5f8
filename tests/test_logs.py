"""Structured logs: one JSON line per event, with the event id and the job id."""
from __future__ import annotations

import io
import json
import logging

import redis
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from plugin import logs


def test_a_job_logs_one_json_line_with_its_event_and_job_id(redis_conn: redis.Redis) -> None:
    stream = io.StringIO()
    logs.configure(stream=stream)
    try:
        queue = Queue("events", connection=redis_conn, serializer=JSONSerializer)
        job = queue.enqueue("tests.test_logs.log_an_event", "31001")
        SimpleWorker([queue], connection=redis_conn, serializer=JSONSerializer).work(burst=True,
                                                                                      logging_level="ERROR")
    finally:
        for name in ("webhooks", "worker", "plugin"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["message"] == "event" and line["event_id"] == "31001" and line["event"] == "post_created"
    assert line["job_id"] == job.id and line["queue"] == "events" and line["level"] == "info"


def log_an_event(event_id: str) -> None:
    logging.getLogger("worker.jobs").info("event", extra={"event": "post_created", "event_id": event_id})
