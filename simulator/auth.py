"""Who is asking, and may they: Discourse's API-key authentication and its one admin API rate bucket."""
from __future__ import annotations

import hmac
import math
import threading
import time
from collections import deque
from typing import Callable

from flask import Response, abort, current_app, g, request

from .limits import RateLimited
from .state import Forum, ForumError, User

ADMIN_API_ERROR_CODE = "admin_api_key_rate_limit"
"""`Discourse-Rate-Limit-Error-Code` of the one admin API bucket's 429 (FACTS.md)."""


class AdminApiBucket:
    """Discourse's `max_admin_api_reqs_per_minute`: ONE sliding 60-second window for the whole site.

    Like Discourse's RateLimiter it remembers the times of the last `limit` requests; a request is refused while
    the oldest of them is younger than the window, and the answer says how long until it ages out.
    """

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._times: deque[float] = deque()
        self._attempts: deque[float] = deque()
        self._lock = threading.Lock()
        self.performed = 0
        self.refused = 0
        self.peak_per_minute = 0
        """The most keyed requests (answered or refused) seen in any 60-second window: what a client's own budget
        must keep under the limit."""

    def attempt(self) -> None:
        """Count one keyed request, whatever it will be answered, for `peak_per_minute`."""
        with self._lock:
            now = self.clock()
            self._attempts.append(now)
            while now - self._attempts[0] >= self.window:
                self._attempts.popleft()
            self.peak_per_minute = max(self.peak_per_minute, len(self._attempts))

    def take(self) -> None:
        """Count one request, or raise the 429 that Discourse answers."""
        with self._lock:
            now = self.clock()
            while self._times and now - self._times[0] >= self.window:
                self._times.popleft()
            if self.limit <= 0 or len(self._times) >= self.limit:
                self.refused += 1
                oldest = self._times[0] if self._times else now
                wait = max(1, math.ceil(self.window - (now - oldest)))
                # lib/auth/default_current_user_provider.rb: RateLimiter "admin_api_min" with
                # error_code "admin_api_key_rate_limit" (the only limiter here that sends that header).
                raise RateLimited(wait, "admin_api_min", error_code=ADMIN_API_ERROR_CODE)
            self._times.append(now)
            self.performed += 1

    def remaining(self) -> int:
        with self._lock:
            now = self.clock()
            recent = sum(1 for t in self._times if now - t < self.window)
            return max(0, self.limit - recent)


class ApiOutage:
    """Test-only: for a stretch, every keyed API request is answered as a struggling forum answers — `429` (a storm
    of the admin API bucket's rate limiting, with Retry-After), `429-user` (every write meets a per-user limit of the
    account that makes it, as simulator/limits.py answers), `503` (an HTML error page from the proxy) or `timeout` (the answer comes
    after `hang_seconds`, later than any client waits). Webhook delivery and `/_sim/` are not affected."""

    MODES = ("429", "429-user", "503", "timeout")

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.mode: str | None = None
        self.until = 0.0
        self.hang_seconds = 12.0
        self.answered: dict[str, int] = {mode: 0 for mode in self.MODES}
        self._lock = threading.Lock()

    def start(self, mode: str, seconds: float, *, hang_seconds: float | None = None) -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(self.MODES)}, got {mode!r}")
        with self._lock:
            self.mode, self.until = mode, self.clock() + seconds
            if hang_seconds is not None:
                self.hang_seconds = hang_seconds

    def stop(self) -> None:
        with self._lock:
            self.mode = None

    def check(self) -> None:
        """Answer as the outage does, if one is on."""
        with self._lock:
            mode = self.mode if self.mode and self.clock() < self.until else None
            if mode == "429-user" and request.method == "GET":
                mode = None                    # a per-user limit holds writes back, never reads
            if mode:
                self.answered[mode] += 1
        if mode == "429":                      # imitates the admin API bucket's 429, header included
            raise RateLimited(5, "admin_api_min", error_code=ADMIN_API_ERROR_CODE)
        if mode == "429-user":
            # imitates a per-user limit of the acting account (simulator/limits.py): writes only, no header
            raise RateLimited(5, "create_post")
        if mode == "503":
            abort(Response("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", status=503,
                           content_type="text/html"))
        if mode == "timeout":
            time.sleep(self.hang_seconds)      # the client gave up long ago; this is what a hung upstream does


def forum() -> Forum:
    return current_app.extensions["forum"]


def outage() -> ApiOutage:
    return current_app.extensions["api_outage"]


def bucket() -> AdminApiBucket:
    return current_app.extensions["admin_api_bucket"]


def current_user(*, required: bool = True) -> User | None:
    """The acting user for this request: `Api-Key` + `Api-Username` (or `Api-User-Id`), as Discourse reads them.

    Query-string keys are ignored, as on Discourse's normal routes. A wrong key is a 403; no key at all is an
    anonymous visitor (None), which `required=True` also refuses with a 403. Every keyed request spends one
    unit of the admin API bucket.
    """
    if "acting_user" in g:
        user = g.acting_user
    else:
        user = _authenticate()
        g.acting_user = user
    if user is None and required:
        raise ForumError.invalid_access()
    return user


def _authenticate() -> User | None:
    key = request.headers.get("Api-Key")
    if key is None:
        return None
    expected = current_app.extensions["api_key"]
    if not hmac.compare_digest(key.encode(), expected.encode()):
        raise ForumError(403, "invalid_access", "You are not permitted to view the requested resource. "
                         "The API username or key is invalid.")
    bucket().attempt()
    outage().check()
    bucket().take()
    username = request.headers.get("Api-Username")
    user_id = request.headers.get("Api-User-Id")
    if username:
        user = forum().user_by_name(username)
    elif user_id and user_id.lstrip("-").isdigit():
        user = forum().users.get(int(user_id))
    else:
        user = forum().user_by_name("system")
    if user is None:
        # lib/auth/default_current_user_provider.rb#lookup_api_user finds no user for an Api-Username it does not
        # know, and current_user raises InvalidAccess with custom_message "invalid_api_credentials": the very answer
        # a wrong key gets, so a client cannot tell a bad username from a bad key by the answer alone.
        raise ForumError(403, "invalid_access", "You are not permitted to view the requested resource. "
                         "The API username or key is invalid.")
    if user.suspended(forum().now()) or not user.active:
        # lib/auth/default_current_user_provider.rb: `raise Discourse::InvalidAccess if current_user.suspended? ||
        # !current_user.active`, on every request made with the key — the plain invalid_access answer.
        raise ForumError.invalid_access()
    return user


def require_staff() -> User:
    user = current_user()
    assert user is not None
    if not user.staff:
        raise ForumError.invalid_access()
    return user


def require_admin() -> User:
    user = current_user()
    assert user is not None
    if not user.admin:
        raise ForumError.invalid_access()
    return user
