"""Test-only routes under `/_sim/…`: counters, fault settings, a clock to move forward and scripted members.

No authentication and answered on loopback only (404 for anyone else). Nothing in the simulator or the service
depends on these routes; they exist so tests and benchmarks can observe and steer the forum.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from flask import Blueprint, abort, current_app, jsonify, request

from .auth import bucket
from .auth import forum as current_forum
from .state import ForumError, iso
from .webhooks import Dispatcher

blueprint = Blueprint("sim_testing", __name__, url_prefix="/_sim")

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


@blueprint.before_request
def loopback_only() -> None:
    if request.remote_addr not in LOOPBACK:
        abort(404)


def _dispatcher() -> Dispatcher:
    return current_app.extensions["webhooks"]


@blueprint.get("/stats")
def stats():  # type: ignore[no-untyped-def]
    """API calls performed and refused by the admin bucket, calls in the last minute, deliveries by outcome."""
    api_bucket = bucket()
    dispatcher = _dispatcher()
    return jsonify({
        "api": {
            "performed": api_bucket.performed,
            "refused": api_bucket.refused,
            "last_minute": api_bucket.limit - api_bucket.remaining(),
            "limit_per_minute": api_bucket.limit,
        },
        "deliveries": {
            "by_status": dispatcher.deliveries_by_status(),
            "sends": dispatcher.sends,
            "retries_scheduled": dispatcher.retries_scheduled,
            "faults_applied": dict(dispatcher.faults_applied),
            "queue": dispatcher.pending(),
        },
    })


@blueprint.get("/faults")
def get_faults():  # type: ignore[no-untyped-def]
    return jsonify(_dispatcher().faults.as_dict())


@blueprint.put("/faults")
def put_faults():  # type: ignore[no-untyped-def]
    """Set fault rates: `{"delay": 0.5, "delay_seconds": [0.1, 0.3], "reorder": 0, "reorder_hold_seconds": 5,
    "duplicate": 0, "drop": 0, "seed": 1}` (any subset). 400 on a bad value, nothing changed then."""
    values = request.get_json(silent=True)
    if not isinstance(values, dict):
        raise ForumError.bad_params("send a JSON object of fault settings")
    try:
        faults = _dispatcher().configure_faults(values)
    except (TypeError, ValueError) as exc:
        raise ForumError.bad_params(str(exc)) from exc
    return jsonify(faults.as_dict())


@blueprint.get("/scripted_members")
def get_scripted_members():  # type: ignore[no-untyped-def]
    """The usernames in `Forum.scripted_user_ids`."""
    forum = current_forum()
    with forum.lock:
        names = sorted(u.username for u in forum.users.values() if u.id in forum.scripted_user_ids)
    return jsonify({"usernames": names})


@blueprint.post("/scripted_members")
def add_scripted_members():  # type: ignore[no-untyped-def]
    """TEST-ONLY: `{"usernames": [...]}` — members whose API actions a test or the demo scripts at machine speed
    (their own pace is not what is tested) become exempt from the per-user rate limits and post validators
    (simulator/limits.py), as staff are. Never the service's own account: what the service meets must stay what
    Discourse would answer it. 400 (nothing changed) if a name is unknown; answers the whole set."""
    body = request.get_json(silent=True)
    names = body.get("usernames") if isinstance(body, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ForumError.bad_params("send {\"usernames\": [\"name\", ...]}")
    forum = current_forum()
    with forum.lock:
        users = [forum.user_by_name(n) for n in names]
        unknown = [n for n, u in zip(names, users) if u is None]
        if unknown:
            raise ForumError.bad_params(f"no such user: {', '.join(unknown)}")
        forum.scripted_user_ids.update(u.id for u in users if u is not None)
    return get_scripted_members()


@dataclass
class SimClock:
    """An offset added to the forum's wall clock, the admin bucket's clock and the delivery scheduler's clock."""

    offset: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def shifted_wall(self, base: Callable[[], datetime]) -> Callable[[], datetime]:
        return lambda: base() + timedelta(seconds=self.offset)

    def shifted_monotonic(self, base: Callable[[], float]) -> Callable[[], float]:
        return lambda: base() + self.offset


def _clock() -> SimClock:
    """The app's SimClock, installed around the forum's, bucket's and dispatcher's clocks on first use."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    clock = app.extensions.get("sim_clock")
    if clock is None:
        clock = SimClock()
        forum = current_forum()
        with forum.lock:
            forum.clock = clock.shifted_wall(forum.clock)
        api_bucket = bucket()
        api_bucket.clock = clock.shifted_monotonic(api_bucket.clock)
        dispatcher = _dispatcher()
        dispatcher.clock = clock.shifted_monotonic(dispatcher.clock)
        app.extensions["sim_clock"] = clock
    return clock


@blueprint.post("/clock")
def advance_clock():  # type: ignore[no-untyped-def]
    """Move time forward: `{"advance_seconds": N}` (N >= 0). Ages the API bucket and brings due retries nearer."""
    body = request.get_json(silent=True) or {}
    seconds = body.get("advance_seconds", 0) if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ForumError.bad_params("advance_seconds must be a number >= 0")
    clock = _clock()
    with clock.lock:
        clock.offset += float(seconds)
    _dispatcher().wake()
    return jsonify({"offset_seconds": clock.offset, "now": iso(current_forum().now())})

