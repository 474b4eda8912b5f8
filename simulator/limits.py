"""Discourse's per-user rate limits, and the post validators that go with them, for requests through the HTTP API.

Every rule here was read in Discourse's own source (discourse/discourse, the newest stored versions; where two
versions disagree the newer behaviour is kept and the comment says so):

- lib/rate_limiter.rb — a ring buffer of the last `max` times (whole seconds) per user and type; an action is
  allowed while fewer than `max` are stored or the oldest is at least `secs` old (PERFORM_LUA: `>= secs`); refused,
  it waits `secs - age_of_oldest`. The key expires `2 * secs` after the last push. `rate_unlimited?` is true for
  staff (no `apply_limit_to_staff` here), so no limiter ever counts a staff member. `max <= 0` always refuses.
  RateLimiter is disabled in Discourse's own test environment ("We don't observe rate limits in test mode"),
  which is why the in-process methods of `Forum` (used by tests and benchmarks to load state) stay unlimited:
  only the HTTP routes call in here.
- lib/rate_limiter/limit_exceeded.rb — `time_left`: <= 3 s "a few seconds", < 1 min seconds, < 1 h whole minutes,
  else whole hours; `description`: `rate_limiter.by_type.<type with - as _>` or `rate_limiter.too_many_requests`.
- app/controllers/application_controller.rb (`rescue_from RateLimiter::LimitExceeded`) — 429,
  `{"errors": [description], "error_type": "rate_limit", "extras": {"wait_seconds", "time_left"}}`,
  `Retry-After: <wait>`, and `Discourse-Rate-Limit-Error-Code` only when the limiter has an `error_code` (none of
  the per-user ones here; the admin API bucket in simulator/auth.py has `admin_api_key_rate_limit`).
- lib/rate_limiter/on_create_record.rb — `default_rate_limiter`: type `create_<model>`, max 1, secs
  `rate_limit_new_user_create_<model>` for `user.new_user?` when that setting exists, else `rate_limit_create_<model>`.
  Limiters run `after_create`, in declaration order, inside the creating transaction: the first refusal raises, the
  whole creation is rolled back and so are the limiters already performed (`after_rollback`).
- app/models/topic.rb — `rate_limit :default_rate_limiter` (create_topic), `:limit_topics_per_day` (regular
  topics only: `first-day-topics-per-day` / `max_topics_in_first_day` for `new_user_posting_on_first_day?`, else
  `topics-per-day` / `max_topics_per_day`), `:limit_private_messages_per_day` (`pms-per-day` /
  `max_personal_messages_per_day`); all per day are `1.day` windows. A message is a Topic: it counts against
  create_topic.
- app/models/post.rb — `rate_limit` (create_post, for every post: a topic's first post and messages too) and
  `:limit_posts_per_day` (`first-day-replies-per-day` / `max_replies_in_first_day`, post_number > 1, for
  `new_user_posting_on_first_day?`); `unique_post_key` = `unique[-pm]-post-<user_id>:<sha1(raw)>`, stored for
  `unique_posts_mins` after every creation (staff too), `matches_recent_post?` when it holds another post's id.
- app/models/user.rb — `new_user?`: (created in the last 24 h or trust level 0) and trust level < 2 and not staff;
  `new_user_posting_on_first_day?`: not staff, trust level < 2, and (trust level 0, or no first post yet, or the
  first post less than 24 h ago). `first_post_created_at` is the first post's `created_at`.
- lib/post_creator.rb (`valid?`) — slow mode (`guardian.affected_by_slow_mode?`: slow_mode_seconds > 0, human, not
  staff): a reply sooner than TopicUser.last_posted_at + slow_mode_seconds → `slow_mode_enabled`; then
  PostValidator. For a new topic the post has no topic yet when `valid?` validates it (unique key without `-pm`),
  and the model validation on save sees the topic (with `-pm` for a message): a message's first post is checked
  against both keys. Raw is `normalize_whitespaces(raw).rstrip` (only the rstrip is imitated).
- lib/validators/post_validator.rb — `unique_post_validator` (not staff, `unique_posts_mins` > 0) adds
  `just_posted_that` on `raw`; `force_edit_last_validator` (new posts only; not staff, not messages, not in a topic
  whose first post is the poster's, `max_consecutive_replies` > 0): the last N non-deleted, non-hidden posts of the
  topic all the poster's, and the poster may edit the last one → `max_consecutive_replies`.
- app/models/post_action.rb / lib/post_action_creator.rb / lib/post_action_destroyer.rb — a like: first
  `PostAction.limit_action!` (`post_action-<post_id>_2`, 4 a minute, also on unlike, counted even when the like then
  fails), then `create_like` per day: `max_likes_per_day`, times `tl<N>_additional_likes_per_day_multiplier`
  (at least 1.0) from trust level 2. Undoing a like gives nothing back (it is trashed, not destroyed).
- app/models/edit_rate_limiter.rb / lib/post_revisor.rb — `edit-post` per day (key per calendar date):
  `max_edits_per_day`, times `tl<N>_additional_edits_per_day_multiplier` from trust level 2, performed for each
  revision that makes a new version (`perform_edit`), the editor's; a refused edit is rolled back. The simulator
  makes a new version for every change (it has no editing grace period), so every change counts.
- app/controllers/topics_controller.rb (`set_slow_mode`, `PUT /t/:topic_id/slow_mode`) — staff set
  `slow_mode_seconds` from `seconds`; `head :ok`.
- config/site_settings.yml — the names and defaults in SITE_SETTINGS; config/locales/server.en.yml — the wordings.

Newer than the brief: `rate_limit_new_user_create_topic` was deleted from Discourse (PR #23326, "DEV: Remove unused
site settings", 2023-08, and the migration DeleteUnusedSiteSettings of PR #23353); since then
`SiteSetting.has_setting?` is false for it and a new user's topics wait `rate_limit_create_topic` like anyone's.
The simulator follows the current code: there is no such setting (PUT answers 422, as Discourse does).

Test-only (no Discourse counterpart): `Forum.scripted_user_ids`. A member in that set is treated like staff by every
rule here — a test or the demo scripting members over HTTP at machine speed, whose own pace is not what is being
tested. Never the service's own account: what the service meets must stay what Discourse would answer it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .state import Forum, ForumError, Post, Topic, User

DAY = 24 * 3600

SITE_SETTINGS: dict[str, Any] = {
    # config/site_settings.yml, section rate_limits (and posting: max_consecutive_replies)
    "unique_posts_mins": 5,
    "rate_limit_create_topic": 15,
    "rate_limit_create_post": 5,
    "rate_limit_new_user_create_post": 30,
    "max_topics_per_day": 20,
    "max_personal_messages_per_day": 20,
    "max_likes_per_day": 50,
    "max_edits_per_day": 30,
    "max_topics_in_first_day": 3,
    "max_replies_in_first_day": 10,
    "tl2_additional_likes_per_day_multiplier": 1.5,
    "tl3_additional_likes_per_day_multiplier": 2.0,
    "tl4_additional_likes_per_day_multiplier": 3.0,
    "tl2_additional_edits_per_day_multiplier": 1.5,
    "tl3_additional_edits_per_day_multiplier": 2.0,
    "tl4_additional_edits_per_day_multiplier": 3.0,
    "max_consecutive_replies": 3,
}
"""Discourse's site settings for the rules here, with its defaults; `Forum.settings` starts with them."""

# config/locales/server.en.yml, rate_limiter.* (the apostrophes are Discourse's U+2019)
TOO_MANY_REQUESTS = "You’ve performed this action too many times. Please wait {time_left} before trying again."
BY_TYPE = {
    "first_day_replies_per_day": "We appreciate your enthusiasm, keep it up! That said, for the safety of our "
                                 "community, you’ve reached the maximum number of replies a new user can create on "
                                 "their first day. Please wait {time_left} and you’ll be able to create more replies.",
    "first_day_topics_per_day": "We appreciate your enthusiasm! That said, for the safety of our community, you’ve "
                                "reached the maximum number of topics a new user can create on their first day. "
                                "Please wait {time_left} and you’ll be able to create more new topics.",
    "create_topic": "You’re creating topics a bit too quickly. Please wait {time_left} before trying again.",
    "create_post": "You’re replying a bit too quickly. Please wait {time_left} before trying again.",
    "topics_per_day": "You’ve reached the maximum new topics allowed per day. You can create more new topics in "
                      "{time_left}.",
    "pms_per_day": "You’ve reached the maximum messages allowed per day. You can create more new messages in "
                   "{time_left}.",
    "create_like": "Wow! You’ve been sharing a lot of love! You’ve reached the maximum number of likes within a 24 "
                   "hour period, but as you gain trust levels, you’ll earn more daily likes. You’ll be able to like "
                   "posts again in {time_left}.",
    "edit_post": "You’ve reached the maximum number of daily edits. You can submit more edits in {time_left}.",
}
# config/locales/server.en.yml, top level (errors on `raw` are prefixed with its name, activerecord.attributes
# .post.raw: "Body"; errors on `base` are not)
JUST_POSTED_THAT = "Body is too similar to what you recently posted"
SLOW_MODE_ENABLED = "This topic is in slow mode."


def max_consecutive_replies_message(count: int) -> str:
    if count == 1:
        return ("No consecutive replies are allowed. Please edit your previous reply, or wait for someone to reply "
                "to you.")
    return (f"No more than {count} consecutive replies are allowed. Please edit your previous reply, or wait for "
            "someone to reply to you.")


def time_left(seconds: int) -> str:
    """RateLimiter.time_left (lib/rate_limiter/limit_exceeded.rb)."""
    if seconds <= 3:
        return "a few seconds"
    if seconds < 60:
        return f"{seconds} seconds"
    if seconds < 3600:
        minutes = seconds // 60
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    hours = seconds // 3600
    return "1 hour" if hours == 1 else f"{hours} hours"


def description(seconds: int, limiter_type: str | None) -> str:
    """RateLimiter::LimitExceeded#description."""
    if limiter_type:
        template = BY_TYPE.get(limiter_type.replace("-", "_"))
        if template:
            return template.format(time_left=time_left(seconds))
    return TOO_MANY_REQUESTS.format(time_left=time_left(seconds))


class RateLimited(ForumError):
    """RateLimiter::LimitExceeded as ApplicationController renders it: a 429 `rate_limit` with `wait_seconds` and
    `time_left`, answered with `Retry-After`; `error_code` (the `Discourse-Rate-Limit-Error-Code` header) only for
    limiters that have one."""

    def __init__(self, wait_seconds: int, limiter_type: str | None = None, *, error_code: str | None = None):
        wait = int(wait_seconds)
        super().__init__(429, "rate_limit", description(wait, limiter_type),
                         extras={"wait_seconds": wait, "time_left": time_left(wait)})
        self.wait_seconds = wait
        self.limiter_type = limiter_type
        self.error_code = error_code


# --------------------------------------------------------------------------------------------- the limiter


@dataclass(frozen=True)
class Limiter:
    """One `RateLimiter.new(user, type, max, secs)`; `key` when the bucket is not just the type (edits per day)."""

    type: str
    max: int
    secs: int
    key: str | None = None

    @property
    def bucket(self) -> str:
        return self.key or self.type


@dataclass
class Limits:
    """What Discourse keeps in Redis for these rules, per forum: limiter buckets, unique-post keys, and
    TopicUser.last_posted_at of replies made through the API (for slow mode)."""

    buckets: dict[tuple[int, str], list[int]] = field(default_factory=dict)        # newest first
    expires: dict[tuple[int, str], int] = field(default_factory=dict)
    unique_posts: dict[str, tuple[int, float]] = field(default_factory=dict)     # key -> (post id, expires at)
    last_posted: dict[tuple[int, int], datetime] = field(default_factory=dict)   # (topic id, user id) -> when

    def times(self, user_id: int, limiter: Limiter, now: int) -> list[int]:
        key = (user_id, limiter.bucket)
        if key in self.expires and now >= self.expires[key]:          # EXPIRE secs * 2 after the last push
            self.buckets.pop(key, None)
            self.expires.pop(key, None)
        return self.buckets.get(key, [])

    def wait(self, user_id: int, limiter: Limiter, now: int) -> int | None:
        """None when `performed!` would pass now, else RateLimiter#seconds_to_wait."""
        times = self.times(user_id, limiter, now)
        if limiter.max <= 0:
            # Discourse refuses and computes the wait from an empty list (a meaningless negative); say a window.
            return max(1, limiter.secs)
        if len(times) < limiter.max or now - times[-1] >= limiter.secs:
            return None
        return limiter.secs - (now - times[-1])

    def perform(self, user_id: int, limiter: Limiter, now: int) -> None:
        key = (user_id, limiter.bucket)
        times = [now, *self.times(user_id, limiter, now)][:max(limiter.max, 0)]
        self.buckets[key] = times
        self.expires[key] = now + 2 * limiter.secs

    def check(self, user_id: int, limiters: list[Limiter], now: int) -> None:
        """Raise the 429 of the first limiter (in Discourse's order) that refuses; nothing is counted."""
        for limiter in limiters:
            wait = self.wait(user_id, limiter, now)
            if wait is not None:
                raise RateLimited(wait, limiter.type)


def of(forum: Forum) -> Limits:
    """The forum's Limits (made on first use; not part of a snapshot, as Redis is not part of Discourse's DB)."""
    limits = getattr(forum, "_rate_limits", None)
    if limits is None:
        limits = Limits()
        forum._rate_limits = limits  # type: ignore[attr-defined]
    return limits


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())                                   # Time.now.to_i


# --------------------------------------------------------------------------------------------- who


def exempt(forum: Forum, user: User) -> bool:
    """RateLimiter#rate_unlimited? (staff) — and, test-only, a scripted member (`Forum.scripted_user_ids`)."""
    return user.staff or user.id in forum.scripted_user_ids


def new_user(forum: Forum, user: User, now: datetime) -> bool:
    """User#new_user? (app/models/user.rb)."""
    recent = user.created_at >= now - timedelta(hours=24)
    return (recent or user.trust_level == 0) and user.trust_level < 2 and not user.staff


def first_post_created_at(forum: Forum, user: User) -> datetime | None:
    """UserStat#first_post_created_at: the `created_at` of the member's first post (any archetype)."""
    times = [p.created_at for p in forum.posts.values() if p.user_id == user.id]
    return min(times) if times else None


def new_user_posting_on_first_day(forum: Forum, user: User, now: datetime) -> bool:
    """User#new_user_posting_on_first_day? (app/models/user.rb)."""
    if user.staff or user.trust_level >= 2:
        return False
    first = first_post_created_at(forum, user)
    return user.trust_level == 0 or first is None or first >= now - timedelta(hours=24)


def _setting(forum: Forum, name: str) -> Any:
    return forum.settings.get(name, SITE_SETTINGS.get(name))


def _scaled(forum: Forum, user: User, limit: int, kind: str) -> int:
    """The trust level multipliers of likes and edits: from trust level 2, at least 1.0, truncated."""
    if user.trust_level >= 2:
        multiplier = float(_setting(forum, f"tl{min(user.trust_level, 4)}_additional_{kind}_per_day_multiplier"))
        return int(limit * max(multiplier, 1.0))
    return limit


# --------------------------------------------------------------------------------------------- posts


def _unique_key(user: User, raw: str, *, pm: bool) -> str:
    digest = hashlib.sha1(raw.rstrip().encode()).hexdigest()
    return f"unique{'-pm' if pm else ''}-post-{user.id}:{digest}"


def _recent_post_id(forum: Forum, key: str) -> int | None:
    stored = of(forum).unique_posts.get(key)
    if stored is None or forum.now().timestamp() >= stored[1]:
        return None
    return stored[0]


def _last_posted_at(forum: Forum, topic: Topic, user: User) -> datetime | None:
    """TopicUser.last_posted_at: when the member last posted in the topic (API posts recorded as they happen; posts
    made in-process count by their `created_at`)."""
    times = [forum.posts[i].created_at for i in topic.post_ids if forum.posts[i].user_id == user.id]
    api = of(forum).last_posted.get((topic.id, user.id))
    if api is not None:
        times.append(api)
    return max(times) if times else None


def _consecutive_replies_refused(forum: Forum, user: User, topic: Topic) -> int | None:
    """PostValidator#force_edit_last_validator for a new reply: the setting's value when it refuses, else None."""
    limit = int(_setting(forum, "max_consecutive_replies") or 0)
    if limit <= 0 or topic.is_pm:
        return None
    live = sorted((p for p in (forum.posts[i] for i in topic.post_ids) if p.deleted_at is None),
                  key=lambda p: p.post_number)
    if not live or live[0].user_id == user.id:                      # the member's own topic
        return None
    last = [p for p in live if not p.hidden][-limit:]
    if sum(1 for p in last if p.user_id == user.id) < limit:
        return None
    return limit if forum.can_edit(user, live[-1]) else None


@dataclass
class Admission:
    """What a write may do: checked before the forum acts; `done` counts it once the forum has acted."""

    forum: Forum
    user: User
    limiters: list[Limiter] = field(default_factory=list)
    unique_posts: bool = False
    reply_topic_id: int | None = None
    version_before: int | None = None

    def done(self, post: Post | None = None) -> None:
        forum, limits = self.forum, of(self.forum)
        moment = forum.now()
        now = _epoch(moment)
        if self.version_before is not None and post is not None and post.version == self.version_before:
            return                                                     # no new version: nothing was edited
        for limiter in self.limiters:
            limits.perform(self.user.id, limiter, now)
        if post is not None and self.unique_posts:
            minutes = int(_setting(forum, "unique_posts_mins") or 0)
            if minutes > 0:                                            # Post#store_unique_post_key (staff too)
                topic = forum.topics.get(post.topic_id)
                key = _unique_key(self.user, post.raw, pm=bool(topic and topic.is_pm))
                limits.unique_posts[key] = (post.id, moment.timestamp() + minutes * 60)
        if post is not None and self.reply_topic_id is not None:
            limits.last_posted[(post.topic_id, self.user.id)] = moment


def admit_post(forum: Forum, user: User, *, raw: str, topic_id: int | None, private_message: bool) -> Admission:
    """`POST /posts.json`: slow mode and the post validators (422), then the limiters (429), in Discourse's order.

    A topic that does not exist or cannot be replied to is left to `Forum.create_post` to refuse.
    """
    moment = forum.now()
    admission = Admission(forum, user, unique_posts=True)
    topic = forum.topics.get(topic_id) if topic_id is not None else None
    if topic_id is not None:
        if topic is None:
            return Admission(forum, user)
        admission.reply_topic_id = topic.id
    if exempt(forum, user):
        return admission
    if topic is not None and topic.slow_mode_seconds > 0 and user.id > 0:     # before topic_not_found, as in valid?
        last = _last_posted_at(forum, topic, user)
        if last is not None and moment < last + timedelta(seconds=topic.slow_mode_seconds):
            raise ForumError.invalid(SLOW_MODE_ENABLED)
    if topic is not None and (topic.deleted_at is not None or topic.closed or topic.archived
                              or not forum.can_see_topic(user, topic) or not forum.can_reply_in(user, topic)):
        # PostCreator#valid? refuses these (topic_not_found) before the validators and the limiters run.
        return Admission(forum, user)
    errors: list[str] = []
    if int(_setting(forum, "unique_posts_mins") or 0) > 0 and raw.strip():
        if topic is None:                      # a new topic or message: valid? sees no topic, save sees the topic
            keys = [_unique_key(user, raw, pm=False)] + ([_unique_key(user, raw, pm=True)] if private_message else [])
        else:
            keys = [_unique_key(user, raw, pm=topic.is_pm)]
        if any(_recent_post_id(forum, key) is not None for key in keys):
            errors.append(JUST_POSTED_THAT)
    if topic is not None:
        refused = _consecutive_replies_refused(forum, user, topic)
        if refused is not None:
            errors.append(max_consecutive_replies_message(refused))
    if errors:
        raise ForumError.invalid(*errors)
    limiters: list[Limiter] = []
    if topic is None:                                                  # Topic's after_create limiters
        limiters.append(Limiter("create_topic", 1, int(_setting(forum, "rate_limit_create_topic"))))
        if private_message:
            limiters.append(Limiter("pms-per-day", int(_setting(forum, "max_personal_messages_per_day")), DAY))
        elif new_user_posting_on_first_day(forum, user, moment):
            limiters.append(Limiter("first-day-topics-per-day", int(_setting(forum, "max_topics_in_first_day")), DAY))
        else:
            limiters.append(Limiter("topics-per-day", int(_setting(forum, "max_topics_per_day")), DAY))
    interval = "rate_limit_new_user_create_post" if new_user(forum, user, moment) else "rate_limit_create_post"
    limiters.append(Limiter("create_post", 1, int(_setting(forum, interval))))   # Post's, for every post
    if topic is not None and new_user_posting_on_first_day(forum, user, moment):
        limiters.append(Limiter("first-day-replies-per-day", int(_setting(forum, "max_replies_in_first_day")), DAY))
    of(forum).check(user.id, limiters, _epoch(moment))
    admission.limiters = limiters
    return admission


def _edit_limiter(forum: Forum, user: User) -> Limiter:
    """EditRateLimiter: `edit-post`, keyed per calendar date (Date.today; UTC here)."""
    limit = _scaled(forum, user, int(_setting(forum, "max_edits_per_day")), "edits")
    return Limiter("edit-post", limit, DAY, key=f"edit-post:{forum.now().astimezone(timezone.utc).date()}")


def admit_edit(forum: Forum, user: User, post: Post, *, raw: str | None, title: str | None) -> Admission:
    """`PUT /posts/{id}.json`: the unique-post validator on the new raw (422), then the editor's edits per day (429).
    An edit that changes nothing is no revision and counts nothing."""
    topic = forum.topics.get(post.topic_id)
    changes_raw = raw is not None and raw != post.raw
    changes_title = (title is not None and topic is not None and post.post_number == 1
                     and title.strip() != topic.title)
    admission = Admission(forum, user, version_before=post.version)
    if not (changes_raw or changes_title) or exempt(forum, user) or not forum.can_edit(user, post):
        return admission                              # (a refused edit is Forum.revise_post's 403)
    if changes_raw and raw and raw.strip() and int(_setting(forum, "unique_posts_mins") or 0) > 0:
        recent = _recent_post_id(forum, _unique_key(user, raw, pm=bool(topic and topic.is_pm)))
        if recent is not None and recent != post.id:
            raise ForumError.invalid(JUST_POSTED_THAT)
    limiter = _edit_limiter(forum, user)
    of(forum).check(user.id, [limiter], _epoch(forum.now()))
    admission.limiters = [limiter]
    return admission


def admit_topic_edit(forum: Forum, user: User, topic: Topic, *, title: str | None, category_id: int | None,
                     tags_sent: bool) -> Admission:
    """`PUT /t/-/{id}.json`: PostRevisor revises the first post (title, category, tags): an edit of the day when it
    changes something (the route calls `done` only then). Whoever may not edit the topic is left to
    `Forum.update_topic` to refuse (403)."""
    first = forum.posts.get(topic.post_ids[0]) if topic.post_ids else None
    may_change = ((title is not None and title.strip() != topic.title)
                  or (category_id is not None and category_id != topic.category_id) or tags_sent)
    if exempt(forum, user) or first is None or first.user_id != user.id or not may_change:
        return Admission(forum, user)
    limiter = _edit_limiter(forum, user)
    of(forum).check(user.id, [limiter], _epoch(forum.now()))
    return Admission(forum, user, limiters=[limiter])


# --------------------------------------------------------------------------------------------- likes

LIKE_TYPE_ID = 2


def _per_post_action(post: Post) -> Limiter:
    """PostAction.limit_action!: 4 a minute per post and action type, liking and unliking alike."""
    return Limiter(f"post_action-{post.id}_{LIKE_TYPE_ID}", 4, 60)


def admit_like(forum: Forum, user: User, post: Post) -> Admission:
    """`POST /post_actions.json` (a like). Guardian's refusals (own post, deleted, already liked) come first and are
    left to `Forum.like`; then the per-post limiter is counted at once (it stays counted if the like then fails,
    as in PostActionCreator), then the likes of the day are checked (counted by `done`)."""
    if exempt(forum, user) or post.user_id == user.id or post.deleted_at is not None \
            or user.id in post.liker_ids():
        return Admission(forum, user)
    limits, now = of(forum), _epoch(forum.now())
    per_post = _per_post_action(post)
    limits.check(user.id, [per_post], now)
    limits.perform(user.id, per_post, now)
    daily = Limiter("create_like", _scaled(forum, user, int(_setting(forum, "max_likes_per_day")), "likes"), DAY)
    limits.check(user.id, [daily], now)
    return Admission(forum, user, limiters=[daily])


def admit_unlike(forum: Forum, user: User, post: Post) -> None:
    """`DELETE /post_actions/{id}`: PostActionDestroyer counts the per-post limiter once the like is found."""
    if exempt(forum, user) or user.id not in post.liker_ids():
        return
    limits, now = of(forum), _epoch(forum.now())
    per_post = _per_post_action(post)
    limits.check(user.id, [per_post], now)
    limits.perform(user.id, per_post, now)
