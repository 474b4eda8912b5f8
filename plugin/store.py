"""The service's state in Redis: a cache and index of what the forum holds, never the only copy.

Everything here can be rebuilt from the forum (`python -m plugin rebuild`): the living document is a forum post,
an amendment's draft is a topic whose `external_id` is the amendment id, and its decision is a tag and a reply.
Key names come from `plugin.keys` only.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, TypeVar

from redis import Redis

from plugin.amendments import Amendment
from plugin.document import parse_document
from plugin.events import Post, Topic
from plugin.keys import Keys

T = TypeVar("T")

MEMBER_TTL = 24 * 3600
"""Seconds a member's trust level and standing are trusted before they are read from the forum again."""
LIKERS_TTL = 60 * 24 * 3600
"""Seconds the likers of a post are remembered after its last like."""
EFFECT_PENDING_TTL = 3600
"""Seconds an unfinished effect stays marked; after a crash the next attempt checks the forum first."""
EFFECT_DONE_TTL = 90 * 24 * 3600
"""Seconds a finished effect is remembered (far longer than any redelivery or retry)."""
DOCUMENT_LOCK_SECONDS = 30
"""Longest an approval may hold the document: a read and an edit, each within the adapter's 10 s timeout."""


class Store:
    def __init__(self, connection: Redis, keys: Keys):
        self.redis = connection
        self.keys = keys

    # ------------------------------------------------------------------------------------------ document

    def document(self) -> dict[str, Any] | None:
        """{"topic_id", "post_id", "version", "raw"} of the living document, or None before install."""
        data = self.redis.hgetall(self.keys.document)
        if not data:
            return None
        return {"topic_id": int(data[b"topic_id"]), "post_id": int(data[b"post_id"]),
                "version": int(data.get(b"version", 0)), "raw": data.get(b"raw", b"").decode()}

    def save_document(self, *, topic_id: int, post_id: int, version: int, raw: str) -> bool:
        """Cache the document's text unless as new a version is already cached (webhooks arrive out of order),
        and count a new version for every section whose text changed (by its fingerprint)."""
        script = """
        local current = tonumber(redis.call("HGET", KEYS[1], "version") or "-1")
        if tonumber(ARGV[3]) < current then return 0 end
        if tonumber(ARGV[3]) == current and redis.call("HGET", KEYS[1], "raw") == ARGV[4] then return 0 end
        redis.call("HSET", KEYS[1], "topic_id", ARGV[1], "post_id", ARGV[2], "version", ARGV[3], "raw", ARGV[4])
        for i = 5, #ARGV do redis.call("HINCRBY", KEYS[2], ARGV[i], 1) end
        return 1
        """
        previous = self.document()
        old = {s.slug: s.fingerprint for s in parse_document(previous["raw"]).sections} if previous else {}
        changed = [s.slug for s in parse_document(raw).sections if old.get(s.slug) != s.fingerprint]
        return bool(self.redis.eval(script, 2, self.keys.document, self.keys.section_versions, topic_id, post_id,
                                    version, raw, *changed))

    def section_versions(self) -> dict[str, int]:
        """How many texts each section has had (1 for the text at install)."""
        return {k.decode(): int(v) for k, v in self.redis.hgetall(self.keys.section_versions).items()}

    # ------------------------------------------------------------------------------------------ care

    def mark_care_post(self, post_id: int) -> None:
        """Once a post asked for direct support it stays a care post, whatever later edits say."""
        self.redis.sadd(self.keys.care_posts, post_id)

    def is_care_post(self, post_id: int) -> bool:
        return bool(self.redis.sismember(self.keys.care_posts, post_id))

    # ------------------------------------------------------------------------------------------ topics

    def remember_topic(self, topic: Topic) -> None:
        self.redis.hset(self.keys.topic(topic.id), mapping={
            "tags": json.dumps(list(topic.tags)), "category_id": topic.category_id or 0,
            "user_id": topic.user_id or 0, "archetype": topic.archetype, "title": topic.title})

    def remember_topic_tags(self, topic_id: int, tags: tuple[str, ...]) -> None:
        self.redis.hset(self.keys.topic(topic_id), "tags", json.dumps(list(tags)))

    def topic_tags(self, topic_id: int) -> tuple[str, ...] | None:
        """The topic's tags as last told by a topic webhook, or None if no topic webhook was seen for it."""
        raw = self.redis.hget(self.keys.topic(topic_id), "tags")
        return None if raw is None else tuple(json.loads(raw))

    # ------------------------------------------------------------------------------------------ members

    def remember_member(self, username: str, *, trust_level: int | None = None, staff: bool | None = None,
                        suspended: bool | None = None) -> None:
        fields = {k: int(v) for k, v in (("trust_level", trust_level), ("staff", staff), ("suspended", suspended))
                  if v is not None}
        if fields:
            key = self.keys.member(username)
            with self.redis.pipeline() as pipe:
                pipe.hset(key, mapping=fields)
                pipe.expire(key, MEMBER_TTL)
                pipe.execute()

    def member(self, username: str) -> dict[str, int] | None:
        data = self.redis.hgetall(self.keys.member(username))
        return {k.decode(): int(v) for k, v in data.items()} or None

    def remember_post_author(self, post: Post) -> None:
        """Every post payload carries its author's trust level, staff flag and suspension: a free member record."""
        self.remember_member(post.username, trust_level=post.trust_level, staff=post.staff,
                             suspended=post.user_suspended)

    # ------------------------------------------------------------------------------------------ amendments

    def amendment(self, amendment_id: str) -> Amendment | None:
        raw = self.redis.get(self.keys.amendment(amendment_id))
        if raw is None:
            return None
        data = json.loads(raw)
        data["history"] = tuple(data.get("history", ()))
        return Amendment(**data)

    def save_amendment(self, amendment: Amendment) -> None:
        with self.redis.pipeline() as pipe:
            pipe.set(self.keys.amendment(amendment.id), json.dumps(asdict(amendment)))
            pipe.sadd(self.keys.amendments, amendment.id)
            pipe.sadd(self.keys.post_amendments(amendment.post_id), amendment.id)
            if amendment.draft_topic_id:
                pipe.set(self.keys.draft_topic(amendment.draft_topic_id), amendment.id)
            pipe.execute()

    def amendments_of_post(self, post_id: int) -> list[Amendment]:
        ids = sorted(m.decode() for m in self.redis.smembers(self.keys.post_amendments(post_id)))
        return [a for a in (self.amendment(i) for i in ids) if a is not None]

    def all_amendments(self) -> list[Amendment]:
        ids = sorted(m.decode() for m in self.redis.smembers(self.keys.amendments))
        return [a for a in (self.amendment(i) for i in ids) if a is not None]

    def amendment_for_draft(self, topic_id: int) -> Amendment | None:
        amendment_id = self.redis.get(self.keys.draft_topic(topic_id))
        return None if amendment_id is None else self.amendment(amendment_id.decode())

    def add_liker(self, post_id: int, username: str) -> int:
        """Record a like from a webhook; returns how many distinct likers the post has by webhook.

        Kept for every public post (a like may arrive before the post that proposes is read) for LIKERS_TTL: a
        proposal gathers its support within weeks, and the draft job confirms the likers from the forum anyway.
        """
        with self.redis.pipeline() as pipe:
            pipe.sadd(self.keys.likers(post_id), username)
            pipe.expire(self.keys.likers(post_id), LIKERS_TTL)
            pipe.scard(self.keys.likers(post_id))
            return int(pipe.execute()[2])

    # ------------------------------------------------------------------------------------------ discussion

    def record_discussion(self, section_slug: str, post_id: int, author: str, at: str) -> None:
        """A post discussed a section (idempotent: keyed by post id)."""
        self.redis.hset(self.keys.discussion(section_slug), str(post_id), json.dumps({"author": author, "at": at}))

    def forget_discussion(self, post_id: int) -> None:
        """Remove a post from every section's discussion (it was deleted, or it asked for care)."""
        with self.redis.pipeline() as pipe:
            for key in self.redis.scan_iter(self.keys.discussion("*")):
                pipe.hdel(key, str(post_id))
            pipe.execute()

    def discussion(self, section_slug: str) -> dict[int, dict[str, str]]:
        return {int(k): json.loads(v) for k, v in self.redis.hgetall(self.keys.discussion(section_slug)).items()}

    # ------------------------------------------------------------------------------------------ effects

    def once(self, effect_key: str, make: Callable[[], T], *, already_made: Callable[[], bool]) -> bool:
        """Make a forum effect exactly once, even when the job runs twice or dies half-way.

        Marked "pending" before it is made and "done" after. Finding "pending" means an earlier attempt died
        around the effect: `already_made()` then asks the forum whether it happened before making it again.
        Returns True if the effect was made by this call.
        """
        key = self.keys.effect(effect_key)
        state = self.redis.get(key)
        if state == b"done":
            return False
        if state == b"pending" and already_made():
            self.redis.set(key, "done", ex=EFFECT_DONE_TTL)
            return False
        self.redis.set(key, "pending", ex=EFFECT_PENDING_TTL)
        make()
        self.redis.set(key, "done", ex=EFFECT_DONE_TTL)
        return True

    @contextmanager
    def document_lock(self, timeout: float = DOCUMENT_LOCK_SECONDS) -> Iterator[None]:
        """One amendment at a time is applied to the document, across every worker.

        The lock expires by itself, so a worker killed while holding it delays the next approval by at most
        `timeout` seconds; a waiter waits a little longer than that.
        """
        with self.redis.lock(self.keys.document_lock, timeout=timeout, blocking_timeout=timeout + 5):
            yield
