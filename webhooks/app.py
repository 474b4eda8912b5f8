"""The webhook receiver: verify, parse, dedupe, enqueue — and answer fast. It never calls the forum.

`create_app(settings)` is a Flask app factory. The work itself is done by the sans-I/O core
(`plugin.events.parse_delivery`) and one atomic Redis step (`plugin.intake.Intake.accept`); this module only maps
their outcomes to HTTP answers, each with a short JSON body that names the problem:

    202 accepted (or a used-event type this service ignores)   200 ping, or a duplicate already accepted
    400 malformed delivery   401 bad or missing signature   413 body too large   503 Redis cannot take it
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis
from flask import Flask, Response, g, jsonify, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry
from werkzeug.exceptions import RequestEntityTooLarge

from plugin.config import Settings
from plugin.connection import connect
from plugin.events import USED_EVENTS, IgnoredEvent, PingEvent, WebhookError, parse_delivery
from plugin.intake import ACCEPTED, QUEUES, Intake
from plugin.keys import Keys

log = logging.getLogger("webhooks")

EVENT_HEADERS = ("X-Discourse-Event", "X-Discourse-Event-Type", "X-Discourse-Event-Id",
                 "X-Discourse-Event-Signature", "X-Discourse-Instance")
"""The headers the sans-I/O core reads; copying just these keeps the hot path short."""

METRIC_EVENTS = USED_EVENTS | {"ping"}
"""Event names that get their own metric label; anything else (unsigned junk included) counts as "other"."""

RETRY_AFTER_SECONDS = 30
"""What a 503 asks the sender to wait before redelivering."""


def create_app(settings: Settings | None = None, *, connection: redis.Redis | None = None) -> Flask:
    """Build the receiver. `settings` default to the environment; the webhook secret is required."""
    settings = settings or Settings.from_env()
    secret = settings.require_webhook_secret()
    connection = connection or connect(
        settings, socket_connect_timeout=1, socket_timeout=2, health_check_interval=30,
        retry=RedisRetry(NoBackoff(), 1))           # fail fast: the sender gets a 503, not a hung request
    intake = Intake(connection, keys=Keys(settings.redis_prefix), dedupe_ttl=settings.dedupe_ttl,
                    job_timeout=settings.job_timeout, bot_username=settings.bot_username)

    app = Flask("webhooks")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["intake"] = intake
    metrics = _Metrics(intake)
    app.extensions["metrics"] = metrics

    def answer(code: int, event: str, **body: Any) -> Response:
        g.answer_event = event if event in METRIC_EVENTS else "other"   # bounded labels, whatever is sent
        return Response(json.dumps(body), status=code, mimetype="application/json")

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()
        g.answer_event = "-"

    @app.after_request
    def observe(response: Response) -> Response:
        if request.path == settings.webhook_path:
            metrics.delivered(g.answer_event, response.status_code, time.perf_counter() - g.started)
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> Response:
        return answer(413, request.headers.get("X-Discourse-Event", "-"),
                      error=f"body larger than {settings.max_body_bytes} bytes (COC_MAX_BODY_BYTES)")

    @app.post(settings.webhook_path)
    def receive() -> Response:
        name = request.headers.get("X-Discourse-Event", "-")
        body = _read_body(settings.max_body_bytes)     # raw bytes, verified before anything is parsed
        headers = {name: value for name in EVENT_HEADERS if (value := request.headers.get(name)) is not None}
        try:
            event = parse_delivery(headers, body, secret=secret)
        except WebhookError as exc:
            log.info("refused delivery", extra={"event": name, "status": exc.status, "reason": str(exc)})
            return answer(exc.status, name, error=str(exc))
        if isinstance(event, PingEvent):
            return answer(200, event.name, status="pong")
        if isinstance(event, IgnoredEvent):
            return answer(202, event.name, status="ignored", reason=f"{event.name} is not used by this service")
        try:
            outcome = intake.accept(event)
        except redis.RedisError as exc:
            log.warning("redis unavailable", extra={"event": name, "error": str(exc)})
            response = answer(503, name, error="cannot store the event right now (Redis unavailable); "
                                               "redeliver it later")
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        log.info(outcome.status, extra={"event": event.name, "event_id": event.delivery.event_id,
                                        "job_id": outcome.job_id, "queue": outcome.queue})
        if outcome.status == ACCEPTED:
            return answer(202, event.name, status="accepted", queue=outcome.queue, job_id=outcome.job_id)
        metrics.dedupe_hits.inc()
        return answer(200, event.name, status="duplicate", job_id=outcome.job_id)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="alive")

    @app.get("/readyz")
    def readyz() -> Response:
        try:
            connection.ping()
        except redis.RedisError as exc:
            response = jsonify(status="not ready", error=f"Redis unreachable: {exc}")
            response.status_code = 503
            return response
        return jsonify(status="ready")

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), mimetype="text/plain; version=0.0.4; charset=utf-8")

    return app


def _read_body(limit: int) -> bytes:
    """The raw body, or 413 past `limit` bytes without reading the rest.

    With a Content-Length, Flask refuses an oversized body before reading it. A chunked body has none, and the
    stream Flask would hand out silently stops at the limit, so it is read here to one byte past the limit.
    """
    if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
        return request.get_data(cache=False)
    body = request.environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


class _Metrics:
    """Prometheus metrics of one receiver process; queue depths are read from Redis at scrape time."""

    def __init__(self, intake: Intake):
        self.registry = CollectorRegistry()
        self.deliveries = Counter("coc_webhook_deliveries", "Webhook deliveries by event and HTTP answer",
                                  ["event", "status"], registry=self.registry)
        self.dedupe_hits = Counter("coc_webhook_dedupe_hits", "Deliveries recognised as already accepted",
                                   registry=self.registry)
        self.latency = Histogram("coc_webhook_request_seconds", "Time to answer a webhook delivery",
                                 buckets=(.001, .0025, .005, .01, .015, .025, .05, .1, .25, .5, 1, 2.5),
                                 registry=self.registry)
        self.registry.register(_QueueDepths(intake))
        self._children: dict[tuple[str, int], Any] = {}

    def delivered(self, event: str, status: int, seconds: float) -> None:
        child = self._children.get((event, status))
        if child is None:
            child = self._children.setdefault((event, status), self.deliveries.labels(event, str(status)))
        child.inc()
        self.latency.observe(seconds)


class _QueueDepths:
    def __init__(self, intake: Intake):
        self.intake = intake

    def collect(self):  # type: ignore[no-untyped-def]
        waiting = GaugeMetricFamily("coc_queue_depth", "Jobs waiting per RQ queue", labels=["queue"])
        failed = GaugeMetricFamily("coc_failed_jobs", "Jobs in RQ's failed registry per queue (alert on care)",
                                   labels=["queue"])
        try:
            with self.intake.connection.pipeline(transaction=False) as pipe:
                for name in QUEUES:
                    queue = self.intake.queues[name]
                    pipe.llen(queue.key)
                    pipe.zcard(queue.failed_job_registry.key)
                counts = pipe.execute()
        except redis.RedisError:
            return
        for n, name in enumerate(QUEUES):
            waiting.add_metric([name], counts[2 * n])
            failed.add_metric([name], counts[2 * n + 1])
        yield waiting
        yield failed
