"""The forum adapter: the only code that speaks HTTP to Discourse.

It wraps pydiscourse 1.7.0 (`DiscourseClient`) so that every call:

- first spends 1 from the shared Redis budget (`plugin.adapters.budget.ApiBudget`) and raises `Throttled` when there
  is none left — it never sleeps: the job is deferred instead;
- goes through one `requests.Session` (kept-alive connections) with a timeout, always;
- on the forum's 429 raises `Throttled` at once with Discourse's `extras.wait_seconds` (or `Retry-After`)
  (pydiscourse's own loop would sleep in the worker: it is bypassed). Only the forum-wide limits pause the shared
  budget for every worker: the one admin API bucket (`Discourse-Rate-Limit-Error-Code: admin_api_key_rate_limit`)
  and a per-IP limiter or proxy (a 429 in plain text). A per-user limit of the acting account (a JSON 429 without
  that header: topics per day, the post interval, …) defers only the job that met it (FACTS.md, "Third check");
- turns every other failure into one of three exceptions: `ForumUnavailable` (5xx, timeouts, connection errors: the
  job's RQ `Retry` handles them), `ForumRefused` (4xx other than 429, with Discourse's `errors`) or `Throttled`.

Identities (DESIGN.md): calls go as the service's own non-staff account (`COC_BOT_USERNAME`) unless staff rights are
needed; then as `DISCOURSE_API_USERNAME` (the admin). Every method says which, and what it costs in API calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from pydiscourse import DiscourseClient

from plugin.adapters.budget import ApiBudget
from plugin.config import ConfigError, Settings
from plugin.domain.events import LIKE, Post, Topic

ADMIN_BUCKET_ERROR_CODE = "admin_api_key_rate_limit"
"""`Discourse-Rate-Limit-Error-Code` of the 429 that the site's one admin API bucket answers (FACTS.md): the only
JSON 429 that is about every integration rather than the account that asked."""

DEFAULT_WAIT_SECONDS = 10.0
"""A 429 that names no wait (the per-IP limiters answer in plain text, without `extras`): wait this long."""

GROUP_MEMBERS_PAGE = 1000
"""`GET /groups/{name}/members.json` page size: Discourse's maximum (`MEMBERS_MAX_PAGE_SIZE`)."""

LIKERS_PAGE = 200
"""`GET /post_action_users.json` page size: Discourse's default and maximum."""

LATEST_POSTS_PAGE = 50
"""`GET /posts.json` page size (LatestPostsQuery::PAGE_SIZE): a shorter page is the last."""

TOPIC_CHUNK = 20
"""Posts that `GET /t/{id}.json` carries in `post_stream.posts` (Discourse's chunk size)."""

WEB_HOOK_EVENTS_PAGE = 50
"""Deliveries a page of a webhook's event log holds (Admin::WebHooksController#list_events)."""

JSON_TYPE = "application/json"

LATEST_TOPICS_PAGE = 100
"""`GET /latest.json` topics per call: the most `per_page` may ask (TopicQuery.validators, 1..100; a public option
since Discourse 2025.01, PR #30716). A forum that ignores it answers its default 30 a page."""

USER_ACTIONS_PAGE = 100
"""`GET /user_actions.json` rows per call: the most `limit` gives (UserActionsController caps it at 100; default 30)."""

WAS_LIKED = 2
"""UserAction::WAS_LIKED: a like one of the member's posts received (app/models/user_action.rb)."""

WHISPER_POST_TYPE = 4
"""Post.types[:whisper]."""


# ---------------------------------------------------------------------------------------------- errors


class ForumError(Exception):
    """Base of everything the adapter raises."""


class Throttled(ForumError):
    """No call may be made now: defer the job by `retry_after` seconds (never sleep in a worker).

    `scope` says whose limit it is:
    - BUDGET: our own shared budget had nothing left (no request was sent);
    - FORUM: a forum-wide limit answered 429 (the admin API bucket, or a per-IP limiter in plain text): the shared
      budget is paused for every worker;
    - ACCOUNT: a per-user limit of the account that asked (`account`): only the job that met it waits; nobody is
      paused, so care work never queues behind another job's limit.
    """

    BUDGET, FORUM, ACCOUNT = "budget", "forum", "account"

    def __init__(self, retry_after: float, *, scope: str, account: str = ""):
        source = {
            self.BUDGET: "the shared API budget is spent",
            self.FORUM: "the forum answered 429",
            self.ACCOUNT: f"the forum's per-user limit for {account or 'the account'}",
        }[scope]
        super().__init__(f"{source}: try again in {retry_after:.1f} s")
        self.retry_after = retry_after
        self.scope = scope
        self.account = account

    @property
    def by_forum(self) -> bool:
        """The forum answered 429 (either kind), as opposed to our own budget being spent."""
        return self.scope != self.BUDGET


class ForumUnavailable(ForumError):
    """The forum did not answer usefully: 5xx (503 is read-only mode), a timeout, a connection error, or a body
    that is not JSON. Transient: the job's RQ `Retry` handles it."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class ForumRefused(ForumError):
    """The forum refused the request (4xx other than 429, or a 200 that carries `errors`): retrying won't help."""

    def __init__(self, status: int, errors: list[str], error_type: str | None = None, *, request: str = ""):
        super().__init__(" ".join(part for part in (f"{request}:", str(status), error_type, "; ".join(errors)) if part))
        self.status = status
        self.errors = errors
        self.error_type = error_type
        self.request = request

    @property
    def not_found(self) -> bool:
        """404 (unknown, or deleted for non-staff) or 410 (a deleted topic)."""
        return self.status in (404, 410)


class MessageRefused(ForumRefused):
    """The forum would not create a personal message (the recipient turned messages off, muted or ignores the
    sender, is suspended; the sender may not send messages; FACTS.md): a final outcome to record, not a crash."""

    def __init__(self, refused: ForumRefused, recipients: list[str]):
        super().__init__(refused.status, refused.errors, refused.error_type, request=refused.request)
        self.recipients = recipients

    @property
    def reason(self) -> str:
        """The forum's own words, for a person to read."""
        return "; ".join(self.errors) or f"the forum answered {self.status}"


# ---------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Member:
    """What the forum says about a member (`GET /u/{username}.json`), as the service needs it."""

    id: int
    username: str
    admin: bool
    moderator: bool
    trust_level: int
    suspended: bool
    groups: tuple[str, ...]  # names of the groups the bot can see the member in (automatic ones included)
    suspended_till: str | None = None  # as the forum says it (sent only while the member is suspended)

    @property
    def staff(self) -> bool:
        return self.admin or self.moderator

    @classmethod
    def from_json(cls, user: dict[str, Any], *, now: datetime | None = None) -> Member:
        return cls(
            id=int(user["id"]),
            username=str(user["username"]),
            admin=bool(user.get("admin")),
            moderator=bool(user.get("moderator")),
            trust_level=int(user.get("trust_level") or 0),
            suspended=_suspended(user.get("suspended_till"), now or datetime.now(UTC)),
            groups=tuple(str(g["name"]) for g in user.get("groups") or () if isinstance(g, dict)),
            suspended_till=None if user.get("suspended_till") is None else str(user["suspended_till"]),
        )


def _suspended(till: Any, now: datetime) -> bool:
    """Discourse sends `suspended_till` only while a member is suspended; a date in the past means no longer."""
    if not till:
        return False
    try:
        moment = datetime.fromisoformat(str(till).replace("Z", "+00:00"))
    except ValueError:
        return True
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) > now


def _post(data: dict[str, Any], *, topic: dict[str, Any] | None = None, cooked: bool = False) -> Post:
    """A post of the API's answers as the domain's `Post`, by the webhook's rules (Discourse serializes both with
    PostSerializer). A post inside a topic's answer takes the topic's id and slug when it does not say them; a post
    whose author's account is gone says no `user_id`: 0, which is no member's (plugin.domain.safety.is_forum_bot)."""
    if topic is not None:
        data = {"topic_id": topic.get("id"), "topic_slug": topic.get("slug"), **data}
    if data.get("user_id") is None:
        data = {**data, "user_id": 0}
    return Post.from_payload(data, cooked=cooked)


def _stream_posts(answer: dict[str, Any], topic: dict[str, Any], *, cooked: bool = False) -> list[Post]:
    """The posts in `post_stream.posts` of a topic's answer (`GET /t/{id}.json`, `GET /t/{id}/posts.json`)."""
    return [_post(p, topic=topic, cooked=cooked) for p in (answer.get("post_stream") or {}).get("posts") or ()]


@dataclass(frozen=True)
class TopicView:
    """A topic as `GET /t/{id}.json` shows it: the topic, the ids of its posts, and the posts the view carries."""

    topic: Topic
    stream: tuple[int, ...]  # every post's id, in topic order (`post_stream.stream`)
    posts: tuple[Post, ...]  # the posts the view carries: the first TOPIC_CHUNK (no `raw`)

    @property
    def first_post_id(self) -> int:
        """The topic's first post: the stream's first id, or the first post carried when there is no stream."""
        return (self.stream or tuple(p.id for p in self.posts))[0]

    @classmethod
    def from_json(cls, view: dict[str, Any]) -> TopicView:
        return cls(
            topic=Topic.from_payload(view),
            stream=tuple(int(i) for i in (view.get("post_stream") or {}).get("stream") or ()),
            posts=tuple(_stream_posts(view, view)),
        )


@dataclass(frozen=True)
class ListedTopic:
    """A topic as a topic list (`/topics/private-messages/{username}.json`, …) shows it."""

    id: int
    highest_post_number: int
    bumped_at: str
    closed: bool
    last_poster: str  # who wrote its latest post

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ListedTopic:
        return cls(
            id=int(data["id"]),
            highest_post_number=int(data.get("highest_post_number") or 0),
            bumped_at=str(data.get("bumped_at") or data.get("created_at") or ""),
            closed=bool(data.get("closed")),
            last_poster=str(data.get("last_poster_username") or ""),
        )


@dataclass(frozen=True)
class Category:
    """A category as `GET /categories.json` lists it."""

    id: int
    name: str
    slug: str
    read_restricted: bool  # closed to some members (the bot, being staff, reads it all the same)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Category:
        return cls(
            id=int(data["id"]),
            name=str(data.get("name", "")),
            slug=str(data.get("slug", "")),
            read_restricted=bool(data.get("read_restricted")),
        )


@dataclass(frozen=True)
class Group:
    """A group as `GET /groups/{name}.json` shows it, as install needs it."""

    id: int
    name: str
    messageable_level: int | None  # who may message it (99: everyone), as the forum says it

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Group:
        return cls(id=int(data["id"]), name=str(data.get("name", "")), messageable_level=data.get("messageable_level"))


@dataclass(frozen=True)
class WebHook:
    """A webhook as `GET /admin/api/web_hooks.json` lists it."""

    id: int
    payload_url: str
    secret: str | None
    content_type: int | None  # 1: form-encoded, 2: JSON (as the forum says it)
    active: bool
    wildcard: bool  # `wildcard_web_hook`: every event, whatever its event types
    event_type_ids: frozenset[int]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebHook:
        return cls(
            id=int(data["id"]),
            payload_url=str(data.get("payload_url") or ""),
            secret=data.get("secret"),
            content_type=data.get("content_type"),
            active=bool(data.get("active")),
            wildcard=bool(data.get("wildcard_web_hook")),
            event_type_ids=frozenset(int(t["id"]) for t in data.get("web_hook_event_types") or ()),
        )


@dataclass(frozen=True)
class WebHookEvent:
    """One delivery in a webhook's event log (AdminWebHookEventSerializer): `status` is the receiver's HTTP answer
    (0 or None while it is on its way, -1 when no answer came), `redelivering` while a redelivery is under way."""

    status: int | None
    id: int = 0
    created_at: str = ""
    redelivering: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebHookEvent:
        return cls(
            status=None if data.get("status") is None else int(data["status"]),
            id=int(data.get("id") or 0),
            created_at=str(data.get("created_at") or ""),
            redelivering=bool(data.get("redelivering")),
        )


def _moment(text: str) -> datetime:
    """An ISO time as Discourse writes it (`2026-11-30T09:26:53.589Z`); naive means UTC."""
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ReceivedLike:
    """A like one of a member's posts received, as `GET /user_actions.json?filter=2` lists it (UserActionSerializer
    over UserAction.stream: the row's `acting_*` is the liker, its `created_at` the like's own time)."""

    post_id: int
    topic_id: int
    liker_id: int
    liker_username: str
    created_at: str  # when the like was made, as the forum writes it
    post_number: int
    category_id: int | None  # None: a personal message (every other topic has a category)
    post_type: int  # 1 regular, 4 whisper, …

    @property
    def private(self) -> bool:
        """In a personal message or on a whisper: the admin who reads the list sees those too (only an admin may
        read another member's likes received); never count them where the public can see."""
        return self.category_id is None or self.post_type == WHISPER_POST_TYPE

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> ReceivedLike:
        return cls(
            post_id=int(row["post_id"]),
            topic_id=int(row["topic_id"]),
            liker_id=int(row["acting_user_id"]),
            liker_username=str(row.get("acting_username") or ""),
            created_at=str(row["created_at"]),
            post_number=int(row.get("post_number") or 0),
            category_id=None if row.get("category_id") is None else int(row["category_id"]),
            post_type=int(row.get("post_type") or 1),
        )


# ---------------------------------------------------------------------------------------------- the client


class _Client(DiscourseClient):
    """pydiscourse acting as one identity, whose every request goes through the Forum's budgeted session."""

    def __init__(self, forum: Forum, api_username: str):
        super().__init__(
            forum.base_url, api_username=api_username, api_key=forum.settings.discourse_api_key, timeout=forum.timeout
        )
        self._forum = forum

    def _request(
        self,
        verb: str,
        path: str,
        params: Any = None,
        files: Any = None,
        data: Any = None,
        json: Any = None,
        override_request_kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Replaces pydiscourse's request loop (which sleeps on 429 and opens a connection per call)."""
        response = self._forum._send(
            self, verb, path, params=params, files=files, data=data, json=json, **(override_request_kwargs or {})
        )
        return _decode(response)


def _decode(response: requests.Response) -> Any:
    """The JSON of a 2xx answer (None for an empty one); ForumRefused / ForumUnavailable otherwise."""
    request = f"{response.request.method} {response.request.path_url}" if response.request is not None else ""
    status = response.status_code
    if 300 <= status < 400:
        raise ForumRefused(
            status,
            [f"unexpected redirect to {response.headers.get('Location', '?')} (is DISCOURSE_URL the forum's address?)"],
            request=request,
        )
    is_json = JSON_TYPE in response.headers.get("Content-Type", "")
    body: Any = None
    if is_json and response.content.strip():
        try:
            body = response.json()
        except ValueError as exc:
            raise ForumUnavailable(f"{request}: the forum sent JSON that does not parse", status=status) from exc
    if status >= 400:
        if isinstance(body, dict) and body.get("errors"):
            raise ForumRefused(status, _messages(body["errors"]), body.get("error_type"), request=request)
        raise ForumRefused(status, [response.text[:200] or response.reason or str(status)], request=request)
    if body is None:
        if response.content.strip():
            raise ForumUnavailable(
                f"{request}: expected JSON, got {response.headers.get('Content-Type')!r}", status=status
            )
        return None
    if isinstance(body, dict) and body.get("errors"):  # e.g. POST /users.json answers 200 with errors
        raise ForumRefused(
            status, _messages(body.get("message") or body["errors"]), body.get("error_type"), request=request
        )
    return body


def _messages(errors: Any) -> list[str]:
    if isinstance(errors, str):
        return [errors]
    if isinstance(errors, dict):
        return [
            f"{field}: {message}"
            for field, messages in errors.items()
            for message in (messages if isinstance(messages, list) else [messages])
        ]
    return [str(e) for e in errors]


def _wait_seconds(response: requests.Response) -> float:
    """How long the forum asks us to wait: `extras.wait_seconds`, else `Retry-After`, else DEFAULT_WAIT_SECONDS."""
    if JSON_TYPE in response.headers.get("Content-Type", ""):
        try:
            wait = response.json().get("extras", {}).get("wait_seconds")
        except (ValueError, AttributeError):
            wait = None
        if isinstance(wait, (int, float)) and wait > 0:
            return float(wait)
    retry_after = response.headers.get("Retry-After", "")
    try:
        return max(1.0, float(retry_after))
    except ValueError:
        return DEFAULT_WAIT_SECONDS


def throttle_scope(response: requests.Response) -> str:
    """Whose limit a 429 is: Throttled.FORUM for the admin API bucket (its error-code header) and for a 429 that
    is not Discourse's JSON (a per-IP limiter or a proxy: everyone calling from here meets it); Throttled.ACCOUNT
    for Discourse's JSON `rate_limit` answer without that header, which only per-user limiters send
    (lib/rate_limiter.rb: staff are exempt; every other account meets them, API requests included)."""
    if response.headers.get("Discourse-Rate-Limit-Error-Code") == ADMIN_BUCKET_ERROR_CODE:
        return Throttled.FORUM
    if JSON_TYPE in response.headers.get("Content-Type", ""):
        return Throttled.ACCOUNT
    return Throttled.FORUM


# ---------------------------------------------------------------------------------------------- the adapter


class Forum:
    """The forum, as the service uses it. One instance per process (or job); not shared between threads.

    `calls_made` counts the HTTP requests this instance actually sent (for the benchmarks).
    """

    def __init__(
        self, settings: Settings, *, budget: ApiBudget, timeout: float = 10.0, session: requests.Session | None = None
    ):
        if not settings.discourse_url:
            raise ConfigError("DISCOURSE_URL is not set: the forum's address, e.g. https://forum.example.com")
        if not settings.discourse_api_key:
            raise ConfigError("DISCOURSE_API_KEY is not set: an all-scope admin API key (Admin → API → Keys)")
        if not timeout or timeout <= 0:
            raise ValueError("the forum adapter always uses a timeout")
        self.settings = settings
        self.budget = budget
        self.timeout = timeout
        self.base_url = settings.discourse_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # API calls keep no cookies
        self.calls_made = 0
        self._bot = _Client(self, settings.bot_username)
        self._admin = _Client(self, settings.discourse_api_username)
        self._category_ids: dict[str, int | None] = {}

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------------------------------------ links

    def topic_url(self, topic_id: int) -> str:
        """A topic's address in the forum (Discourse redirects `/t/<id>` to the slugged one)."""
        return f"{self.base_url}/t/{topic_id}"

    def post_url(self, post_id: int) -> str:
        """A post's short address (`/p/<id>`: Discourse redirects it to the post in its topic)."""
        return f"{self.base_url}/p/{post_id}"

    def post_in_topic_url(self, topic_slug: str | None, topic_id: int, post_number: int) -> str:
        """A post's address in its topic, as Discourse shares it."""
        return f"{self.base_url}/t/{topic_slug or 'topic'}/{topic_id}/{post_number}"

    def __enter__(self) -> Forum:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ transport

    def _send(self, client: _Client, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One budgeted request as `client`'s identity: Throttled / ForumUnavailable, or the answer (any other)."""
        wait = self.budget.try_spend(1)
        if wait > 0:
            raise Throttled(wait, scope=Throttled.BUDGET)
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        headers = {
            "Accept": "application/json; charset=utf-8",
            "Api-Key": client.api_key,
            "Api-Username": client.api_username,
        }
        kwargs.setdefault("allow_redirects", False)
        kwargs["timeout"] = self.timeout
        self.calls_made += 1
        try:
            response = self.session.request(method, url, headers=headers, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ForumUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 429:
            wait = _wait_seconds(response)
            scope = throttle_scope(response)
            if scope == Throttled.FORUM:
                self.budget.pause(wait)
            raise Throttled(wait, scope=scope, account=client.api_username)
        if response.status_code >= 500:
            raise ForumUnavailable(
                f"{method} {path}: the forum answered {response.status_code}", status=response.status_code
            )
        return response

    # ------------------------------------------------------------------------------------------ members

    def member(self, username: str) -> Member:
        """GET /u/{username}.json as the admin. 1 call. ForumRefused (404) for an unknown member.

        Read with staff rights: Discourse answers a hidden profile (HiddenProfileSerializer: no trust level, no
        roles, no groups) to viewers who may not see the full one (FACTS.md), and a liker or a moderator with a
        hidden profile must still count and decide as they should."""
        return Member.from_json(self._admin._get(f"/u/{quote(username)}.json")["user"])

    def group_members(self, group: str) -> list[str]:
        """Usernames in a group: GET /groups/{name}/members.json as the admin (a group may hide its members from
        members), every page. 1 call per 1,000 members."""
        names: list[str] = []
        while True:
            page = self._admin._get(f"/groups/{quote(group)}/members.json", limit=GROUP_MEMBERS_PAGE, offset=len(names))
            members = page.get("members") or []
            names.extend(str(m["username"]) for m in members)
            if not members or len(names) >= int(page.get("meta", {}).get("total", 0)):
                return names

    # ------------------------------------------------------------------------------------------ posts and topics

    def post(self, post_id: int, *, as_admin: bool = False) -> Post:
        """GET /posts/{id}.json as the bot, or the admin, who also sees a deleted post (`raw`, `version`, its likes,
        `deleted_at`, …; not its category). 1 call."""
        return _post((self._admin if as_admin else self._bot)._get(f"/posts/{int(post_id)}.json"))

    def likers(self, post_id: int) -> list[str]:
        """Usernames who like the post now, oldest like first (see `likes`)."""
        return [name for _, name in self.likes(post_id)]

    def likes(self, post_id: int) -> list[tuple[int, str]]:
        """(user id, username) of who likes the post now, oldest like first:
        GET /post_action_users.json?id=&post_action_type_id=2 as the bot. 1 call per 200 likes. ForumRefused (403)
        if the bot may not see the post."""
        likes: list[tuple[int, str]] = []
        page = 0
        while True:
            answer = self._bot.post_action_users(post_id, post_action_type_id=LIKE, page=page, limit=LIKERS_PAGE)
            rows = answer.get("post_action_users") or []
            likes.extend((int(row.get("id") or 0), str(row["username"])) for row in rows)
            total = answer.get("total_rows_post_action_users")  # sent only when there is more than one page
            if len(rows) < LIKERS_PAGE or not total or len(likes) >= int(total):
                return likes
            page += 1

    def topic(self, topic_id: int, *, as_admin: bool = False) -> TopicView:
        """GET /t/{id}.json (as the bot, or the admin). 1 call."""
        return TopicView.from_json((self._admin if as_admin else self._bot)._get(f"/t/{int(topic_id)}.json"))

    def recent_posts(self, topic_id: int, count: int = TOPIC_CHUNK) -> list[Post]:
        """The last `count` (at most 20) posts of a topic the bot can see, in topic order, with their `cooked` HTML
        (no `raw`). 1 call, or 2 when the topic has more posts than its first page holds
        (GET /t/{id}/posts.json?post_ids[]=…)."""
        count = max(1, min(count, TOPIC_CHUNK))
        view = self._bot._get(f"/t/{int(topic_id)}.json")
        stream = [int(i) for i in view.get("post_stream", {}).get("stream", [])]
        loaded = {p.id: p for p in _stream_posts(view, view, cooked=True)}
        wanted = stream[-count:]
        if all(i in loaded for i in wanted):
            return [loaded[i] for i in wanted]
        more = self._bot._get(f"/t/{int(topic_id)}/posts.json", **{"post_ids[]": wanted})
        loaded.update({p.id: p for p in _stream_posts(more, view, cooked=True)})
        return [loaded[i] for i in wanted if i in loaded]

    def topic_posts(self, topic_id: int, post_ids: list[int], *, cooked: bool = False) -> list[Post]:
        """Some posts of a topic the bot can see (`version`, likes, the HTML if `cooked`; no `raw`, no category),
        at most TOPIC_CHUNK: GET /t/{id}/posts.json?post_ids[]=…. 1 call."""
        answer = self._bot._get(f"/t/{int(topic_id)}/posts.json", **{"post_ids[]": post_ids[:TOPIC_CHUNK]})
        return _stream_posts(answer, {"id": int(topic_id)}, cooked=cooked)

    def tagged_topic_ids(self, tag: str) -> list[int]:
        """The ids of the topics with `tag` that the bot may list, most recently bumped first: GET /tag/{tag}.json,
        30 a page. 1 call a page; none when the tag does not exist (404)."""
        ids: list[int] = []
        page = 0
        while True:
            try:
                answer = self._bot._get(f"/tag/{quote(tag, safe='')}.json", **({"page": page} if page else {}))
            except ForumRefused as exc:
                if exc.not_found:
                    return ids
                raise
            listed = answer.get("topic_list") or {}
            ids += [int(t["id"]) for t in listed.get("topics") or ()]
            if not listed.get("more_topics_url") or not listed.get("topics"):
                return ids
            page += 1

    def topic_by_external_id(self, external_id: str, *, as_admin: bool = False) -> TopicView | None:
        """The topic with this `external_id`, or None: GET /t/external_id/{id}.json, whose 301 is followed by
        hand. 1 call when there is none (404), 2 when there is one (the redirect is a request too)."""
        client = self._admin if as_admin else self._bot
        response = self._send(client, "GET", f"/t/external_id/{quote(external_id, safe='')}.json")
        if response.status_code == 404:
            return None
        if response.status_code in (301, 302, 303, 307, 308) and response.headers.get("Location"):
            target = urljoin(response.url, response.headers["Location"])
            if urlsplit(target)[:2] != urlsplit(self.settings.discourse_url)[:2]:
                # the API key goes with every request: never to another host than DISCOURSE_URL's
                raise ForumUnavailable(
                    f"GET /t/external_id/{external_id}.json: the forum redirected to another "
                    f"site ({urlsplit(target).netloc}); not followed",
                    status=response.status_code,
                )
            response = self._send(client, "GET", target)
        answer = _decode(response)
        return None if answer is None else TopicView.from_json(answer)

    def create_topic(self, *, title: str, raw: str, category_id: int | None, tags: list[str], external_id: str) -> Post:
        """A new topic as the bot, exactly once per `external_id`: POST /posts.json. 1 call; 3 when a topic with
        that `external_id` already exists (the refusal, then the lookup).

        Returns the topic's first post: `id`, `topic_id`, `topic_slug`, `post_number` (1), … — as POST /posts.json
        answers it, or, for a topic that already existed, as the topic view carries its first post (no `raw`).
        """
        return self._create_once(external_id, raw, category_id=category_id, title=title, tags=list(tags))

    def private_message(self, *, title: str, raw: str, recipients: list[str], external_id: str) -> Post:
        """A personal message from the bot to members and/or groups (a group must be messageable by the bot),
        exactly once per `external_id`: POST /posts.json with archetype=private_message. Calls and answer as
        `create_topic`'s. MessageRefused when the forum will not deliver it (a final outcome: record it)."""
        try:
            return self._create_once(
                external_id, raw, title=title, archetype="private_message", target_recipients=",".join(recipients)
            )
        except ForumRefused as refused:
            if refused.status == 422:  # Discourse refuses a message with 422 (403 is about the sender)
                raise MessageRefused(refused, recipients) from refused
            raise

    def _create_once(self, external_id: str, raw: str, **params: Any) -> Post:
        """POST /posts.json for a new topic or message keyed by `external_id`; the existing one's first post when
        there is one (the topic survives the crash of a job that made it).

        After ANY refusal the key is looked up, whatever the forum's words: Discourse's wording of a taken
        `external_id` is Rails' and may change, and a create refused for another reason (a retry of a request whose
        answer was lost) may still have been made the first time."""
        try:
            answer = _posted(self._bot.create_post(raw, external_id=external_id, **params))
        except ForumRefused:
            existing = self.topic_by_external_id(external_id)
            if existing is None:  # not made (or taken by a deleted topic): the refusal stands
                raise
            return existing.posts[0]  # with the topic's id and slug (TopicView.from_json)
        return _post(answer)

    def reply(self, *, topic_id: int, raw: str, reply_to_post_number: int | None = None) -> Post:
        """A reply as the bot: POST /posts.json. 1 call. Returns the new post."""
        return _post(_posted(self._bot.create_post(raw, topic_id=topic_id, reply_to_post_number=reply_to_post_number)))

    def edit_post(self, post_id: int, *, raw: str, edit_reason: str) -> Post:
        """A new revision of a post (the forum keeps the old one) as the admin: PUT /posts/{id}.json. 1 call.
        Returns the post (`version` is the new one)."""
        return _post(self._admin.update_post(post_id, raw, edit_reason=edit_reason)["post"])

    def set_tags(self, topic_id: int, tags: list[str]) -> None:
        """Replace a topic's tags (the full list) as the admin: PUT /t/-/{id}.json. 1 call."""
        self._admin._put(f"/t/-/{int(topic_id)}.json", json=True, tags=list(tags))

    def move_topic(self, topic_id: int, category_id: int) -> None:
        """Move a topic to another category (PUT /t/-/{id}.json with `category_id`, as the admin)."""
        self._admin._put(f"/t/-/{int(topic_id)}.json", json=True, category_id=int(category_id))

    def close_topic(self, topic_id: int) -> None:
        """Close a topic as the admin: PUT /t/{id}/status.json. 1 call."""
        self._admin.update_topic_status(topic_id, "closed", True)

    def bot_messages(self, page: int = 0) -> tuple[list[ListedTopic], bool]:
        """The bot's own personal messages that someone else has written in, most recently bumped first, a page
        (30) at a time, and whether there is a further page: GET /topics/private-messages/{bot}.json. 1 call."""
        listed = self._bot.private_messages(**({"page": page} if page else {})).get("topic_list") or {}
        return [ListedTopic.from_json(t) for t in listed.get("topics") or ()], bool(listed.get("more_topics_url"))

    def latest_posts(self, before: int | None = None) -> list[Post]:
        """Public posts the bot can see, newest first, 50 a page (`before`: only ids below it): GET /posts.json.
        1 call."""
        return [_post(p) for p in self._bot.latest_posts(before=before).get("latest_posts", [])]

    def upload_png(self, filename: str, data: bytes) -> str:
        """An image for a post, as the bot: POST /uploads.json (multipart). 1 call. Returns its `upload://…` URL."""
        answer = self._bot._post(
            "/uploads.json", files={"file": (filename, data, "image/png")}, type="composer", synchronous="true"
        )
        return str(answer["short_url"])

    def category_id(self, name_or_id: str | int) -> int | None:
        """The id of a category the bot can see, by name, slug or id (None if there is none): GET /categories.json.
        1 call the first time; remembered by this instance after that (categories rarely change)."""
        wanted = str(name_or_id).strip().lower()
        if wanted not in self._category_ids:
            found = _find_category(self.categories(), wanted)
            self._category_ids[wanted] = found.id if found else None
        return self._category_ids[wanted]

    def categories(self, *, as_admin: bool = False) -> list[Category]:
        """Every category the caller can see, subcategories included (flattened): GET /categories.json. 1 call."""
        answer = (self._admin if as_admin else self._bot)._get("/categories.json", include_subcategories="true")
        flat: list[Category] = []
        pending = list(answer.get("category_list", {}).get("categories", []))
        while pending:
            category = pending.pop(0)
            flat.append(Category.from_json(category))
            pending.extend(category.get("subcategory_list") or [])
        return flat

    def topics_by_ids(self, ids: Iterable[int]) -> list[Topic]:
        """The topics with these ids that the bot may list, with their tags, category and status (`Topic`: id,
        title, category_id, tags, closed, archived, visible, created_at, …; no `user_id`, which topic lists do not
        carry), in the order asked: GET /latest.json?topic_ids=…&per_page=100 as the bot.

        Calls: ceil(n / LATEST_TOPICS_PAGE) for n distinct ids (none for n = 0). A forum older than Discourse
        2025.01 ignores `per_page` and answers 30 a page: then each chunk of 100 takes the pages it needs, up to 4.
        An id the bot may not list is simply not in the answer — a personal message, a deleted topic, a shared
        draft, a category or topic the bot muted (TopicQuery#latest_results applies every rule of /latest)."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        found: dict[int, Topic] = {}
        for start in range(0, len(wanted), LATEST_TOPICS_PAGE):
            chunk = wanted[start : start + LATEST_TOPICS_PAGE]
            page = 0
            while True:
                params: dict[str, Any] = {"topic_ids": ",".join(str(i) for i in chunk), "per_page": len(chunk)}
                if page:
                    params["page"] = page
                listed = self._bot._get("/latest.json", **params).get("topic_list") or {}
                topics = listed.get("topics") or []
                for item in topics:
                    found.setdefault(int(item["id"]), Topic.from_payload(item))
                per_page = int(listed.get("per_page") or len(chunk))
                if per_page >= len(chunk) or len(topics) < per_page:
                    break
                page += 1  # the forum pages at fewer than we asked for: read on within this chunk
        return [found[i] for i in wanted if i in found]

    def likes_received(self, username: str, since: str | None) -> list[ReceivedLike]:
        """Likes the member's posts received, newest first, down to `since` (an ISO time; likes made at or after
        it; None: all): GET /user_actions.json?username=…&filter=2 as the ADMIN — a private action type, which
        Discourse shows only to the member themself and admins (Guardian#can_see_user_actions?: a moderator gets
        404). The admin sees them all: likes in personal messages and on whispers too (`ReceivedLike.private`).

        Calls: k // USER_ACTIONS_PAGE + 1 for k likes received at or after `since` (a short page, or the first
        like older than `since`, ends the reading). A like taken back, or on a deleted post, is not listed. The
        list is read by offset while likes may arrive: a like seen twice is kept once (post, liker)."""
        cutoff = None if since is None else _moment(since)
        likes: list[ReceivedLike] = []
        seen: set[tuple[int, int]] = set()
        offset = 0
        while True:
            answer = self._admin._get(
                "/user_actions.json", username=username, filter=WAS_LIKED, offset=offset, limit=USER_ACTIONS_PAGE
            )
            rows = answer.get("user_actions") or []
            for row in rows:
                like = ReceivedLike.from_json(row)
                if cutoff is not None and _moment(like.created_at) < cutoff:
                    return likes
                if (like.post_id, like.liker_id) not in seen:
                    seen.add((like.post_id, like.liker_id))
                    likes.append(like)
            if len(rows) < USER_ACTIONS_PAGE:
                return likes
            offset += len(rows)

    def daily_reports(
        self, start: date, end: date, kinds: Iterable[str] = ("posts", "topics", "likes")
    ) -> dict[str, dict[str, int]]:
        """The forum's own daily figures from `start` to `end` (both included, UTC days): kind → {"YYYY-MM-DD":
        count}, every day present (0 where the forum lists none). GET /admin/reports/bulk.json as the admin (the
        reports are staff-only). 1 call, whatever the kinds.

        Discourse's definitions (app/models/concerns/reports/*.rb): `posts` — regular posts (no whispers, small or
        moderator actions), first posts included, outside personal messages, not deleted; `topics` — topics
        outside personal messages, not deleted; `likes` — every like made that day, in messages too, including
        likes taken back since (the likes report counts trashed rows). Restricted categories and unlisted topics
        count in all three. ForumRefused / ForumUnavailable when a report is missing or says `error`."""
        names = list(dict.fromkeys(kinds))
        params: dict[str, str] = {}
        for kind in names:
            params[f"reports[{kind}][start_date]"] = start.isoformat()
            params[f"reports[{kind}][end_date]"] = end.isoformat()
        answer = self._admin._get("/admin/reports/bulk.json", **params)
        reports = {str(r.get("type")): r for r in answer.get("reports") or () if isinstance(r, dict)}
        days = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
        figures: dict[str, dict[str, int]] = {}
        for kind in names:
            report = reports.get(kind)
            request = "GET /admin/reports/bulk.json"
            if report is None:
                raise ForumUnavailable(f"{request}: the answer has no {kind!r} report")
            if report.get("error") == "not_found":
                raise ForumRefused(404, [f"the forum has no {kind!r} report"], "not_found", request=request)
            if report.get("error"):
                raise ForumUnavailable(f"{request}: the {kind!r} report failed ({report['error']})")
            counts = dict.fromkeys(days, 0)
            for point in report.get("data") or ():
                day = str(point.get("x"))[:10]
                if day in counts:
                    counts[day] += int(point.get("y") or 0)
            figures[kind] = counts
        return figures

    # ------------------------------------------------------------------------------------------ install (admin)

    def admin_user(self, username: str) -> Member | None:
        """GET /u/{username}.json as the admin, or None if there is no such user. 1 call."""
        try:
            user = self._admin._get(f"/u/{quote(username)}.json")["user"]
        except ForumRefused as refused:
            if refused.not_found:
                return None
            raise
        return Member.from_json(user)

    def create_user(self, *, username: str, name: str, email: str, password: str) -> int:
        """An active, approved account made by the admin: POST /users.json. 1 call. Returns its id."""
        answer = self._admin._post(
            "/users.json", username=username, name=name, email=email, password=password, active="true", approved="true"
        )
        if not answer or not answer.get("success") or not answer.get("user_id"):
            # with hide_email_address_taken on, an email already in use answers "success" without a user_id
            raise ForumRefused(
                200,
                [str((answer or {}).get("message") or "the forum did not create the user")],
                request="POST /users.json",
            )
        return int(answer["user_id"])

    def grant_moderation(self, user_id: int) -> None:
        """PUT /admin/users/{id}/grant_moderation as the admin. 1 call."""
        self._admin._put(f"/admin/users/{int(user_id)}/grant_moderation")

    def set_trust_level(self, user_id: int, level: int) -> None:
        """PUT /admin/users/{id}/trust_level.json as the admin. 1 call."""
        self._admin.trust_level(user_id, level)

    def group(self, name: str) -> Group | None:
        """GET /groups/{name}.json as the admin (`group` of the answer), or None if there is none. 1 call."""
        try:
            group = self._admin._get(f"/groups/{quote(name)}.json")["group"]
        except ForumRefused as refused:
            if refused.not_found:
                return None
            raise
        return Group.from_json(group)

    def create_group(self, **fields: Any) -> dict[str, Any]:
        """POST /admin/groups.json as the admin with `group` = fields (name, full_name, *_level, …). 1 call."""
        return self._admin._post("/admin/groups.json", json=True, group=fields)["basic_group"]

    def site_settings(self) -> dict[str, str]:
        """Every site setting's value as text (lists `|`-separated): GET /admin/site_settings.json as the admin.
        1 call."""
        answer = self._admin._get("/admin/site_settings.json")
        return {
            str(s["setting"]): "" if s.get("value") is None else str(s["value"])
            for s in answer.get("site_settings") or []
            if isinstance(s, dict) and "setting" in s
        }

    def tag_names(self) -> set[str]:
        """Names of every tag, as the admin sees them (unused ones too): GET /tags.json. 1 call."""
        return {str(t["name"]) for t in self._admin._get("/tags.json").get("tags", [])}

    def create_tag_group(self, name: str, tag_names: Iterable[str]) -> dict[str, Any]:
        """A tag group, which creates its missing tags: POST /tag_groups.json as the admin. 1 call."""
        return self._admin._post("/tag_groups.json", json=True, name=name, tag_names=list(tag_names))["tag_group"]

    def create_category(self, *, name: str, color: str, text_color: str, description: str) -> Category:
        """POST /categories.json as the admin (everyone may read and post). 1 call."""
        return Category.from_json(
            self._admin._post(
                "/categories.json", name=name, color=color, text_color=text_color, description=description
            )["category"]
        )

    def web_hooks(self) -> tuple[list[WebHook], dict[str, int]]:
        """Every webhook, and the event types the forum offers (name → id): GET /admin/api/web_hooks.json as the
        admin. 1 call per 50 webhooks."""
        hooks: list[dict[str, Any]] = []
        event_types: list[dict[str, Any]] = []
        while True:
            answer = self._admin._get("/admin/api/web_hooks.json", offset=len(hooks))
            page = answer.get("web_hooks") or []
            hooks.extend(page)
            event_types = event_types or list(answer.get("extras", {}).get("event_types") or [])
            if not page or len(hooks) >= int(answer.get("total_rows_web_hooks") or 0):
                return (
                    [WebHook.from_json(h) for h in hooks],
                    {str(t.get("name")): int(t["id"]) for t in event_types if "id" in t},
                )

    def web_hook_events(self, hook_id: int, *, offset: int = 0) -> list[WebHookEvent]:
        """The webhook's deliveries, newest first, 50 from `offset` (the admin's event log,
        Admin::WebHooksController#list_events): 1 call."""
        params = {"offset": offset} if offset else {}
        answer = self._admin._get(f"/admin/api/web_hooks/{int(hook_id)}/events.json", **params)
        rows = answer.get("web_hook_events", answer) if isinstance(answer, dict) else answer
        return [WebHookEvent.from_json(row) for row in rows]

    def redeliver(self, hook_id: int, event_id: int) -> None:
        """The admin's "Redeliver" button: the forum sends that delivery again, the same headers, body and Event-Id
        (POST /admin/api/web_hooks/{id}/events/{event_id}/redeliver.json). 1 call."""
        self._admin._post(f"/admin/api/web_hooks/{int(hook_id)}/events/{int(event_id)}/redeliver.json")

    def create_web_hook(self, fields: dict[str, Any]) -> WebHook:
        """POST /admin/api/web_hooks.json as the admin. 1 call."""
        return WebHook.from_json(self._admin._post("/admin/api/web_hooks.json", json=True, web_hook=fields)["web_hook"])

    def delete_web_hook(self, hook_id: int) -> None:
        """DELETE /admin/api/web_hooks/{id}.json as the admin. 1 call."""
        self._admin._delete(f"/admin/api/web_hooks/{int(hook_id)}.json")

    def update_web_hook(self, hook_id: int, fields: dict[str, Any]) -> WebHook:
        """PUT /admin/api/web_hooks/{id}.json as the admin. 1 call."""
        return WebHook.from_json(
            self._admin._put(f"/admin/api/web_hooks/{int(hook_id)}.json", json=True, web_hook=fields)["web_hook"]
        )


def _posted(answer: dict[str, Any]) -> dict[str, Any]:
    """POST /posts.json's answer, or ForumRefused when the forum held the post for review instead of making it
    (200 `{"action": "enqueued", "pending_post": …}`, FACTS.md): nothing was posted, and a moderator must approve
    it in the review queue — `doctor` and `install` name the setting that holds the bot's posts."""
    if isinstance(answer, dict) and answer.get("action") == "enqueued":
        raise ForumRefused(
            200, ["the forum held the post for review instead of posting it"], "enqueued", request="POST /posts.json"
        )
    return answer


def _find_category(categories: list[Category], wanted: str) -> Category | None:
    for category in categories:
        if wanted.isdigit() and category.id == int(wanted):
            return category
    for category in categories:
        if category.name.lower() == wanted or category.slug.lower() == wanted:
            return category
    return None
