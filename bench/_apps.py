"""The three receivers `bench/receiver.py` compares, as WSGI apps for gunicorn (`bench._apps:ours` …).

Each reads its settings from the environment, as a deployed receiver would.
"""
from __future__ import annotations

import hashlib
import hmac
import os

import redis
from flask import Flask, request
from rq import Queue

from plugin.config import Settings
from webhooks.app import create_app


def _ours() -> Flask:
    return create_app(Settings.from_env(dotenv=False))


def _naive() -> Flask:
    """What a user would write by hand: verify the HMAC, then `Queue.enqueue` the raw body with RQ."""
    secret = os.environ["DISCOURSE_WEBHOOK_SECRET"].encode()
    queue = Queue("naive", connection=redis.Redis.from_url(os.environ["REDIS_URL"]))
    app = Flask("naive")

    @app.post("/webhooks/discourse")
    def receive():  # type: ignore[no-untyped-def]
        body = request.get_data()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Discourse-Event-Signature", "")):
            return {"error": "bad signature"}, 401
        queue.enqueue("worker.jobs.handle_raw", body.decode())
        return {"status": "accepted"}, 202

    return app


def _bare() -> Flask:
    """The floor: answers 202 without reading the body."""
    app = Flask("bare")

    @app.post("/webhooks/discourse")
    def receive():  # type: ignore[no-untyped-def]
        return {"status": "accepted"}, 202

    return app


ours = _ours() if os.environ.get("BENCH_APP") == "ours" else None
naive = _naive() if os.environ.get("BENCH_APP") == "naive" else None
bare = _bare() if os.environ.get("BENCH_APP") == "bare" else None
