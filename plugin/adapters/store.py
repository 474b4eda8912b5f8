"""The service's state in Redis: a cache and index of what the forum holds, never the only copy.

Everything here can be rebuilt from the forum (`python -m plugin rebuild`): the living document is a forum post,
an amendment's draft is a topic whose `external_id` is the amendment id, and its decision is a tag and a reply.
Key names come from `plugin.adapters.keys` only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, TypeVar

from redis import Redis
from redis.typing import EncodableT, FieldT

from plugin.adapters.keys import Keys
from plugin.adapters.redis import as_byte_list, as_bytes, as_fields, as_text
from plugin.domain.amendments import DRAFTED, OPEN, Amendment
from plugin.domain.care import CareRequest
from plugin.domain.document import parse_document
from plugin.domain.events import Post, Topic
from plugin.domain.readback import SweepCursor

T = TypeVar("T")

MEMBER_TTL = 24 * 3600
"""Seconds a member's trust level and standing are trusted before they are read from the forum again."""
LIKERS_TTL = 60 * 24 * 3600
"""Seconds the likers of a post are remembered after its last like."""
RESTRICTED_CATEGORIES_TTL = 600
"""Seconds the list of read-restricted categories is trusted before the forum is asked again (1 call): a category
closed to some stops feeding drafts within this long."""
EFFECT_PENDING_TTL = 3600
"""Seconds an unfinished effect stays marked; after a crash the next attempt checks the forum first."""
REFUSED = b"refused:"
"""How an effect the forum refused for good is marked (`Store.mark_refused`): done, with the forum's words."""
EFFECT_DONE_TTL = 90 * 24 * 3600
"""Seconds a finished effect is remembered (far longer than any redelivery or retry)."""
DOCUMENT_LOCK_SECONDS = 30
"""Longest an approval may hold the document: a read and an edit, each within the adapter's 10 s timeout."""
CARE_LOCK_SECONDS = 60
"""How long a care request stays locked by a handler that died holding it."""


SEE, DELETE, RECOVER = "see", "delete", "recover"
_ADMIT_POST = """
-- KEYS[1] post versions hash, KEYS[2] live posts sorted set;
-- ARGV[1] post id, ARGV[2] version, ARGV[3] updated_at, ARGV[4] see|delete|recover, ARGV[5] "1" for a regular post
-- a value is "<version>|<updated_at>", with a leading "D" once deleted (a ninja edit keeps the version: updated_at
-- orders it)
local current = redis.call("HGET", KEYS[1], ARGV[1])
local version, stamp, action = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local deleted, known, known_stamp = false, -1, ""
if current then
    deleted = string.sub(current, 1, 1) == "D"
    local body = deleted and string.sub(current, 2) or current
    local bar = string.find(body, "|", 1, true)
    known = tonumber(bar and string.sub(body, 1, bar - 1) or body)
    known_stamp = bar and string.sub(body, bar + 1) or ""
end
local older = version < known or (version == known and stamp < known_stamp)
if action == "see" then
    if older or (deleted and (version < known or (version == known and stamp <= known_stamp))) then return 0 end
    redis.call("HSET", KEYS[1], ARGV[1], version .. "|" .. stamp)
    if ARGV[5] == "1" then redis.call("ZADD", KEYS[2], ARGV[1], ARGV[1]) end
    return 1
end
if older then version, stamp = known, known_stamp end
redis.call("HSET", KEYS[1], ARGV[1], (action == "delete" and "D" or "") .. version .. "|" .. stamp)
if action == "delete" then
    redis.call("ZREM", KEYS[2], ARGV[1])
elseif ARGV[5] == "1" then
    redis.call("ZADD", KEYS[2], ARGV[1], ARGV[1])
end
return 1
"""

_DISCUSS = """
-- KEYS[1] post versions hash, KEYS[2] discussed-sections hash; ARGV[1] post id, ARGV[2] the "<version>|<updated_at>"
-- the sections were read from ("" = whatever is newest), ARGV[3] the discussion keys' prefix, ARGV[4] JSON {author,
-- at}, ARGV[5] JSON list of the sections, ARGV[6..] the sections
if ARGV[2] ~= "" and redis.call("HGET", KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
local now = {}
for i = 6, #ARGV do
    now[ARGV[i]] = true
    redis.call("HSET", ARGV[3] .. ARGV[i], ARGV[1], ARGV[4])
end
local earlier = redis.call("HGET", KEYS[2], ARGV[1])
if earlier then
    for _, slug in ipairs(cjson.decode(earlier)) do
        if not now[slug] then redis.call("HDEL", ARGV[3] .. slug, ARGV[1]) end
    end
end
if #ARGV >= 6 then redis.call("HSET", KEYS[2], ARGV[1], ARGV[5]) else redis.call("HDEL", KEYS[2], ARGV[1]) end
return 1
"""


_LATER_THAN = """
local function later(hash, field, post_id)
    local kept = redis.call("HGET", hash, field)
    return kept and tonumber(cjson.decode(kept)["post_id"]) > post_id
end
"""
_SAVE_WORDING = (
    _LATER_THAN
    + """
-- KEYS[1] the team's words, KEYS[2] the refusals; ARGV[1] message key, ARGV[2] the reply's post id, ARGV[3] JSON
local post_id = tonumber(ARGV[2])
if later(KEYS[1], ARGV[1], post_id) then return 0 end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[3])
if not later(KEYS[2], ARGV[1], post_id) then redis.call("HDEL", KEYS[2], ARGV[1]) end
return 1
"""
)
_REFUSE_WORDING = (
    _LATER_THAN
    + """
-- KEYS[1] the team's words, KEYS[2] the refusals; ARGV[1] message key, ARGV[2] the reply's post id, ARGV[3] JSON
local post_id = tonumber(ARGV[2])
if later(KEYS[1], ARGV[1], post_id) or later(KEYS[2], ARGV[1], post_id) then return 0 end
redis.call("HSET", KEYS[2], ARGV[1], ARGV[3])
return 1
"""
)
_FORGET_REFUSAL = (
    _LATER_THAN
    + """
-- KEYS[1] the refusals; ARGV[1] message key, ARGV[2] the post id from which it is stale
if not later(KEYS[1], ARGV[1], tonumber(ARGV[2])) then redis.call("HDEL", KEYS[1], ARGV[1]) end
return 1
"""
)


class Store:
    def __init__(self, connection: Redis, keys: Keys):
        self.redis = connection
        self.keys = keys
        self._admit = connection.register_script(_ADMIT_POST)
        self._discuss = connection.register_script(_DISCUSS)

    # ------------------------------------------------------------------------------------------ document

    def document(self) -> dict[str, Any] | None:
        """{"topic_id", "post_id", "version", "raw"} of the living document, or None before install."""
        data = self.redis.hgetall(self.keys.document)
        if not data:
            return None
        return {
            "topic_id": int(data[b"topic_id"]),
            "post_id": int(data[b"post_id"]),
            "version": int(data.get(b"version", 0)),
            "raw": as_text(data.get(b"raw", b"")),
        }

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
        return bool(
            self.redis.eval(
                script, 2, self.keys.document, self.keys.section_versions, topic_id, post_id, version, raw, *changed
            )
        )

    def section_versions(self) -> dict[str, int]:
        """How many texts each section has had (1 for the text at install)."""
        return {as_text(k): int(v) for k, v in self.redis.hgetall(self.keys.section_versions).items()}

    # ------------------------------------------------------------------------------------------ post versions

    def admit_post(
        self, post_id: int, version: int, updated_at: str, action: str = SEE, *, regular: bool = True
    ) -> bool:
        """Whether a post event is news: False for a snapshot older than one already applied (webhooks arrive out
        of order, and a late one carries the post as it was when it fired), or an edit of a deleted post.
        `action`: SEE (created or edited), DELETE or RECOVER. A snapshot as new as the newest is news again, so
        that a redelivered fact is applied again (every handler is idempotent). A regular post is also kept in
        the set of live posts until it is deleted."""
        return bool(
            self._admit(
                keys=[self.keys.post_versions, self.keys.live_posts],
                args=[post_id, version, updated_at, action, "1" if regular else "0"],
            )
        )

    def live_posts_between(self, low: int, high: int | str) -> list[int]:
        """Ids of the regular public posts seen and not deleted, from `low` to `high` (reconcile looks for the
        ones the forum no longer lists); `high` may be "+inf"."""
        return [int(m) for m in as_byte_list(self.redis.zrangebyscore(self.keys.live_posts, low, high))]

    def lowest_live_post(self) -> int | None:
        """The lowest id among the live posts seen: about where the service began to listen."""
        lowest = as_byte_list(self.redis.zrange(self.keys.live_posts, 0, 0))
        return int(lowest[0]) if lowest else None

    def forget_live_post(self, post_id: int) -> None:
        """Stop looking for a post among the live ones: the forum no longer has it, or lists it nowhere (a
        staff-only category, a hidden post), so reconcile does not look at it again."""
        self.redis.zrem(self.keys.live_posts, post_id)

    def known_versions(self, post_ids: list[int]) -> dict[int, tuple[int, str] | None]:
        """post id → (version, updated_at) of the newest snapshot seen (None: never seen; deleted counts as seen)."""
        values = self.redis.hmget(self.keys.post_versions, [str(i) for i in post_ids]) if post_ids else []
        known: dict[int, tuple[int, str] | None] = {}
        for post_id, value in zip(post_ids, values, strict=True):
            version, _, stamp = as_text(value or b"").lstrip("D").partition("|")
            known[post_id] = (int(version), stamp) if version else None
        return known

    # ------------------------------------------------------------------------------------------ care

    def mark_care_post(self, post_id: int) -> None:
        """Once a post asked for direct support it stays a care post, whatever later edits say."""
        self.redis.sadd(self.keys.care_posts, post_id)

    def is_care_post(self, post_id: int) -> bool:
        return bool(self.redis.sismember(self.keys.care_posts, str(post_id)))

    def care_request(self, post_id: int) -> CareRequest | None:
        raw = self.redis.hget(self.keys.care_requests, str(post_id))
        return None if raw is None else CareRequest(**json.loads(raw))

    def care_requests(self) -> list[CareRequest]:
        """Every care request, oldest first."""
        found = [CareRequest(**json.loads(v)) for v in self.redis.hvals(self.keys.care_requests)]
        return sorted(found, key=lambda r: (r.asked_at, r.post_id))

    def save_care_request(self, request: CareRequest) -> None:
        """Save a request, and know its conversations as its own (the receiver routes their posts to care)."""
        conversations = {str(t): request.post_id for t in (request.team_topic_id, request.member_topic_id) if t}
        with self.redis.pipeline() as pipe:
            pipe.hset(self.keys.care_requests, str(request.post_id), json.dumps(asdict(request)))
            if conversations:
                pipe.hset(self.keys.care_conversations, mapping=as_fields(conversations))
            pipe.execute()

    def care_request_of_topic(self, topic_id: int) -> CareRequest | None:
        """The request whose conversation (the member's or the team's) `topic_id` is, if any."""
        post_id = self.redis.hget(self.keys.care_conversations, str(topic_id))
        return None if post_id is None else self.care_request(int(post_id))

    def relay_number(self, request_id: int, post_id: int) -> int:
        """The member's post `post_id` is their n-th relayed message for the request: the same n every time it is
        asked (call it under `care_lock`)."""
        key = self.keys.care_relays(request_id)
        known = self.redis.hget(key, str(post_id))
        if known is not None:
            return int(known)
        number = int(self.redis.hlen(key)) + 1
        self.redis.hset(key, str(post_id), number)
        return number

    def care_read_back(self) -> dict[int, int]:
        """Care conversation → the highest post number `reconcile` has read back of it."""
        return {int(k): int(v) for k, v in self.redis.hgetall(self.keys.care_read_back).items()}

    def save_care_read_back(self, topic_id: int, highest_post_number: int) -> None:
        self.redis.hset(self.keys.care_read_back, str(topic_id), highest_post_number)

    def care_read_back_since(self) -> float | None:
        """Since when the bot's messages were all read back (None: never)."""
        raw = self.redis.get(self.keys.care_read_back_since)
        return None if raw is None else float(raw)

    def save_care_read_back_since(self, at: float) -> None:
        self.redis.set(self.keys.care_read_back_since, repr(at))

    # ------------------------------------------------------------------------------------------ care wording

    def remember_care_wording_topic(self, topic_id: int) -> None:
        """The conversation where the team changes the care messages' words (its posts are routed to care)."""
        self.redis.set(self.keys.care_wording_topic, topic_id)

    def care_wording_topic(self) -> int | None:
        raw = self.redis.get(self.keys.care_wording_topic)
        return None if raw is None else int(raw)

    def is_care_wording_topic(self, topic_id: int) -> bool:
        return self.redis.get(self.keys.care_wording_topic) == str(topic_id).encode()

    def care_wordings(self) -> dict[str, str]:
        """Message key → the team's words for it, for the messages that have theirs (one read). A record that
        cannot be read is left out: the message then has its default words, never none."""
        records = self.care_wording_records()
        return {key: text for key, record in records.items() if isinstance(text := record.get("text"), str)}

    def care_wording_records(self) -> dict[str, dict[str, Any]]:
        """Message key → {text, post_id, author, at} of the latest words the team gave it (`text` None: back to
        the default); records that cannot be read are left out."""
        records: dict[str, dict[str, Any]] = {}
        for key, value in self.redis.hgetall(self.keys.care_wordings).items():
            try:
                record = json.loads(value)
            except ValueError:
                continue
            if isinstance(record, dict):
                records[as_text(key)] = record
        return records

    def save_care_wording(self, key: str, record: Mapping[str, Any]) -> bool:
        """The team's words for a message, from the reply `record["post_id"]`, unless a later reply's are already
        kept (jobs may run out of order); an earlier reply's refusal for it is then forgotten. Whether they are
        kept (again: the same reply handled twice answers the same)."""
        return bool(
            self.redis.eval(
                _SAVE_WORDING,
                2,
                self.keys.care_wordings,
                self.keys.care_wording_refusals,
                key,
                int(record["post_id"]),
                json.dumps(dict(record)),
            )
        )

    def refuse_care_wording(self, key: str, record: Mapping[str, Any]) -> bool:
        """A reply whose words for a message could not be used (`doctor` tells it), unless a later reply's words
        or refusal for it are already kept."""
        return bool(
            self.redis.eval(
                _REFUSE_WORDING,
                2,
                self.keys.care_wordings,
                self.keys.care_wording_refusals,
                key,
                int(record["post_id"]),
                json.dumps(dict(record)),
            )
        )

    def forget_care_wording_refusal(self, key: str, *, up_to_post_id: int) -> None:
        """A reply at or after `up_to_post_id` made the refusal kept for `key` stale."""
        self.redis.eval(_FORGET_REFUSAL, 1, self.keys.care_wording_refusals, key, up_to_post_id)

    def care_wording_refusals(self) -> dict[str, dict[str, Any]]:
        return {as_text(k): json.loads(v) for k, v in self.redis.hgetall(self.keys.care_wording_refusals).items()}

    @contextmanager
    def care_lock(self, post_id: int, timeout: float = CARE_LOCK_SECONDS) -> Iterator[None]:
        """One handler at a time decides about a request (a reply, a pickup, a timer), across every worker."""
        with self.redis.lock(self.keys.care_lock(post_id), timeout=timeout, blocking_timeout=timeout + 5):
            yield

    # ------------------------------------------------------------------------------------------ topics

    def remember_topic(self, topic: Topic) -> None:
        self.redis.hset(
            self.keys.topic(topic.id),
            mapping={
                "tags": json.dumps(list(topic.tags)),
                "category_id": topic.category_id or 0,
                "user_id": topic.user_id or 0,
                "archetype": topic.archetype,
                "title": topic.title,
            },
        )

    def remember_topic_tags(self, topic_id: int, tags: tuple[str, ...]) -> None:
        self.redis.hset(self.keys.topic(topic_id), "tags", json.dumps(list(tags)))

    def topic_category(self, topic_id: int) -> int | None:
        """The topic's category as last told by a topic webhook (None if unknown or uncategorized)."""
        raw = self.redis.hget(self.keys.topic(topic_id), "category_id")
        return int(raw or 0) or None  # stored as 0 when the topic has none

    def restricted_categories(self) -> set[int] | None:
        """The read-restricted categories' ids as last listed (None when not known, or known too long ago)."""
        raw = self.redis.get(self.keys.restricted_categories)
        return None if raw is None else {int(i) for i in json.loads(raw)}

    def remember_restricted_categories(self, ids: set[int]) -> None:
        self.redis.set(self.keys.restricted_categories, json.dumps(sorted(ids)), ex=RESTRICTED_CATEGORIES_TTL)

    def topic_tags(self, topic_id: int) -> tuple[str, ...] | None:
        """The topic's tags as last told by a topic webhook, or None if no topic webhook was seen for it."""
        raw = self.redis.hget(self.keys.topic(topic_id), "tags")
        return None if raw is None else tuple(json.loads(raw))

    # ------------------------------------------------------------------------------------------ members

    def remember_member(
        self, username: str, *, trust_level: int | None = None, staff: bool | None = None, suspended: bool | None = None
    ) -> None:
        fields: dict[FieldT, EncodableT] = {
            k: int(v)
            for k, v in (("trust_level", trust_level), ("staff", staff), ("suspended", suspended))
            if v is not None
        }
        if fields:
            key = self.keys.member(username)
            with self.redis.pipeline() as pipe:
                pipe.hset(key, mapping=fields)
                pipe.expire(key, MEMBER_TTL)
                pipe.execute()

    def member(self, username: str) -> dict[str, int] | None:
        data = self.redis.hgetall(self.keys.member(username))
        return {as_text(k): int(v) for k, v in data.items()} or None

    def remember_post_author(self, post: Post) -> None:
        """Every post payload carries its author's trust level, staff flag and suspension: a free member record."""
        self.remember_member(
            post.username, trust_level=post.trust_level, staff=post.staff, suspended=post.user_suspended
        )

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
        ids = sorted(as_text(m) for m in self.redis.smembers(self.keys.post_amendments(post_id)))
        return [a for a in (self.amendment(i) for i in ids) if a is not None]

    def all_amendments(self) -> list[Amendment]:
        ids = sorted(as_text(m) for m in self.redis.smembers(self.keys.amendments))
        return [a for a in (self.amendment(i) for i in ids) if a is not None]

    def amendment_for_draft(self, topic_id: int) -> Amendment | None:
        amendment_id = self.redis.get(self.keys.draft_topic(topic_id))
        return None if amendment_id is None else self.amendment(as_text(amendment_id))

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

    def likers(self, post_id: int) -> set[str]:
        """The usernames that liked the post, as the webhooks told (see `add_liker`); the forum has the last word."""
        return {as_text(m) for m in self.redis.smembers(self.keys.likers(post_id))}

    # ------------------------------------------------------------------------------------------ discussion

    def record_discussion(
        self, post_id: int, sections: Iterable[str], author: str, at: str, *, snapshot: tuple[int, str] | None = None
    ) -> bool:
        """The sections a post discusses in its current text: it is entered in each and taken out of those an earlier
        version discussed (an edit may drop a quote), so the state does not depend on which versions were seen.
        `snapshot` (version, updated_at) of the text read: nothing is written unless it is still the newest admitted
        (`admit_post`), so a job for an older version that runs late never undoes a newer one's. Returns whether
        it wrote."""
        slugs = sorted(set(sections))
        newest = "" if snapshot is None else f"{snapshot[0]}|{snapshot[1]}"
        return bool(
            self._discuss(
                keys=[self.keys.post_versions, self.keys.discussed_sections],
                args=[
                    post_id,
                    newest,
                    self.keys.discussion(""),
                    json.dumps({"author": author, "at": at}),
                    json.dumps(slugs),
                    *slugs,
                ],
            )
        )

    def forget_discussion(self, post_id: int) -> None:
        """Remove a post from every section's discussion (it was deleted, or it asked for care)."""
        self.record_discussion(post_id, (), "", "")

    def discussion(self, section_slug: str) -> dict[int, dict[str, str]]:
        return {int(k): json.loads(v) for k, v in self.redis.hgetall(self.keys.discussion(section_slug)).items()}

    # ------------------------------------------------------------------------------------------ effects

    def once(self, effect_key: str, make: Callable[[], T], *, already_made: Callable[[], bool] | None = None) -> bool:
        """Make a forum effect exactly once, even when the job runs twice or dies half-way.

        Marked "pending" before it is made and "done" after. Finding "pending" means an earlier attempt died
        around the effect: `already_made()` then asks the forum whether it happened before making it again. Leave
        it out for an effect the forum itself makes at most once (a topic or message with an `external_id`): then
        `make` simply runs again. Returns True if `make` ran in this call.
        """
        key = self.keys.effect(effect_key)
        state = self.redis.get(key)
        if state == b"done" or as_bytes(state or b"").startswith(REFUSED):
            return False
        if state == b"pending" and already_made is not None and already_made():
            self.redis.set(key, "done", ex=EFFECT_DONE_TTL)
            return False
        self.redis.set(key, "pending", ex=EFFECT_PENDING_TTL)
        make()
        self.redis.set(key, "done", ex=EFFECT_DONE_TTL)
        return True

    def made(self, effect_key: str) -> bool:
        """Whether an effect is done (made, or refused by the forum for good)."""
        state = as_bytes(self.redis.get(self.keys.effect(effect_key)) or b"")
        return state == b"done" or state.startswith(REFUSED)

    def mark_refused(self, effect_key: str, reason: str) -> None:
        """Record an effect the forum refused for good (a message to a member who cannot receive one), with the
        forum's words: it is never made again, and a rerun of the job still knows why (see `refusal`)."""
        self.redis.set(self.keys.effect(effect_key), REFUSED + reason.encode(), ex=EFFECT_DONE_TTL)

    def refusal(self, effect_key: str) -> str | None:
        """The forum's words when it refused the effect for good, else None."""
        state = as_bytes(self.redis.get(self.keys.effect(effect_key)) or b"")
        return state[len(REFUSED) :].decode() if state.startswith(REFUSED) else None

    def mark_done(self, effect_key: str) -> None:
        """Record an effect that the forum shows was made (a rebuild reads it there): it is never made again."""
        self.redis.set(self.keys.effect(effect_key), "done", ex=EFFECT_DONE_TTL)

    def set_section_versions(self, versions: dict[str, int]) -> None:
        """Replace the per-section version counts (a rebuild counts them from the applied amendments)."""
        with self.redis.pipeline() as pipe:
            pipe.delete(self.keys.section_versions)
            if versions:
                pipe.hset(self.keys.section_versions, mapping=as_fields(versions))
            pipe.execute()

    # ------------------------------------------------------------------------------------------ reconcile and rebuild

    @contextmanager
    def reconcile_lock(self, timeout: float) -> Iterator[bool]:
        """One reconcile pass at a time (the scheduled one and a manual one): yields whether this pass holds the
        lock (False: another does; nothing waits). It expires after `timeout` seconds by itself."""
        lock = self.redis.lock(self.keys.reconcile_lock, timeout=timeout, blocking=False)
        if not lock.acquire():
            yield False
            return
        try:
            yield True
        finally:
            if lock.owned():
                lock.release()

    def reconcile_cursor(self) -> SweepCursor:
        """Where reconcile's passes are (all 0 before the first pass)."""
        fields = self.redis.hgetall(self.keys.reconcile_cursor)
        return SweepCursor.from_fields({as_text(k): int(v) for k, v in fields.items()})

    def save_reconcile_cursor(self, cursor: SweepCursor) -> None:
        self.redis.hset(self.keys.reconcile_cursor, mapping=as_fields(cursor.fields()))

    def delivery_log(self) -> tuple[int | None, int | None, float]:
        """The service's webhook id, how far reconcile has settled its delivery log (None: not known yet), and
        when it did (epoch seconds)."""
        fields = {as_text(k): float(v) for k, v in self.redis.hgetall(self.keys.delivery_log).items()}
        hook, mark = fields.get("hook"), fields.get("mark")
        return None if hook is None else int(hook), None if mark is None else int(mark), fields.get("at", 0.0)

    def save_delivery_log(self, hook_id: int, mark: int | None) -> None:
        """Remember the webhook, and the mark with its time (a new webhook starts with none)."""
        fields: dict[str, float] = {"hook": hook_id}
        if mark is not None:
            fields.update(mark=mark, at=time.time())
        with self.redis.pipeline() as pipe:
            pipe.delete(self.keys.delivery_log)
            pipe.hset(self.keys.delivery_log, mapping=as_fields(fields))
            pipe.execute()

    def forget_delivery_log(self) -> None:
        self.redis.delete(self.keys.delivery_log)

    def rebuild_cursor(self) -> dict[str, str]:
        """How far an interrupted rebuild got: its phase and its place in it (empty: no rebuild under way)."""
        return {as_text(k): as_text(v) for k, v in self.redis.hgetall(self.keys.rebuild_cursor).items()}

    def save_rebuild_cursor(self, state: Mapping[str, str]) -> None:
        self.redis.hset(self.keys.rebuild_cursor, mapping=as_fields(state))

    def keep_rebuild_posts(self, posts: Iterable[Post]) -> None:
        """Keep the public posts a rebuild read (at least one), for its next phases."""
        self.redis.hset(self.keys.rebuild_posts, mapping={str(p.id): json.dumps(asdict(p)) for p in posts})

    def rebuild_posts(self) -> dict[int, Post]:
        """The public posts the rebuild under way has read so far, by id."""
        return {int(k): Post(**json.loads(v)) for k, v in self.redis.hgetall(self.keys.rebuild_posts).items()}

    def rebuild_posts_count(self) -> int:
        return self.redis.hlen(self.keys.rebuild_posts)

    def forget_rebuild(self) -> None:
        """A rebuild finished: its place and the posts it read are forgotten."""
        self.redis.delete(self.keys.rebuild_cursor, self.keys.rebuild_posts)

    # ------------------------------------------------------------------------------------------ the weekly digest

    @contextmanager
    def digest_lock(self, week: str, timeout: float) -> Iterator[None]:
        """One digest job at a time works on a week: held `timeout` seconds at most, and waited for as long
        (redis-py's LockError if it is not free by then)."""
        with self.redis.lock(self.keys.digest_lock(week), timeout=timeout, blocking_timeout=timeout):
            yield

    def digest_topic(self, week: str) -> int | None:
        """The id of the week's digest topic, once posted (remembered for EFFECT_DONE_TTL)."""
        topic_id = self.redis.get(self.keys.digest_topic(week))
        return None if topic_id is None else int(topic_id)

    def remember_digest_topic(self, week: str, topic_id: int) -> None:
        self.redis.set(self.keys.digest_topic(week), topic_id, ex=EFFECT_DONE_TTL)

    def digest_chart(self, week: str) -> str | None:
        """The `upload://…` URL of the week's chart, once uploaded (remembered for EFFECT_DONE_TTL)."""
        url = self.redis.get(self.keys.digest_chart(week))
        return None if url is None else as_text(url)

    def remember_digest_chart(self, week: str, url: str) -> None:
        self.redis.set(self.keys.digest_chart(week), url, ex=EFFECT_DONE_TTL)

    # ------------------------------------------------------------------------------------------ the whole state

    def wipe(self) -> int:
        """Delete every key under the prefix (before a rebuild from nothing); RQ's queues are RQ's and stay.
        Returns how many keys were deleted."""
        deleted = 0
        batch: list[bytes] = []
        for key in self.redis.scan_iter(self.keys.prefix + "*", count=1000):
            batch.append(key)
            if len(batch) == 1000:
                deleted += self.redis.delete(*batch)
                batch = []
        return deleted + (self.redis.delete(*batch) if batch else 0)

    def snapshot(self) -> dict[str, Any]:
        """The Code of Care state as plain data, without what only records how it was reached (dated histories,
        support counts read at drafting time, caches that expire, the section fingerprint a decided amendment was
        proposed against): two stores that agree on this hold the same state. `rebuild`'s test and the
        fault-replay harness compare it."""

        def scan(pattern: str) -> list[str]:
            return sorted(k.decode() for k in self.redis.scan_iter(pattern, count=1000))

        document = self.document()
        sections = {s.slug: s.fingerprint for s in parse_document(document["raw"]).sections} if document else {}
        amendments = {}
        for a in self.all_amendments():
            data = {k: v for k, v in asdict(a).items() if k not in ("history", "supporters", "base_fingerprint")}
            if a.status in (OPEN, DRAFTED):  # what an approval would check: is its section still as proposed?
                data["base_is_current"] = sections.get(a.section_slug) == a.base_fingerprint
            amendments[a.id] = data
        likers_prefix = self.keys.likers("")
        discussion_prefix = self.keys.discussion("")
        effect_prefix = self.keys.effect("")
        return {
            "document": document and {k: document[k] for k in ("topic_id", "post_id", "raw")},
            "section_versions": self.section_versions(),
            "amendments": amendments,
            "care_posts": sorted(int(m) for m in self.redis.smembers(self.keys.care_posts)),
            "likers": {
                k[len(likers_prefix) :]: sorted(as_text(m).lower() for m in self.redis.smembers(k))
                for k in scan(self.keys.likers("*"))
            },
            "discussion": {
                k[len(discussion_prefix) :]: sorted(self.discussion(k[len(discussion_prefix) :]))
                for k in scan(self.keys.discussion("*"))
            },
            "effects": sorted(
                k[len(effect_prefix) :] for k in scan(self.keys.effect("*")) if self.made(k[len(effect_prefix) :])
            ),
        }

    @contextmanager
    def document_lock(self, timeout: float = DOCUMENT_LOCK_SECONDS) -> Iterator[None]:
        """One amendment at a time is applied to the document, across every worker.

        The lock expires by itself, so a worker killed while holding it delays the next approval by at most
        `timeout` seconds; a waiter waits a little longer than that.
        """
        with self.redis.lock(self.keys.document_lock, timeout=timeout, blocking_timeout=timeout + 5):
            yield
