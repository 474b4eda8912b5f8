"""Outgoing webhooks as Discourse sends them: the admin routes, signed asynchronous delivery, the delivery log.

- `blueprint`: Discourse's webhook admin API (`/admin/api/web_hooks…`), admin only.
- `attach(app, forum)`: listens to the forum's events and hands every matching hook a delivery row
  (`WebHookEvent`) that a background `Dispatcher` sends, exactly as Discourse's `EmitWebHookEvent` job does:
  the body is built when the event fires, the headers carry the row id as `X-Discourse-Event-Id`, the
  signature is the HMAC-SHA256 of the raw body, the timeout is 20 s, retries (off by default) create new rows.
- `Faults`: test-only fault injection (delay, reorder, duplicate, drop), all off by default.
"""
from __future__ import annotations

import hashlib
import hmac
import heapq
import http.client
import itertools
import json
import random
import re
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, jsonify, request

from .auth import forum as current_forum
from .auth import require_admin
from .payloads import dumps, event_body
from .state import Forum, ForumError, WebHook, WebHookEvent, iso

blueprint = Blueprint("webhooks", __name__)

# ------------------------------------------------------------------------------------------- constants

EVENT_TYPE_IDS: dict[str, int] = {
    "topic_created": 101, "topic_revised": 102, "topic_edited": 103, "topic_destroyed": 104,
    "topic_recovered": 105,
    "post_created": 201, "post_edited": 202, "post_destroyed": 203, "post_recovered": 204,
    "user_logged_in": 301, "user_logged_out": 302, "user_confirmed_email": 303, "user_created": 304,
    "user_approved": 305, "user_updated": 306, "user_destroyed": 307, "user_suspended": 308,
    "user_unsuspended": 309,
    "group_created": 401, "group_updated": 402, "group_destroyed": 403,
    "category_created": 501, "category_updated": 502, "category_destroyed": 503,
    "tag_created": 601, "tag_updated": 602, "tag_destroyed": 603,
    "reviewable_created": 901, "reviewable_updated": 902,
    "notification_created": 1001,
    "user_badge_granted": 1301, "user_badge_revoked": 1302,
    "user_added_to_group": 1401, "user_removed_from_group": 1402,
    "post_liked": 1501,
    "user_promoted": 1601,
}
"""Subscribable event name -> id, as Discourse's `WebHookEventType::TYPES` seeds them (core events only)."""

EVENT_TYPE_GROUPS: dict[str, str] = {
    name: {1: "topic", 2: "post", 3: "user", 4: "group", 5: "category", 6: "tag", 9: "reviewable",
           10: "notification", 13: "user_badge", 14: "group_user", 15: "like", 16: "user_promoted"}[ident // 100]
    for name, ident in EVENT_TYPE_IDS.items()
}
"""Subscribable event name -> its group (the `X-Discourse-Event-Type` its deliveries carry)."""

EVENT_NAME_TO_SUBSCRIPTION: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\Atopic_\w+_status_updated\Z"), "topic_edited"),
    (re.compile(r"\Areviewable_score_updated\Z"), "reviewable_updated"),
    (re.compile(r"\Areviewable_transitioned_to\Z"), "reviewable_updated"),
]
"""`WebHook::EVENT_NAME_TO_EVENT_TYPE_MAP`: fired names that subscribe under another name."""

DEFAULT_EVENT_TYPE_NAMES = ("post_created", "post_edited", "post_destroyed", "post_recovered")
"""`WebHook.default_event_types`, offered by the admin UI for a new hook."""

CONTENT_TYPES = {1: "application/json", 2: "application/x-www-form-urlencoded"}
"""`WebHook.content_types`: id -> the Content-Type header (the body is JSON text either way)."""

LAST_DELIVERY_STATUSES = {"inactive": 1, "failed": 2, "successful": 3, "disabled": 4}
"""`WebHook.last_delivery_statuses`."""

DISCOURSE_VERSION = "3.5.0"
USER_AGENT = f"Discourse/{DISCOURSE_VERSION}"
DELIVERY_TIMEOUT = 20.0
"""`WebHookEmitter::REQUEST_TIMEOUT`: seconds for connect, write and read each."""

MAX_RETRY_COUNT = 4
RETRY_BACKOFF = 5
"""A retry n (1..4) waits RETRY_BACKOFF ** (n - 1) minutes: 1, 5, 25, 125."""

NOT_RETRIED_STATUSES = (404, 410)
RESPONSE_BODY_LIMIT = 10_000
"""Characters of a response body kept in the delivery log."""

SETTING_RETRY = "retry_web_hook_events"
"""Forum setting (Discourse's site setting): retry failed deliveries. Default False."""

SETTING_RETRY_SCALE = "retry_delay_scale"
"""Forum setting (simulator only): seconds per minute of retry delay, so tests can shrink it. Default 60."""

DEFAULT_WORKERS = 4
"""Delivery threads (Discourse sends from several Sidekiq threads, so order is not guaranteed)."""

DROPPED_ERROR = "dropped by fault injection (never sent)"
PAGE_SIZE = 50


def subscription_name(event_name: str) -> str:
    """The event-type name a hook subscribes to for a fired event (`WebHook.translate_event_name_to_type`)."""
    for pattern, name in EVENT_NAME_TO_SUBSCRIPTION:
        if pattern.match(event_name):
            return name
    return event_name


def sign(secret: str, body: bytes) -> str:
    """`X-Discourse-Event-Signature`: `sha256=` + hex HMAC-SHA256 of the raw body bytes keyed by the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_headers(hook: WebHook, *, event_id: int, event_name: str, event_type: str, body: bytes,
                     instance: str) -> dict[str, str]:
    """The headers of one delivery, in Discourse's order (`EmitWebHookEvent#build_webhook_headers`)."""
    headers = {
        "Accept": "*/*",
        "Connection": "close",
        "Content-Length": str(len(body)),
        "Content-Type": CONTENT_TYPES.get(hook.content_type, CONTENT_TYPES[1]),
        "Host": urlsplit(hook.payload_url.strip()).hostname or "",
        "User-Agent": USER_AGENT,
        "X-Discourse-Instance": instance,
        "X-Discourse-Event-Id": str(event_id),
        "X-Discourse-Event-Type": event_type,
        "X-Discourse-Event": event_name,
    }
    if hook.secret:
        headers["X-Discourse-Event-Signature"] = sign(hook.secret, body)
    return headers


def hook_wants(hook: WebHook, event_name: str) -> bool:
    """True if an active `hook` subscribes to `event_name` (wildcard, or by event-type id)."""
    if not hook.active:
        return False
    if hook.wildcard_web_hook:
        return True
    ident = EVENT_TYPE_IDS.get(subscription_name(event_name))
    return ident is not None and ident in hook.web_hook_event_type_ids


# ------------------------------------------------------------------------------------------- faults


@dataclass
class Faults:
    """Test-only delivery faults; every rate is a probability 0..1, all 0 by default.

    - `delay`: send after a random pause drawn from `delay_seconds`.
    - `reorder`: hold the delivery back until a later delivery of the same hook has been sent (or
      `reorder_hold_seconds` have passed), so it arrives after it.
    - `duplicate`: send it twice (same row: same Event-Id, same bytes).
    - `drop`: never send it; the delivery log shows it as dropped.
    - `retry`: send it, and `retry_seconds` later send it again as Discourse's retry job does: a new row, so a new
      Event-Id, with the same body (the receiver must know it by its payload).
    Draws come from one `random.Random(seed)`, so a run is repeatable.
    """

    delay: float = 0.0
    delay_seconds: tuple[float, float] = (0.05, 0.5)
    reorder: float = 0.0
    reorder_hold_seconds: float = 5.0
    duplicate: float = 0.0
    drop: float = 0.0
    retry: float = 0.0
    retry_seconds: float = 1.0
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    RATES = ("delay", "reorder", "duplicate", "drop", "retry")

    def __post_init__(self) -> None:
        self.rng.seed(self.seed)
        self._check()

    def update(self, values: dict[str, Any]) -> None:
        """Set any of the fields from plain data (the `/_sim/faults` body); `seed` re-seeds the generator.

        Raises ValueError naming the first bad field; nothing changes then.
        """
        known = set(self.RATES) | {"delay_seconds", "reorder_hold_seconds", "retry_seconds", "seed"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        candidate = Faults(**{**self.as_dict(), **values})
        for name in known:
            setattr(self, name, getattr(candidate, name))
        if "seed" in values:
            self.rng.seed(self.seed)

    def _check(self) -> None:
        for name in self.RATES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a rate between 0 and 1, got {value!r}")
            setattr(self, name, float(value))
        low, high = (float(v) for v in self.delay_seconds)
        if low < 0 or high < low:
            raise ValueError(f"delay_seconds must be [low, high] with 0 <= low <= high, got {self.delay_seconds!r}")
        self.delay_seconds = (low, high)
        if float(self.reorder_hold_seconds) < 0:
            raise ValueError("reorder_hold_seconds must not be negative")
        self.reorder_hold_seconds = float(self.reorder_hold_seconds)
        if float(self.retry_seconds) < 0:
            raise ValueError("retry_seconds must not be negative")
        self.retry_seconds = float(self.retry_seconds)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"delay": self.delay, "delay_seconds": list(self.delay_seconds), "reorder": self.reorder,
                "reorder_hold_seconds": self.reorder_hold_seconds, "duplicate": self.duplicate,
                "drop": self.drop, "retry": self.retry, "retry_seconds": self.retry_seconds, "seed": self.seed}

    def roll(self, name: str) -> bool:
        rate = getattr(self, name)
        return rate > 0 and self.rng.random() < rate


# ------------------------------------------------------------------------------------------- delivery


@dataclass
class Delivery:
    """One send waiting in the dispatcher. `event_id` None: a retry whose row is created when it is due."""

    seq: int
    hook_id: int
    event_name: str
    event_type: str
    payload: str
    event_id: int | None = None
    retry_count: int = 0
    redelivery: bool = False


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str


def post_body(url: str, headers: dict[str, str], body: bytes, *, verify_certificate: bool,
              timeout: float = DELIVERY_TIMEOUT) -> Response:
    """POST `body` with exactly `headers` (http.client adds none of its own). Raises OSError on failure."""
    parts = urlsplit(url.strip())
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if not verify_certificate:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout,
                                                 context=context)
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        answer = connection.getresponse()
        data = answer.read(RESPONSE_BODY_LIMIT * 4)
        return Response(status=answer.status, headers=dict(answer.getheaders()),
                        body=data.decode("utf-8", errors="replace")[:RESPONSE_BODY_LIMIT])
    except http.client.HTTPException as exc:
        raise OSError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()


Sender = Callable[..., Response]


class Dispatcher:
    """Sends delivery rows from background threads; never from the request thread.

    Lock order: the forum's lock, then the dispatcher's condition — never the other way round.
    """

    def __init__(self, forum: Forum, *, workers: int = DEFAULT_WORKERS, sender: Sender = post_body,
                 clock: Callable[[], float] = time.monotonic):
        self.forum = forum
        self.faults = Faults()
        self.sender = sender
        self.clock = clock
        self.worker_count = max(1, workers)
        self._cond = threading.Condition()
        self._ready: deque[Delivery] = deque()
        self._scheduled: list[tuple[float, int, Delivery]] = []      # heap of (due, seq, delivery)
        self._held: list[tuple[float, Delivery]] = []                 # (release deadline, delivery)
        self._in_flight = 0
        self._seq = itertools.count(1)
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.response_headers: dict[int, dict[str, Any]] = {}
        self.redelivering: set[int] = set()
        self.sends = 0
        self.retries_scheduled = 0
        self.faults_applied = {name: 0 for name in Faults.RATES}

    # ------------------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        with self._cond:
            if self._threads:
                return
            for number in range(self.worker_count):
                thread = threading.Thread(target=self._work, name=f"webhook-delivery-{number}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the workers (pending deliveries are abandoned) and stop listening to the forum."""
        with self.forum.lock:
            if self.on_event in self.forum.listeners:
                self.forum.listeners.remove(self.on_event)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def configure_faults(self, values: dict[str, Any]) -> Faults:
        """Change fault settings from plain data (see `Faults.update`); ValueError if any is bad."""
        with self._cond:
            self.faults.update(values)
            return self.faults

    def wake(self) -> None:
        """Make the workers look at their clock again (after the simulated clock moved)."""
        with self._cond:
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued, scheduled, held or in flight; False if `timeout` passed first."""
        with self._cond:
            return self._cond.wait_for(self._idle, timeout)

    def _idle(self) -> bool:
        return not self._ready and not self._scheduled and not self._held and self._in_flight == 0

    def pending(self) -> dict[str, int]:
        with self._cond:
            return {"ready": len(self._ready), "scheduled": len(self._scheduled), "held": len(self._held),
                    "in_flight": self._in_flight}

    # ------------------------------------------------------------------------------------- producing

    def on_event(self, event_name: str, event_type: str, subject: Any) -> None:
        """The forum listener: a row per subscribed active hook, the body built now (a snapshot)."""
        with self.forum.lock:
            hooks = [h for h in sorted(self.forum.web_hooks.values(), key=lambda h: h.id)
                     if hook_wants(h, event_name)]
            if not hooks:
                return
            payload = dumps(event_body(self.forum, event_type, subject))
            for hook in hooks:
                self._new_row(hook, event_name, event_type, payload, retry_count=0)

    def ping(self, hook: WebHook) -> WebHookEvent:
        """The admin Ping button: `{"ping":"OK"}`, whatever the hook subscribes to."""
        with self.forum.lock:
            return self._new_row(hook, "ping", "ping", dumps({"ping": "OK"}), retry_count=0)

    def redeliver(self, event: WebHookEvent) -> None:
        """Send a logged row again: the same headers and body, so the same Event-Id."""
        with self._cond:
            self.redelivering.add(event.id)
            self._ready.append(Delivery(seq=next(self._seq), hook_id=event.web_hook_id,
                                        event_name=event.event_name, event_type=event.event_type,
                                        payload=event.payload, event_id=event.id, redelivery=True))
            self._cond.notify()

    def _new_row(self, hook: WebHook, event_name: str, event_type: str, payload: str, *,
                 retry_count: int) -> WebHookEvent:
        """Create a delivery row (caller holds the forum lock) and admit it, applying the faults."""
        body = payload.encode()
        event_id = self.forum.next_id("web_hook_event")
        row = WebHookEvent(id=event_id, web_hook_id=hook.id, event_name=event_name, event_type=event_type,
                           payload=payload, created_at=self.forum.now(),
                           headers=delivery_headers(hook, event_id=event_id, event_name=event_name,
                                                    event_type=event_type, body=body,
                                                    instance=self.forum.base_url))
        self.forum.add_web_hook_event(row)
        delivery = Delivery(seq=0, hook_id=hook.id, event_name=event_name, event_type=event_type,
                            payload=payload, event_id=row.id, retry_count=retry_count)
        with self._cond:
            delivery.seq = next(self._seq)
            faults = self.faults
            if faults.roll("drop"):
                self.faults_applied["drop"] += 1
                row.status = -1
                row.error = DROPPED_ERROR
                row.duration_ms = 0
                self._cond.notify_all()
                return row
            now = self.clock()
            copies = 2 if faults.roll("duplicate") else 1
            if copies == 2:
                self.faults_applied["duplicate"] += 1
            if faults.roll("delay"):
                self.faults_applied["delay"] += 1
                due = now + faults.rng.uniform(*faults.delay_seconds)
                for _ in range(copies):
                    heapq.heappush(self._scheduled, (due, next(self._seq), delivery))
            elif faults.roll("reorder"):
                self.faults_applied["reorder"] += 1
                for _ in range(copies):
                    self._held.append((now + faults.reorder_hold_seconds, delivery))
            else:
                self._ready.extend([delivery] * copies)
            if faults.roll("retry"):
                self.faults_applied["retry"] += 1
                again = Delivery(seq=next(self._seq), hook_id=hook.id, event_name=event_name, event_type=event_type,
                                 payload=payload, event_id=None, retry_count=retry_count + 1)
                heapq.heappush(self._scheduled, (now + faults.retry_seconds, again.seq, again))
            self._cond.notify_all()
        return row

    # ------------------------------------------------------------------------------------- consuming

    def _work(self) -> None:
        while True:
            with self._cond:
                delivery = self._next_delivery()
                if delivery is None:
                    return
                self._in_flight += 1
            try:
                self._deliver(delivery)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._release_held(lambda held: held.hook_id == delivery.hook_id and held.seq < delivery.seq)
                    self._cond.notify_all()

    def _next_delivery(self) -> Delivery | None:
        """The next delivery to send, waiting as needed (caller holds the condition); None when stopping."""
        while not self._stopping:
            now = self.clock()
            while self._scheduled and self._scheduled[0][0] <= now:
                self._ready.append(heapq.heappop(self._scheduled)[2])
            self._release_held(lambda held: False, now=now)
            if self._ready:
                return self._ready.popleft()
            wakes = [due for due, _, _ in self._scheduled[:1]] + [deadline for deadline, _ in self._held]
            self._cond.wait(max(0.0, min(wakes) - now) if wakes else None)
        return None

    def _release_held(self, later_sent: Callable[[Delivery], bool], now: float | None = None) -> None:
        """Move held deliveries whose hold has ended to the ready queue, newest first (caller holds the lock)."""
        keep, release = [], []
        for deadline, held in self._held:
            expired = now is not None and deadline <= now
            (release if expired or later_sent(held) else keep).append((deadline, held))
        if release:
            self._held = keep
            self._ready.extend(held for _, held in sorted(release, key=lambda item: -item[1].seq))

    def _deliver(self, delivery: Delivery) -> None:
        with self.forum.lock:
            hook = self.forum.web_hooks.get(delivery.hook_id)
            if hook is None:
                return                                          # the hook was deleted meanwhile
            if delivery.event_id is None:                       # a retry: a NEW row, so a new Event-Id
                if not hook.active:
                    return
                self._new_row(hook, delivery.event_name, delivery.event_type, delivery.payload,
                              retry_count=delivery.retry_count)
                return
            row = self.forum.web_hook_events.get(delivery.event_id)
            if row is None:
                return
            if not hook.active and row.event_type != "ping" and not delivery.redelivery:
                row.status, row.error = -1, "web hook inactive; not sent"
                return
            url, headers, verify = hook.payload_url, dict(row.headers), hook.verify_certificate
            body = row.payload.encode()
        started = time.monotonic()
        response: Response | None = None
        error: str | None = None
        try:
            response = self.sender(url, headers, body, verify_certificate=verify)
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
        duration_ms = int((time.monotonic() - started) * 1000)
        with self.forum.lock:
            row.duration_ms = duration_ms
            if response is not None:
                row.status, row.response_body, row.error = response.status, response.body, None
            else:
                row.status, row.response_body, row.error = -1, None, error
            retry = (response is not None and not delivery.redelivery and self._should_retry(response.status)
                     and delivery.retry_count < MAX_RETRY_COUNT)
            scale = float(self.forum.settings.get(SETTING_RETRY_SCALE, 60.0))
        with self._cond:
            self.sends += 1
            self.response_headers[row.id] = response.headers if response is not None else {"error": error}
            if delivery.redelivery:
                self.redelivering.discard(row.id)
            if retry:
                count = delivery.retry_count + 1
                due = self.clock() + RETRY_BACKOFF ** (count - 1) * scale
                retry_delivery = Delivery(seq=next(self._seq), hook_id=delivery.hook_id,
                                          event_name=delivery.event_name, event_type=delivery.event_type,
                                          payload=delivery.payload, retry_count=count)
                heapq.heappush(self._scheduled, (due, retry_delivery.seq, retry_delivery))
                self.retries_scheduled += 1

    def _should_retry(self, status: int) -> bool:
        if 200 <= status < 300 or status in NOT_RETRIED_STATUSES:
            return False
        return bool(self.forum.settings.get(SETTING_RETRY, False))

    # ------------------------------------------------------------------------------------- reading

    def deliveries_by_status(self) -> dict[str, int]:
        """Delivery rows counted by outcome: an HTTP status, `pending`, `dropped` or `failed` (no answer)."""
        counts: dict[str, int] = {}
        with self.forum.lock:
            for row in self.forum.web_hook_events.values():
                if row.status is None:
                    key = "pending"
                elif row.error == DROPPED_ERROR:
                    key = "dropped"
                elif row.status == -1:
                    key = "failed"
                else:
                    key = str(row.status)
                counts[key] = counts.get(key, 0) + 1
        return counts


def attach(app: Flask, forum: Forum) -> Dispatcher:
    """Start delivering `forum`'s events to its hooks; the dispatcher is `app.extensions["webhooks"]`."""
    dispatcher = Dispatcher(forum, workers=int(app.config.get("WEBHOOK_WORKERS", DEFAULT_WORKERS)))
    app.extensions["webhooks"] = dispatcher
    with forum.lock:
        forum.listeners.append(dispatcher.on_event)
    dispatcher.start()
    return dispatcher


def dispatcher() -> Dispatcher:
    return current_app.extensions["webhooks"]


# ------------------------------------------------------------------------------------------- admin JSON


def event_type_json(name: str) -> dict[str, Any]:
    return {"id": EVENT_TYPE_IDS[name], "name": name, "group": EVENT_TYPE_GROUPS[name]}


def _last_delivery_status(forum: Forum, hook: WebHook) -> int:
    if not hook.active:
        return LAST_DELIVERY_STATUSES["disabled"]
    sent = [e for e in forum.web_hook_events.values() if e.web_hook_id == hook.id and e.status is not None]
    if not sent:
        return LAST_DELIVERY_STATUSES["inactive"]
    last = max(sent, key=lambda e: e.id)
    return LAST_DELIVERY_STATUSES["successful" if 200 <= (last.status or 0) < 300 else "failed"]


def web_hook_json(forum: Forum, hook: WebHook) -> dict[str, Any]:
    """AdminWebHookSerializer."""
    names = {ident: name for name, ident in EVENT_TYPE_IDS.items()}
    return {
        "id": hook.id,
        "payload_url": hook.payload_url,
        "content_type": hook.content_type,
        "last_delivery_status": _last_delivery_status(forum, hook),
        "secret": hook.secret,
        "wildcard_web_hook": hook.wildcard_web_hook,
        "verify_certificate": hook.verify_certificate,
        "active": hook.active,
        "web_hook_event_types": [event_type_json(names[i]) for i in sorted(hook.web_hook_event_type_ids)
                                 if i in names],
        "categories": [],
        "category_ids": [],
        "tag_names": [],
        "group_ids": [],
    }


def web_hook_event_json(hook: WebHook, event: WebHookEvent, dispatch: Dispatcher) -> dict[str, Any]:
    """AdminWebHookEventSerializer (headers, payload and response headers are JSON text, as Discourse stores
    them), plus the event name and type for readability."""
    response_headers = dispatch.response_headers.get(event.id)
    if response_headers is None and event.error:
        response_headers = {"error": event.error}
    return {
        "id": event.id,
        "web_hook_id": event.web_hook_id,
        "request_url": hook.payload_url,
        "event_name": event.event_name,
        "event_type": event.event_type,
        "headers": json.dumps(event.headers),
        "payload": event.payload,
        "status": event.status if event.status is not None else 0,
        "response_headers": json.dumps(response_headers or {}),
        "response_body": event.response_body,
        "duration": event.duration_ms or 0,
        "created_at": iso(event.created_at),
        "redelivering": event.id in dispatch.redelivering,
    }


# ------------------------------------------------------------------------------------------- parameters

TRUE_WORDS = {"true", "t", "1", "on", "yes"}
FALSE_WORDS = {"false", "f", "0", "off", "no", ""}


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ForumError.bad_params(f"{name} must be true or false, got {value!r}")


def _web_hook_params() -> dict[str, Any]:
    """`params.require(:web_hook).permit(...)` from a JSON body or Rails-style form fields."""
    data = request.get_json(silent=True) if request.is_json else None
    raw: dict[str, Any]
    if isinstance(data, dict):
        if not isinstance(data.get("web_hook"), dict):
            raise ForumError.bad_params("param is missing or the value is empty: web_hook")
        raw = dict(data["web_hook"])
    else:
        raw = {}
        for key in request.form:
            match = re.fullmatch(r"web_hook\[(\w+)\](\[\])?", key)
            if match is None:
                continue
            values = request.form.getlist(key)
            raw[match.group(1)] = values if match.group(2) or match.group(1).endswith("_ids") else values[-1]
        if not raw:
            raise ForumError.bad_params("param is missing or the value is empty: web_hook")
    params: dict[str, Any] = {}
    if "payload_url" in raw:
        params["payload_url"] = str(raw["payload_url"] or "").strip()
    if "secret" in raw:
        params["secret"] = str(raw["secret"] or "")
    if "content_type" in raw:
        try:
            params["content_type"] = int(raw["content_type"])
        except (TypeError, ValueError) as exc:
            raise ForumError.invalid("Content type is invalid") from exc
    for name in ("wildcard_web_hook", "active", "verify_certificate"):
        if name in raw:
            params[name] = _bool(raw[name], name)
    if "web_hook_event_type_ids" in raw:
        values = raw["web_hook_event_type_ids"]
        values = values if isinstance(values, list) else [values]
        try:
            params["web_hook_event_type_ids"] = sorted({int(v) for v in values if str(v).strip()})
        except (TypeError, ValueError) as exc:
            raise ForumError.invalid("Web hook event types is invalid") from exc
    return params


def _validate(fields: dict[str, Any]) -> None:
    """WebHook's model validations, with Rails' full messages; a 422 listing every failure."""
    errors = []
    url = fields.get("payload_url") or ""
    if not url:
        errors.append("Payload url can't be blank")
    elif not re.match(r"^https?://[^\s/?#]+", url):
        errors.append("Payload url is invalid")
    secret = fields.get("secret") or ""
    if secret and len(secret) < 12:
        errors.append("Secret is too short (minimum is 12 characters)")
    if fields.get("content_type") not in CONTENT_TYPES:
        errors.append("Content type is invalid")
    known = set(EVENT_TYPE_IDS.values())
    ids = fields.get("web_hook_event_type_ids") or []
    if any(i not in known for i in ids):
        errors.append("Web hook event types is invalid")
    elif not ids and not fields.get("wildcard_web_hook"):
        errors.append("Web hook event types can't be blank")
    if errors:
        raise ForumError.invalid(*errors)


def _require_hook(forum: Forum, hook_id: int) -> WebHook:
    hook = forum.web_hooks.get(hook_id)
    if hook is None:
        raise ForumError.not_found()
    return hook


# ------------------------------------------------------------------------------------------- routes


@blueprint.get("/admin/api/web_hooks.json")
@blueprint.get("/admin/api/web_hooks")
def list_web_hooks():  # type: ignore[no-untyped-def]
    require_admin()
    forum = current_forum()
    limit = PAGE_SIZE
    offset = max(0, request.args.get("offset", 0, type=int) or 0)
    with forum.lock:
        hooks = sorted(forum.web_hooks.values(), key=lambda h: h.id)
        page = [web_hook_json(forum, h) for h in hooks[offset:offset + limit]]
    return jsonify({
        "web_hooks": page,
        "extras": {
            "event_types": [event_type_json(name) for name in EVENT_TYPE_IDS],
            "default_event_types": [event_type_json(name) for name in DEFAULT_EVENT_TYPE_NAMES],
            "content_types": [{"id": i, "name": n} for i, n in CONTENT_TYPES.items()],
            "delivery_statuses": [{"id": i, "name": n} for n, i in LAST_DELIVERY_STATUSES.items()],
        },
        "total_rows_web_hooks": len(hooks),
        "load_more_web_hooks": f"/admin/api/web_hooks.json?limit={limit}&offset={offset + limit}",
    })


@blueprint.post("/admin/api/web_hooks.json")
@blueprint.post("/admin/api/web_hooks")
def create_web_hook():  # type: ignore[no-untyped-def]
    require_admin()
    forum = current_forum()
    params = _web_hook_params()
    # Discourse's column defaults: content_type 1, active FALSE (an API caller must send active=true).
    fields = {"payload_url": "", "secret": "", "content_type": 1, "wildcard_web_hook": False,
              "web_hook_event_type_ids": [], "active": False, "verify_certificate": True, **params}
    _validate(fields)
    with forum.lock:
        hook = forum.create_web_hook(**fields)
        return jsonify({"web_hook": web_hook_json(forum, hook)})


@blueprint.get("/admin/api/web_hooks/<int:hook_id>.json")
@blueprint.get("/admin/api/web_hooks/<int:hook_id>")
def show_web_hook(hook_id: int):  # type: ignore[no-untyped-def]
    require_admin()
    forum = current_forum()
    with forum.lock:
        return jsonify({"web_hook": web_hook_json(forum, _require_hook(forum, hook_id))})


@blueprint.put("/admin/api/web_hooks/<int:hook_id>.json")
@blueprint.put("/admin/api/web_hooks/<int:hook_id>")
def update_web_hook(hook_id: int):  # type: ignore[no-untyped-def]
    require_admin()
    forum = current_forum()
    params = _web_hook_params()
    with forum.lock:
        hook = _require_hook(forum, hook_id)
        current = {name: getattr(hook, name) for name in ("payload_url", "secret", "content_type",
                                                          "wildcard_web_hook", "web_hook_event_type_ids",
                                                          "active", "verify_certificate")}
        merged = {**current, **params}
        _validate(merged)
        for name, value in merged.items():
            setattr(hook, name, value)
        return jsonify({"web_hook": web_hook_json(forum, hook)})


@blueprint.delete("/admin/api/web_hooks/<int:hook_id>.json")
@blueprint.delete("/admin/api/web_hooks/<int:hook_id>")
def destroy_web_hook(hook_id: int):  # type: ignore[no-untyped-def]
    require_admin()
    forum = current_forum()
    with forum.lock:
        _require_hook(forum, hook_id)
        del forum.web_hooks[hook_id]
        for event_id in [e.id for e in forum.web_hook_events.values() if e.web_hook_id == hook_id]:
            del forum.web_hook_events[event_id]            # has_many :web_hook_events, dependent: :destroy
    return jsonify({"success": "OK"})


@blueprint.get("/admin/api/web_hooks/<int:hook_id>/events.json")
@blueprint.get("/admin/api/web_hooks/<int:hook_id>/events")
def list_events(hook_id: int):  # type: ignore[no-untyped-def]
    """The delivery log, newest first, 50 a page (`?offset=`)."""
    require_admin()
    forum = current_forum()
    limit = PAGE_SIZE
    offset = max(0, request.args.get("offset", 0, type=int) or 0)
    with forum.lock:
        hook = _require_hook(forum, hook_id)
        ids = forum.web_hook_event_ids(hook_id)            # ascending: the page is read from the end
        stop = max(0, len(ids) - offset)
        rows = [forum.web_hook_events[i] for i in reversed(ids[max(0, stop - limit):stop])]
        page = [web_hook_event_json(hook, e, dispatcher()) for e in rows]
    return jsonify({
        "web_hook_events": page,
        "total_rows_web_hook_events": len(ids),
        "load_more_web_hook_events": f"/admin/api/web_hooks/{hook_id}/events.json?limit={limit}"
                                     f"&offset={offset + limit}",
        "extras": {"web_hook_id": hook_id},
    })


@blueprint.post("/admin/api/web_hooks/<int:hook_id>/events/<int:event_id>/redeliver.json")
@blueprint.post("/admin/api/web_hooks/<int:hook_id>/events/<int:event_id>/redeliver")
def redeliver_event(hook_id: int, event_id: int):  # type: ignore[no-untyped-def]
    """The admin "Redeliver" button: the same row sent again (same headers, body and Event-Id)."""
    require_admin()
    forum = current_forum()
    with forum.lock:
        hook = _require_hook(forum, hook_id)
        event = forum.web_hook_events.get(event_id)
        if event is None or event.web_hook_id != hook_id:
            raise ForumError.not_found()
        dispatcher().redeliver(event)
        return jsonify({"web_hook_event": web_hook_event_json(hook, event, dispatcher())})


@blueprint.post("/admin/api/web_hooks/<int:hook_id>/ping.json")
@blueprint.post("/admin/api/web_hooks/<int:hook_id>/ping")
def ping(hook_id: int):  # type: ignore[no-untyped-def]
    require_admin()
    forum = current_forum()
    with forum.lock:
        dispatcher().ping(_require_hook(forum, hook_id))
    return jsonify({"success": "OK"})
