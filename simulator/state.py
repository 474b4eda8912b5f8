"""The simulated forum's state: users, groups, categories, topics, posts, likes, uploads and webhooks.

Everything here is plain data plus the rules Discourse applies to it (who may see what, who may do what,
what a new post or an edit changes). No HTTP: the REST layer (`simulator.api`) turns requests into calls
on :class:`Forum`, and webhook delivery (`simulator.webhooks`) listens to the events it emits.

All mutations happen under one re-entrant lock, so a threaded server sees a consistent forum.
"""
from __future__ import annotations

import bisect
import dataclasses
import hashlib
import re
from urllib.parse import urlsplit
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Sequence

from . import cooking

# Discourse's post types (Post.types).
POST_REGULAR, POST_MODERATOR_ACTION, POST_SMALL_ACTION, POST_WHISPER = 1, 2, 3, 4
# Discourse's post action type for a like.
LIKE = 2
# Automatic groups Discourse seeds (Group::AUTO_GROUPS), by id.
AUTO_GROUPS = {1: "admins", 2: "moderators", 3: "staff", 10: "trust_level_0", 11: "trust_level_1",
               12: "trust_level_2", 13: "trust_level_3", 14: "trust_level_4"}
SYSTEM_USER_ID = -1
# The id of the anonymous visitor (no Api-Key): no record, no groups, no trust level group.
ANONYMOUS_USER_ID = 0


class ForumError(Exception):
    """An error answered the way Discourse answers it: a status, an `error_type` and messages."""

    action: str | None = None
    """For a refused `POST /posts.json`: the NewPostResult action it is answered under (`create_post`, or
    `created_post` / `enqueued` on the review path), None elsewhere."""

    def __init__(self, status: int, error_type: str, *errors: str, extras: dict[str, Any] | None = None):
        super().__init__(errors[0] if errors else error_type)
        self.status = status
        self.error_type = error_type
        self.errors = list(errors)
        self.extras = extras

    @classmethod
    def not_found(cls) -> ForumError:
        return cls(404, "not_found", "The requested URL or resource could not be found.")

    @classmethod
    def gone(cls) -> ForumError:
        return cls(410, "not_found", "The requested URL or resource could not be found.")

    @classmethod
    def invalid_access(cls) -> ForumError:
        return cls(403, "invalid_access", "You are not permitted to view the requested resource.")

    @classmethod
    def invalid(cls, *errors: str) -> ForumError:
        return cls(422, "record_invalid", *errors)

    @classmethod
    def bad_params(cls, *errors: str) -> ForumError:
        return cls(400, "invalid_parameters", *errors)

    @classmethod
    def topic_not_found(cls) -> ForumError:
        """PostCreator#valid?: the topic is missing, deleted, or `can_create_post_on_topic?` is false."""
        return cls.invalid(TOPIC_NOT_FOUND)


# config/locales/server.en.yml (top-level keys and activerecord.errors.models.topic.attributes.base).
TOPIC_NOT_FOUND = "Something has gone wrong. Perhaps this topic was closed or deleted while you were looking at it?"
NOT_ACCEPTING_PMS = "Sorry, {username} is not accepting messages at the moment."
MAX_PM_RECIPIENTS = "Sorry, you can send a message to maximum {limit} recipients."
CANT_SEND_PM = "Sorry, you cannot send a personal message to that user."
TITLE_ALREADY_USED = "Title has already been used"        # errors.messages.has_already_been_used
TITLE_UNCLEAR = "Title seems unclear, is it a complete sentence?"  # activerecord.errors…title.is_invalid (QualityTitle)
_SENTINEL_SYMBOLS = re.compile(r"[ -/\[-`:-@{-~]")
EXTERNAL_ID_LIMIT = 50                                    # Topic::EXTERNAL_ID_MAX_LENGTH


@dataclass
class QueuedPost:
    """A post held for review (ReviewableQueuedPost): not created; what `pending_post` describes."""
    id: int
    user_id: int
    raw: str
    created_at: datetime
    reason: str
    title: str | None = None
    topic_id: int | None = None
    category_id: int | None = None
    tags: list[str] = field(default_factory=list)
    reply_to_post_number: int | None = None
    status: str = "pending"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(ts: datetime | None) -> str | None:
    """Discourse's timestamp format: `2025-03-14T09:26:53.589Z`."""
    if ts is None:
        return None
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_time(value: str) -> datetime:
    """Parse an ISO-8601 timestamp as sent to `created_at` (a trailing Z allowed); naive means UTC."""
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ForumError.bad_params(f"created_at is not a valid timestamp: {value!r}") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "topic"


def cook(raw: str) -> str:
    """A post's `cooked` HTML, as Discourse's PrettyText.cook makes it (see `simulator.cooking`)."""
    return cooking.cook(raw)


def avatar_template(username: str) -> str:
    return f"/letter_avatar_proxy/v4/letter/{username[:1].lower() or 'x'}/e36b37/{{size}}.png"


# --------------------------------------------------------------------------------------------- records


@dataclass
class User:
    id: int
    username: str
    name: str = ""
    email: str = ""
    active: bool = True
    admin: bool = False
    moderator: bool = False
    trust_level: int = 1
    created_at: datetime = field(default_factory=utcnow)
    suspended_till: datetime | None = None
    suspend_reason: str | None = None
    title: str | None = None
    # UserOption (PUT /u/{username}.json): allow_private_messages, hide_profile, hide_presence.
    allow_private_messages: bool = True
    hide_profile: bool = False
    hide_presence: bool = False
    # MutedUser / IgnoredUser rows this user owns: whom they muted or ignore (PUT /u/{username}.json
    # `muted_usernames`, PUT /u/{username}/notification_level.json).
    muted_user_ids: list[int] = field(default_factory=list)
    ignored_user_ids: list[int] = field(default_factory=list)

    @property
    def staff(self) -> bool:
        return self.admin or self.moderator

    @property
    def anonymous(self) -> bool:
        return self.id == ANONYMOUS_USER_ID

    def suspended(self, now: datetime) -> bool:
        return self.suspended_till is not None and self.suspended_till > now


@dataclass
class Group:
    id: int
    name: str
    full_name: str | None = None
    automatic: bool = False
    visibility_level: int = 0        # 0 public .. 4 owners only
    mentionable_level: int = 0       # 0 nobody .. 99 everyone
    messageable_level: int = 0
    member_ids: list[int] = field(default_factory=list)
    owner_ids: list[int] = field(default_factory=list)
    created_at: datetime = field(default_factory=utcnow)


@dataclass
class Category:
    id: int
    name: str
    slug: str
    color: str = "0088CC"
    text_color: str = "FFFFFF"
    description: str | None = None
    parent_category_id: int | None = None
    read_restricted: bool = False
    # group name -> permission type (1 full, 2 create post, 3 readonly); empty = everyone full.
    permissions: dict[str, int] = field(default_factory=dict)
    position: int = 0
    topic_id: int | None = None   # the "About the … category" topic, as Discourse creates


@dataclass
class Tag:
    id: int
    name: str
    description: str | None = None


@dataclass
class TagGroup:
    """A named set of tags (Admin → Tags → Tag groups); creating one creates its missing tags."""
    id: int
    name: str
    tag_names: list[str] = field(default_factory=list)
    one_per_topic: bool = False
    # group name -> permission type (1 full, 3 see only); Discourse's default is everyone full.
    permissions: dict[str, int] = field(default_factory=lambda: {"everyone": 1})


@dataclass
class Revision:
    number: int            # the post version this revision produced (2, 3, …)
    user_id: int
    created_at: datetime
    raw_before: str
    raw_after: str
    title_before: str | None = None
    title_after: str | None = None
    edit_reason: str | None = None


@dataclass
class Like:
    user_id: int
    created_at: datetime
    # The PostAction row's id and, once an unlike trashed it, its deleted_at (simulator.data_explorer reads both
    # as post_actions.id / deleted_at). 0: a like from a snapshot older than ids (data_explorer numbers it).
    id: int = 0
    deleted_at: datetime | None = None


@dataclass
class Post:
    id: int
    topic_id: int
    post_number: int
    user_id: int
    raw: str
    cooked: str
    created_at: datetime
    updated_at: datetime
    post_type: int = POST_REGULAR
    version: int = 1
    reply_to_post_number: int | None = None
    edit_reason: str | None = None
    deleted_at: datetime | None = None
    deleted_by_id: int | None = None
    hidden: bool = False
    wiki: bool = False
    likes: list[Like] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)

    def liker_ids(self) -> list[int]:
        return [like.user_id for like in self.likes]


@dataclass
class Topic:
    id: int
    title: str
    slug: str
    user_id: int
    created_at: datetime
    category_id: int | None = None
    archetype: str = "regular"                 # or "private_message"
    tags: list[str] = field(default_factory=list)
    external_id: str | None = None
    closed: bool = False
    archived: bool = False
    visible: bool = True
    pinned: bool = False
    deleted_at: datetime | None = None
    deleted_by_id: int | None = None
    bumped_at: datetime | None = None
    last_posted_at: datetime | None = None
    updated_at: datetime | None = None
    views: int = 0
    post_ids: list[int] = field(default_factory=list)
    highest_post_number: int = 0
    # private messages
    allowed_user_ids: list[int] = field(default_factory=list)
    allowed_group_ids: list[int] = field(default_factory=list)
    # shared drafts: the category it will be published into
    shared_draft_category_id: int | None = None
    # slow mode (`PUT /t/{id}/slow_mode`): a non-staff member's replies at least this far apart (simulator.limits)
    slow_mode_seconds: int = 0

    @property
    def is_pm(self) -> bool:
        return self.archetype == "private_message"


@dataclass
class Upload:
    id: int
    user_id: int
    original_filename: str
    filesize: int
    sha1: str
    extension: str
    url: str
    short_url: str
    created_at: datetime
    width: int | None = None
    height: int | None = None
    data: bytes = b""


@dataclass
class WebHook:
    id: int
    payload_url: str
    secret: str = ""
    content_type: int = 1                      # 1 application/json, 2 x-www-form-urlencoded
    wildcard_web_hook: bool = False
    web_hook_event_type_ids: list[int] = field(default_factory=list)
    active: bool = True
    verify_certificate: bool = True
    created_at: datetime = field(default_factory=utcnow)


@dataclass
class WebHookEvent:
    """One delivery row, as the forum admin's event log shows it."""
    id: int
    web_hook_id: int
    event_name: str
    event_type: str
    payload: str
    headers: dict[str, str]
    created_at: datetime
    status: int | None = None                  # HTTP status, or None while pending / on connection error
    response_body: str | None = None
    duration_ms: int | None = None
    error: str | None = None


def anonymous_user() -> User:
    """The viewer of a request without an Api-Key: sees only what the public sees, may write nothing."""
    return User(id=ANONYMOUS_USER_ID, username="anonymous", name="", active=True, trust_level=0)


# What listeners of the forum's events receive: (event name, event type, subject).
# The subject is a Topic or a Post, or (Post, User) for `post_liked`.
EventListener = Callable[[str, str, Any], None]


# --------------------------------------------------------------------------------------------- the forum


class Forum:
    """An in-memory Discourse: the records and the rules, under one lock."""

    def __init__(self, *, clock: Callable[[], datetime] = utcnow, base_url: str = "http://127.0.0.1"):
        self.lock = threading.RLock()
        self.clock = clock
        self.base_url = base_url
        self.saved_base_url = ""  # the address a saved forum (`--data`) was last served at
        self.settings: dict[str, Any] = {
            "title": "Simulated Discourse",
            "max_admin_api_reqs_per_minute": 60,
            "shared_drafts_category": None,
            "min_title_length": 15,
            "title_min_entropy": 10,           # TextSentinel.title_sentinel's settings (config/site_settings.yml)
            "title_max_word_length": 30,
            "allow_uppercase_posts": False,
            "min_post_length": 20,
            "min_first_post_length": 20,
            "min_personal_message_post_length": 10,
            "max_tags_per_topic": 5,
            "retry_web_hook_events": False,   # Discourse's site setting; webhook delivery reads it
            # Refusals, visibility and identity (config/site_settings.yml names and defaults; group lists are
            # `|`-separated Group::AUTO_GROUPS ids: 1 admins, 3 staff, 10..14 trust_level_0..4).
            "personal_message_enabled_groups": "11",       # trust_level_1 (site_settings.yml)
            "max_allowed_message_recipients": 30,
            "allow_users_to_hide_profile": True,
            "hide_new_user_profiles": True,
            "allow_duplicate_topic_titles": False,
            "allow_duplicate_topic_titles_category": False,
            "create_tag_allowed_groups": "1|3|13",          # admins, staff, trust_level_3 (was min_trust_to_create_tag 3)
            "ignore_allowed_groups": "12",                   # trust_level_2 (was min_trust_level_to_allow_ignore 2)
            "hide_email_address_taken": False,
            "approve_post_count": 0,
            "approve_unless_allowed_groups": "10",           # trust_level_0: holds nobody
            "approve_new_topics_unless_allowed_groups": "10",
        }
        from .limits import SITE_SETTINGS as RATE_LIMIT_SETTINGS   # noqa: PLC0415  (limits imports this module)
        self.settings.update(RATE_LIMIT_SETTINGS)     # per-user rate limits and post validators: simulator/limits.py
        self.scripted_user_ids: set[int] = set()
        """TEST-ONLY, no Discourse counterpart: members whose API actions a test or the demo scripts at machine
        speed (their own pace is not what is tested), exempt from the per-user rate limits and post validators of
        simulator/limits.py as staff are. Filled by tests directly or through `POST /_sim/scripted_members`.
        Never the service's own account: what the service meets must stay what Discourse would answer it."""
        self.undeliverable_user_ids: set[int] = set()
        """TEST-ONLY fault, no Discourse counterpart: members to whom every message is refused with Discourse's
        `not_accepting_pms` answer, whoever sends it — staff too, which Discourse would not refuse for a member who
        turned messages off. It stands for every refusal a service may meet (a non-staff bot, an account gone) in
        the fault harness, whose bot is a moderator. `undeliverable_refused` counts those refusals."""
        self.undeliverable_refused = 0
        self.generation = 0
        """Counts the changes the forum announced (every event), for what caches a copy of it (Data Explorer's)."""
        self.users: dict[int, User] = {}
        self.groups: dict[int, Group] = {}
        self.categories: dict[int, Category] = {}
        self.tags: dict[str, Tag] = {}
        self.tag_groups: dict[int, TagGroup] = {}
        self.topics: dict[int, Topic] = {}
        self.posts: dict[int, Post] = {}
        self.uploads: dict[int, Upload] = {}
        self.web_hooks: dict[int, WebHook] = {}
        self.web_hook_events: dict[int, WebHookEvent] = {}
        self.listeners: list[EventListener] = []
        self.queued_posts: dict[int, QueuedPost] = {}
        self.trashed_likes: dict[tuple[int, int], Like] = {}
        """(post id, user id) -> the like an unlike took back. Discourse trashes that PostAction row
        (PostActionDestroyer → PostAction#remove_act! → trash!): it leaves the post and user_actions
        (UserActionManager.post_action_destroyed), but the likes report still counts it, as it counts
        `PostAction.unscoped` (app/models/report.rb#post_action_report). Liking the post again revives the row with
        the new time (lib/post_action_creator.rb#create_post_action: "First try to revive a trashed record")."""
        # PostsController#create's DistributedMemoizer: signature -> (expires at, status, body).
        self.post_memo: dict[str, tuple[datetime, int, Any]] = {}
        self._ids: dict[str, int] = {}
        # Lookup indexes, so that a read costs what it returns rather than the forum's size. They are derived data:
        # kept up to date on every write path that changes what they cover (see `_reindex`), rebuilt whole by
        # `restore` and `load_bulk`, and rebuilt on demand should a record have been added to `users`, `posts`,
        # `topics` or `web_hook_events` some other way (their sizes then differ from what was indexed).
        self._user_id_by_name: dict[str, int] = {}            # lower-cased username -> user id (first one wins)
        self._post_ids_sorted: list[int] = []                  # every post id, ascending
        self._post_ids_by_user: dict[int, list[int]] = {}     # author id -> their post ids, in `posts` order
        self._posts_indexed = 0                                # how many posts the post indexes cover
        self._bump_order: list[tuple[datetime, int, int]] = []
        """Every topic but personal messages as (bumped_at or created_at, -position, id), ascending: read backwards
        it is the latest-bumped first, ties in creation (`topics`) order."""
        self._bump_entry: dict[int, tuple[datetime, int, int] | None] = {}  # topic id -> its entry (None for a PM)
        self._next_topic_position = 0
        self._likes_received: dict[int, list[tuple[datetime, int, int]]] = {}
        """Author id -> (created_at, post id, liker id) of every like their posts have (deleted posts' too),
        ascending. Kept by `like` and `unlike`, the only writes of `Post.likes` after a post is made."""
        self._hook_event_ids: dict[int, list[int]] = {}       # web hook id -> its delivery rows' ids, ascending
        self._hook_events_indexed = 0
        self._seed()
        self._reindex()

    # ----------------------------------------------------------------------------------------- basics

    def now(self) -> datetime:
        return self.clock()

    def next_id(self, kind: str, start: int = 1) -> int:
        with self.lock:
            value = self._ids.get(kind, start - 1) + 1
            self._ids[kind] = value
            return value

    def emit(self, event_name: str, event_type: str, subject: Any) -> None:
        self.generation += 1
        for listener in list(self.listeners):
            listener(event_name, event_type, subject)

    def _seed(self) -> None:
        system = User(id=SYSTEM_USER_ID, username="system", name="system", admin=True, moderator=True,
                      trust_level=4, email="no_email")
        self.users[system.id] = system
        for gid, name in AUTO_GROUPS.items():
            self.groups[gid] = Group(id=gid, name=name, automatic=True, visibility_level=1)
        self._ids["group"] = 40               # Discourse numbers custom groups above the automatic ones
        uncategorized = Category(id=1, name="Uncategorized", slug="uncategorized", color="0088CC")
        self.categories[1] = uncategorized
        self._ids["category"] = 1

    # ----------------------------------------------------------------------------------------- users

    def user_by_name(self, username: str) -> User | None:
        """The first user (in `users` order) whose username is `username`, case-insensitively."""
        wanted = username.lower()
        user_id = self._user_id_by_name.get(wanted)
        user = self.users.get(user_id) if user_id is not None else None
        if user is not None and user.username.lower() == wanted:
            return user
        for user in self.users.values():      # not in the index (a user added some other way): look, then reindex
            if user.username.lower() == wanted:
                self._reindex_users()
                return user
        return None

    def require_user(self, username: str) -> User:
        user = self.user_by_name(username)
        if user is None:
            raise ForumError.not_found()
        return user

    def create_user(self, *, username: str, name: str = "", email: str = "", password: str = "",
                    active: bool = True, trust_level: int = 1) -> User:
        with self.lock:
            if not re.fullmatch(r"[A-Za-z0-9_.-]{3,20}", username or ""):
                raise ForumError.invalid("Username must be 3 to 20 letters, numbers, dots, dashes or underscores")
            if self.user_by_name(username):
                raise ForumError.invalid("Username must be unique")
            if email and any(u.email.lower() == email.lower() for u in self.users.values()):
                raise ForumError.invalid("Primary email has already been taken")
            user = User(id=self.next_id("user"), username=username, name=name or username,
                        email=email or f"{username}@example.invalid", active=active,
                        trust_level=trust_level, created_at=self.now())
            self.users[user.id] = user
            self._user_id_by_name.setdefault(user.username.lower(), user.id)
            return user

    def group_ids_of(self, user: User) -> list[int]:
        if user.anonymous:
            return []                         # an anonymous visitor belongs to no group, not even trust_level_0
        ids = [g.id for g in self.groups.values() if not g.automatic and user.id in g.member_ids]
        if user.admin:
            ids.append(1)
        if user.moderator:
            ids.append(2)
        if user.staff:
            ids.append(3)
        ids.extend(10 + level for level in range(0, user.trust_level + 1))
        return sorted(ids)

    def set_moderator(self, user: User, value: bool) -> None:
        with self.lock:
            user.moderator = value

    def set_trust_level(self, user: User, level: int) -> None:
        """`PUT /admin/users/{id}/trust_level`: TrustLevel.levels are 0..4."""
        with self.lock:
            if level not in range(5):
                raise ForumError.bad_params(f"Invalid trust level {level}")
            user.trust_level = level
            self.generation += 1

    def suspend(self, user: User, until: datetime, reason: str) -> None:
        with self.lock:
            if user.admin:
                raise ForumError(403, "invalid_access", "You can't suspend an admin.")
            user.suspended_till = until
            user.suspend_reason = reason
            self.generation += 1

    def unsuspend(self, user: User) -> None:
        with self.lock:
            user.suspended_till = None
            user.suspend_reason = None
            self.generation += 1

    # ----------------------------------------------------------------------------------------- groups

    def group_by_name(self, name: str) -> Group | None:
        wanted = name.lower()
        for group in self.groups.values():
            if group.name.lower() == wanted:
                return group
        return None

    def require_group(self, name_or_id: str | int) -> Group:
        group = None
        if isinstance(name_or_id, int) or str(name_or_id).isdigit():
            group = self.groups.get(int(name_or_id))
        if group is None:
            group = self.group_by_name(str(name_or_id))
        if group is None:
            raise ForumError.not_found()
        return group

    def create_group(self, *, name: str, full_name: str | None = None, visibility_level: int = 0,
                     mentionable_level: int = 0, messageable_level: int = 0) -> Group:
        with self.lock:
            if not re.fullmatch(r"[A-Za-z0-9_.-]{3,20}", name or ""):
                raise ForumError.invalid("Name must be 3 to 20 letters, numbers, dots, dashes or underscores")
            if self.group_by_name(name) or self.user_by_name(name):
                raise ForumError.invalid("Name has already been taken")
            group = Group(id=self.next_id("group"), name=name, full_name=full_name,
                          visibility_level=visibility_level, mentionable_level=mentionable_level,
                          messageable_level=messageable_level, created_at=self.now())
            self.groups[group.id] = group
            return group

    def add_members(self, group: Group, users: Iterable[User]) -> list[User]:
        with self.lock:
            if group.automatic:
                raise ForumError(422, "record_invalid", "You cannot modify an automatic group")
            added = []
            for user in users:
                if user.id not in group.member_ids:
                    group.member_ids.append(user.id)
                    added.append(user)
            return added

    def can_see_group(self, user: User, group: Group) -> bool:
        """Group.visibility_level: 0 public, 1 logged-on users, 2 members, 3 staff, 4 owners (admins see all)."""
        level = group.visibility_level
        if level == 0 or user.admin:
            return True
        if level == 1:
            return not user.anonymous
        if level == 2:
            return user.staff or user.id in group.member_ids or user.id in group.owner_ids
        if level == 3:
            return user.staff
        return user.id in group.owner_ids

    def can_message_group(self, user: User, group: Group) -> bool:
        """Group.messageable_level: 0 nobody, 1 admins, 2 staff, 3 members, 4 owners, 99 everyone (staff always)."""
        level = group.messageable_level
        if user.staff or level == 99:
            return True
        if level == 3:
            return user.id in group.member_ids
        if level == 4:
            return user.id in group.owner_ids
        return False

    def members_of(self, group: Group) -> list[User]:
        if group.automatic:
            return [u for u in self.users.values() if group.id in self.group_ids_of(u) and u.id > 0]
        return [self.users[i] for i in group.member_ids if i in self.users]

    # ----------------------------------------------------------------------------------------- categories

    def require_category(self, category_id: int) -> Category:
        category = self.categories.get(category_id)
        if category is None:
            raise ForumError.not_found()
        return category

    def create_category(self, *, name: str, color: str = "0088CC", text_color: str = "FFFFFF",
                        description: str | None = None, parent_category_id: int | None = None,
                        permissions: dict[str, int] | None = None, slug: str | None = None) -> Category:
        with self.lock:
            if not name or len(name) > 50:
                raise ForumError.invalid("Category Name can't be blank" if not name else "Name is too long")
            if any(c.name.lower() == name.lower() and c.parent_category_id == parent_category_id
                   for c in self.categories.values()):
                raise ForumError.invalid("Category Name has already been taken")
            if parent_category_id is not None:
                self.require_category(parent_category_id)
            perms = dict(permissions or {})
            for group_name in perms:
                if self.group_by_name(group_name) is None and group_name != "everyone":
                    raise ForumError.invalid(f"Group {group_name} does not exist")
            read_restricted = bool(perms) and "everyone" not in perms
            category = Category(id=self.next_id("category"), name=name, slug=slug or slugify(name),
                                color=color, text_color=text_color, description=description,
                                parent_category_id=parent_category_id, read_restricted=read_restricted,
                                permissions=perms, position=len(self.categories))
            self.categories[category.id] = category
            return category

    # ----------------------------------------------------------------------------------------- visibility

    def can_see_category(self, user: User, category: Category | None) -> bool:
        if category is None or not category.read_restricted or user.staff:
            return True
        allowed = {self.group_by_name(n).id for n in category.permissions if self.group_by_name(n)}
        return bool(allowed & set(self.group_ids_of(user)))

    def can_see_topic(self, user: User, topic: Topic) -> bool:
        if topic.deleted_at is not None and not user.staff:
            return False
        if topic.is_pm:
            if user.admin or user.id in topic.allowed_user_ids:
                return True
            return bool(set(topic.allowed_group_ids) & set(self.group_ids_of(user)))
        if topic.shared_draft_category_id is not None and not user.staff:
            return False
        return self.can_see_category(user, self.categories.get(topic.category_id or 0))

    def cook(self, raw: str) -> str:
        """A post's `cooked` as this forum makes it: `cook`, with its own public topics' links titled."""
        return cooking.cook(raw, topic_title=self.public_topic_title)

    def public_topic_title(self, url: str) -> str | None:
        """The title an inline onebox gives a link of this forum's own (lib/inline_oneboxer.rb): a topic's address
        (`topics#show`: /t/{slug}/{id}, /t/{id}, with or without a post number), on this forum's host or relative,
        of a topic an anonymous visitor may see. None for anything else (a /p/ short link is not `topics#show`)."""
        parts, base = urlsplit(url), urlsplit(self.base_url)
        if parts.netloc and (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            return None
        path = parts.path.removeprefix(base.path.rstrip("/"))
        found = re.fullmatch(r"/t/(?:[^/]+/)?(\d+)(?:/\d+)?/?", path)
        topic = self.topics.get(int(found.group(1))) if found else None
        if topic is None or not self.can_see_topic(anonymous_user(), topic):
            return None
        return topic.title

    def can_see_post(self, user: User, post: Post) -> bool:
        topic = self.topics.get(post.topic_id)
        if topic is None or not self.can_see_topic(user, topic):
            return False
        if post.post_type == POST_WHISPER and not user.staff:
            return False
        if post.deleted_at is not None and not user.staff:
            return False
        return True

    def can_create_in(self, user: User, category: Category) -> bool:
        if user.staff or not category.permissions:
            return True
        mine = set(self.group_ids_of(user))
        for group_name, permission in category.permissions.items():
            group = self.group_by_name(group_name)
            everyone = group_name == "everyone"
            if (everyone or (group and group.id in mine)) and permission in (1,):
                return True
        return False

    def can_reply_in(self, user: User, topic: Topic) -> bool:
        if topic.is_pm:
            return self.can_see_topic(user, topic)
        category = self.categories.get(topic.category_id or 0)
        if category is None or user.staff or not category.permissions:
            return True
        mine = set(self.group_ids_of(user))
        for group_name, permission in category.permissions.items():
            group = self.group_by_name(group_name)
            everyone = group_name == "everyone"
            if (everyone or (group and group.id in mine)) and permission in (1, 2):
                return True
        return False

    # ----------------------------------------------------------------------------------------- who may do what

    def in_any_groups(self, user: User, setting: str) -> bool:
        """User#in_any_groups?(SiteSetting.<setting>_map): the group list names `everyone` (0) or one of the
        user's groups (automatic trust-level and staff groups included)."""
        wanted = {int(part) for part in str(self.settings.get(setting) or "").split("|") if part.strip().isdigit()}
        if 0 in wanted:
            return True
        return bool(wanted & set(self.group_ids_of(user)))

    def can_send_private_messages(self, user: User) -> bool:
        """Guardian#can_send_private_messages? (lib/guardian.rb): staff, the system user, or a member of
        `personal_message_enabled_groups`."""
        if user.anonymous:
            return False
        return user.staff or user.id == SYSTEM_USER_ID or self.in_any_groups(user, "personal_message_enabled_groups")

    def can_send_private_message_to(self, sender: User, target: User) -> bool:
        """Guardian#can_send_private_message?(target_user) (lib/guardian.rb): the sender may send messages, and
        unless the sender is staff the target allows messages and is not suspended."""
        return (self.can_send_private_messages(sender)
                and (sender.staff or target.allow_private_messages)
                and (sender.staff or not target.suspended(self.now())))

    def preventing_communication(self, sender: User, targets: Iterable[User]) -> list[User]:
        """UserCommScreener#preventing_actor_communication (lib/user_comm_screener.rb): the targets who muted or
        ignore the sender, or turned personal messages off. Empty for a staff sender."""
        if sender.staff:
            return []
        return [t for t in targets if sender.id in t.muted_user_ids or sender.id in t.ignored_user_ids
                or not t.allow_private_messages]

    def can_mute(self, actor: User, target: User) -> bool:
        """Guardian#can_mute_user?: staff or trust level 1+, not oneself, not a staff member."""
        return (not actor.anonymous and (actor.staff or actor.trust_level >= 1) and actor.id != target.id
                and not target.staff)

    def can_ignore(self, actor: User, target: User) -> bool:
        """Guardian#can_ignore_user?: staff or `ignore_allowed_groups`, not oneself, not a staff member."""
        return (not actor.anonymous and (actor.staff or self.in_any_groups(actor, "ignore_allowed_groups"))
                and actor.id != target.id and not target.staff)

    def post_count_of(self, user: User) -> int:
        """UserStat#post_count: the user's live regular posts outside messages."""
        return sum(1 for p in (self.posts[i] for i in self.post_ids_by(user.id))
                   if p.user_id == user.id and p.deleted_at is None and p.post_type == POST_REGULAR
                   and p.topic_id in self.topics and not self.topics[p.topic_id].is_pm)

    def topic_count_of(self, user: User) -> int:
        """UserStat#topic_count: the user's live topics outside messages."""
        return sum(1 for t in self.topics.values() if t.user_id == user.id and t.deleted_at is None and not t.is_pm)

    def can_see_profile(self, viewer: User, user: User) -> bool:
        """Guardian#can_see_profile? (lib/guardian/user_guardian.rb). Oneself and staff always; otherwise a hidden
        profile (user option hide_profile, when `allow_users_to_hide_profile`) is not seen, and with
        `hide_new_user_profiles` a member without posts is seen only by trust level 2+ (a member manually raised to
        trust level 2+ is seen anyway: PR #33458), and a viewer below trust level 1 sees only trust level 1+."""
        if not viewer.anonymous and (viewer.id == user.id or viewer.staff):
            return True
        hidden = bool(self.settings.get("allow_users_to_hide_profile")) and user.hide_profile
        if user.staff and not hidden:
            return True
        if self.settings.get("hide_new_user_profiles"):
            if self.post_count_of(user) == 0 and user.trust_level < 2:
                if viewer.anonymous or viewer.trust_level < 2:
                    return False
            if viewer.anonymous or viewer.trust_level < 1:
                return user.trust_level >= 1 and not hidden
        return not hidden

    def can_create_tag(self, user: User) -> bool:
        """Guardian#can_create_tag? (lib/guardian/tag_guardian.rb): a member of `create_tag_allowed_groups`."""
        return not user.anonymous and self.in_any_groups(user, "create_tag_allowed_groups")

    def can_create_post_on_topic(self, user: User, topic: Topic | None) -> bool:
        """Guardian#can_create?(Post, topic) → can_create_post_on_topic? (lib/guardian/topic_guardian.rb): never on
        a missing or deleted topic; admins always; a closed or archived topic only for trust level 4 and
        moderators; otherwise the user must see the topic and may post in its category."""
        if topic is None or topic.deleted_at is not None or user.anonymous:
            return False
        if user.admin:
            return True
        trusted = user.trust_level >= 4 or user.moderator
        if (topic.closed or topic.archived) and not trusted:
            return False
        return self.can_see_topic(user, topic) and self.can_reply_in(user, topic)

    def duplicate_title(self, title: str, *, category_id: int | None, exclude_topic_id: int | None = None) -> bool:
        """Topic's `unique_among` title validation (app/models/topic.rb): among listable (non-message, live) topics,
        case-insensitively; within the category when `allow_duplicate_topic_titles_category`."""
        if self.settings.get("allow_duplicate_topic_titles"):
            return False
        wanted = title.strip().lower()
        per_category = bool(self.settings.get("allow_duplicate_topic_titles_category"))
        return any(t.title.lower() == wanted for t in self.topics.values()
                   if not t.is_pm and t.deleted_at is None and t.id != exclude_topic_id
                   and (not per_category or t.category_id == category_id))

    def hold_reason(self, actor: User, *, title: str | None, topic_id: int | None, archetype: str) -> str | None:
        """NewPostManager.post_needs_approval? (lib/new_post_manager.rb) for the settings simulated: why the post
        would be held for review, or None. Staff are exempt, messages are never queued."""
        if actor.staff or archetype == "private_message":
            return None
        if topic_id is not None and (topic := self.topics.get(topic_id)) is not None and topic.is_pm:
            return None
        approve_post_count = int(self.settings.get("approve_post_count") or 0)
        if approve_post_count > 0 and actor.trust_level <= 1 and (
                self.post_count_of(actor) + self.topic_count_of(actor) < approve_post_count):
            return "post_count"
        if not self.in_any_groups(actor, "approve_unless_allowed_groups"):
            return "group"
        if title and not self.in_any_groups(actor, "approve_new_topics_unless_allowed_groups"):
            return "new_topics_unless_allowed_groups"
        return None

    def enqueue_post(self, actor: User, reason: str, *, raw: str, title: str | None = None,
                     topic_id: int | None = None, category_id: int | None = None, tags: Iterable[str] = (),
                     reply_to_post_number: int | None = None) -> QueuedPost:
        """NewPostManager.default_handler + #enqueue: the post is validated as it would be created, then held
        (a ReviewableQueuedPost); nothing is created and no event fires. Refusals carry the NewPostResult action:
        `created_post` for the body and topic checks, `enqueued` for the creator's validations."""
        with self.lock:
            raw = raw or ""
            try:
                self._check_lengths(raw, None, first=topic_id is None)
                if topic_id is not None and not self.can_create_post_on_topic(actor, self.topics.get(topic_id)):
                    raise ForumError.topic_not_found()
            except ForumError as exc:
                exc.action = "created_post"
                raise
            try:
                if topic_id is None:
                    self._topic_errors(title, category_id=category_id, pm=False, external_id=None)
            except ForumError as exc:
                exc.action = "enqueued"
                raise
            queued = QueuedPost(id=self.next_id("reviewable"), user_id=actor.id, raw=raw, created_at=self.now(),
                                reason=reason, title=title.strip() if title and topic_id is None else None,
                                topic_id=topic_id, category_id=category_id, tags=list(tags),
                                reply_to_post_number=reply_to_post_number)
            self.queued_posts[queued.id] = queued
            return queued

    def pending_count(self, user: User) -> int:
        return sum(1 for q in self.queued_posts.values() if q.user_id == user.id and q.status == "pending")

    # ----------------------------------------------------------------------------------------- user preferences

    def update_user_options(self, user: User, options: dict[str, Any]) -> User:
        """UserUpdater (app/services/user_updater.rb): the user options simulated, and `muted_usernames` (a comma
        list; exact usernames, oneself left out, as update_muted_users does)."""
        with self.lock:
            for name in ("allow_private_messages", "hide_profile", "hide_presence"):
                if name in options:
                    setattr(user, name, str(options[name]).lower() == "true")
            if "hide_profile_and_presence" in options:      # the older single option, now split in two
                user.hide_profile = user.hide_presence = str(options["hide_profile_and_presence"]).lower() == "true"
            if "muted_usernames" in options:
                value = options["muted_usernames"] or ""
                names = value if isinstance(value, list) else str(value).split(",")
                wanted = {n.strip() for n in names if n.strip() and n.strip() != user.username}
                user.muted_user_ids = [u.id for u in self.users.values() if u.username in wanted]
            return user

    def set_notification_level(self, acting: User, target: User, level: str) -> None:
        """UsersController#notification_level: `ignore` replaces a mute, `mute` replaces an ignore, `normal`
        clears both (the permission checks are the route's, on the requester)."""
        with self.lock:
            if level in ("ignore", "mute", "normal"):
                acting.muted_user_ids = [i for i in acting.muted_user_ids if i != target.id]
                acting.ignored_user_ids = [i for i in acting.ignored_user_ids if i != target.id]
            if level == "ignore":
                acting.ignored_user_ids.append(target.id)
            elif level == "mute":
                acting.muted_user_ids.append(target.id)

    # ----------------------------------------------------------------------------------------- topics

    def require_topic(self, topic_id: int, viewer: User | None = None) -> Topic:
        topic = self.topics.get(topic_id)
        if topic is None:
            raise ForumError.not_found()
        if topic.deleted_at is not None and (viewer is None or not viewer.staff):
            raise ForumError.gone()
        if viewer is not None and not self.can_see_topic(viewer, topic):
            raise ForumError.invalid_access()
        return topic

    def topic_by_external_id(self, external_id: str) -> Topic | None:
        for topic in self.topics.values():
            if topic.external_id == external_id:
                return topic
        return None

    def topic_posts(self, topic: Topic, viewer: User | None = None) -> list[Post]:
        posts = [self.posts[i] for i in topic.post_ids]
        if viewer is not None:
            posts = [p for p in posts if self.can_see_post(viewer, p)]
        return posts

    def first_post(self, topic: Topic) -> Post:
        return self.posts[topic.post_ids[0]]

    def ensure_tags(self, names: Iterable[str], actor: User) -> list[str]:
        """DiscourseTagging.tags_for_saving (lib/discourse_tagging.rb): known tags apply; an unknown tag is created
        only for someone who `can_create_tag?` and otherwise dropped SILENTLY (no error, the topic has the rest)."""
        clean: list[str] = []
        may_create = self.can_create_tag(actor)
        for name in names:
            tag_name = re.sub(r"\s+", "-", name.strip().lower())
            if not tag_name:
                continue
            if tag_name not in self.tags:
                if not may_create:
                    continue
                self.tags[tag_name] = Tag(id=self.next_id("tag"), name=tag_name)
            if tag_name not in clean:
                clean.append(tag_name)
        if len(clean) > self.settings["max_tags_per_topic"]:
            raise ForumError.invalid(f"You can only apply {self.settings['max_tags_per_topic']} tags to a topic.")
        return clean

    def create_tag_group(self, actor: User, *, name: str, tag_names: Iterable[str], one_per_topic: bool = False,
                         permissions: dict[str, int] | None = None) -> TagGroup:
        """`POST /tag_groups.json` (staff): a tag group; its tags are created if they do not exist yet.

        Parent tags are not simulated.
        """
        with self.lock:
            if not actor.staff:
                raise ForumError.invalid_access()
            if not name.strip():
                raise ForumError.invalid("Name can't be blank")
            if any(g.name.lower() == name.strip().lower() for g in self.tag_groups.values()):
                raise ForumError.invalid("Name has already been taken")
            names: list[str] = []
            for raw_name in tag_names:
                tag_name = re.sub(r"\s+", "-", str(raw_name).strip().lower())
                if tag_name and tag_name not in names:
                    names.append(tag_name)
            for tag_name in names:
                if tag_name not in self.tags:
                    self.tags[tag_name] = Tag(id=self.next_id("tag"), name=tag_name)
            group = TagGroup(id=self.next_id("tag_group"), name=name.strip(), tag_names=names,
                             one_per_topic=one_per_topic, permissions=dict(permissions or {"everyone": 1}))
            self.tag_groups[group.id] = group
            return group

    def create_post(self, actor: User, *, raw: str, title: str | None = None, topic_id: int | None = None,
                    category_id: int | None = None, reply_to_post_number: int | None = None,
                    tags: Iterable[str] = (), external_id: str | None = None, archetype: str = "regular",
                    target_recipients: Iterable[str] = (), whisper: bool = False, shared_draft: bool = False,
                    created_at: datetime | None = None) -> Post:
        """`POST /posts.json`: a new topic (with `title`), a PM (with `archetype`) or a reply (with `topic_id`)."""
        with self.lock:
            now = created_at or self.now()
            raw = raw or ""
            external_id = external_id or None             # TopicCreator sets it only when present
            if topic_id is not None:
                # PostCreator#valid? (lib/post_creator.rb): `Topic.find_by(id:)` skips deleted topics, then
                # guardian.can_create?(Post, topic); either failing is `topic_not_found`, before any other check.
                topic = self.topics.get(topic_id)
                if topic is None or topic.deleted_at is not None or not self.can_create_post_on_topic(actor, topic):
                    raise ForumError.topic_not_found()
                return self._reply(actor, topic, raw=raw, reply_to_post_number=reply_to_post_number,
                                   whisper=whisper, now=now)
            if archetype == "private_message":
                return self._new_pm(actor, raw=raw, title=title, target_recipients=list(target_recipients),
                                    external_id=external_id, now=now)
            if archetype != "regular":
                raise ForumError.bad_params(f"archetype {archetype!r} is not supported")
            return self._new_topic(actor, raw=raw, title=title, category_id=category_id, tags=list(tags),
                                   external_id=external_id, shared_draft=shared_draft, now=now)

    def _title_errors(self, title: str | None) -> list[str]:
        errors = []
        if title is not None:
            if not title.strip():
                errors.append("Title can't be blank")
            elif len(title.strip()) < self.settings["min_title_length"]:
                errors.append(f"Title is too short (minimum is {self.settings['min_title_length']} characters)")
            elif len(title) > 255:
                errors.append("Title is too long (maximum is 255 characters)")
        return errors

    def title_seems_clear(self, title: str) -> bool:
        """A topic title's quality check (QualityTitleValidator, `unless: :private_message?` in app/models/topic.rb;
        lib/text_sentinel.rb `title_sentinel`): enough distinct characters (`entropy`, where a non-ASCII character
        counts as the bytes of its UTF-8), some that are not symbols, no word longer than title_max_word_length
        (words split at spaces, /, - and .), and not all in capitals (English) unless allow_uppercase_posts."""
        text = title.strip()
        settings = self.settings
        minimum = settings["min_title_length"]
        needed = settings["title_min_entropy"] if minimum > settings["title_min_entropy"] else int(minimum * 0.7)
        pieces = {c if " " <= c <= "~" and c != "=" else f"{b:02X}" for c in text for b in c.encode()}
        if len(pieces) < needed or not _SENTINEL_SYMBOLS.sub("", text):
            return False
        if max(len(word) for word in re.split(r"\s|/|-|\.", text)) > settings["title_max_word_length"]:
            return False
        shouting = bool(re.search(r"[A-Z]", text)) and text.isascii() and text == text.upper()
        return bool(settings["allow_uppercase_posts"]) or not shouting

    def _body_errors(self, raw: str, *, first: bool, pm: bool = False) -> list[str]:
        errors = []
        minimum = self.settings["min_personal_message_post_length" if pm else
                                "min_first_post_length" if first else "min_post_length"]
        if not raw.strip():
            errors.append("Body can't be blank" if not first else "Body is too short (minimum is "
                          f"{minimum} characters)")
        elif len(raw.strip()) < minimum:
            errors.append(f"Body is too short (minimum is {minimum} characters)")
        elif len(raw) > 32000:
            errors.append("Body is limited to 32000 characters; you entered %d." % len(raw))
        return errors

    def _check_lengths(self, raw: str, title: str | None, *, first: bool, pm: bool = False) -> None:
        errors = self._title_errors(title) + self._body_errors(raw, first=first, pm=pm)
        if errors:
            raise ForumError.invalid(*errors)

    def _topic_errors(self, title: str | None, *, category_id: int | None, pm: bool, external_id: str | None,
                      exclude_topic_id: int | None = None) -> None:
        """Topic's validations, all reported together as `topic.valid?` does (app/models/topic.rb): the title,
        its uniqueness among listable topics (not for messages), and external_id."""
        errors = self._title_errors(title)
        if not errors and title is not None and not pm and not self.title_seems_clear(title):
            errors.append(TITLE_UNCLEAR)
        if not errors and title is not None and not pm and self.duplicate_title(
                title, category_id=category_id, exclude_topic_id=exclude_topic_id):
            errors.append(TITLE_ALREADY_USED)
        errors += self._external_id_errors(external_id)
        if errors:
            raise ForumError.invalid(*errors)

    def _new_topic(self, actor: User, *, raw: str, title: str | None, category_id: int | None,
                   tags: list[str], external_id: str | None, shared_draft: bool, now: datetime) -> Post:
        if title is None:
            raise ForumError.invalid("Title can't be blank")
        category = self.require_category(category_id) if category_id else self.categories[1]
        if not self.can_see_category(actor, category) or not self.can_create_in(actor, category):
            raise ForumError.invalid_access()
        # PostCreator#valid?: TopicCreator's validations first (they stop the rest), then the post's.
        self._topic_errors(title, category_id=category.id, pm=False, external_id=external_id)
        self._check_lengths(raw, None, first=True)
        draft_category_id = None
        if shared_draft:
            drafts = self.settings.get("shared_drafts_category")
            if drafts and actor.staff:
                draft_category_id = category.id
                category = self.require_category(int(drafts))
        tag_names = self.ensure_tags(tags, actor)
        topic = Topic(id=self.next_id("topic"), title=title.strip(), slug=slugify(title), user_id=actor.id,
                      created_at=now, category_id=category.id, tags=tag_names, external_id=external_id,
                      bumped_at=now, last_posted_at=now, updated_at=now,
                      shared_draft_category_id=draft_category_id)
        self.topics[topic.id] = topic
        post = self._add_post(topic, actor, raw=raw, now=now)
        self.emit("topic_created", "topic", topic)
        self.emit("post_created", "post", post)
        return post

    def _external_id_errors(self, external_id: str | None) -> list[str]:
        """Topic's `validates :external_id` (app/models/topic.rb), for every archetype (TopicCreator sets it on
        messages too): uniqueness (case-insensitive; Rails' uniqueness check ignores the deleted-topics scope),
        length at most EXTERNAL_ID_MAX_LENGTH (50), format /\\A[\\w-]+\\z/ (Ruby's \\w is ASCII). Rails humanizes
        the attribute `external_id` as "External"."""
        if external_id is None:
            return []
        errors = []
        wanted = external_id.lower()
        if any(t.external_id is not None and t.external_id.lower() == wanted for t in self.topics.values()):
            errors.append("External has already been taken")
        if len(external_id) > EXTERNAL_ID_LIMIT:
            errors.append(f"External is too long (maximum is {EXTERNAL_ID_LIMIT} characters)")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", external_id):
            errors.append("External is invalid")
        return errors

    def _new_pm(self, actor: User, *, raw: str, title: str | None, target_recipients: list[str],
                external_id: str | None, now: datetime) -> Post:
        if title is None:
            raise ForumError.invalid("Title can't be blank")
        names = [n.strip() for n in target_recipients if n.strip()]
        users = [u for u in (self.user_by_name(n) for n in names) if u is not None]
        if names and not actor.staff:
            # PostCreator#valid? (lib/post_creator.rb), for a non-staff sender: the recipient limit, then
            # UserCommScreener — everyone who muted or ignores the sender or turned messages off, each named.
            limit = int(self.settings.get("max_allowed_message_recipients") or 0)
            if len(names) > limit:
                raise ForumError.invalid(MAX_PM_RECIPIENTS.format(limit=limit))
            refusing = self.preventing_communication(actor, [u for u in users if u.id != actor.id])
            if refusing:
                raise ForumError.invalid(*(NOT_ACCEPTING_PMS.format(username=u.username) for u in refusing))
        unreachable = [u for u in users if u.id in self.undeliverable_user_ids and u.id != actor.id]
        if unreachable:                      # TEST-ONLY fault (see `undeliverable_user_ids`), whoever sends
            self.undeliverable_refused += 1
            raise ForumError.invalid(*(NOT_ACCEPTING_PMS.format(username=u.username) for u in unreachable))
        self._topic_errors(title, category_id=None, pm=True, external_id=external_id)
        self._check_lengths(raw, None, first=True, pm=True)
        if not names:
            raise ForumError.invalid("You must choose a valid user.")
        user_ids: list[int] = [actor.id]
        group_ids: list[int] = []
        for name in names:
            user = self.user_by_name(name)
            if user is not None:
                # TopicCreator#check_can_send_permission! → Guardian#can_send_private_message?: `cant_send_pm`
                # (the sender is not in personal_message_enabled_groups, or the recipient is suspended).
                if user.id != actor.id and not self.can_send_private_message_to(actor, user):
                    raise ForumError.invalid(CANT_SEND_PM)
                if user.id not in user_ids:
                    user_ids.append(user.id)
                continue
            group = self.group_by_name(name)
            if group is None:
                raise ForumError.invalid(f"Sorry, there is no user or group named '{name}'.")
            if group.automatic and not actor.staff:
                raise ForumError.invalid(f"Sorry, you cannot send a message to {name}.")
            if not self.can_message_group(actor, group):
                raise ForumError.invalid(f"Sorry, you cannot send a message to {name}.")
            group_ids.append(group.id)
        topic = Topic(id=self.next_id("topic"), title=title.strip(), slug=slugify(title), user_id=actor.id,
                      created_at=now, category_id=None, archetype="private_message", external_id=external_id,
                      bumped_at=now,
                      last_posted_at=now, updated_at=now, allowed_user_ids=user_ids, allowed_group_ids=group_ids)
        self.topics[topic.id] = topic
        post = self._add_post(topic, actor, raw=raw, now=now)
        self.emit("topic_created", "topic", topic)
        self.emit("post_created", "post", post)
        return post

    def _reply(self, actor: User, topic: Topic, *, raw: str, reply_to_post_number: int | None, whisper: bool,
               now: datetime) -> Post:
        """A reply to a topic the actor may post in (create_post checked `can_create_post_on_topic`)."""
        self._check_lengths(raw, None, first=False, pm=topic.is_pm)
        if reply_to_post_number is not None:
            numbers = {self.posts[i].post_number for i in topic.post_ids}
            if reply_to_post_number not in numbers:
                reply_to_post_number = None       # Discourse drops a dangling reply target
        post_type = POST_REGULAR
        if whisper:
            if not actor.staff:
                raise ForumError.invalid_access()
            post_type = POST_WHISPER
        post = self._add_post(topic, actor, raw=raw, now=now, reply_to_post_number=reply_to_post_number,
                              post_type=post_type)
        self.emit("post_created", "post", post)
        return post

    def _add_post(self, topic: Topic, actor: User, *, raw: str, now: datetime, reply_to_post_number: int | None = None,
                  post_type: int = POST_REGULAR) -> Post:
        topic.highest_post_number += 1
        post = Post(id=self.next_id("post"), topic_id=topic.id, post_number=topic.highest_post_number,
                    user_id=actor.id, raw=raw, cooked=self.cook(raw), created_at=now, updated_at=now,
                    post_type=post_type, reply_to_post_number=reply_to_post_number)
        self.posts[post.id] = post
        self._index_post(post)
        topic.post_ids.append(post.id)
        if post_type == POST_REGULAR:
            topic.last_posted_at = now
            topic.bumped_at = now
        topic.updated_at = now
        self._index_topic(topic)
        return post

    # ----------------------------------------------------------------------------------------- edits

    def require_post(self, post_id: int, viewer: User | None = None) -> Post:
        post = self.posts.get(post_id)
        if post is None:
            raise ForumError.not_found()
        if viewer is not None and not self.can_see_post(viewer, post):
            topic = self.topics.get(post.topic_id)
            if post.deleted_at is not None or (topic is not None and topic.deleted_at is not None):
                raise ForumError.not_found()
            raise ForumError.invalid_access()
        return post

    def can_edit(self, user: User, post: Post) -> bool:
        return user.staff or (post.user_id == user.id and post.deleted_at is None) or (post.wiki and user.trust_level >= 1)

    def revise_post(self, actor: User, post: Post, *, raw: str | None = None, edit_reason: str | None = None,
                    title: str | None = None) -> Post:
        """`PUT /posts/{id}.json`: a new version with a revision record, as PostRevisor does.

        Unlimited in-process (like `create_post`); edits per day apply to the HTTP route (simulator.limits).
        """
        with self.lock:
            if not self.can_edit(actor, post):
                raise ForumError.invalid_access()
            topic = self.topics[post.topic_id]
            new_raw = post.raw if raw is None else raw
            self._check_lengths(new_raw, None, first=post.post_number == 1, pm=topic.is_pm)
            title_changed = title is not None and post.post_number == 1 and title.strip() != topic.title
            if title_changed:
                self._check_lengths(new_raw, title, first=True, pm=topic.is_pm)
                self._check_unique_title(topic, title or "")
            if new_raw == post.raw and not title_changed:
                return post                                  # Discourse makes no revision for a no-op edit
            now = self.now()
            revision = Revision(number=post.version + 1, user_id=actor.id, created_at=now, raw_before=post.raw,
                                raw_after=new_raw, edit_reason=edit_reason,
                                title_before=topic.title if title_changed else None,
                                title_after=title.strip() if title_changed and title else None)
            post.revisions.append(revision)
            post.version += 1
            post.raw = new_raw
            post.cooked = self.cook(new_raw)
            post.updated_at = now
            post.edit_reason = edit_reason
            if title_changed and title:
                topic.title = title.strip()
                topic.slug = slugify(title)
            topic.updated_at = now
            if post.post_number == 1 and title_changed:
                self.emit("topic_edited", "topic", topic)   # title + raw in one revision: only topic_edited
            else:
                self.emit("post_edited", "post", post)
            return post

    def _check_unique_title(self, topic: Topic, title: str) -> None:
        """A retitle meets the same `unique_among` validation as a new topic (app/models/topic.rb)."""
        if not topic.is_pm and self.duplicate_title(title, category_id=topic.category_id, exclude_topic_id=topic.id):
            raise ForumError.invalid(TITLE_ALREADY_USED)

    def update_topic(self, actor: User, topic: Topic, *, title: str | None = None, category_id: int | None = None,
                     tags: list[str] | None = None) -> Topic:
        """`PUT /t/-/{id}.json`: title, category and tags of a topic; fires only `topic_edited`."""
        with self.lock:
            first = self.first_post(topic)
            if not (actor.staff or first.user_id == actor.id):
                raise ForumError.invalid_access()
            changed = False
            if title is not None and title.strip() != topic.title:
                self._check_lengths(first.raw, title, first=True, pm=topic.is_pm)
                self._check_unique_title(topic, title)
                first.revisions.append(Revision(number=first.version + 1, user_id=actor.id,
                                                created_at=self.now(), raw_before=first.raw,
                                                raw_after=first.raw, title_before=topic.title,
                                                title_after=title.strip()))
                first.version += 1
                topic.title = title.strip()
                topic.slug = slugify(title)
                changed = True
            if category_id is not None and category_id != topic.category_id:
                category = self.require_category(category_id)
                if not self.can_create_in(actor, category):
                    raise ForumError.invalid_access()
                topic.category_id = category.id
                changed = True
            if tags is not None:
                tag_names = self.ensure_tags(tags, actor)
                if tag_names != topic.tags:
                    topic.tags = tag_names
                    changed = True
            if changed:
                topic.updated_at = self.now()
                self.emit("topic_edited", "topic", topic)
            return topic

    def set_status(self, actor: User, topic: Topic, status: str, enabled: bool) -> Topic:
        """`PUT /t/{id}/status.json` for closed, archived, visible, pinned."""
        with self.lock:
            if not actor.staff:
                raise ForumError.invalid_access()
            if status not in ("closed", "archived", "visible", "pinned", "pinned_globally"):
                raise ForumError.bad_params(f"status {status!r} is not one of closed, archived, visible, pinned")
            attr = "pinned" if status == "pinned_globally" else status
            if getattr(topic, attr) != enabled:
                setattr(topic, attr, enabled)
                topic.updated_at = self.now()
                suffix = {"closed": "closed", "archived": "archived", "visible": "visible",
                          "pinned": "pinned", "pinned_globally": "pinned_globally"}[status]
                self.emit(f"topic_{suffix}_status_updated", "topic", topic)
            return topic

    def publish_shared_draft(self, actor: User, topic: Topic, destination_category_id: int | None = None) -> Topic:
        with self.lock:
            if not actor.staff or topic.shared_draft_category_id is None:
                raise ForumError.invalid_access()
            destination = destination_category_id or topic.shared_draft_category_id
            self.require_category(destination)
            topic.category_id = destination
            topic.shared_draft_category_id = None
            now = self.now()
            topic.created_at = topic.bumped_at = topic.last_posted_at = topic.updated_at = now
            self._index_topic(topic)
            first = self.first_post(topic)
            first.revisions.clear()               # publishing destroys the first post's revisions
            first.version = 1
            first.created_at = first.updated_at = now
            # TopicPublisher moves the topic with a PostRevisor revision of post #1 (category change), so
            # Discourse sends `topic_edited` here, not `topic_created` (that went out when the draft was made).
            self.emit("topic_edited", "topic", topic)
            return topic

    # ----------------------------------------------------------------------------------------- deletion

    def delete_post(self, actor: User, post: Post) -> Post:
        with self.lock:
            if not (actor.staff or post.user_id == actor.id):
                raise ForumError.invalid_access()
            if post.post_number == 1:
                self.delete_topic(actor, self.topics[post.topic_id])
                return post
            if post.deleted_at is None:
                post.deleted_at = self.now()
                post.deleted_by_id = actor.id
                self.emit("post_destroyed", "post", post)
            return post

    def recover_post(self, actor: User, post: Post) -> Post:
        with self.lock:
            if not actor.staff:
                raise ForumError.invalid_access()
            if post.post_number == 1:
                self.recover_topic(actor, self.topics[post.topic_id])
                return post
            if post.deleted_at is not None:
                post.deleted_at = None
                post.deleted_by_id = None
                self.emit("post_recovered", "post", post)
            return post

    def delete_topic(self, actor: User, topic: Topic) -> Topic:
        with self.lock:
            if not (actor.staff or self._may_delete_own_topic(actor, topic)):
                raise ForumError.invalid_access()
            if topic.deleted_at is None:
                now = self.now()
                topic.deleted_at = now
                topic.deleted_by_id = actor.id
                first = self.first_post(topic)
                first.deleted_at = now
                first.deleted_by_id = actor.id
                self.emit("post_destroyed", "post", first)
                self.emit("topic_destroyed", "topic", topic)
            return topic

    def _may_delete_own_topic(self, actor: User, topic: Topic) -> bool:
        """Guardian#can_delete_topic? for a non-staff author: no replies yet and less than a day old."""
        live = [i for i in topic.post_ids if self.posts[i].deleted_at is None]
        return (topic.deleted_at is None and self.first_post(topic).user_id == actor.id and len(live) <= 1
                and (self.now() - topic.created_at).total_seconds() < 24 * 3600)

    def set_shared_draft_destination(self, actor: User, topic: Topic, category_id: int) -> Topic:
        """`PUT /t/{id}/shared-draft`: make (or keep) the topic a shared draft bound for `category_id`."""
        with self.lock:
            if not actor.staff:
                raise ForumError.invalid_access()
            category = self.require_category(category_id)
            topic.shared_draft_category_id = category.id
            return topic

    def recover_topic(self, actor: User, topic: Topic) -> Topic:
        with self.lock:
            if not actor.staff:
                raise ForumError.invalid_access()
            if topic.deleted_at is not None:
                topic.deleted_at = None
                topic.deleted_by_id = None
                first = self.first_post(topic)
                first.deleted_at = None
                first.deleted_by_id = None
                self.emit("post_recovered", "post", first)
                self.emit("topic_recovered", "topic", topic)
            return topic

    # ----------------------------------------------------------------------------------------- likes

    def like(self, actor: User, post: Post) -> Post:
        """`POST /post_actions.json` (a like). Unlimited in-process (like `create_post`); likes per day and the
        per-post action limiter apply to the HTTP route (simulator.limits)."""
        with self.lock:
            if post.user_id == actor.id:
                raise ForumError(403, "invalid_access", "You are not permitted to view the requested resource.")
            if post.deleted_at is not None:
                raise ForumError.not_found()
            if actor.id in post.liker_ids():
                raise ForumError(403, "invalid_access", "You already performed this action.")
            revived = self.trashed_likes.pop((post.id, actor.id), None)     # a trashed row revived, not a new one
            like = Like(user_id=actor.id, created_at=self.now(),
                        id=revived.id if revived and revived.id else self.next_id("post_action"))
            post.likes.append(like)
            bisect.insort(self._likes_received.setdefault(post.user_id, []), (like.created_at, post.id, actor.id))
            self.emit("post_liked", "like", (post, actor))
            return post

    def unlike(self, actor: User, post: Post) -> Post:
        """Undoing a like; Discourse fires no webhook for it."""
        with self.lock:
            taken_back = [like for like in post.likes if like.user_id == actor.id]
            post.likes = [like for like in post.likes if like.user_id != actor.id]
            if not taken_back:
                raise ForumError(403, "invalid_access", "You are not permitted to view the requested resource.")
            taken_back[0].deleted_at = self.now()                # PostAction#trash! sets deleted_at
            self.generation += 1                                  # no event: what caches a copy must know
            self.trashed_likes[(post.id, actor.id)] = taken_back[0]
            received = self._likes_received.get(post.user_id, [])
            for like in taken_back:
                at = bisect.bisect_left(received, (like.created_at, post.id, actor.id))
                if at < len(received) and received[at] == (like.created_at, post.id, actor.id):
                    del received[at]
            return post

    # ----------------------------------------------------------------------------------------- uploads

    def add_upload(self, actor: User, *, filename: str, data: bytes, width: int | None = None,
                   height: int | None = None) -> Upload:
        with self.lock:
            if not data:
                raise ForumError.invalid("Sorry, the file you are trying to upload is empty.")
            sha1 = hashlib.sha1(data).hexdigest()
            for upload in self.uploads.values():
                if upload.sha1 == sha1:
                    return upload
            extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
            upload_id = self.next_id("upload")
            base62 = _base62(int(sha1, 16))
            upload = Upload(id=upload_id, user_id=actor.id, original_filename=filename, filesize=len(data),
                            sha1=sha1, extension=extension,
                            url=f"/uploads/default/original/1X/{sha1}.{extension}".rstrip("."),
                            short_url=f"upload://{base62}.{extension}".rstrip("."), created_at=self.now(),
                            width=width, height=height, data=data)
            self.uploads[upload.id] = upload
            return upload

    # ----------------------------------------------------------------------------------------- webhooks

    def create_web_hook(self, **fields: Any) -> WebHook:
        with self.lock:
            secret = fields.get("secret") or ""
            if secret and len(secret) < 12:
                raise ForumError.invalid("Secret is invalid (minimum is 12 characters)")
            url = fields.get("payload_url") or ""
            if not re.match(r"^https?://", url):
                raise ForumError.invalid("Payload url is invalid")
            hook = WebHook(id=self.next_id("web_hook"), created_at=self.now(),
                           **{k: v for k, v in fields.items() if k in WebHook.__dataclass_fields__ and k != "id"})
            self.web_hooks[hook.id] = hook
            return hook

    # ----------------------------------------------------------------------------------------- indexes

    def post_ids_before(self, before: int | None = None) -> Iterator[int]:
        """The ids of the posts below `before` (every post when None), highest first, read lazily: a bisection,
        then one step per post read."""
        if self._posts_indexed != len(self.posts):
            self._reindex_posts()
        ids = self._post_ids_sorted
        end = len(ids) if before is None else bisect.bisect_left(ids, before)
        return (ids[i] for i in range(end - 1, -1, -1))

    def post_ids_by(self, user_id: int) -> list[int]:
        """The ids of the posts `user_id` wrote (deleted ones too), in `posts` order."""
        if self._posts_indexed != len(self.posts):
            self._reindex_posts()
        return list(self._post_ids_by_user.get(user_id, ()))

    def likes_received(self, user_id: int) -> Iterator[tuple[datetime, int, int]]:
        """(created_at, post id, liker id) of the likes on `user_id`'s posts (deleted posts' too, and likers who
        may be gone), newest first — highest post id, then highest liker id, first among likes made at one
        moment — read lazily."""
        if self._posts_indexed != len(self.posts):
            self._reindex_posts()
        return reversed(self._likes_received.get(user_id, []))

    def topics_by_bump(self) -> Iterator[Topic]:
        """Every topic but personal messages, most recently bumped first (`bumped_at`, else `created_at`), topics
        bumped at the same moment in `topics` order — what a stable sort on that time, newest first, gives —
        read lazily."""
        if len(self._bump_entry) != len(self.topics):
            self._reindex_topics()
        for _, _, topic_id in reversed(self._bump_order):
            yield self.topics[topic_id]

    def web_hook_event_ids(self, hook_id: int) -> list[int]:
        """The ids of a web hook's delivery rows, ascending."""
        if self._hook_events_indexed != len(self.web_hook_events):
            self._reindex_web_hook_events()
        return list(self._hook_event_ids.get(hook_id, ()))

    def add_web_hook_event(self, event: WebHookEvent) -> None:
        """Log a delivery row (simulator.webhooks makes them)."""
        with self.lock:
            self.web_hook_events[event.id] = event
            _insert_sorted(self._hook_event_ids.setdefault(event.web_hook_id, []), event.id)
            self._hook_events_indexed += 1

    def _index_post(self, post: Post) -> None:
        """A post just added to `posts` (a post never leaves it: deleting one marks it)."""
        _insert_sorted(self._post_ids_sorted, post.id)
        self._post_ids_by_user.setdefault(post.user_id, []).append(post.id)
        self._posts_indexed += 1

    def _index_topic(self, topic: Topic) -> None:
        """A topic just added to `topics`, or whose `bumped_at` or `created_at` may have changed."""
        if topic.id in self._bump_entry:
            old = self._bump_entry[topic.id]
            if old is None:                                   # a personal message: not in the order
                return
            position = -old[1]
        else:
            old = None
            position = self._next_topic_position
            self._next_topic_position += 1
        if topic.is_pm:
            self._bump_entry[topic.id] = None
            return
        entry = (topic.bumped_at or topic.created_at, -position, topic.id)
        if entry == old:
            return
        if old is not None:
            del self._bump_order[bisect.bisect_left(self._bump_order, old)]
        bisect.insort(self._bump_order, entry)
        self._bump_entry[topic.id] = entry

    def _reindex(self) -> None:
        """Rebuild every index from the records."""
        self.generation += 1
        self._reindex_users()
        self._reindex_posts()
        self._reindex_topics()
        self._reindex_web_hook_events()

    def _reindex_users(self) -> None:
        by_name: dict[str, int] = {}
        for user in self.users.values():
            by_name.setdefault(user.username.lower(), user.id)
        self._user_id_by_name = by_name

    def _reindex_posts(self) -> None:
        """The post ids, the posts by author and the likes received, all read from the posts."""
        by_user: dict[int, list[int]] = {}
        received: dict[int, list[tuple[datetime, int, int]]] = {}
        for post in self.posts.values():
            by_user.setdefault(post.user_id, []).append(post.id)
            if post.likes:
                received.setdefault(post.user_id, []).extend((like.created_at, post.id, like.user_id)
                                                             for like in post.likes)
        for rows in received.values():
            rows.sort()
        self._post_ids_sorted = sorted(self.posts)
        self._post_ids_by_user = by_user
        self._likes_received = received
        self._posts_indexed = len(self.posts)

    def _reindex_topics(self) -> None:
        entries: dict[int, tuple[datetime, int, int] | None] = {}
        for position, topic in enumerate(self.topics.values()):
            entries[topic.id] = None if topic.is_pm else (topic.bumped_at or topic.created_at, -position, topic.id)
        self._bump_order = sorted(entry for entry in entries.values() if entry is not None)
        self._bump_entry = entries
        self._next_topic_position = len(self.topics)

    def _reindex_web_hook_events(self) -> None:
        by_hook: dict[int, list[int]] = {}
        for event in self.web_hook_events.values():
            by_hook.setdefault(event.web_hook_id, []).append(event.id)
        for ids in by_hook.values():
            ids.sort()
        self._hook_event_ids = by_hook
        self._hook_events_indexed = len(self.web_hook_events)

    # ----------------------------------------------------------------------------------------- bulk loading

    def load_bulk(self, *, users: Iterable[Sequence[Any]] = (), topics: Iterable[Sequence[Any]] = (),
                  posts: Iterable[Sequence[Any]] = (), likes: Iterable[Sequence[Any]] = ()) -> None:
        """Append many records straight into the forum — users, then topics, then posts, then likes — as a
        benchmark or a test loads a large forum: no API rules, no rate limits, no events (webhooks see nothing);
        every index is set. For a forum of millions of posts.

        Each record is a tuple (a namedtuple will do) of leading fields, optionally followed by a dict of further
        fields of the record's dataclass (`User`, `Topic`, `Post`); times are datetimes (naive ones taken as UTC):
        - users:  `(id, username, created_at[, extra])`; name = username, email `<username>@example.invalid`,
          trust level 1, unless `extra` says otherwise (e.g. `{"trust_level": 2, "moderator": True}`).
        - topics: `(id, user_id, title, created_at[, extra])`; in category 1 (Uncategorized) unless `extra` gives
          `category_id` (a category made beforehand with `create_category`); `extra` may also give `tags`, or make
          it a personal message (`{"archetype": "private_message", "allowed_user_ids": [...]}`: no category).
        - posts:  `(id, topic_id, user_id, created_at, raw[, extra])`; appended to its topic in the order given —
          give each topic's posts in creation order, its first post first: each gets the topic's next
          post_number and, as a new post does, a regular post bumps the topic (bumped_at, last_posted_at).
          `extra` e.g. `reply_to_post_number`, `post_type`, `deleted_at`, `hidden`, `cooked` (else `cook(raw)`).
        - likes:  `(post_id, user_id, created_at)`; appended to the post's likes (numbered on from the PostAction
          ids in use). At most one like per (post, user), never the author's own — as Discourse allows.
        A record whose id is taken, or that names a missing user, topic, post or category, or a topic left
        without posts, is a ValueError (what came before it stays loaded). Id counters move past the highest id
        loaded, so what is made afterwards through the API gets fresh ids. Nothing else is checked.
        """
        with self.lock:
            try:
                self._load_bulk(users, topics, posts, likes)
            finally:
                self._reindex()

    def _load_bulk(self, users: Iterable[Sequence[Any]], topics: Iterable[Sequence[Any]],
                   posts: Iterable[Sequence[Any]], likes: Iterable[Sequence[Any]]) -> None:
        def split(record: Sequence[Any], size: int) -> tuple[Sequence[Any], dict[str, Any]]:
            if len(record) == size + 1 and isinstance(record[size], dict):
                return record[:size], record[size]
            if len(record) != size:
                raise ValueError(f"expected {size} fields (and perhaps a dict of more): {record!r}")
            return record, {}

        def raise_counter(kind: str, value: int) -> None:
            self._ids[kind] = max(self._ids.get(kind, 0), value)

        self._reindex_users()                       # the usernames taken, whatever added them
        for record in users:
            (user_id, username, created_at), extra = split(record, 3)
            if user_id in self.users or username.lower() in self._user_id_by_name:
                raise ValueError(f"user {user_id} {username!r}: the id or the username is taken")
            fields: dict[str, Any] = {"name": username, "email": f"{username}@example.invalid",
                                      "created_at": _utc(created_at), **extra}
            self.users[user_id] = User(id=user_id, username=username, **fields)
            self._user_id_by_name[username.lower()] = user_id
            raise_counter("user", user_id)
        loaded_topics: list[Topic] = []
        for record in topics:
            (topic_id, user_id, title, created_at), extra = split(record, 4)
            if topic_id in self.topics or user_id not in self.users:
                raise ValueError(f"topic {topic_id}: the id is taken or user {user_id} is missing")
            at = _utc(created_at)
            fields = {"slug": slugify(title), "created_at": at, "bumped_at": at, "last_posted_at": at,
                      "updated_at": at, "category_id": None if extra.get("archetype") == "private_message" else 1,
                      **extra}
            if fields["category_id"] is not None and fields["category_id"] not in self.categories:
                raise ValueError(f"topic {topic_id}: no category {fields['category_id']}")
            topic = Topic(id=topic_id, user_id=user_id, title=title, **fields)
            self.topics[topic_id] = topic
            loaded_topics.append(topic)
            raise_counter("topic", topic_id)
        for record in posts:
            (post_id, topic_id, user_id, created_at, raw), extra = split(record, 5)
            topic = self.topics.get(topic_id)
            if post_id in self.posts or topic is None or user_id not in self.users:
                raise ValueError(f"post {post_id}: the id is taken, or topic {topic_id} or user {user_id} is missing")
            at = _utc(created_at)
            fields = {"created_at": at, "updated_at": at, **extra}
            if "cooked" not in fields:
                fields["cooked"] = cook(raw)
            post = Post(id=post_id, topic_id=topic_id, post_number=topic.highest_post_number + 1, user_id=user_id,
                        raw=raw, **fields)
            topic.highest_post_number = post.post_number
            self.posts[post_id] = post
            topic.post_ids.append(post_id)
            if post.post_type == POST_REGULAR:
                topic.last_posted_at = topic.bumped_at = at
            topic.updated_at = at
            raise_counter("post", post_id)
        like_id = self._ids.get("post_action", 0)
        try:
            for post_id, user_id, created_at in likes:
                post = self.posts.get(post_id)
                if post is None or user_id not in self.users or user_id == post.user_id:
                    raise ValueError(f"like of post {post_id} by user {user_id}: a missing post or user, or "
                                     "the author's own")
                like_id += 1
                post.likes.append(Like(user_id=user_id, created_at=_utc(created_at), id=like_id))
        finally:
            self._ids["post_action"] = like_id
        empty = [topic.id for topic in loaded_topics if not topic.post_ids]
        if empty:
            raise ValueError(f"topics without posts: {empty[:10]}")

    # ----------------------------------------------------------------------------------------- snapshots

    def snapshot(self) -> dict[str, Any]:
        """The whole forum as JSON-ready data (`--data FILE`)."""
        with self.lock:
            return {
                "base_url": self.base_url,
                "settings": dict(self.settings),
                "ids": dict(self._ids),
                "users": [_dump(u) for u in self.users.values()],
                "groups": [_dump(g) for g in self.groups.values()],
                "categories": [_dump(c) for c in self.categories.values()],
                "tags": [_dump(t) for t in self.tags.values()],
                "tag_groups": [_dump(g) for g in self.tag_groups.values()],
                "topics": [_dump(t) for t in self.topics.values()],
                "posts": [_dump(p) for p in self.posts.values()],
                "uploads": [_dump(u) for u in self.uploads.values()],
                "web_hooks": [_dump(w) for w in self.web_hooks.values()],
                "web_hook_events": [_dump(e) for e in self.web_hook_events.values()],
                "trashed_likes": [{"post_id": post_id, **_dump(like)}
                                  for (post_id, _), like in self.trashed_likes.items()],
            }

    def restore(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.saved_base_url = str(data.get("base_url") or "")
            self.settings.update(data.get("settings", {}))
            self._ids = {k: int(v) for k, v in data.get("ids", {}).items()}
            self.users = {u.id: u for u in (_load(User, d) for d in data.get("users", []))}
            self.groups = {g.id: g for g in (_load(Group, d) for d in data.get("groups", []))}
            self.categories = {c.id: c for c in (_load(Category, d) for d in data.get("categories", []))}
            self.tags = {t.name: t for t in (_load(Tag, d) for d in data.get("tags", []))}
            self.tag_groups = {g.id: g for g in (_load(TagGroup, d) for d in data.get("tag_groups", []))}
            self.topics = {t.id: t for t in (_load(Topic, d) for d in data.get("topics", []))}
            self.posts = {p.id: p for p in (_load(Post, d) for d in data.get("posts", []))}
            self.uploads = {u.id: u for u in (_load(Upload, d) for d in data.get("uploads", []))}
            self.web_hooks = {w.id: w for w in (_load(WebHook, d) for d in data.get("web_hooks", []))}
            self.web_hook_events = {e.id: e for e in (_load(WebHookEvent, d)
                                                      for d in data.get("web_hook_events", []))}
            self.trashed_likes = {(int(d["post_id"]), int(d["user_id"])): _load(Like, d)
                                  for d in data.get("trashed_likes", [])}
            self._reindex()


    def remap(self, old: str, new: str) -> int:
        """Rewrite `old` as `new` in every post's raw and cooked text, as `discourse remap OLD NEW` does after a forum
        moves (script/discourse, `remap`): a saved forum reopened at another address keeps its own links working.
        Returns how many posts changed."""
        if not old or old == new:
            return 0
        changed = 0
        with self.lock:
            for post in self.posts.values():
                if old in post.raw or old in post.cooked:
                    post.raw, post.cooked = post.raw.replace(old, new), post.cooked.replace(old, new)
                    changed += 1
        return changed


def _insert_sorted(ids: list[int], value: int) -> None:
    """Insert into an ascending list; ids usually come in ascending order, so mostly an append."""
    if not ids or value > ids[-1]:
        ids.append(value)
    else:
        bisect.insort(ids, value)


def _utc(moment: datetime) -> datetime:
    """A time as loaded: a naive one is UTC (as `parse_time` takes it)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _base62(number: int) -> str:
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while number:
        number, rem = divmod(number, 62)
        out = alphabet[rem] + out
    return out or "0"


def _dump(record: Any) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return {"$dt": value.isoformat()}
        if isinstance(value, bytes):
            return {"$hex": value.hex()}
        if dataclasses.is_dataclass(value):
            return _dump(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value
    return {f.name: convert(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _load(cls: type, data: dict[str, Any]) -> Any:
    def convert(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"$dt"}:
            return datetime.fromisoformat(value["$dt"])
        if isinstance(value, dict) and set(value) == {"$hex"}:
            return bytes.fromhex(value["$hex"])
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value
    kwargs = {k: convert(v) for k, v in data.items() if k in {f.name for f in dataclasses.fields(cls)}}
    if cls is Post:
        kwargs["likes"] = [Like(**like) if isinstance(like, dict) else like for like in kwargs.get("likes", [])]
        kwargs["revisions"] = [Revision(**r) if isinstance(r, dict) else r for r in kwargs.get("revisions", [])]
    return cls(**kwargs)


def reply_target(forum: Forum, post: Post) -> Post | None:
    """The post that `post` answers (by its `reply_to_post_number` in the same topic), or None."""
    if post.reply_to_post_number is None:
        return None
    topic = forum.topics.get(post.topic_id)
    if topic is None:
        return None
    for pid in topic.post_ids:
        candidate = forum.posts.get(pid)
        if candidate is not None and candidate.post_number == post.reply_to_post_number:
            return candidate
    return None
