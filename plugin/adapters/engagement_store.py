"""Engagement, kept incrementally in Redis from forum events: O(1) work per event, no forum API call.

`Engagement.record(event)` files each counted post and like under its ISO week (and UTC day); `figures(week)`
reads one week's files back and hands them to `plugin.domain.engagement.summarize_week`. Every write is keyed by
the post (or the post and liker), so a duplicate event changes nothing; `post_destroyed` takes a post's
contribution back and `post_recovered` restores it. Key names come from `plugin.adapters.keys` only.

Never counted, anywhere: private messages and whispers, deleted posts, posts by the service's account
(`bot_username`) or by any of the forum's bots (user ids below 1), posts other than regular ones (small actions),
and care posts — a post asking for "direct support" is forgotten as if it had never been written, with any like it
received, and a topic it opened is never listed. A like counts when the liked post would.

A week's figures are frozen (`freeze`) when its digest is posted: from then on `figures`, `top_topics` and
`new_contributor_names` answer with the frozen copy, whatever arrives late.

Redis is bounded by a window of weeks, not by the forum's history, with `compact(window_start_week)`: the weeks
before the window are frozen and their per-post detail deleted, keeping only what the window's figures read of
them (each member's first day, who posted on each of the 90 days before the window, who answered whom in its
3 weeks before). Posts written before the window are not filed any more, as frozen weeks ignore late arrivals.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import lru_cache, partial
from itertools import chain
from typing import Any

from redis import Redis, ResponseError
from redis.typing import EncodableT, FieldT

from plugin.adapters.forum import LATEST_POSTS_PAGE, Forum, Throttled
from plugin.adapters.keys import Keys
from plugin.adapters.redis import as_byte_list, as_text
from plugin.domain.engagement import (
    DAY_SECONDS,
    INACTIVE_DAYS,
    NEVER,
    RECIPROCITY_WEEKS,
    Lookback,
    PostFact,
    TopicStart,
    WeekActivity,
    WeekFigures,
    check_week,
    contributors,
    day_number,
    first_responses,
    iso_week,
    lookback,
    parse_time,
    reply_edges,
    shift_week,
    summarize_week,
    week_bounds,
    week_start_day,
    weeks_between,
    weeks_ending,
)
from plugin.domain.events import Event, LikeEvent, Post, PostEvent, TopicEvent
from plugin.domain.safety import by_a_member, is_care_post, is_forum_bot, is_service

FORUM = "*"
"""The scope of forum-wide figures; a category's scope is its id."""
COUNTED = "counted"
"""A post's standing is `counted:<week>`, `deleted:<week>` (may be recovered) or `care` (never counted again)."""
DELETED = "deleted"
COUNT, RECOVER, DELETE, FORGET = "count", "recover", "delete", "care"
"""What `_APPLY` is asked to do with a post."""
FROZEN_TOP_TOPICS = 20
"""How many of a frozen week's most active topics are kept."""
RESPONSE_SCAN = 20
"""Replies read at a time when looking for a topic's first response (most topics need only the first)."""
TAKE_BACK_TRIES = 5

# A post's contribution, added or taken back in one atomic step.
# KEYS: 1 post standings, 2 the week's posts, 3 the day's posters, 4 the member's days (forum),
#       5 the member's days (category; = KEYS[4] without one), 6 the topic's replies, 7 categories,
#       8 the week's posts per topic, 9 the window's first day (`compact`)
# ARGV: 1 post id, 2 action (count | recover | delete | care), 3 week, 4 the post as stored, 5 day number,
#       6 forum day field, 7 category day field or "", 8 reply member or "", 9 the post's time, 10 category or "",
#       11 topic id
# A post written before the window `compact` keeps is not filed, counted or taken back: its week is frozen and its
# detail gone (only a care post's standing is still noted, so that it never counts again).
_APPLY = """
local id, action, week, packed, day = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local standing = redis.call("HGET", KEYS[1], id) or ""
local state = string.match(standing, "^%a*")
local window = tonumber(redis.call("GET", KEYS[9]) or "")
if window and tonumber(day) < window then
    if action == "care" then redis.call("HSET", KEYS[1], id, "care") end
    return 0
end
local function touch(delta)
    local fields, members = {ARGV[6], ARGV[7]}, {KEYS[4], KEYS[5]}
    for i = 1, 2 do
        if fields[i] ~= "" then
            if redis.call("HINCRBY", KEYS[3], fields[i], delta) <= 0 then
                redis.call("HDEL", KEYS[3], fields[i])
                redis.call("ZREM", members[i], day)
            else
                redis.call("ZADD", members[i], day, day)
            end
        end
    end
end
if (action == "count" and state == "") or (action == "recover" and (state == "" or state == "deleted")) then
    redis.call("HSET", KEYS[2], id, packed)
    redis.call("HINCRBY", KEYS[8], ARGV[11], 1)
    touch(1)
    if ARGV[8] ~= "" then redis.call("ZADD", KEYS[6], ARGV[9], ARGV[8]) end
    if ARGV[10] ~= "" then redis.call("SADD", KEYS[7], ARGV[10]) end
    redis.call("HSET", KEYS[1], id, "counted:" .. week)
    return 1
end
if (action == "delete" or action == "care") and state == "counted" then
    if redis.call("HGET", KEYS[2], id) ~= packed then return -1 end
    redis.call("HDEL", KEYS[2], id)
    if redis.call("HINCRBY", KEYS[8], ARGV[11], -1) <= 0 then redis.call("HDEL", KEYS[8], ARGV[11]) end
    touch(-1)
    if ARGV[8] ~= "" then redis.call("ZREM", KEYS[6], ARGV[8]) end
end
if action == "care" then
    redis.call("HSET", KEYS[1], id, "care")
elseif action == "delete" and state ~= "care" then
    redis.call("HSET", KEYS[1], id, "deleted:" .. week)
end
return 0
"""

# A like, once per (post, liker), unless the post is a care post or the like is recorded before the window (`compact`).
# KEYS: 1 post standings, 2 the week's likes, 3 likes per post, 4 the window's first day.
# ARGV: 1 post id, 2 field, 3 value, 4 "<week>|<liker>", 5 the day it is recorded
_LIKE = """
local window = tonumber(redis.call("GET", KEYS[4]) or "")
if window and tonumber(ARGV[5]) < window then return 0 end
if redis.call("HGET", KEYS[1], ARGV[1]) == "care" then return 0 end
if redis.call("HSETNX", KEYS[2], ARGV[2], ARGV[3]) == 0 then return 0 end
local earlier = redis.call("HGET", KEYS[3], ARGV[1])
redis.call("HSET", KEYS[3], ARGV[1], earlier and (earlier .. "\\n" .. ARGV[4]) or ARGV[4])
return 1
"""

_FREEZE = """
if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
redis.call("HSET", KEYS[1], unpack(ARGV))
return 1
"""

# The window's first day only moves on.  KEYS: 1 the window's first day.  ARGV: 1 the day asked for.
_WINDOW = """
local current = tonumber(redis.call("GET", KEYS[1]) or "")
local wanted = tonumber(ARGV[1])
if current == nil or wanted > current then
    redis.call("SET", KEYS[1], ARGV[1])
    return wanted
end
return current
"""

# Change hash fields that still hold what was read (a field changed meanwhile is left for the next compaction).
# KEYS: 1 a hash.  ARGV: (field, value read, new value or "" to delete it) triples.  Returns how many changed.
_SWAP = """
local changed = 0
for i = 1, #ARGV, 3 do
    if redis.call("HGET", KEYS[1], ARGV[i]) == ARGV[i + 1] then
        if ARGV[i + 2] == "" then
            redis.call("HDEL", KEYS[1], ARGV[i])
        else
            redis.call("HSET", KEYS[1], ARGV[i], ARGV[i + 2])
        end
        changed = changed + 1
    end
end
return changed
"""

# Keep each member's first day and their days from ARGV[1] on.  KEYS: members' days (sorted sets).
_TRIM_DAYS = """
local removed = 0
for _, key in ipairs(KEYS) do
    local first = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
    if first[2] then
        removed = removed + redis.call("ZREMRANGEBYSCORE", key, "(" .. first[2], "(" .. ARGV[1])
    end
end
return removed
"""
SCAN_BATCH = 500
"""Keys or fields handled at a time while compacting."""


@dataclass(frozen=True)
class CompactReport:
    """What one `Engagement.compact` did."""

    window_start: str
    """The first week whose detail is kept: the one asked for, or a later one asked for before (it only moves on)."""
    weeks_compacted: tuple[str, ...]
    """Weeks (oldest first) whose detail this run deleted; none when run again."""
    weeks_frozen: tuple[str, ...]
    """Weeks this run froze, or whose frozen copy it completed with the figures of a category it lacked."""
    keys_deleted: int
    entries_removed: int
    """Fields and members taken out of keys shared by all weeks: posts' standings, likes per post, topics' replies,
    members' days."""
    bytes_freed: int | None
    """Redis `MEMORY USAGE` of the keys it changed, before minus after (None where MEMORY is not allowed)."""


class Engagement:
    """The engagement figures of one forum, kept in Redis. `clock` gives the time (a like carries none of its own:
    it counts in the week it is recorded)."""

    def __init__(self, connection: Redis, keys: Keys, *, bot_username: str, clock: Callable[[], float] = time.time):
        self.redis = connection
        self.keys = keys
        self.bot_username = bot_username
        self.clock = clock
        self._apply = connection.register_script(_APPLY)
        self._like = connection.register_script(_LIKE)
        self._freeze = connection.register_script(_FREEZE)
        self._window = connection.register_script(_WINDOW)
        self._swap = connection.register_script(_SWAP)
        self._trim_days = connection.register_script(_TRIM_DAYS)
        self._shared: _Reader | None = None

    # ------------------------------------------------------------------------------------------ recording

    def record(self, event: Event) -> None:
        """File one event's contribution (idempotent: a duplicate changes nothing)."""
        if isinstance(event, PostEvent):
            self._record_post(event)
        elif isinstance(event, LikeEvent):
            self._record_like(event)
        elif isinstance(event, TopicEvent):
            self._record_topic(event)

    def forget_post(self, post_id: int, *, opened_topic: int | None = None) -> None:
        """A care post: take back whatever it contributed (and the likes it received), and never count it again.
        `opened_topic`: the topic's id when the post is its first post, so that the topic is never listed."""
        stored = self._take_back(post_id, FORGET, None)
        if stored is not None and stored.number == 1:
            opened_topic = stored.topic_id
        likes = self.redis.hget(self.keys.engagement_post_likes, str(post_id))
        with self.redis.pipeline() as pipe:
            for line in as_text(likes or b"").splitlines():
                week, liker = line.split("|", 1)
                pipe.hdel(self.keys.engagement_week_likes(week), f"{post_id}:{liker}")
            pipe.hdel(self.keys.engagement_post_likes, str(post_id))
            if opened_topic is not None:
                pipe.sadd(self.keys.engagement_care_topics, opened_topic)
            pipe.execute()

    def seed_contributors(self, members: Iterable[str | tuple[str, str]]) -> int:
        """Remember who posted before the service was installed, for "first post ever" and the 90-day look-back.

        Each member is a username (has posted, when unknown) or (username, created_at) of one of their posts; the
        first and last day seen are kept, merged with what was seeded before. Returns how many members.
        """
        days: dict[str, list[float]] = {}
        for member in members:
            name, when = (member, None) if isinstance(member, str) else member
            days.setdefault(name, []).extend([] if when is None else [day_number(when)])
        if not days:
            return 0
        names = sorted(days)
        merged: dict[FieldT, EncodableT] = {}
        for name, old in zip(names, self.redis.hmget(self.keys.engagement_seeded, names), strict=True):
            known = days[name] + [d for d in (_seed_days(old) if old is not None else ()) if d != NEVER]
            merged[name] = f"{_day_text(min(known))},{_day_text(max(known))}" if known else ","
        self.redis.hset(self.keys.engagement_seeded, mapping=merged)
        return len(merged)

    def _record_post(self, event: PostEvent) -> None:
        post = event.post
        if post.private:
            return
        notes = self.redis.pipeline(transaction=False)
        if post.post_number == 1:
            notes.hset(self.keys.engagement_topic_authors, str(post.topic_id), post.username)
        if post.topic_title:  # topic webhooks tell of renames; a reply's title is only a first guess
            title = notes.hset if post.post_number == 1 else notes.hsetnx
            title(self.keys.engagement_topic_titles, str(post.topic_id), post.topic_title)
        if is_forum_bot(post.user_id):
            notes.sadd(self.keys.engagement_bots, post.username)
        if is_care_post(post, self.bot_username):
            notes.execute()
            self.forget_post(post.id, opened_topic=post.topic_id if post.post_number == 1 else None)
            return
        if not by_a_member(post, self.bot_username):
            notes.execute()
            return
        fact = _fact(post)
        if event.name == "post_destroyed" or post.deleted_at:
            notes.execute()
            self._take_back(post.id, DELETE, fact)
            return
        self._call_apply(notes, RECOVER if event.name == "post_recovered" else COUNT, fact)
        notes.execute()

    def _record_like(self, event: LikeEvent) -> None:
        post = event.post
        liker = event.liker_username
        if (
            post.private
            or post.deleted_at
            or not by_a_member(post, self.bot_username)
            or is_care_post(post, self.bot_username)
            or is_forum_bot(event.liker_id)
            or is_service(liker, self.bot_username)
        ):
            return
        now = self.clock()
        week = iso_week(now)
        field = f"{post.id}:{liker}"
        self._like(
            keys=[
                self.keys.engagement_posts,
                self.keys.engagement_week_likes(week),
                self.keys.engagement_post_likes,
                self.keys.engagement_window_start,
            ],
            args=[post.id, field, json.dumps([liker, post.category_id]), f"{week}|{liker}", day_number(now)],
        )

    def _record_topic(self, event: TopicEvent) -> None:
        topic = event.topic
        if topic.private:
            return
        with self.redis.pipeline(transaction=False) as pipe:
            if event.name == "topic_destroyed":
                pipe.sadd(self.keys.engagement_deleted_topics, topic.id)
            elif event.name == "topic_recovered":
                pipe.srem(self.keys.engagement_deleted_topics, topic.id)
            if topic.title:
                pipe.hset(self.keys.engagement_topic_titles, str(topic.id), topic.title)
            pipe.execute()

    def _call_apply(self, client: Any, action: str, fact: PostFact, packed: str | None = None) -> Any:
        k = self.keys
        week, day = iso_week(fact.at), day_number(fact.at)
        category = "" if fact.category_id is None else str(fact.category_id)
        member_days = k.engagement_member_days(FORUM, fact.username)
        category_days = k.engagement_member_days(category, fact.username) if category else member_days
        return self._apply(
            keys=[
                k.engagement_posts,
                k.engagement_week_posts(week),
                k.engagement_day(day),
                member_days,
                category_days,
                k.engagement_replies(fact.topic_id),
                k.engagement_categories,
                k.engagement_week_topics(week),
                k.engagement_window_start,
            ],
            args=[
                fact.id,
                action,
                week,
                packed if packed is not None else _pack(fact),
                day,
                f"{FORUM}|{fact.username}",
                f"{category}|{fact.username}" if category else "",
                f"{fact.id}|{fact.username}" if fact.is_reply else "",
                repr(fact.at),
                category,
                fact.topic_id,
            ],
            client=client,
        )

    def _take_back(self, post_id: int, action: str, fact: PostFact | None) -> PostFact | None:
        """Delete or forget a post: take back its contribution as it was stored (not as a later payload tells it,
        which may have moved category). Returns what was stored, if it was counted."""
        for _ in range(TAKE_BACK_TRIES):
            standing = as_text(self.redis.hget(self.keys.engagement_posts, str(post_id)) or b"")
            stored = None
            packed = None
            if standing.startswith(COUNTED + ":"):
                week = standing.split(":", 1)[1]
                packed_bytes = self.redis.hget(self.keys.engagement_week_posts(week), str(post_id))
                if packed_bytes is not None:
                    packed = as_text(packed_bytes)
                    stored = _unpack(packed)
            target = stored or fact or PostFact(post_id, "", 0, None, 0.0, 0)
            if self._call_apply(self.redis, action, target, packed) != -1:
                return stored
        raise RuntimeError(f"post {post_id} kept changing while its contribution was taken back")

    # ------------------------------------------------------------------------------------------ reading

    def figures(self, week: str, category_id: int | None = None) -> WeekFigures:
        """The week's figures (forum-wide, or in one category): the frozen copy once the week is frozen."""
        frozen = self._frozen(week, _scope(category_id))
        if frozen is not None:
            return frozen
        return summarize_week(self._reader().activity(week, category_id, self.clock()))

    def history(self, last_week: str, n: int = 12) -> list[WeekFigures]:
        """Forum-wide figures of the `n` weeks ending with `last_week`, oldest first."""
        reader = self._reader()
        now = self.clock()
        answer = []
        for week in weeks_ending(last_week, n):
            frozen = self._frozen(week, FORUM)
            answer.append(frozen if frozen is not None else summarize_week(reader.activity(week, None, now)))
        return answer

    def top_topics(self, week: str, n: int = 5) -> list[tuple[int, str, int]]:
        """The week's most active public topics: (topic id, title, counted posts that week), most posts first."""
        frozen = self.redis.hget(self.keys.engagement_frozen(week), "top-topics")
        if frozen is not None:
            return [(int(t), str(title), int(c)) for t, title, c in json.loads(frozen)][:n]
        return self._reader().top_topics(week, n)

    def new_contributor_names(self, week: str) -> list[str]:
        """Usernames of the week's new contributors, sorted (the digest names only those who consented)."""
        frozen = self.redis.hget(self.keys.engagement_frozen(week), "new-names")
        if frozen is not None:
            return list(json.loads(frozen))
        return _new_names(self._reader().activity(week, None, self.clock()))

    def freeze(self, week: str) -> WeekFigures:
        """Fix the week's figures (forum-wide and per category), most active topics and new contributors' names as
        they are now; a week already frozen keeps its first copy. Returns the forum-wide figures."""
        if not self.is_frozen(week):
            self._freeze_week(self._reader(), week, self._categories(), self.clock())
        frozen = self._frozen(week, FORUM)
        assert frozen is not None
        return frozen

    def _freeze_week(self, reader: _Reader, week: str, categories: list[int], now: float) -> bool:
        """Freeze one week from `reader`; False when it was frozen already (its first copy is kept)."""
        forum = reader.activity(week, None, now)
        snapshot = {
            f"figures:{FORUM}": json.dumps(asdict(summarize_week(forum))),
            "new-names": json.dumps(_new_names(forum)),
            "top-topics": json.dumps(reader.top_topics(week, FROZEN_TOP_TOPICS)),
        }
        for category_id in categories:
            figures = summarize_week(reader.activity(week, category_id, now))
            snapshot[f"figures:{_scope(category_id)}"] = json.dumps(asdict(figures))
        args = [part for pair in snapshot.items() for part in pair]
        return bool(self._freeze(keys=[self.keys.engagement_frozen(week)], args=args))

    def _categories(self) -> list[int]:
        return sorted(int(c) for c in self.redis.smembers(self.keys.engagement_categories))

    @contextmanager
    def reading(self) -> Iterator[Engagement]:
        """Inside, every answer comes from what was read once: the digest asks for one week in several ways
        (figures, history, most active topics, new names) and they share a single read of each Redis key.
        Events recorded meanwhile are seen by the next `reading()`, not by this one."""
        self._shared = _Reader(self)
        try:
            yield self
        finally:
            self._shared = None

    def _reader(self) -> _Reader:
        return self._shared if self._shared is not None else _Reader(self)

    def is_frozen(self, week: str) -> bool:
        return bool(self.redis.exists(self.keys.engagement_frozen(week)))

    def _frozen(self, week: str, scope: str) -> WeekFigures | None:
        data = self.redis.hget(self.keys.engagement_frozen(week), f"figures:{scope}")
        return None if data is None else WeekFigures(**json.loads(data))

    # ------------------------------------------------------------------------------------------ compaction

    def compact(self, window_start_week: str) -> CompactReport:
        """Bound Redis by a window of weeks instead of the forum's whole history: freeze every week before
        `window_start_week`, then delete its per-post detail, keeping only what the window's weeks still read.

        For each week before the window: if it is not frozen, it is frozen first (figures forum-wide and per
        category, most active topics, new contributors' names), and a frozen copy that lacks a category's figures
        gets them as they are answered now — so `figures`, `history`, `top_topics` (up to FROZEN_TOP_TOPICS),
        `new_contributor_names` and `stats` answer every old week exactly as before. Then go: the week's posts,
        likes and posts per topic, the posters of its days (except the INACTIVE_DAYS before the window, which the
        window's inactive and returning contributors read), the standings and likes-per-post lines of its posts,
        its replies in the topics' replies, and the members' days (except each member's first day, which tells
        who is new, and the days kept). The replies of the RECIPROCITY_WEEKS - 1 weeks before the window are kept
        in short (who answered whom, in which topic and category) for the window's reply graph.

        Late events: from the moment it starts, a post written before the window is no longer filed, counted or
        taken back (a created, edited, deleted or recovered post), and a like recorded before it is not filed
        (a rebuild's): the weeks before the window are frozen, as frozen weeks already ignore late arrivals, and
        the window's figures keep counting what was there. A care post written before the window is still marked
        never to count again, but the day it was written stays its author's (its week is published). So it is
        safe beside the workers, and idempotent: run again, it deletes nothing more. The window only moves on: an
        earlier `window_start_week` than one compacted before changes nothing.

        ValueError for a week that is not an ISO week or starts after the current week.
        """
        asked = check_week(window_start_week)
        this_week = iso_week(self.clock())
        if week_start_day(asked) > week_start_day(this_week):
            raise ValueError(f"the window cannot start after the current week {this_week}, got {asked!r}")
        tally = _Tally(self.redis)
        key = self.keys.engagement_window_start
        first_day = tally.change([key], partial(self._window, keys=[key], args=[week_start_day(asked)]), count=False)
        window = lookback(iso_week(first_day * DAY_SECONDS))
        weeks, days = self._filed_before(window)
        frozen = self._freeze_before(weeks, tally)
        compacted = [week for week in weeks if self._compact_week(week, window, tally)]
        for start in range(0, len(days), SCAN_BATCH):
            tally.delete([self.keys.engagement_day(day) for day in days[start : start + SCAN_BATCH]])
        self._trim_member_days(window, tally)
        self._trim_hash(self.keys.engagement_posts, partial(_standing_after, window.first_day), tally)
        self._trim_hash(self.keys.engagement_post_likes, partial(_likes_after, window.first_day), tally)
        return CompactReport(
            window_start=window.window_start,
            weeks_compacted=tuple(compacted),
            weeks_frozen=tuple(frozen),
            keys_deleted=tally.keys_deleted,
            entries_removed=tally.entries_removed,
            bytes_freed=tally.bytes_freed,
        )

    def _filed_before(self, window: Lookback) -> tuple[list[str], list[int]]:
        """Every week before the window from the first one anything was filed or frozen for, and the days before
        the ones kept that have posters filed."""
        k = self.keys
        weeks: set[str] = set()
        for pattern in (k.engagement_week_pattern, k.engagement_frozen_pattern):
            for key in self.redis.scan_iter(match=pattern, count=SCAN_BATCH):
                weeks.add(as_text(key)[len(pattern) - 1 :].split(":", 1)[0])
        days: list[int] = []
        pattern = k.engagement_day_pattern
        for key in self.redis.scan_iter(match=pattern, count=SCAN_BATCH):
            day = as_text(key)[len(pattern) - 1 :]
            if day.isdigit():
                days.append(int(day))
                weeks.add(iso_week(int(day) * DAY_SECONDS))
        old = [week for week in weeks if _is_week(week) and _first_day(week) < window.first_day]
        if not old:
            return [], []
        return weeks_between(min(old, key=_first_day), window.window_start), sorted(
            day for day in days if day < window.days_from
        )

    def _freeze_before(self, weeks: list[str], tally: _Tally) -> list[str]:
        """Freeze the weeks not frozen yet and complete the frozen copies that lack a category, oldest first, with
        one reader that lets go of each week once the later ones no longer read it. Returns the weeks changed."""
        reader = _Reader(self)
        now = self.clock()
        categories = self._categories()
        changed = []
        for week in weeks:
            key = self.keys.engagement_frozen(week)
            present = {as_text(field) for field in self.redis.hkeys(key)}
            missing = [c for c in categories if f"figures:{_scope(c)}" not in present]
            if not present or missing:
                complete = partial(self._complete_frozen, reader, week, missing if present else categories, now)
                if tally.change([key], complete, count=False):
                    changed.append(week)
            reader.release_before(shift_week(week, 1))
        return changed

    def _complete_frozen(self, reader: _Reader, week: str, categories: list[int], now: float) -> int:
        """Freeze a week that is not frozen; or give a frozen copy the figures of `categories`, which it lacks, as
        they are answered now (from the week's detail). Returns how many fields were written."""
        key = self.keys.engagement_frozen(week)
        if not self.redis.exists(key):
            return int(self._freeze_week(reader, week, categories, now))
        added = 0
        for category_id in categories:
            figures = summarize_week(reader.activity(week, category_id, now))
            added += int(self.redis.hsetnx(key, f"figures:{_scope(category_id)}", json.dumps(asdict(figures))))
        return added

    def _compact_week(self, week: str, window: Lookback, tally: _Tally) -> bool:
        """Delete one frozen week's detail (keeping its replies in short if the window's reply graph spans it);
        True when there was any left."""
        k = self.keys
        posts_key, edges_key = k.engagement_week_posts(week), k.engagement_week_reply_edges(week)
        facts = [PostFact._make(f) for f in _parse_all(as_byte_list(self.redis.hvals(posts_key)))]
        topics = sorted({fact.topic_id for fact in facts})
        doomed = [posts_key, k.engagement_week_topics(week), k.engagement_week_likes(week)]
        if week not in window.reply_weeks:
            doomed.append(edges_key)
        deleted_before = tally.keys_deleted
        for start in range(0, len(topics), SCAN_BATCH):
            replies = [k.engagement_replies(topic) for topic in topics[start : start + SCAN_BATCH]]
            tally.change(replies, partial(self._trim_replies, replies, window.first_day * DAY_SECONDS))
        kept = {
            json.dumps([f.username, f.topic_id, f.category_id, f.reply_to], separators=(",", ":"))
            for f in facts
            if f.is_reply
        }
        if kept and week in window.reply_weeks:
            tally.change([edges_key], partial(self.redis.sadd, edges_key, *sorted(kept)), count=False)
        tally.delete(doomed)
        return tally.keys_deleted > deleted_before

    def _trim_replies(self, keys: list[str], before: float) -> int:
        """Take the replies written before `before` out of topics' replies (no topic opened since needs them)."""
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.zremrangebyscore(key, "-inf", f"({before!r}")
        return sum(pipe.execute())

    def _trim_member_days(self, window: Lookback, tally: _Tally) -> None:
        batch: list[str] = []
        keys = self.redis.scan_iter(match=self.keys.engagement_member_days_pattern, count=SCAN_BATCH)
        for key in chain(keys, [None]):
            if key is not None:
                batch.append(as_text(key))
            if batch and (key is None or len(batch) == SCAN_BATCH):
                tally.change(batch, partial(self._trim_days, keys=batch, args=[window.days_from]))
                batch = []

    def _trim_hash(self, key: str, after: Callable[[str], str | None], tally: _Tally) -> None:
        """Rewrite each field of a hash as `after` tells (None: as it is, "": delete it), field by field against
        what was read, so that a write meanwhile wins."""

        def trim() -> int:
            changed = 0
            swaps: list[EncodableT] = []
            for field, value in chain(self.redis.hscan_iter(key, count=SCAN_BATCH), [(None, None)]):
                if field is not None and value is not None:
                    new = after(as_text(value))
                    if new is not None:
                        swaps += [field, value, new]
                if swaps and (field is None or len(swaps) >= 3 * SCAN_BATCH):
                    changed += int(self._swap(keys=[key], args=swaps))
                    swaps = []
            return changed

        tally.change([key], trim)


class _Reader:
    """Reads what the figures of some weeks need, each Redis key at most once (history shares one reader)."""

    def __init__(self, engagement: Engagement):
        self.redis = engagement.redis
        self.keys = engagement.keys
        self.bot_username = engagement.bot_username
        self._posts: dict[str, list[PostFact]] = {}
        self._kept_replies: dict[str, list[PostFact]] = {}
        self._days: dict[int, list[str]] = {}
        self._deleted_topics: set[int] | None = None
        self._window_start: int | None = None
        self._window_read = False
        self._seeds: dict[str, tuple[float, float]] | None = None
        self._authors: dict[int, str | None] = {}
        self._activities: dict[tuple[str, int | None], WeekActivity] = {}

    def posts(self, week: str) -> list[PostFact]:
        """The week's counted posts, without those of deleted topics."""
        if week not in self._posts:
            deleted = self.deleted_topics()
            with _collector_paused():
                facts = map(
                    PostFact._make, _parse_all(as_byte_list(self.redis.hvals(self.keys.engagement_week_posts(week))))
                )
                self._posts[week] = [f for f in facts if f.topic_id not in deleted] if deleted else list(facts)
        return self._posts[week]

    def deleted_topics(self) -> set[int]:
        if self._deleted_topics is None:
            self._deleted_topics = {int(t) for t in self.redis.smembers(self.keys.engagement_deleted_topics)}
        return self._deleted_topics

    def window_start(self) -> int | None:
        """The first day of the weeks whose detail is kept (None: nothing was ever compacted)."""
        if not self._window_read:
            stored = self.redis.get(self.keys.engagement_window_start)
            self._window_start, self._window_read = (None if stored is None else int(stored)), True
        return self._window_start

    def kept_replies(self, week: str) -> list[PostFact]:
        """What is kept of a compacted week's replies for the reply graph, as posts with no id, time or number
        beyond "a reply" (none for a week not compacted), without those of deleted topics."""
        if week not in self._kept_replies:
            window = self.window_start()
            replies: list[PostFact] = []
            if window is not None and week_start_day(week) < window:
                deleted = self.deleted_topics()
                kept = _parse_all(as_byte_list(list(self.redis.smembers(self.keys.engagement_week_reply_edges(week)))))
                replies = [
                    PostFact(0, username, topic_id, category_id, 0.0, 2, reply_to or None)
                    for username, topic_id, category_id, reply_to in kept
                    if topic_id not in deleted
                ]
            self._kept_replies[week] = replies
        return self._kept_replies[week]

    def release_before(self, week: str) -> None:
        """Forget what was read that the figures of `week` and later ones no longer read (a compaction walks a long
        history with one reader)."""
        first_day = week_start_day(week)
        oldest_read = week_start_day(shift_week(week, 1 - RECIPROCITY_WEEKS))
        for cache in (self._posts, self._kept_replies):
            for old in [w for w in cache if week_start_day(w) < oldest_read]:
                del cache[old]
        for old_activity in [key for key in self._activities if week_start_day(key[0]) < first_day]:
            del self._activities[old_activity]
        for day in [d for d in self._days if d < first_day - INACTIVE_DAYS]:
            del self._days[day]

    def activity(self, week: str, category_id: int | None, now: float) -> WeekActivity:
        """What `summarize_week` needs; read once per (week, category) by this reader, as of `now`."""
        if (week, category_id) not in self._activities:
            with _collector_paused():
                self._activities[week, category_id] = self._read_activity(week, category_id)
        return replace(self._activities[week, category_id], now=now)

    def _read_activity(self, week: str, category_id: int | None) -> WeekActivity:
        def in_scope(posts: list[PostFact]) -> list[PostFact]:
            return posts if category_id is None else [p for p in posts if p.category_id == category_id]

        posts = in_scope(self.posts(week))
        likes = _parse_all(as_byte_list(self.redis.hvals(self.keys.engagement_week_likes(week))))
        likers = tuple(liker for liker, category in likes if category_id is None or category == category_id)
        recent = [
            p for w in weeks_ending(week, RECIPROCITY_WEEKS) for p in in_scope(self.posts(w) + self.kept_replies(w))
        ]
        posters = {p.username for p in posts}
        earliest, window = self._contributor_history(_scope(category_id), posters, week_start_day(week))
        return WeekActivity(
            week=week,
            posts=tuple(posts),
            likers=likers,
            topics=self._topic_starts(week, posts),
            reply_edges=self._reply_edges(recent),
            earliest_day=earliest,
            window=window,
            now=0.0,
        )

    def top_topics(self, week: str, n: int) -> list[tuple[int, str, int]]:
        hidden = {
            int(t) for t in self.redis.sunion([self.keys.engagement_care_topics, self.keys.engagement_deleted_topics])
        }
        counts = {int(t): int(c) for t, c in self.redis.hgetall(self.keys.engagement_week_topics(week)).items()}
        ranked = sorted(((t, c) for t, c in counts.items() if t not in hidden), key=lambda tc: (-tc[1], tc[0]))[:n]
        titles = self.redis.hmget(self.keys.engagement_topic_titles, [str(t) for t, _ in ranked]) if ranked else []
        return [
            (topic_id, as_text(title) if title else f"topic {topic_id}", count)
            for (topic_id, count), title in zip(ranked, titles, strict=True)
        ]

    def _topic_starts(self, week: str, posts: Iterable[PostFact]) -> tuple[TopicStart, ...]:
        """The topics opened among `posts` (written in `week`), each with its first response. Replies written by
        the end of the following week are among the posts already read; only a topic unanswered until then needs
        its later replies looked up in Redis."""
        opened = [p for p in posts if p.number == 1]
        following = shift_week(week, 1)
        answered = first_responses(opened, chain(self.posts(week), self.posts(following)))
        later = week_bounds(following)[1].timestamp()
        waiting = [p for p in opened if p.topic_id not in answered]
        offset = 0
        while waiting:  # later replies, a page at a time (one page is nearly always enough)
            pipe = self.redis.pipeline(transaction=False)
            for start in waiting:
                pipe.zrangebyscore(
                    self.keys.engagement_replies(start.topic_id),
                    later,
                    "+inf",
                    start=offset,
                    num=RESPONSE_SCAN,
                    withscores=True,
                )
            read_on = []
            for start, rows in zip(waiting, pipe.execute(), strict=True):
                replies = [
                    PostFact(0, member.decode().split("|", 1)[1], start.topic_id, None, at, 2) for member, at in rows
                ]
                answered.update(first_responses([start], replies))
                if start.topic_id not in answered and len(rows) == RESPONSE_SCAN:
                    read_on.append(start)  # only the topic's author has replied so far
            waiting, offset = read_on, offset + RESPONSE_SCAN
        return tuple(TopicStart(p.topic_id, p.at, answered.get(p.topic_id)) for p in opened)

    def _reply_edges(self, posts: list[PostFact]) -> frozenset[tuple[str, str]]:
        """Who replied to whom, without bots and the service (a reply to nobody in particular goes to the topic's
        author)."""
        replies = [p for p in posts if p.number > 1]
        wanted = {p.topic_id for p in replies if not p.reply_to} - self._authors.keys()
        if wanted:
            ordered = sorted(wanted)
            names = self.redis.hmget(self.keys.engagement_topic_authors, ordered)
            self._authors.update({t: as_text(n) if n else None for t, n in zip(ordered, names, strict=True)})
        edges = reply_edges(replies, self._authors)
        bots = {as_text(b).lower() for b in self.redis.smembers(self.keys.engagement_bots)}
        bots.add(self.bot_username.lower())
        return frozenset(e for e in edges if e[0].lower() not in bots and e[1].lower() not in bots)

    def _contributor_history(
        self, scope: str, posters: set[str], start_day: int
    ) -> tuple[dict[str, float], frozenset[str]]:
        """Each poster's first day ever (in the scope) and who posted in the 90 days before the week."""
        window_days = range(start_day - INACTIVE_DAYS, start_day)
        missing = [d for d in window_days if d not in self._days]
        if missing:
            pipe = self.redis.pipeline(transaction=False)
            for day in missing:
                pipe.hkeys(self.keys.engagement_day(day))
            for day, fields in zip(missing, pipe.execute(), strict=True):
                self._days[day] = [f.decode() for f in fields]
        prefix = scope + "|"
        window = {f[len(prefix) :] for d in window_days for f in self._days[d] if f.startswith(prefix)}
        names = sorted(posters)
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.zrange(self.keys.engagement_member_days(scope, name), 0, 0, withscores=True)
        earliest = {name: first[0][1] for name, first in zip(names, pipe.execute(), strict=True) if first}
        if scope == FORUM:  # what install saw before the service was listening
            for name, (first, last) in self.seeds().items():
                if name in posters:
                    earliest[name] = min(earliest.get(name, first), first)
                if window_days.start <= last < window_days.stop or window_days.start <= first < window_days.stop:
                    window.add(name)
        return earliest, frozenset(window)

    def seeds(self) -> dict[str, tuple[float, float]]:
        if self._seeds is None:
            stored = self.redis.hgetall(self.keys.engagement_seeded)
            self._seeds = {as_text(name): _seed_days(days) for name, days in stored.items()}
        return self._seeds


class _Tally:
    """What a compaction deleted, and the memory it freed (Redis `MEMORY USAGE` of the keys it changed, before and
    after; given up on where the MEMORY command is not allowed)."""

    def __init__(self, connection: Redis):
        self.redis = connection
        self.keys_deleted = 0
        self.entries_removed = 0
        self.bytes_freed: int | None = 0

    def delete(self, keys: list[str]) -> None:
        if keys:
            before = self._usage(keys)
            self.keys_deleted += int(self.redis.delete(*keys))
            self._freed(before, 0)

    def change(self, keys: list[str], step: Callable[[], Any], *, count: bool = True) -> int:
        """Run `step`, which changes `keys` and returns how many entries it removed (counted unless `count` is
        False: then it wrote them). Returns what `step` returned."""
        before = self._usage(keys)
        done = int(step())
        if count:
            self.entries_removed += done
        self._freed(before, self._usage(keys))
        return done

    def _usage(self, keys: list[str]) -> int | None:
        if self.bytes_freed is None:
            return None
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
        try:
            return sum(int(used or 0) for used in pipe.execute())
        except ResponseError:
            self.bytes_freed = None
            return None

    def _freed(self, before: int | None, after: int | None) -> None:
        if self.bytes_freed is not None and before is not None and after is not None:
            self.bytes_freed += before - after


def seed_from_forum(
    forum: Forum, engagement: Engagement, max_pages: int, on_throttled: Callable[[Throttled], None] | None = None
) -> int:
    """Seed who has posted before from the forum's latest public posts (`GET /posts.json`, 50 a page, newest first,
    at most `max_pages` calls). A Throttled forum is handed to `on_throttled` (which waits, then the page is asked
    again) or, without one, raised. Returns how many members were seeded."""
    seen: list[tuple[str, str]] = []
    before: int | None = None
    pages = 0
    while pages < max_pages:
        try:
            page = forum.latest_posts(before=before)
        except Throttled as exc:
            if on_throttled is None:
                raise
            on_throttled(exc)
            continue
        pages += 1
        for post in page:
            if by_a_member(post, engagement.bot_username) and not is_care_post(post, engagement.bot_username):
                seen.append((post.username, post.created_at))
        if len(page) < LATEST_POSTS_PAGE:
            break
        before = min(p.id for p in page)
    return engagement.seed_contributors(seen)


# ------------------------------------------------------------------------------------------------ helpers


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Reading a busy week builds tens of thousands of small tuples, and Python's cyclic garbage collector would
    walk them again and again while they are built (it doubled the time). They hold no reference cycles, so the
    collector waits until they are built."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _scope(category_id: int | None) -> str:
    return FORUM if category_id is None else str(category_id)


def _new_names(activity: WeekActivity) -> list[str]:
    posters = {p.username for p in activity.posts}
    return sorted(contributors(posters, activity.earliest_day, activity.window, week_start_day(activity.week)).new)


def _fact(post: Post) -> PostFact:
    return PostFact(
        id=post.id,
        username=post.username,
        topic_id=post.topic_id,
        category_id=post.category_id,
        at=round(parse_time(post.created_at), 3),
        number=post.post_number,
        reply_to=post.reply_to_username or None,
    )


def _pack(fact: PostFact) -> str:
    """A post as stored: the JSON array of its PostFact fields."""
    return json.dumps(list(fact), separators=(",", ":"))


def _parse_all(packed: Iterable[bytes]) -> list[list[Any]]:
    """Many stored JSON arrays in one parse (a week holds tens of thousands)."""
    return json.loads(b"[" + b",".join(packed) + b"]")


def _unpack(packed: str) -> PostFact:
    return PostFact._make(json.loads(packed))


@lru_cache(maxsize=4096)
def _first_day(week: str) -> int:
    return week_start_day(week)


def _is_week(text: str) -> bool:
    try:
        check_week(text)
    except ValueError:
        return False
    return True


def _standing_after(first_day: int, standing: str) -> str | None:
    """A post's standing once the weeks before `first_day` are compacted: "" (gone) for a post counted or deleted
    in one of them; a care post's stays."""
    state, _, week = standing.partition(":")
    return "" if state in (COUNTED, DELETED) and _is_week(week) and _first_day(week) < first_day else None


def _likes_after(first_day: int, lines: str) -> str | None:
    """A post's likes (`<week>|<liker>` lines) once the weeks before `first_day` are compacted: those recorded in
    later weeks (a later care post still takes them back); None when nothing changes."""
    every = lines.split("\n")
    kept = [line for line in every if not (_is_week(week := line.split("|", 1)[0]) and _first_day(week) < first_day)]
    return None if len(kept) == len(every) else "\n".join(kept)


def _day_text(day: float) -> str:
    return str(int(day))


def _seed_days(value: bytes | str) -> tuple[float, float]:
    first, last = as_text(value).split(",")
    return (float(first) if first else NEVER), (float(last) if last else NEVER)
