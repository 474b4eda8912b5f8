"""The webhook endpoint: each delivery's outcome as an HTTP answer with a short JSON body that names the problem.

202 accepted (or a used-event type this service ignores)   200 ping, or a duplicate already accepted
400 malformed delivery   401 bad or missing signature   413 body too large   503 Redis cannot take it
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis
from flask import Blueprint, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from plugin.adapters.intake import ACCEPTED
from plugin.domain.events import IgnoredEvent, PingEvent, WebhookError, parse_delivery
from webhooks.context import receiver
from webhooks.metrics import METRIC_EVENTS

log = logging.getLogger("webhooks")

EVENT_HEADERS = (
    "X-Discourse-Event",
    "X-Discourse-Event-Type",
    "X-Discourse-Event-Id",
    "X-Discourse-Event-Signature",
    "X-Discourse-Instance",
)
"""The headers the sans-I/O core reads; copying just these keeps the hot path short."""

RETRY_AFTER_SECONDS = 30
"""What a 503 asks the sender to wait before redelivering."""


def blueprint(path: str) -> Blueprint:
    """The endpoint at `path` (COC_WEBHOOK_PATH), timed and counted in the receiver's metrics."""
    bp = Blueprint("receive", __name__)
    bp.add_url_rule(path, view_func=receive, methods=["POST"])
    bp.before_request(_start_timer)
    bp.after_request(_observe)
    bp.register_error_handler(RequestEntityTooLarge, _too_large)
    return bp


def answer(code: int, event: str, **body: Any) -> Response:
    g.answer_event = event if event in METRIC_EVENTS else "other"  # bounded labels, whatever is sent
    return Response(json.dumps(body), status=code, mimetype="application/json")


def receive() -> Response:
    r = receiver()
    name = request.headers.get("X-Discourse-Event", "-")
    body = _read_body(r.settings.max_body_bytes)  # raw bytes, verified before anything is parsed
    headers = {name: value for name in EVENT_HEADERS if (value := request.headers.get(name)) is not None}
    try:
        event = parse_delivery(headers, body, secret=r.secret)
    except WebhookError as exc:
        log.info("refused delivery", extra={"event": name, "status": exc.status, "reason": str(exc)})
        return answer(exc.status, name, error=str(exc))
    if isinstance(event, PingEvent):
        return answer(200, event.name, status="pong")
    if isinstance(event, IgnoredEvent):
        return answer(202, event.name, status="ignored", reason=f"{event.name} is not used by this service")
    try:
        outcome = r.intake.accept(event)
    except redis.RedisError as exc:
        log.warning("redis unavailable", extra={"event": name, "error": str(exc)})
        response = answer(503, name, error="cannot store the event right now (Redis unavailable); redeliver it later")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    log.info(
        outcome.status,
        extra={
            "event": event.name,
            "event_id": event.delivery.event_id,
            "job_id": outcome.job_id,
            "queue": outcome.queue,
        },
    )
    if outcome.status == ACCEPTED:
        return answer(202, event.name, status="accepted", queue=outcome.queue, job_id=outcome.job_id)
    r.metrics.dedupe_hits.inc()
    return answer(200, event.name, status="duplicate", job_id=outcome.job_id)


def _start_timer() -> None:
    g.started = time.perf_counter()
    g.answer_event = "-"


def _observe(response: Response) -> Response:
    receiver().metrics.delivered(g.answer_event, response.status_code, time.perf_counter() - g.started)
    return response


def _too_large(_exc: RequestEntityTooLarge) -> Response:
    return answer(
        413,
        request.headers.get("X-Discourse-Event", "-"),
        error=f"body larger than {receiver().settings.max_body_bytes} bytes (COC_MAX_BODY_BYTES)",
    )


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
