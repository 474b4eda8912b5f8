"""Discourse webhook deliveries as typed events: a sans-I/O core.

`parse_delivery(headers, body, secret=...)` is a pure function from what arrived over HTTP to a typed event or
a specific error, in the manner of gidgethub's `sansio.Event.from_http`: a live delivery, an admin's redelivery and
a replayed log all go through the same code, and so do the tests. It does no I/O of its own.

What Discourse sends is described in `shared/reference/discourse/FACTS.md`: the signature is
`sha256=<hex HMAC-SHA256 of the raw body>`, the `X-Discourse-Event-Type` header names the body's single root key,
and payloads are serialized as an admin sees them, so whispers and private messages arrive too: they are
marked `private` here so that nothing downstream can mistake them for public words.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, ClassVar

# Discourse's post types.
POST_REGULAR, POST_MODERATOR_ACTION, POST_SMALL_ACTION, POST_WHISPER = 1, 2, 3, 4
LIKE = 2
"""Discourse's post action type for a like (its entry in a post's `actions_summary`)."""
PRIVATE_MESSAGE = "private_message"
MIN_SECRET_LENGTH = 12
"""Discourse refuses webhook secrets shorter than this."""

POST_EVENTS = frozenset({"post_created", "post_edited", "post_destroyed", "post_recovered"})
TOPIC_EVENTS = frozenset(
    {
        "topic_created",
        "topic_edited",
        "topic_destroyed",
        "topic_recovered",
        "topic_closed_status_updated",
        "topic_archived_status_updated",
        "topic_visible_status_updated",
        "topic_pinned_status_updated",
    }
)
LIKE_EVENTS = frozenset({"post_liked"})
USED_EVENTS = POST_EVENTS | TOPIC_EVENTS | LIKE_EVENTS
"""The events this service acts on; every other event is acknowledged and ignored."""

_SIGNATURE = re.compile(r"sha256=([0-9a-f]{64})")


# ------------------------------------------------------------------------------------------------ errors


class WebhookError(Exception):
    """A delivery that cannot be accepted; `status` is the HTTP answer and the message says why."""

    status = 400


class InvalidSignature(WebhookError):
    """No signature, a malformed one, or one that does not match the raw body (401)."""

    status = 401


class BadDelivery(WebhookError):
    """Missing event headers, a body that is not JSON, or a root key that does not match the event type (400)."""

    status = 400


# ------------------------------------------------------------------------------------------------ signature


def sign(body: bytes, secret: str) -> str:
    """The `X-Discourse-Event-Signature` value Discourse sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, *, signature: str | None, secret: str) -> None:
    """Check `signature` against the raw `body` in constant time, or raise InvalidSignature.

    Fails closed: a missing secret is a configuration error, not an open door.
    """
    if not secret:
        raise ValueError("no webhook secret is configured; refusing to accept deliveries")
    if not signature:
        raise InvalidSignature("missing X-Discourse-Event-Signature header")
    match = _SIGNATURE.fullmatch(signature.strip())
    if match is None:
        raise InvalidSignature("malformed X-Discourse-Event-Signature header: expected sha256=<64 hex digits>")
    if not hmac.compare_digest(sign(body, secret).encode(), ("sha256=" + match.group(1)).encode()):
        raise InvalidSignature("signature does not match the body")


# ------------------------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class Delivery:
    """What the headers say about one delivery."""

    event_id: str
    event_name: str
    event_type: str
    instance: str = ""

    @classmethod
    def synthetic(cls, source: str, name: str, kind: str, *, fact: str | None = None) -> Delivery:
        """A delivery the service makes up for what it read from the forum instead of receiving (`source`:
        "reconcile", "rebuild"). Given the `fact` (`Event.identity()`), its id names the fact, so that the same fact
        made up twice is one delivery; else it names only the event."""
        tail = name if fact is None else hashlib.sha1(fact.encode()).hexdigest()[:24]
        return cls(event_id=f"{source}-{tail}", event_name=name, event_type=kind)


@dataclass(frozen=True)
class Event:
    """Base of every typed event. `kind` names the dataclass in a job's JSON."""

    delivery: Delivery
    kind: ClassVar[str] = "event"

    @property
    def name(self) -> str:
        return self.delivery.event_name

    def identity(self) -> str:
        """What makes two deliveries the same fact, whatever their Event-Id (a retry carries a new one)."""
        return f"{self.name}:{self.delivery.event_id}"

    def to_job(self) -> dict[str, Any]:
        """Plain JSON-ready data for RQ's JSON serializer; `event_from_job` reads it back.

        Every field is a primitive or a flat dataclass of primitives, so a shallow copy of each is enough
        (and several times cheaper than `dataclasses.asdict` on the receiver's hot path).
        """
        data: dict[str, Any] = {"kind": self.kind}
        for name, value in vars(self).items():
            data[name] = dict(vars(value)) if is_dataclass(value) else value
            if isinstance(value, Post):  # read from the API only: jobs stay readable by a worker one release older
                for api_only in POST_API_ONLY:
                    data[name].pop(api_only, None)
        return data


@dataclass(frozen=True)
class PingEvent(Event):
    kind: ClassVar[str] = "ping"


@dataclass(frozen=True)
class IgnoredEvent(Event):
    """An event this service does not use: acknowledged (202) and dropped."""

    kind: ClassVar[str] = "ignored"


POST_API_ONLY = ("like_count", "cooked")
"""Fields of `Post` that jobs do not carry (a job's post comes from a webhook, and the job format stays as it was)."""


@dataclass(frozen=True)
class Post:
    """The fields of Discourse's WebHookPostSerializer that this service uses. The API's posts (PostSerializer,
    which the webhook's extends) are read into it too, by the forum adapter."""

    id: int
    topic_id: int
    post_number: int
    user_id: int
    username: str
    post_type: int
    created_at: str
    updated_at: str
    version: int
    raw: str
    topic_title: str = ""
    topic_slug: str = ""
    topic_archetype: str = "regular"
    category_id: int | None = None
    category_slug: str | None = None
    reply_to_post_number: int | None = None
    reply_to_username: str | None = None
    trust_level: int | None = None
    staff: bool = False
    user_suspended: bool = False  # Discourse adds `user_suspended` to a post payload only when it is true
    hidden: bool = False
    deleted_at: str | None = None
    edit_reason: str | None = None
    topic_posts_count: int | None = None
    like_count: int = 0  # from `actions_summary` (the API's posts; a webhook's carries no likes)
    cooked: str = ""  # the HTML, only when asked for (`from_payload(cooked=True)`): a job need not carry it

    @property
    def is_pm(self) -> bool:
        return self.topic_archetype == PRIVATE_MESSAGE

    @property
    def is_whisper(self) -> bool:
        return self.post_type == POST_WHISPER

    @property
    def private(self) -> bool:
        """Staff-only or private words: a whisper or a private message. Never shown in a public place."""
        return self.is_pm or self.is_whisper

    @classmethod
    def from_payload(cls, data: Mapping[str, Any], *, cooked: bool = False) -> Post:
        """`cooked`: keep the post's HTML too (where the service looks for its own words in what it posted)."""
        reply_to = data.get("reply_to_user") or {}
        return cls(
            id=_int(data, "id"),
            topic_id=_int(data, "topic_id"),
            post_number=_int(data, "post_number"),
            user_id=_int(data, "user_id"),
            username=_str(data, "username"),
            post_type=_int(data, "post_type", POST_REGULAR),
            created_at=_str(data, "created_at"),
            updated_at=_str(data, "updated_at"),
            version=_int(data, "version", 1),
            raw=_str(data, "raw"),
            topic_title=_str(data, "topic_title"),
            topic_slug=_str(data, "topic_slug"),
            topic_archetype=_str(data, "topic_archetype", "regular") or "regular",
            category_id=_opt_int(data, "category_id"),
            category_slug=data.get("category_slug"),
            reply_to_post_number=_opt_int(data, "reply_to_post_number"),
            reply_to_username=reply_to.get("username") if isinstance(reply_to, Mapping) else None,
            trust_level=_opt_int(data, "trust_level"),
            staff=bool(data.get("staff")),
            user_suspended=bool(data.get("user_suspended")),
            hidden=bool(data.get("hidden")),
            deleted_at=data.get("deleted_at"),
            edit_reason=data.get("edit_reason"),
            topic_posts_count=_opt_int(data, "topic_posts_count"),
            like_count=_like_count(data.get("actions_summary")),
            cooked=_str(data, "cooked") if cooked else "",
        )


@dataclass(frozen=True)
class PostEvent(Event):
    post: Post = field(default=None)  # type: ignore[assignment]
    kind: ClassVar[str] = "post"

    def identity(self) -> str:
        post = self.post
        return f"{self.name}:{post.id}:{post.version}:{post.updated_at}:{post.deleted_at or ''}"

    @property
    def private(self) -> bool:
        return self.post.private


@dataclass(frozen=True)
class Topic:
    """The fields of Discourse's WebHookTopicViewSerializer that this service uses."""

    id: int
    title: str
    slug: str
    archetype: str
    category_id: int | None
    user_id: int | None
    created_at: str
    tags: tuple[str, ...] = ()
    closed: bool = False
    archived: bool = False
    visible: bool = True
    deleted_at: str | None = None
    external_id: str | None = None
    posts_count: int | None = None

    @property
    def private(self) -> bool:
        return self.archetype == PRIVATE_MESSAGE

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Topic:
        created_by = data.get("created_by")
        user_id = _opt_int(data, "user_id")
        if user_id is None and isinstance(created_by, Mapping):
            user_id = _opt_int(created_by, "id")
        return cls(
            id=_int(data, "id"),
            title=_str(data, "title"),
            slug=_str(data, "slug"),
            archetype=_str(data, "archetype", "regular") or "regular",
            category_id=_opt_int(data, "category_id"),
            user_id=user_id,
            created_at=_str(data, "created_at"),
            tags=read_tags(data.get("tags")),
            closed=bool(data.get("closed")),
            archived=bool(data.get("archived")),
            visible=data.get("visible", True) is not False,
            deleted_at=data.get("deleted_at"),
            external_id=data.get("external_id"),
            posts_count=_opt_int(data, "posts_count"),
        )


@dataclass(frozen=True)
class TopicEvent(Event):
    topic: Topic = field(default=None)  # type: ignore[assignment]
    kind: ClassVar[str] = "topic"

    def identity(self) -> str:
        t = self.topic
        state = json.dumps(
            [t.title, t.category_id, sorted(t.tags), t.closed, t.archived, t.visible, t.deleted_at],
            separators=(",", ":"),
        )
        return f"{self.name}:{t.id}:{hashlib.sha1(state.encode()).hexdigest()[:16]}"

    @property
    def private(self) -> bool:
        return self.topic.private


@dataclass(frozen=True)
class LikeEvent(Event):
    post: Post = field(default=None)  # type: ignore[assignment]
    liker_id: int = 0
    liker_username: str = ""
    kind: ClassVar[str] = "like"

    def identity(self) -> str:
        return f"{self.name}:{self.post.id}:{self.liker_id}"

    @property
    def private(self) -> bool:
        return self.post.private


EVENT_KINDS: dict[str, type[Event]] = {
    cls.kind: cls for cls in (PingEvent, IgnoredEvent, PostEvent, TopicEvent, LikeEvent)
}


# ------------------------------------------------------------------------------------------------ parsing


EVENT_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
"""A delivery id as it may become part of a Redis key: Discourse sends a number."""


def parse_delivery(headers: Mapping[str, str], body: bytes, *, secret: str) -> Event:
    """Verify and parse one delivery. Pure: headers (any case) + raw body + secret → a typed event.

    Raises InvalidSignature (401) or BadDelivery (400) with a message naming the problem. The signature is
    checked over the raw bytes before anything is parsed.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    verify_signature(body, signature=lower.get("x-discourse-event-signature"), secret=secret)
    missing = [
        h for h in ("X-Discourse-Event", "X-Discourse-Event-Type", "X-Discourse-Event-Id") if not lower.get(h.lower())
    ]
    if missing:
        raise BadDelivery("missing header(s): " + ", ".join(missing))
    event_id = lower["x-discourse-event-id"].strip()
    if not EVENT_ID.fullmatch(event_id):
        raise BadDelivery("X-Discourse-Event-Id must be the delivery's number (at most 64 letters, digits, - or _)")
    delivery = Delivery(
        event_id=event_id,
        event_name=lower["x-discourse-event"].strip(),
        event_type=lower["x-discourse-event-type"].strip(),
        instance=lower.get("x-discourse-instance", "").strip(),
    )
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadDelivery(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict) or list(payload) != [delivery.event_type]:
        keys = list(payload) if isinstance(payload, dict) else type(payload).__name__
        raise BadDelivery(f"body's root key must be the event type {delivery.event_type!r}; got {keys}")
    content = payload[delivery.event_type]
    if delivery.event_name == "ping":
        return PingEvent(delivery)
    if delivery.event_name not in USED_EVENTS:
        return IgnoredEvent(delivery)
    try:
        if delivery.event_name in POST_EVENTS and delivery.event_type == "post":
            return PostEvent(delivery, post=Post.from_payload(_object(content, "post")))
        if delivery.event_name in TOPIC_EVENTS and delivery.event_type == "topic":
            return TopicEvent(delivery, topic=Topic.from_payload(_object(content, "topic")))
        if delivery.event_name in LIKE_EVENTS and delivery.event_type == "like":
            like = _object(content, "like")
            user = _object(like.get("user"), "like.user")
            return LikeEvent(
                delivery,
                post=Post.from_payload(_object(like.get("post"), "like.post")),
                liker_id=_int(user, "id"),
                liker_username=_str(user, "username"),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadDelivery(f"{delivery.event_name} payload is malformed: {exc}") from None
    raise BadDelivery(f"event {delivery.event_name!r} does not belong to type {delivery.event_type!r}")


def event_from_job(data: Mapping[str, Any]) -> Event:
    """Read back what `Event.to_job()` wrote (inside a worker)."""
    cls = EVENT_KINDS[data["kind"]]
    kwargs: dict[str, Any] = {"delivery": Delivery(**data["delivery"])}
    for f in fields(cls):
        if f.name == "delivery" or f.name not in data:
            continue
        value = data[f.name]
        if f.name == "post":
            value = Post(**value)
        elif f.name == "topic":
            value = Topic(**{**value, "tags": tuple(value.get("tags", ()))})
        kwargs[f.name] = value
    return cls(**kwargs)


def read_tags(value: Any) -> tuple[str, ...]:
    """Topic `tags` as names: Discourse sent a list of names until 2026 and now sends `{id, name, slug}` objects."""
    if not isinstance(value, list):
        return ()
    names = []
    for tag in value:
        if isinstance(tag, str):
            names.append(tag)
        elif isinstance(tag, Mapping) and isinstance(tag.get("name"), str):
            names.append(tag["name"])
    return tuple(names)


def _like_count(actions: Any) -> int:
    """How many likes a post has: the `count` of its `actions_summary` entry with id LIKE (Discourse leaves `count`
    out while it is 0, and the entry out when there is nothing to say)."""
    for action in actions if isinstance(actions, list) else ():
        if isinstance(action, Mapping) and action.get("id") == LIKE:
            count = action.get("count")
            return count if isinstance(count, int) and not isinstance(count, bool) else 0
    return 0


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be an object")
    return value


def _int(data: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        if value is None and default is None:
            raise KeyError(f"{key} is missing")
        raise ValueError(f"{key} must be an integer, got {value!r}")
    return value


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer or null, got {value!r}")
    return value


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {type(value).__name__}")
    return value
