"""The simulated forum's state: users, groups, categories, topics, posts, likes, uploads and webhooks.

Everything here is plain data plus the rules Discourse applies to it (who may see what, who may do what,
what a new post or an edit changes). No HTTP: the REST layer (`simulator.api`) turns requests into calls
on :class:`Forum`, and webhook delivery (`simulator.webhooks`) listens to the events it emits.

All mutations happen under one re-entrant lock, so a threaded server sees a consistent forum.
"""
from __future__ import annotations

import dataclasses
import hashlib
import html
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

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
    """A small stand-in for Discourse's markdown cooker: escaped paragraphs and headings."""
    blocks = [b for b in re.split(r"\n\s*\n", raw.strip()) if b.strip()]
    out = []
    for block in blocks:
        heading = re.match(r"^(#{1,6})\s+(.*)$", block.strip())
        if heading and "\n" not in block.strip():
            level = len(heading.group(1))
            out.append(f"<h{level}>{html.escape(heading.group(2))}</h{level}>")
        else:
            out.append("<p>" + html.escape(block.strip()).replace("\n", "<br>\n") + "</p>")
    return "\n".join(out)


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
        self.settings: dict[str, Any] = {
            "title": "Simulated Discourse",
            "max_admin_api_reqs_per_minute": 60,
            "shared_drafts_category": None,
            "min_title_length": 15,
            "min_post_length": 20,
            "min_first_post_length": 20,
            "min_personal_message_post_length": 10,
            "max_tags_per_topic": 5,
            "retry_web_hook_events": False,   # Discourse's site setting; webhook delivery reads it
        }
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
        self._ids: dict[str, int] = {}
        self._seed()

    # ----------------------------------------------------------------------------------------- basics

    def now(self) -> datetime:
        return self.clock()

    def next_id(self, kind: str, start: int = 1) -> int:
        with self.lock:
            value = self._ids.get(kind, start - 1) + 1
            self._ids[kind] = value
            return value

    def emit(self, event_name: str, event_type: str, subject: Any) -> None:
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
        wanted = username.lower()
        for user in self.users.values():
            if user.username.lower() == wanted:
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

    def suspend(self, user: User, until: datetime, reason: str) -> None:
        with self.lock:
            if user.admin:
                raise ForumError(403, "invalid_access", "You can't suspend an admin.")
            user.suspended_till = until
            user.suspend_reason = reason

    def unsuspend(self, user: User) -> None:
        with self.lock:
            user.suspended_till = None
            user.suspend_reason = None

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
        clean: list[str] = []
        for name in names:
            tag_name = re.sub(r"\s+", "-", name.strip().lower())
            if not tag_name:
                continue
            if tag_name not in self.tags:
                if actor.trust_level < 1 and not actor.staff:
                    raise ForumError.invalid(f"You can't create the tag {tag_name!r}")
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
            if topic_id is not None:
                topic = self.require_topic(topic_id, actor)
                return self._reply(actor, topic, raw=raw, reply_to_post_number=reply_to_post_number,
                                   whisper=whisper, now=now)
            if archetype == "private_message":
                return self._new_pm(actor, raw=raw, title=title, target_recipients=list(target_recipients),
                                    external_id=external_id, now=now)
            if archetype != "regular":
                raise ForumError.bad_params(f"archetype {archetype!r} is not supported")
            return self._new_topic(actor, raw=raw, title=title, category_id=category_id, tags=list(tags),
                                   external_id=external_id, shared_draft=shared_draft, now=now)

    def _check_lengths(self, raw: str, title: str | None, *, first: bool, pm: bool = False) -> None:
        errors = []
        if title is not None:
            if not title.strip():
                errors.append("Title can't be blank")
            elif len(title.strip()) < self.settings["min_title_length"]:
                errors.append(f"Title is too short (minimum is {self.settings['min_title_length']} characters)")
            elif len(title) > 255:
                errors.append("Title is too long (maximum is 255 characters)")
        minimum = self.settings["min_personal_message_post_length" if pm else
                                "min_first_post_length" if first else "min_post_length"]
        if not raw.strip():
            errors.append("Body can't be blank" if not first else "Body is too short (minimum is "
                          f"{minimum} characters)")
        elif len(raw.strip()) < minimum:
            errors.append(f"Body is too short (minimum is {minimum} characters)")
        elif len(raw) > 32000:
            errors.append("Body is limited to 32000 characters; you entered %d." % len(raw))
        if errors:
            raise ForumError.invalid(*errors)

    def _new_topic(self, actor: User, *, raw: str, title: str | None, category_id: int | None,
                   tags: list[str], external_id: str | None, shared_draft: bool, now: datetime) -> Post:
        if title is None:
            raise ForumError.invalid("Title can't be blank")
        self._check_lengths(raw, title, first=True)
        self._check_external_id(external_id)
        category = self.require_category(category_id) if category_id else self.categories[1]
        if not self.can_see_category(actor, category) or not self.can_create_in(actor, category):
            raise ForumError.invalid_access()
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

    def _check_external_id(self, external_id: str | None) -> None:
        """Topic's validations of `external_id` (any archetype: TopicCreator sets it on messages too)."""
        if external_id is not None:
            if len(external_id) > 50:
                raise ForumError.invalid("External ID is too long (maximum is 50 characters)")
            if self.topic_by_external_id(external_id) is not None:
                raise ForumError.invalid("External ID has already been taken")

    def _new_pm(self, actor: User, *, raw: str, title: str | None, target_recipients: list[str],
                external_id: str | None, now: datetime) -> Post:
        if title is None:
            raise ForumError.invalid("Title can't be blank")
        self._check_lengths(raw, title, first=True, pm=True)
        self._check_external_id(external_id)
        names = [n.strip() for n in target_recipients if n.strip()]
        if not names:
            raise ForumError.invalid("You must choose a valid user.")
        user_ids: list[int] = [actor.id]
        group_ids: list[int] = []
        for name in names:
            user = self.user_by_name(name)
            if user is not None:
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
        self._check_lengths(raw, None, first=False, pm=topic.is_pm)
        if topic.closed and not actor.staff:
            raise ForumError(403, "invalid_access", "This topic is closed; it no longer accepts new replies.")
        if topic.archived and not actor.staff:
            raise ForumError(403, "invalid_access", "This topic is archived.")
        if not self.can_reply_in(actor, topic):
            raise ForumError.invalid_access()
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
                    user_id=actor.id, raw=raw, cooked=cook(raw), created_at=now, updated_at=now,
                    post_type=post_type, reply_to_post_number=reply_to_post_number)
        self.posts[post.id] = post
        topic.post_ids.append(post.id)
        if post_type == POST_REGULAR:
            topic.last_posted_at = now
            topic.bumped_at = now
        topic.updated_at = now
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
        """`PUT /posts/{id}.json`: a new version with a revision record, as PostRevisor does."""
        with self.lock:
            if not self.can_edit(actor, post):
                raise ForumError.invalid_access()
            topic = self.topics[post.topic_id]
            new_raw = post.raw if raw is None else raw
            self._check_lengths(new_raw, None, first=post.post_number == 1, pm=topic.is_pm)
            title_changed = title is not None and post.post_number == 1 and title.strip() != topic.title
            if title_changed:
                self._check_lengths(new_raw, title, first=True, pm=topic.is_pm)
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
            post.cooked = cook(new_raw)
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
        with self.lock:
            if post.user_id == actor.id:
                raise ForumError(403, "invalid_access", "You are not permitted to view the requested resource.")
            if post.deleted_at is not None:
                raise ForumError.not_found()
            if actor.id in post.liker_ids():
                raise ForumError(403, "invalid_access", "You already performed this action.")
            post.likes.append(Like(user_id=actor.id, created_at=self.now()))
            self.emit("post_liked", "like", (post, actor))
            return post

    def unlike(self, actor: User, post: Post) -> Post:
        """Undoing a like; Discourse fires no webhook for it."""
        with self.lock:
            before = len(post.likes)
            post.likes = [like for like in post.likes if like.user_id != actor.id]
            if len(post.likes) == before:
                raise ForumError(403, "invalid_access", "You are not permitted to view the requested resource.")
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

    # ----------------------------------------------------------------------------------------- snapshots

    def snapshot(self) -> dict[str, Any]:
        """The whole forum as JSON-ready data (`--data FILE`)."""
        with self.lock:
            return {
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
            }

    def restore(self, data: dict[str, Any]) -> None:
        with self.lock:
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
