"""The REST JSON shapes, as Discourse's serializers emit them.

Each function takes the forum, the viewer (a `User`; `anonymous_user()` for a request without a key) and the
record, and returns plain JSON-ready data with Discourse's field names and types. Field sets follow Discourse's
serializers (`BasicUserSerializer`, `UserSerializer`, `PostSerializer`, `TopicViewSerializer`,
`TopicListItemSerializer`, `CategorySerializer`, `SiteSerializer`, `UploadSerializer`, `PostRevisionSerializer`…)
and the required fields of the official OpenAPI description; values are computed from the forum where they mean
something (counts, permissions for this viewer) and are Discourse's defaults where they don't (flair, badges).

Where Discourse includes a key only in some cases, so do we (e.g. `details.can_*` flags only when true,
`suspended_till` only for a suspended user, `link_counts` only when there are links).
"""
from __future__ import annotations

import difflib
import html
import re
from datetime import datetime
from typing import Any, Iterable

from .state import (LIKE, reply_target, POST_REGULAR, POST_WHISPER, SYSTEM_USER_ID, Category, Forum, Group, Post, Revision,
                    QueuedPost, Tag, TagGroup, Topic, Upload, User, avatar_template, cook, iso)

Json = dict[str, Any]

TOPIC_CHUNK_SIZE = 20
"""Posts per topic page (`TopicView#chunk_size`): `post_stream.posts` holds this many; `stream` holds every id."""
TOPIC_LIST_PER_PAGE = 30
"""Topics per page of a topic list (`TopicQuery` default)."""

# PostActionType ids (PostActionType.types): a like, then the flags a viewer may raise.
FLAG_TYPES = (3, 4, 8, 7)          # off_topic, inappropriate, spam, notify_moderators
NOTIFY_USER = 6
NOTIFICATION_REGULAR = 1           # TopicUser.notification_levels[:regular]
PERMISSION_FULL, PERMISSION_CREATE_POST, PERMISSION_READONLY = 1, 2, 3


def basic_user(user: User) -> Json:
    """BasicUserSerializer."""
    return {"id": user.id, "username": user.username, "name": user.name or None,
            "avatar_template": _avatar(user)}


def _avatar(user: User) -> str:
    return avatar_template(user.username)


def _name(user: User) -> str:
    return user.name or user.username


# --------------------------------------------------------------------------------------------- users


def _last_posted_at(forum: Forum, user: User) -> datetime | None:
    times = [p.created_at for p in forum.posts.values() if p.user_id == user.id and p.deleted_at is None]
    return max(times) if times else None


def _post_count(forum: Forum, user: User) -> int:
    return sum(1 for p in forum.posts.values()
               if p.user_id == user.id and p.deleted_at is None and p.post_type == POST_REGULAR
               and not forum.topics[p.topic_id].is_pm)


def _topic_count(forum: Forum, user: User) -> int:
    return sum(1 for t in forum.topics.values() if t.user_id == user.id and t.deleted_at is None and not t.is_pm)


def user_groups(forum: Forum, viewer: User, user: User) -> list[Group]:
    """The groups of `user` that `viewer` may see, by id (UserSerializer#groups)."""
    groups = [forum.groups[i] for i in forum.group_ids_of(user) if i in forum.groups]
    return [g for g in groups if forum.can_see_group(viewer, g)]


def user_detail(forum: Forum, viewer: User, user: User) -> Json:
    """`GET /u/{username}.json`: UserSerializer under `user`, with `user_badges`."""
    now = forum.now()
    groups = user_groups(forum, viewer, user)
    mine = viewer.id == user.id
    can_edit = mine or viewer.admin
    last_posted = _last_posted_at(forum, user)
    data: Json = {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "avatar_template": _avatar(user),
        "last_posted_at": iso(last_posted),
        "last_seen_at": iso(last_posted),
        "created_at": iso(user.created_at),
        "ignored": user.id in viewer.ignored_user_ids,
        "muted": user.id in viewer.muted_user_ids,
        "can_ignore_user": forum.can_ignore(viewer, user),
        "can_mute_user": forum.can_mute(viewer, user),
        "can_send_private_messages": forum.can_send_private_messages(viewer),
        "can_send_private_message_to_user": not mine and forum.can_send_private_message_to(viewer, user),
        "trust_level": user.trust_level,
        "moderator": user.moderator,
        "admin": user.admin,
        "title": user.title,
        "badge_count": 0,
        "custom_fields": {},
        "time_read": 0,
        "recent_time_read": 0,
        "primary_group_id": None,
        "primary_group_name": None,
        "flair_group_id": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "featured_topic": None,
        "staged": False,
        "can_edit": can_edit,
        "can_edit_username": can_edit,
        "can_edit_email": can_edit,
        "can_edit_name": can_edit,
        "uploaded_avatar_id": None,
        "has_title_badges": False,
        "pending_count": 0,
        "pending_posts_count": 0,
        "profile_view_count": 0,
        "second_factor_enabled": False,
        "can_upload_profile_header": can_edit,
        "can_upload_user_card_background": can_edit,
        "post_count": _post_count(forum, user),
        "topic_count": _topic_count(forum, user),
        "can_be_deleted": viewer.admin and not user.admin,
        "can_delete_all_posts": viewer.admin and not user.admin,
        "locale": None,
        "muted_category_ids": [],
        "regular_category_ids": [],
        "watched_tags": [],
        "watching_first_post_tags": [],
        "tracked_tags": [],
        "muted_tags": [],
        "tracked_category_ids": [],
        "watched_category_ids": [],
        "watched_first_post_category_ids": [],
        "system_avatar_upload_id": None,
        "system_avatar_template": _avatar(user),
        "muted_usernames": _usernames(forum, user.muted_user_ids),
        "ignored_usernames": _usernames(forum, user.ignored_user_ids),
        "allowed_pm_usernames": [],
        "mailing_list_posts_per_day": 0,
        "can_change_bio": can_edit,
        "can_change_location": can_edit,
        "can_change_website": can_edit,
        "can_change_tracking_preferences": can_edit,
        "user_api_keys": None,
        "user_auth_tokens": [],
        "user_notification_schedule": _notification_schedule(),
        "use_logo_small_as_avatar": False,
        "featured_user_badge_ids": [],
        "invited_by": None,
        "groups": [group_basic(forum, viewer, g, in_user=True) for g in groups],
        "group_users": [{"group_id": g.id, "user_id": user.id, "notification_level": 3,
                         "owner": user.id in g.owner_ids} for g in groups if not g.automatic],
        "user_option": _user_option(user),
    }
    if user.suspended(now):
        data["suspended_till"] = iso(user.suspended_till)
        if viewer.staff or mine:
            data["suspend_reason"] = user.suspend_reason
    return {"user_badges": [], "user": data}


def _usernames(forum: Forum, user_ids: Iterable[int]) -> list[str]:
    return [forum.users[i].username for i in user_ids if i in forum.users]


def hidden_profile(forum: Forum, viewer: User, user: User) -> Json:
    """`GET /u/{username}.json` when Guardian#can_see_profile? is false: HiddenProfileSerializer under `user`
    (app/serializers/hidden_profile_serializer.rb: BasicUserSerializer's id, username, name, avatar_template, then
    profile_hidden, title, primary_group_name, can_send_private_message_to_user; no trust level, roles or
    groups), and no `user_badges`."""
    return {"user": {
        **basic_user(user),
        "profile_hidden": True,
        "title": user.title,
        "primary_group_name": None,
        "can_send_private_message_to_user": forum.can_send_private_message_to(viewer, user),
    }}


def enqueued_post(forum: Forum, viewer: User, queued: QueuedPost) -> Json:
    """`POST /posts.json` for a post held for review: NewPostResultSerializer of a successful `enqueued` result
    (lib/new_post_manager.rb#enqueue) — `success`, the user's `pending_count` and `pending_post`
    (TopicPendingPostSerializer: id, raw, created_at). `reason` only for staff viewers, who are never held."""
    return {
        "action": "enqueued",
        "success": True,
        "pending_count": forum.pending_count(viewer),
        "pending_post": {"id": queued.id, "raw": queued.raw, "created_at": iso(queued.created_at)},
    }


def _notification_schedule() -> Json:
    schedule: Json = {"enabled": False}
    for day in range(7):
        schedule[f"day_{day}_start_time"] = 480
        schedule[f"day_{day}_end_time"] = 1020
    return schedule


def _user_option(user: User) -> Json:
    """UserOptionSerializer with Discourse's default user options."""
    return {
        "user_id": user.id, "mailing_list_mode": False, "mailing_list_mode_frequency": 1, "email_digests": True,
        "email_level": 1, "email_messages_level": 0, "external_links_in_new_tab": False,
        "bookmark_auto_delete_preference": 3, "color_scheme_id": None, "dark_scheme_id": None,
        "dynamic_favicon": False, "enable_quoting": True, "enable_smart_lists": True,
        "enable_markdown_monospace_font": False, "digest_after_minutes": 10080,
        "automatically_unpin_topics": True, "auto_track_topics_after_msecs": 240000,
        "notification_level_when_replying": 2, "new_topic_duration_minutes": 2880, "email_previous_replies": 2,
        "email_in_reply_to": False, "like_notification_frequency": 1, "notify_on_linked_posts": True,
        "push_notification_level": "all", "enable_upcoming_change_available_notifications": False,
        "include_tl0_in_digests": False, "theme_ids": [], "theme_key_seq": 0,
        "allow_private_messages": user.allow_private_messages,
        "enable_allowed_pm_users": False, "homepage_id": None,
        "hide_profile_and_presence": user.hide_profile and user.hide_presence,
        "hide_profile": user.hide_profile, "hide_presence": user.hide_presence, "text_size": "normal", "text_size_seq": 0,
        "title_count_mode": "notifications", "timezone": None, "skip_new_user_tips": False,
        "default_calendar": "none_selected", "oldest_search_log_date": None,
        "sidebar_link_to_filtered_list": False, "sidebar_show_count_of_new_items": False,
        "watched_precedence_over_muted": False, "seen_popups": None, "topics_unread_when_closed": True,
        "composition_mode": 1, "interface_color_mode": 1, "automatically_translate": False,
        "understood_languages": [], "show_original_content": True, "send_shortcut": "auto",
    }


def admin_user(forum: Forum, user: User) -> Json:
    """AdminUserSerializer (the answer of `grant_moderation`), under `admin_user`."""
    return {"admin_user": {
        **basic_user(user),
        "email": user.email, "secondary_emails": [], "active": user.active, "admin": user.admin,
        "moderator": user.moderator, "last_seen_at": iso(_last_posted_at(forum, user)),
        "last_emailed_at": None, "created_at": iso(user.created_at), "last_seen_age": None,
        "last_emailed_age": None, "created_at_age": (forum.now() - user.created_at).total_seconds(),
        "trust_level": user.trust_level, "manual_locked_trust_level": None, "title": user.title,
        "time_read": 0, "staged": False, "days_visited": 0, "posts_read_count": 0, "topics_entered": 0,
        "post_count": _post_count(forum, user), "can_be_deleted": not user.admin, "can_delete_all_posts": False,
        "suspended_at": None, "suspended_till": iso(user.suspended_till) if user.suspended(forum.now()) else None,
        "silenced_till": None,
    }}


def suspension(forum: Forum, user: User, actor: User, suspended_at: datetime) -> Json:
    """`PUT /admin/users/{id}/suspend.json`."""
    return {"suspension": {
        "suspend_reason": user.suspend_reason or "",
        "full_suspend_reason": user.suspend_reason or "",
        "suspended_till": iso(user.suspended_till),
        "suspended_at": iso(suspended_at),
        "suspended_by": {"id": actor.id, "username": actor.username, "name": _name(actor),
                         "avatar_template": _avatar(actor)},
    }}


# --------------------------------------------------------------------------------------------- groups


def group_basic(forum: Forum, viewer: User, group: Group, *, in_user: bool = False) -> Json:
    """BasicGroupSerializer (`in_user`: as a user's `groups` carry it, without `can_edit_group`)."""
    is_owner = viewer.id in group.owner_ids
    data: Json = {
        "id": group.id,
        "automatic": group.automatic,
        "name": group.name,
        "display_name": group.full_name or group.name,
        "user_count": len(forum.members_of(group)),
        "mentionable_level": group.mentionable_level,
        "messageable_level": group.messageable_level,
        "visibility_level": group.visibility_level,
        "primary_group": False,
        "title": None,
        "grant_trust_level": None,
        "incoming_email": None,
        "has_messages": any(group.id in t.allowed_group_ids for t in forum.topics.values()),
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "bio_raw": None,
        "bio_cooked": None,
        "bio_excerpt": None,
        "public_admission": False,
        "public_exit": False,
        "allow_membership_requests": False,
        "full_name": group.full_name,
        "default_notification_level": 3,
        "membership_request_template": None,
        "members_visibility_level": 0,
        "can_see_members": True,
        "can_admin_group": viewer.admin or is_owner,
        "can_edit_group": viewer.admin or is_owner,
        "publish_read_state": False,
    }
    if in_user:
        del data["can_edit_group"]
    return data


def created_group(forum: Forum, viewer: User, group: Group) -> Json:
    """`POST /admin/groups.json`: BasicGroupSerializer under `basic_group` (no `display_name`)."""
    data = group_basic(forum, viewer, group)
    del data["display_name"]
    return {"basic_group": data}


def group_detail(forum: Forum, viewer: User, group: Group) -> Json:
    """`GET /groups/{name}.json`: GroupShowSerializer under `group`, with `extras.visible_group_names`."""
    data = group_basic(forum, viewer, group)
    del data["display_name"]
    data.update({
        "is_group_user": viewer.id in [u.id for u in forum.members_of(group)],
        "is_group_owner_display": viewer.id in group.owner_ids,
        "mentionable": viewer.staff or group.mentionable_level == 99,
        "messageable": not viewer.anonymous and forum.can_message_group(viewer, group),
        "automatic_membership_email_domains": None,
        "smtp_server": None, "smtp_port": None, "smtp_ssl_mode": None,
        "email_username": None, "email_password": None,
        "message_count": sum(1 for t in forum.topics.values() if group.id in t.allowed_group_ids),
        "allow_unknown_sender_topic_replies": False,
        "watching_category_ids": [], "tracking_category_ids": [], "watching_first_post_category_ids": [],
        "regular_category_ids": [], "muted_category_ids": [],
    })
    visible = sorted(g.name for g in forum.groups.values() if forum.can_see_group(viewer, g))
    return {"group": data, "extras": {"visible_group_names": visible}}


def group_members(forum: Forum, group: Group, *, offset: int, limit: int) -> Json:
    """`GET /groups/{name}/members.json`: GroupUserSerializer rows, owners first-class, `meta` for paging."""
    members = forum.members_of(group)

    def row(user: User) -> Json:
        last = _last_posted_at(forum, user)
        return {"id": user.id, "username": user.username, "name": user.name or None,
                "avatar_template": _avatar(user), "title": user.title, "last_posted_at": iso(last),
                "last_seen_at": iso(last), "added_at": iso(user.created_at), "timezone": None}

    return {
        "members": [row(u) for u in members[offset:offset + limit]],
        "owners": [row(forum.users[i]) for i in group.owner_ids if i in forum.users],
        "meta": {"total": len(members), "limit": limit, "offset": offset},
    }


# --------------------------------------------------------------------------------------------- categories


def category_permission(forum: Forum, viewer: User, category: Category) -> int | None:
    """The viewer's permission in a category: 1 full, 2 create post, 3 read only (None for anonymous)."""
    if viewer.anonymous:
        return None
    if viewer.staff or not category.permissions:
        return PERMISSION_FULL
    mine = set(forum.group_ids_of(viewer))
    granted = []
    for name, level in category.permissions.items():
        group = forum.group_by_name(name)
        if name == "everyone" or (group is not None and group.id in mine):
            granted.append(int(level))
    return min(granted, default=PERMISSION_READONLY)


def _category_counts(forum: Forum, category: Category) -> tuple[int, int]:
    topics = [t for t in forum.topics.values()
              if t.category_id == category.id and t.deleted_at is None and t.id != category.topic_id]
    posts = sum(1 for t in topics for i in t.post_ids
                if forum.posts[i].deleted_at is None and forum.posts[i].post_type == POST_REGULAR)
    return len(topics), posts


def _topics_since(forum: Forum, category: Category, days: int | None) -> int:
    now = forum.now()
    return sum(1 for t in forum.topics.values()
               if t.category_id == category.id and t.deleted_at is None
               and (days is None or (now - t.created_at).days < days))


def category(forum: Forum, viewer: User, cat: Category, *, detailed: bool = False) -> Json:
    """CategorySerializer (BasicCategorySerializer fields plus, when `detailed`, the editable settings)."""
    topic_count, post_count = _category_counts(forum, cat)
    children = [c.id for c in forum.categories.values()
                if c.parent_category_id == cat.id and forum.can_see_category(viewer, c)]
    excerpt = html.escape(cat.description) if cat.description else None
    data: Json = {
        "id": cat.id,
        "name": cat.name,
        "color": cat.color,
        "text_color": cat.text_color,
        "style_type": "square",
        "emoji": None,
        "icon": None,
        "slug": cat.slug,
        "topic_count": topic_count,
        "post_count": post_count,
        "position": cat.position,
        "description": f"<p>{excerpt}</p>" if excerpt else None,
        "description_text": cat.description,
        "description_excerpt": excerpt,
        "topic_url": _about_url(forum, cat),
        "read_restricted": cat.read_restricted,
        "permission": category_permission(forum, viewer, cat),
        "notification_level": NOTIFICATION_REGULAR,
        "can_edit": viewer.admin,
        "topic_template": None,
        "topic_title_placeholder": None,
        "has_children": bool(children),
        "subcategory_count": len(children) or None,
        "sort_order": None,
        "sort_ascending": None,
        "show_subcategory_list": False,
        "num_featured_topics": 3,
        "default_view": None,
        "subcategory_list_style": "rows_with_featured_topics",
        "default_top_period": "all",
        "default_list_filter": "all",
        "minimum_required_tags": 0,
        "navigate_to_first_post_after_read": False,
        "uploaded_logo": None,
        "uploaded_logo_dark": None,
        "uploaded_background": None,
        "uploaded_background_dark": None,
    }
    if cat.parent_category_id is not None:
        data["parent_category_id"] = cat.parent_category_id
    if detailed:
        data.update({
            "custom_fields": {},
            "allow_global_tags": False,
            "required_tag_groups": [],
            "read_only_banner": None,
            "available_groups": sorted(g.name for g in forum.groups.values()
                                       if g.name not in cat.permissions),
            "auto_close_hours": None,
            "auto_close_based_on_last_post": False,
            "allow_unlimited_owner_edits_on_first_post": False,
            "default_slow_mode_seconds": None,
            "group_permissions": _group_permissions(forum, cat),
            "email_in": None,
            "email_in_allow_strangers": False,
            "mailinglist_mirror": False,
            "all_topics_wiki": False,
            "can_delete": viewer.admin and topic_count == 0,
            "allow_badges": True,
            "topic_featured_link_allowed": True,
            "search_priority": 0,
            "topic_posting_review_group_ids": [],
            "reply_posting_review_group_ids": [],
        })
    return data


def _group_permissions(forum: Forum, cat: Category) -> list[Json]:
    if not cat.permissions:
        return [{"permission_type": PERMISSION_FULL, "group_name": "everyone", "group_id": 0}]
    rows = []
    for name, permission in cat.permissions.items():
        group = forum.group_by_name(name)
        rows.append({"permission_type": int(permission), "group_name": name, "group_id": group.id if group else 0})
    return rows


def _about_url(forum: Forum, cat: Category) -> str | None:
    topic = forum.topics.get(cat.topic_id or 0)
    return f"/t/{topic.slug}/{topic.id}" if topic else None


def category_list_entry(forum: Forum, viewer: User, cat: Category) -> Json:
    """A category of `GET /categories.json` (CategoryDetailedSerializer)."""
    data = category(forum, viewer, cat)
    data["permission"] = data["permission"] if data["permission"] is not None else PERMISSION_READONLY
    subcategories = [c.id for c in forum.categories.values()
                     if c.parent_category_id == cat.id and forum.can_see_category(viewer, c)]
    data.update({
        "topics_day": _topics_since(forum, cat, 1),
        "topics_week": _topics_since(forum, cat, 7),
        "topics_month": _topics_since(forum, cat, 30),
        "topics_year": _topics_since(forum, cat, 365),
        "topics_all_time": _topics_since(forum, cat, None),
        "is_uncategorized": cat.id == 1,
        "subcategory_ids": subcategories,
    })
    return data


def category_list(forum: Forum, viewer: User, categories: Iterable[Category]) -> Json:
    return {"category_list": {
        "can_create_category": viewer.admin,
        "can_create_topic": not viewer.anonymous,
        "categories": [category_list_entry(forum, viewer, c) for c in categories],
    }}


def site_category(forum: Forum, viewer: User, cat: Category) -> Json:
    """A category of `GET /site.json` (SiteCategorySerializer)."""
    data = category(forum, viewer, cat)
    for key in ("uploaded_logo", "uploaded_logo_dark", "uploaded_background", "uploaded_background_dark"):
        data[key] = None
    data["permission"] = data["permission"] if data["permission"] is not None else PERMISSION_READONLY
    data["topic_url"] = data["topic_url"] or f"/c/{cat.slug}/{cat.id}"
    data.update({"allow_global_tags": False, "required_tag_groups": [], "read_only_banner": None,
                 "custom_fields": None, "form_template_ids": []})
    return data


# --------------------------------------------------------------------------------------------- site


POST_ACTION_TYPES = [
    # id, name_key, name, description, is_flag
    (2, "like", "Like", "Like this post", False),
    (3, "off_topic", "It's Off-Topic", "This post is not relevant to the current discussion.", True),
    (4, "inappropriate", "It's Inappropriate", "This post contains content that a reasonable person would "
                                               "consider offensive, abusive, or a violation of our community "
                                               "guidelines.", True),
    (8, "spam", "It's Spam", "This post is an advertisement, or vandalism.", True),
    (6, "notify_user", "Send @{{username}} a message", "I want to talk to this person directly.", True),
    (7, "notify_moderators", "Something Else", "This post requires staff attention for another reason.", True),
]


def _post_action_type(entry: tuple[int, str, str, str, bool], position: int) -> Json:
    type_id, key, name, description, is_flag = entry
    return {"id": type_id, "name_key": key, "name": name, "description": description,
            "short_description": name, "is_flag": is_flag, "require_message": key in ("notify_user",),
            "enabled": True, "applies_to": ["Post", "Chat::Message"], "is_used": False, "position": position,
            "auto_action_type": key in ("spam", "inappropriate"), "system": True}


NOTIFICATION_TYPES = {
    "mentioned": 1, "replied": 2, "quoted": 3, "edited": 4, "liked": 5, "private_message": 6,
    "invited_to_private_message": 7, "invitee_accepted": 8, "posted": 9, "moved_post": 10, "linked": 11,
    "granted_badge": 12, "invited_to_topic": 13, "custom": 14, "group_mentioned": 15,
    "group_message_summary": 16, "watching_first_post": 17, "topic_reminder": 18, "liked_consolidated": 19,
    "post_approved": 20, "code_review_commit_approved": 21, "membership_request_accepted": 22,
    "membership_request_consolidated": 23, "bookmark_reminder": 24, "reaction": 25, "votes_released": 26,
    "event_reminder": 27, "event_invitation": 28, "chat_mention": 29, "chat_message": 30,
    "chat_invitation": 31, "chat_group_mention": 32, "chat_quoted": 33, "assigned": 34,
    "question_answer_user_commented": 35, "watching_category_or_tag": 36, "new_features": 37,
    "admin_problems": 38, "linked_consolidated": 39, "chat_watched_thread": 40,
    "following": 800, "following_created_topic": 801, "following_replied": 802, "circles_activity": 900,
}


def site(forum: Forum, viewer: User) -> Json:
    """`GET /site.json` (SiteSerializer)."""
    categories = [c for c in sorted(forum.categories.values(), key=lambda c: (c.position, c.id))
                  if forum.can_see_category(viewer, c)]
    groups = [g for g in sorted(forum.groups.values(), key=lambda g: g.name) if forum.can_see_group(viewer, g)]
    tag_counts = _tag_counts(forum)
    top_tags = sorted(forum.tags.values(), key=lambda t: (-tag_counts.get(t.name, 0), t.name))[:10]
    return {
        "default_archetype": "regular",
        "notification_types": NOTIFICATION_TYPES,
        "post_types": {"regular": 1, "moderator_action": 2, "small_action": 3, "whisper": 4},
        "trust_levels": {"newuser": 0, "basic": 1, "member": 2, "regular": 3, "leader": 4},
        "groups": [{"id": g.id, "name": g.name, "flair_url": None, "flair_bg_color": None, "flair_color": None,
                    "automatic": g.automatic} for g in groups],
        "filters": ["latest", "unread", "new", "unseen", "top", "read", "posted", "bookmarks", "hot"],
        "homepage_choices": [],
        "periods": ["all", "yearly", "quarterly", "monthly", "weekly", "daily"],
        "top_menu_items": ["latest", "unread", "new", "unseen", "top", "read", "posted", "bookmarks", "hot"],
        "anonymous_top_menu_items": ["latest", "top", "categories", "hot"],
        "uncategorized_category_id": 1,
        "user_field_max_length": 2048,
        "post_action_types": [_post_action_type(e, i) for i, e in enumerate(POST_ACTION_TYPES)],
        "topic_flag_types": [_post_action_type(e, i) for i, e in enumerate(POST_ACTION_TYPES) if e[4]],
        "can_create_tag": viewer.staff or (not viewer.anonymous and viewer.trust_level >= 1),
        "can_tag_topics": not viewer.anonymous and (viewer.staff or viewer.trust_level >= 0),
        "can_tag_pms": viewer.staff,
        "tags_filter_regexp": "[\\/\\?#\\[\\]@!\\$&'\\(\\)\\*\\+,;=\\.%\\\\`^\\s|\\{\\}\"<>]+",
        "top_tags": [{"id": t.id, "name": t.name, "slug": t.name} for t in top_tags],
        "email_configured": False,
        "topic_featured_link_allowed_category_ids": [c.id for c in categories],
        "user_themes": [{"theme_id": 1, "name": "Default", "default": True, "color_scheme_id": None}],
        "user_color_schemes": [],
        "default_light_color_scheme": None,
        "default_dark_color_scheme": None,
        "censored_regexp": [],
        "custom_emoji_translation": {},
        "watched_words_replace": None,
        "watched_words_link": None,
        "categories": [site_category(forum, viewer, c) for c in categories],
        "archetypes": [{"id": "regular", "name": "Regular Topic", "options": []},
                       {"id": "banner", "name": "Banner", "options": []}],
        "user_fields": [],
        "auth_providers": [],
        "full_name_required_for_signup": False,
        "full_name_visible_in_signup": True,
    }


# --------------------------------------------------------------------------------------------- tags


def _tag_counts(forum: Forum, *, pm: bool = False) -> dict[str, int]:
    counts: dict[str, int] = {}
    for topic in forum.topics.values():
        if topic.deleted_at is None and topic.is_pm == pm:
            for name in topic.tags:
                counts[name] = counts.get(name, 0) + 1
    return counts


def tag_ref(tag: Tag) -> Json:
    """A tag as topic payloads and search carry it since 2026: `{id, name, slug}`."""
    return {"id": tag.id, "name": tag.name, "slug": tag.name}


def tag_list(forum: Forum, viewer: User) -> Json:
    """`GET /tags.json`."""
    counts = _tag_counts(forum)
    pm_counts = _tag_counts(forum, pm=True) if viewer.staff else {}
    tags = sorted(forum.tags.values(), key=lambda t: t.name)
    return {
        "tags": [{"id": t.id, "text": t.name, "name": t.name, "description": t.description,
                  "count": counts.get(t.name, 0), "pm_count": pm_counts.get(t.name, 0), "target_tag": None}
                 for t in tags],
        "extras": {"categories": []},
    }


def tag_group(forum: Forum, group: TagGroup) -> Json:
    """TagGroupSerializer: the tags as `{id, name, slug}`, no parent tag (not simulated)."""
    return {"id": group.id, "name": group.name,
            "tags": [tag_ref(forum.tags[n]) for n in group.tag_names if n in forum.tags],
            "parent_tag": [], "one_per_topic": group.one_per_topic, "permissions": dict(group.permissions)}


# --------------------------------------------------------------------------------------------- posts


def _topic_posts_count(forum: Forum, viewer: User, topic: Topic) -> int:
    """Topic#posts_count as the viewer sees it (whispers count for staff only)."""
    return sum(1 for i in topic.post_ids
               if forum.posts[i].deleted_at is None
               and (forum.posts[i].post_type != POST_WHISPER or viewer.staff))


def _reply_count(forum: Forum, post: Post) -> int:
    topic = forum.topics[post.topic_id]
    return sum(1 for i in topic.post_ids
               if forum.posts[i].reply_to_post_number == post.post_number and forum.posts[i].deleted_at is None)


def actions_summary(forum: Forum, viewer: User, post: Post) -> list[Json]:
    """PostSerializer#actions_summary: a like entry (id 2) with its `count`, then the flags this viewer may raise.

    Like Discourse: `count` only when non-zero, `acted`/`can_undo` only for the viewer's own like, and an entry
    only when it has a count or the viewer may act.
    """
    own = post.user_id == viewer.id
    can_act_at_all = not viewer.anonymous and post.deleted_at is None and not own
    result: list[Json] = []
    liked = viewer.id in post.liker_ids()
    like: Json = {"id": LIKE}
    if post.likes:
        like["count"] = len(post.likes)
    if liked:
        like["acted"] = True
        like["can_undo"] = True
    elif can_act_at_all:
        like["can_act"] = True
    if len(like) > 1:
        result.append(like)
    if can_act_at_all:
        for type_id in (*FLAG_TYPES, NOTIFY_USER):
            result.append({"id": type_id, "can_act": True})
    return result


def post_action_user(user: User) -> Json:
    """PostActionUserSerializer: BasicUserSerializer plus `post_url` (a flag's related post; null for a like) and
    `username_lower`."""
    return {**basic_user(user), "post_url": None, "username_lower": user.username.lower()}


def post_action_users(users: list[User], *, total: int, page_size: int) -> Json:
    """`GET /post_action_users.json`: `total_rows_post_action_users` only when there is more than one page."""
    data: Json = {"post_action_users": [post_action_user(u) for u in users]}
    if total > page_size:
        data["total_rows_post_action_users"] = total
    return data


def post(forum: Forum, viewer: User, p: Post, *, raw: bool = False, in_topic_view: bool = False,
         with_title: bool = False, excerpt: bool = False, draft_sequence: bool = False) -> Json:
    """PostSerializer. `in_topic_view` gives the shape of a post inside `post_stream.posts`."""
    topic = forum.topics[p.topic_id]
    author = forum.users.get(p.user_id) or forum.users[SYSTEM_USER_ID]
    staff = viewer.staff
    data: Json = {
        "id": p.id,
        "name": author.name,
        "username": author.username,
        "avatar_template": _avatar(author),
        "created_at": iso(p.created_at),
        "cooked": p.cooked,
        "post_number": p.post_number,
        "post_type": p.post_type,
    }
    if not in_topic_view:
        data["posts_count"] = _topic_posts_count(forum, viewer, topic)
    data.update({
        "updated_at": iso(p.updated_at),
        "reply_count": _reply_count(forum, p),
        "reply_to_post_number": p.reply_to_post_number,
        "quote_count": p.raw.count("[quote="),
        "incoming_link_count": 0,
        "reads": 1 + len(p.likes),
        "readers_count": len(p.likes),
        "score": float(len(p.likes) * 15 + 0.2 * _reply_count(forum, p)),
        "yours": p.user_id == viewer.id,
        "topic_id": topic.id,
        "topic_slug": topic.slug,
    })
    if with_title:
        data.update({"topic_title": topic.title, "topic_html_title": html.escape(topic.title),
                     "category_id": topic.category_id})
    target = reply_target(forum, p)
    target_author = forum.users.get(target.user_id) if target is not None else None
    if target_author is not None:      # PostSerializer#include_reply_to_user?, as in the webhook's payload
        data["reply_to_user"] = {"username": target_author.username, "name": target_author.name or None,
                                 "avatar_template": _avatar(target_author)}
    data.update({
        "display_username": author.name,
        "primary_group_name": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
    })
    if not in_topic_view:
        data["flair_group_id"] = None
        data["badges_granted"] = []
    data.update({
        "version": p.version,
        "can_edit": not viewer.anonymous and forum.can_edit(viewer, p),
        "can_delete": not viewer.anonymous and p.post_number != 1 and p.deleted_at is None
        and (staff or p.user_id == viewer.id),
        "can_recover": staff and p.deleted_at is not None,
        "can_see_hidden_post": staff,
        "can_wiki": staff,
    })
    if in_topic_view:
        data["read"] = not viewer.anonymous
    data.update({
        "user_title": author.title,
        "bookmarked": False,
    })
    if raw:
        data["raw"] = p.raw
    data.update({
        "actions_summary": actions_summary(forum, viewer, p),
        "moderator": author.moderator,
        "admin": author.admin,
        "staff": author.staff,
        "user_id": author.id,
    })
    if draft_sequence:
        data["draft_sequence"] = 0
    data.update({
        "hidden": p.hidden,
        "trust_level": author.trust_level,
        "deleted_at": iso(p.deleted_at),
        "user_deleted": False,
        "edit_reason": p.edit_reason,
        "can_view_edit_history": True,
        "wiki": p.wiki,
    })
    if excerpt:
        text = _plain(p.cooked)
        data["excerpt"] = html.escape(text[:300]) + ("&hellip;" if len(text) > 300 else "")
        data["truncated"] = len(text) > 300
    data.update({
        "reviewable_id": None,
        "reviewable_score_count": 0,
        "reviewable_score_pending_count": 0,
    })
    if not in_topic_view:
        data["post_url"] = f"/t/{topic.slug}/{topic.id}/{p.post_number}"
    return data


def _plain(cooked: str) -> str:
    """The text of cooked HTML, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cooked)).split())


# --------------------------------------------------------------------------------------------- topics


def _visible_topic_posts(forum: Forum, viewer: User, topic: Topic) -> list[Post]:
    """The posts of a topic in the viewer's stream: staff see deleted posts and whispers, others neither."""
    return [forum.posts[i] for i in topic.post_ids if forum.can_see_post(viewer, forum.posts[i])]


def _posters(forum: Forum, topic: Topic, posts: list[Post]) -> list[User]:
    seen: list[int] = []
    for p in posts:
        if p.user_id not in seen:
            seen.append(p.user_id)
    return [forum.users[i] for i in seen if i in forum.users]


def _last_poster(forum: Forum, topic: Topic, posts: list[Post]) -> User:
    regular = [p for p in posts if p.post_type == POST_REGULAR and p.deleted_at is None] or posts
    return forum.users.get(regular[-1].user_id) or forum.users[topic.user_id]


def _word_count(posts: Iterable[Post]) -> int:
    return sum(len(p.raw.split()) for p in posts if p.deleted_at is None)


def _topic_tags(forum: Forum, topic: Topic) -> list[Json]:
    return [tag_ref(forum.tags[name]) for name in topic.tags if name in forum.tags]


def _highest_post_number(posts: list[Post]) -> int:
    return max((p.post_number for p in posts), default=0)


def basic_topic(forum: Forum, viewer: User, topic: Topic) -> Json:
    """BasicTopicSerializer."""
    return {"id": topic.id, "title": topic.title, "fancy_title": html.escape(topic.title), "slug": topic.slug,
            "posts_count": _topic_posts_count(forum, viewer, topic)}


def topic_view(forum: Forum, viewer: User, topic: Topic, *, include_raw: bool = False) -> Json:
    """`GET /t/{id}.json` (TopicViewSerializer): the first chunk of posts, the whole `stream`, tags, details."""
    posts = _visible_topic_posts(forum, viewer, topic)
    stream = [p.id for p in posts]
    chunk = posts[:TOPIC_CHUNK_SIZE]
    author = forum.users.get(topic.user_id) or forum.users[SYSTEM_USER_ID]
    last_poster = _last_poster(forum, topic, posts)
    now = forum.now()
    like_count = sum(len(p.likes) for p in posts if p.deleted_at is None)
    data: Json = {
        "post_stream": {
            "posts": [post(forum, viewer, p, in_topic_view=True, raw=include_raw) for p in chunk],
            "stream": stream,
        },
        "timeline_lookup": [[p.post_number, max(0, (now - p.created_at).days)] for p in posts[:1]],
        "suggested_topics": [suggested_topic(forum, viewer, t) for t in _suggested(forum, viewer, topic)],
        "tags": _topic_tags(forum, topic),
        "tags_descriptions": {},
        "id": topic.id,
        "title": topic.title,
        "fancy_title": html.escape(topic.title),
        "posts_count": len([p for p in posts if p.deleted_at is None]),
        "created_at": iso(topic.created_at),
        "views": topic.views,
        "reply_count": max(0, len([p for p in posts if p.deleted_at is None]) - 1),
        "like_count": like_count,
        "last_posted_at": iso(topic.last_posted_at),
        "visible": topic.visible,
        "closed": topic.closed,
        "archived": topic.archived,
        "has_summary": False,
        "archetype": topic.archetype,
        "slug": topic.slug,
        "category_id": topic.category_id,
        "word_count": _word_count(posts),
        "deleted_at": iso(topic.deleted_at),
        "user_id": topic.user_id,
        "featured_link": None,
        "pinned_globally": False,
        "pinned_at": iso(topic.created_at) if topic.pinned else None,
        "pinned_until": None,
        "image_url": None,
        "slow_mode_seconds": topic.slow_mode_seconds,
        "draft": None,
        "draft_key": f"topic_{topic.id}",
        "draft_sequence": 0,
        "unpinned": None,
        "pinned": topic.pinned,
        "current_post_number": 1,
        "highest_post_number": _highest_post_number(posts),
        "deleted_by": basic_user(forum.users[topic.deleted_by_id])
        if topic.deleted_by_id in forum.users else None,
        "has_deleted": any(p.deleted_at is not None for p in posts),
        "actions_summary": [{"id": type_id, "count": 0, "hidden": False, "can_act": not viewer.anonymous}
                            for type_id in (4, 8, 7)],
        "chunk_size": TOPIC_CHUNK_SIZE,
        "bookmarked": False,
        "bookmarks": [],
        "topic_timer": None,
        "message_bus_last_id": 0,
        "participant_count": len(_posters(forum, topic, [p for p in posts if p.deleted_at is None])),
        "show_read_indicator": False,
        "thumbnails": None,
        "slow_mode_enabled_until": None,
        "details": topic_details(forum, viewer, topic, posts, author, last_poster),
    }
    if topic.external_id is not None:
        data["external_id"] = topic.external_id
    if topic.shared_draft_category_id is not None and viewer.staff:
        data["is_shared_draft"] = True
        data["destination_category_id"] = topic.shared_draft_category_id
    return data


def topic_details(forum: Forum, viewer: User, topic: Topic, posts: list[Post], author: User,
                  last_poster: User) -> Json:
    """TopicViewDetailsSerializer: each `can_*` flag is present only when true, as in Discourse."""
    first = forum.first_post(topic)
    own = first.user_id == viewer.id
    staff = viewer.staff
    logged_in = not viewer.anonymous
    can_reply = logged_in and not topic.deleted_at and (staff or (not topic.closed and not topic.archived)) \
        and forum.can_reply_in(viewer, topic)
    flags = {
        "can_edit": logged_in and (staff or own),
        "can_move_posts": staff,
        "can_delete": logged_in and (staff or own) and topic.deleted_at is None,
        "can_recover": staff and topic.deleted_at is not None,
        "can_remove_allowed_users": staff and topic.is_pm,
        "can_invite_to": logged_in and (staff or (topic.is_pm and own)),
        "can_invite_via_email": staff,
        "can_create_post": can_reply,
        "can_reply_as_new_topic": can_reply and not topic.is_pm,
        "can_flag_topic": logged_in and not own,
        "can_convert_topic": staff,
        "can_review_topic": staff,
        "can_close_topic": staff,
        "can_archive_topic": staff,
        "can_split_merge_topic": staff,
        "can_edit_staff_notes": staff,
        "can_toggle_topic_visibility": staff,
        "can_pin_unpin_topic": staff,
        "can_moderate_category": staff,
    }
    details: Json = {"notification_level": NOTIFICATION_REGULAR}
    details.update({name: True for name, value in flags.items() if value})
    if topic.is_pm and logged_in and viewer.id in topic.allowed_user_ids:
        details["can_remove_self_id"] = viewer.id
    counts: dict[int, int] = {}
    for p in posts:
        if p.deleted_at is None:
            counts[p.user_id] = counts.get(p.user_id, 0) + 1
    participants = []
    for user_id, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        user = forum.users.get(user_id)
        if user is None:
            continue
        participants.append({"id": user.id, "username": user.username, "name": _name(user),
                             "avatar_template": _avatar(user), "post_count": count, "primary_group_name": None,
                             "flair_name": None, "flair_url": None, "flair_color": None, "flair_bg_color": None,
                             "flair_group_id": None, "admin": user.admin, "moderator": user.moderator,
                             "trust_level": user.trust_level})
    if participants:
        details["participants"] = participants
    details["created_by"] = _basic_named(author)
    details["last_poster"] = _basic_named(last_poster)
    if topic.is_pm:
        details["allowed_users"] = [basic_user(forum.users[i]) for i in topic.allowed_user_ids if i in forum.users]
        details["allowed_groups"] = [group_basic(forum, viewer, forum.groups[i])
                                     for i in topic.allowed_group_ids if i in forum.groups]
    return details


def _basic_named(user: User) -> Json:
    return {"id": user.id, "username": user.username, "name": _name(user), "avatar_template": _avatar(user)}


def _suggested(forum: Forum, viewer: User, topic: Topic) -> list[Topic]:
    """The 5 most recently bumped other topics the viewer may see (not messages, deleted or unlisted ones)."""
    if topic.is_pm:
        return []
    found: list[Topic] = []
    for t in forum.topics_by_bump():                  # newest bump first, so stop at 5
        if t.id != topic.id and t.deleted_at is None and t.visible and forum.can_see_topic(viewer, t):
            found.append(t)
            if len(found) == 5:
                break
    return found


def suggested_topic(forum: Forum, viewer: User, topic: Topic) -> Json:
    """SuggestedTopicSerializer."""
    posts = _visible_topic_posts(forum, viewer, topic)
    live = [p for p in posts if p.deleted_at is None]
    posters = _posters(forum, topic, live)
    return {
        "id": topic.id, "title": topic.title, "fancy_title": html.escape(topic.title), "slug": topic.slug,
        "posts_count": len(live), "reply_count": max(0, len(live) - 1),
        "highest_post_number": _highest_post_number(posts), "image_url": None,
        "created_at": iso(topic.created_at), "last_posted_at": iso(topic.last_posted_at), "bumped": True,
        "bumped_at": iso(topic.bumped_at or topic.created_at), "archetype": topic.archetype, "unseen": False,
        "pinned": topic.pinned, "unpinned": None, "excerpt": _plain(forum.first_post(topic).cooked)[:200],
        "visible": topic.visible, "closed": topic.closed, "archived": topic.archived, "bookmarked": None,
        "liked": None, "tags": _topic_tags(forum, topic), "tags_descriptions": {},
        "like_count": sum(len(p.likes) for p in live), "views": topic.views, "category_id": topic.category_id,
        "featured_link": None,
        "posters": [{"extras": _poster_extras(i, len(posters)), "description": _poster_description(i, len(posters)),
                     "user": _basic_named(u)} for i, u in enumerate(posters[:5])],
    }


def _poster_extras(index: int, count: int) -> str | None:
    """TopicPosterSerializer#extras: "latest" for the last poster ("latest single" when alone), else null."""
    if index != count - 1:
        return None
    return "latest single" if count == 1 else "latest"


def _poster_description(index: int, count: int) -> str:
    if index == 0:
        return "Original Poster, Most Recent Poster" if count == 1 else "Original Poster"
    return "Most Recent Poster" if index == count - 1 else "Frequent Poster"


def topic_posts(forum: Forum, viewer: User, topic: Topic, post_ids: list[int] | None) -> Json:
    """`GET /t/{id}/posts.json` (TopicViewPostsSerializer)."""
    posts = _visible_topic_posts(forum, viewer, topic)
    chosen = [p for p in posts if p.id in post_ids] if post_ids else posts[:TOPIC_CHUNK_SIZE]
    return {"post_stream": {"posts": [post(forum, viewer, p, in_topic_view=True) for p in chosen]},
            "id": topic.id}


# --------------------------------------------------------------------------------------------- topic lists


def topic_list_item(forum: Forum, viewer: User, topic: Topic, *, with_tags: bool = True) -> Json:
    """TopicListItemSerializer."""
    posts = _visible_topic_posts(forum, viewer, topic)
    live = [p for p in posts if p.deleted_at is None]
    posters = _posters(forum, topic, live)
    last = _last_poster(forum, topic, live or posts)
    first = forum.first_post(topic)
    data: Json = {
        "id": topic.id, "title": topic.title, "fancy_title": html.escape(topic.title), "slug": topic.slug,
        "posts_count": len(live), "reply_count": max(0, len(live) - 1),
        "highest_post_number": _highest_post_number(posts), "image_url": None,
        "created_at": iso(topic.created_at), "last_posted_at": iso(topic.last_posted_at), "bumped": True,
        "bumped_at": iso(topic.bumped_at or topic.created_at), "archetype": topic.archetype,
        "unseen": False, "pinned": topic.pinned, "unpinned": None, "visible": topic.visible,
        "closed": topic.closed, "archived": topic.archived,
    }
    if not viewer.anonymous:                        # per-user fields: absent for an anonymous visitor
        data.update({"last_read_post_number": _highest_post_number(posts), "unread_posts": 0,
                     "notification_level": NOTIFICATION_REGULAR, "bookmarked": False,
                     "liked": any(viewer.id in p.liker_ids() for p in live)})
    if with_tags:
        data["tags"] = _topic_tags(forum, topic)
        data["tags_descriptions"] = {}
    data.update({
        "views": topic.views, "like_count": sum(len(p.likes) for p in live), "has_summary": False,
        "last_poster_username": last.username, "category_id": topic.category_id,
        "op_like_count": len(first.likes), "pinned_globally": False, "featured_link": None,
        "posters": [{"extras": _poster_extras(i, len(posters)) if u.id == last.id else None,
                     "description": _poster_description(i, len(posters)), "user_id": u.id,
                     "primary_group_id": None, "flair_group_id": None}
                    for i, u in enumerate(posters[:5])],
    })
    if topic.is_pm:
        data["allowed_user_count"] = len(topic.allowed_user_ids)
        data["participants"] = [{"extras": None, "description": None, "user_id": u.id, "primary_group_id": None,
                                 "flair_group_id": None} for u in posters[:5]]
        data["participant_groups"] = [forum.groups[i].name for i in topic.allowed_group_ids if i in forum.groups]
    return data


def topic_list(forum: Forum, viewer: User, topics: list[Topic], *, more_url: str | None = None,
               tags: list[Tag] | None = None, per_page: int = TOPIC_LIST_PER_PAGE) -> Json:
    """A topic list (`/latest.json`, `/tag/{name}.json`, `/topics/private-messages/{username}.json`).

    `per_page`: TopicQuery#create_list's `list.per_page = options[:per_page] || per_page_setting`."""
    user_ids: list[int] = []
    items = []
    for topic in topics:
        item = topic_list_item(forum, viewer, topic)
        items.append(item)
        for poster in item["posters"]:
            if poster["user_id"] not in user_ids:
                user_ids.append(poster["user_id"])
    body: Json = {
        "users": [{**basic_user(forum.users[i]), "trust_level": forum.users[i].trust_level}
                  for i in user_ids if i in forum.users],
        "primary_groups": [],
        "flair_groups": [],
        "topic_list": {
            "can_create_topic": not viewer.anonymous,
            "per_page": per_page,
            "top_tags": [],
            "topics": items,
        },
    }
    if not viewer.anonymous:
        body["topic_list"].update({"draft": None, "draft_key": "new_topic", "draft_sequence": 0})
    if more_url:
        body["topic_list"]["more_topics_url"] = more_url
    if tags is not None:
        counts = _tag_counts(forum)
        body["topic_list"]["tags"] = [{"id": t.id, "name": t.name, "topic_count": counts.get(t.name, 0),
                                       "staff": False} for t in tags]
    return body


# --------------------------------------------------------------------------------------------- search


def search_results(forum: Forum, viewer: User, term: str, posts: list[Post], *, search_log_id: int,
                   more: bool, blurb_terms: list[str]) -> Json:
    """`GET /search.json` (GroupedSearchResultSerializer): posts, their topics sideloaded, and the id lists."""
    topics: list[Topic] = []
    for p in posts:
        topic = forum.topics[p.topic_id]
        if topic not in topics:
            topics.append(topic)
    body: Json = {
        "posts": [search_post(forum, p, blurb_terms) for p in posts],
        "users": [],
        "categories": [],
        "tags": [],
        "groups": [],
        "grouped_search_result": {
            "more_posts": None,
            "more_users": None,
            "more_categories": None,
            "term": term,
            "search_log_id": search_log_id,
            "more_full_page_results": True if more else None,
            "can_create_topic": not viewer.anonymous,
            "error": None,
            "extra": {"categories": None},
            "post_ids": [p.id for p in posts],
            "user_ids": [],
            "category_ids": [],
            "tag_ids": [],
            "group_ids": [],
        },
    }
    if topics:
        body["topics"] = [search_topic(forum, viewer, t) for t in topics]
    return body


def search_post(forum: Forum, p: Post, terms: list[str]) -> Json:
    """SearchPostSerializer."""
    author = forum.users.get(p.user_id) or forum.users[SYSTEM_USER_ID]
    topic = forum.topics[p.topic_id]
    return {"id": p.id, "name": author.name, "username": author.username, "avatar_template": _avatar(author),
            "created_at": iso(p.created_at), "like_count": len(p.likes), "blurb": blurb(p.raw, terms),
            "post_number": p.post_number, "topic_title_headline": html.escape(topic.title),
            "topic_id": topic.id}


def search_topic(forum: Forum, viewer: User, topic: Topic) -> Json:
    """SearchTopicListItemSerializer."""
    item = topic_list_item(forum, viewer, topic)
    keep = ("id", "title", "fancy_title", "slug", "posts_count", "reply_count", "highest_post_number",
            "created_at", "last_posted_at", "bumped", "bumped_at", "archetype", "unseen", "pinned", "unpinned",
            "visible", "closed", "archived", "bookmarked", "liked", "tags", "tags_descriptions", "category_id")
    return {k: item.get(k) for k in keep}


def blurb(raw: str, terms: list[str], length: int = 200) -> str:
    """Search#blurb: an excerpt around the first term found, HTML-escaped."""
    text = " ".join(raw.split())
    start = 0
    lowered = text.lower()
    for term in terms:
        at = lowered.find(term.lower())
        if at >= 0:
            start = max(0, at - length // 4)
            break
    piece = text[start:start + length]
    return ("..." if start else "") + html.escape(piece) + ("..." if start + length < len(text) else "")


# --------------------------------------------------------------------------------------------- uploads


def upload(u: Upload) -> Json:
    """UploadSerializer."""
    width, height = u.width or 0, u.height or 0
    thumb_w, thumb_h = thumbnail_size(width, height)
    short = u.short_url.removeprefix("upload://")
    return {
        "id": u.id, "url": u.url, "original_filename": u.original_filename, "filesize": u.filesize,
        "width": width, "height": height, "thumbnail_width": thumb_w, "thumbnail_height": thumb_h,
        "extension": u.extension, "short_url": u.short_url, "short_path": f"/uploads/short-url/{short}",
        "retain_hours": None, "human_filesize": human_filesize(u.filesize), "dominant_color": None,
    }


def thumbnail_size(width: int, height: int, max_width: int = 690, max_height: int = 500) -> tuple[int, int]:
    """ImageSizer.resize: scale down to fit `max_image_width` × `max_image_height`, keeping the ratio."""
    if width <= 0 or height <= 0:
        return width, height
    ratio = min(max_width / width, max_height / height, 1.0)
    return int(width * ratio), int(height * ratio)


def human_filesize(size: int) -> str:
    """Rails' `number_to_human_size`, as UploadSerializer#human_filesize uses it."""
    if size < 1024:
        return f"{size} Bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            text = f"{value:.3g}" if value < 100 else f"{value:.0f}"
            return f"{text} {unit}"
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------- revisions


def revision(forum: Forum, viewer: User, p: Post, rev: Revision) -> Json:
    """PostRevisionSerializer for revision `rev` of post `p` (`/posts/{id}/revisions/{n}.json`)."""
    numbers = [r.number for r in p.revisions]
    author = forum.users.get(rev.user_id) or forum.users[SYSTEM_USER_ID]
    topic = forum.topics[p.topic_id]
    index = numbers.index(rev.number)
    data: Json = {
        "created_at": iso(rev.created_at),
        "post_id": p.id,
        "previous_hidden": False,
        "current_hidden": False,
        "first_revision": numbers[0],
        "previous_revision": numbers[index - 1] if index > 0 else None,
        "current_revision": rev.number,
        "next_revision": numbers[index + 1] if index + 1 < len(numbers) else None,
        "last_revision": numbers[-1],
        "current_version": rev.number,
        "version_count": p.version,
        "username": author.username.lower(),
        "display_username": author.username,
        "avatar_template": _avatar(author),
        "edit_reason": rev.edit_reason,
        "body_changes": {
            "inline": _inline_diff(_cooked_of(rev.raw_before), _cooked_of(rev.raw_after)),
            "side_by_side": _side_by_side(_cooked_of(rev.raw_before), _cooked_of(rev.raw_after)),
            "side_by_side_markdown": _side_by_side_markdown(rev.raw_before, rev.raw_after),
        },
        "title_changes": None,
        "user_changes": None,
        "tags_changes": None,
        "wiki": p.wiki,
        "post_type": p.post_type,
        "can_edit": not viewer.anonymous and forum.can_edit(viewer, p),
    }
    if rev.title_before is not None and rev.title_after is not None:
        before = f"<div>{html.escape(rev.title_before)}</div>"
        after = f"<div>{html.escape(rev.title_after)}</div>"
        data["title_changes"] = {"inline": _inline_diff(before, after), "side_by_side": _side_by_side(before, after)}
    if topic.category_id is not None:
        data["category_id_changes"] = None
    return data


def _cooked_of(raw: str) -> str:
    return cook(raw)


def _inline_diff(before: str, after: str) -> str:
    """DiscourseDiff#inline_html: one block with `<del>`/`<ins>` around the changed words."""
    a, b = before.split(" "), after.split(" ")
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(" ".join(a[i1:i2]))
        if op in ("delete", "replace"):
            out.append(f"<del>{' '.join(a[i1:i2])}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{' '.join(b[j1:j2])}</ins>")
    return f'<div class="inline-diff">{" ".join(out)}</div>'


def _side_by_side(before: str, after: str) -> str:
    return f'<div class="revision-content">{before}</div><div class="revision-content">{after}</div>'


def _side_by_side_markdown(before: str, after: str) -> str:
    """DiscourseDiff#side_by_side_markdown: a table of removed / added lines of the raw text."""
    rows = []
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        left = "\n".join(before.splitlines()[i1:i2])
        right = "\n".join(after.splitlines()[j1:j2])
        css = {"equal": ("", ""), "replace": ("diff-del", "diff-ins"), "delete": ("diff-del", ""),
               "insert": ("", "diff-ins")}[op]
        rows.append(f'<tr><td class="{css[0]}">{html.escape(left)}</td>'
                    f'<td class="{css[1]}">{html.escape(right)}</td></tr>')
    return f'<table class="markdown">{"".join(rows)}</table>'



# --------------------------------------------------------------------------------------------- user actions


def user_action(forum: Forum, *, action_type: int, owner: User, acting: User, p: Post, created_at: datetime) -> Json:
    """UserActionSerializer (app/serializers/user_action_serializer.rb, with PostItemExcerpt) over one row of
    UserAction.stream (app/models/user_action.rb): `target_*` is the row's user (whose stream it is), `username`,
    `name`, `user_id` and `avatar_template` the post's author, `acting_*` who acted (the liker of a like).

    `excerpt` is PrettyText.excerpt(cooked, 300); `truncated: true` only when the cooked HTML is longer than 300
    characters. `reply_to_post_number` (replies) and `edit_reason` (edits) are not sent for likes, `action_code_who`
    only when the post has one; names are sent as `enable_names` is on by default."""
    topic = forum.topics[p.topic_id]
    first = forum.first_post(topic)
    author = forum.users.get(p.user_id) or forum.users[SYSTEM_USER_ID]
    text = _plain(p.cooked)
    data: Json = {"excerpt": html.escape(text[:300]) + ("&hellip;" if len(text) > 300 else "")}
    if len(p.cooked) > 300:
        data["truncated"] = True
    data.update({
        "action_type": action_type,
        "created_at": iso(created_at),
        "avatar_template": _avatar(author),
        "acting_avatar_template": _avatar(acting),
        "slug": topic.slug,
        "topic_id": topic.id,
        "target_user_id": owner.id,
        "target_name": owner.name or None,
        "target_username": owner.username,
        "post_number": p.post_number,
        "post_id": p.id,
        "username": author.username,
        "name": author.name or None,
        "user_id": author.id,
        "acting_username": acting.username,
        "acting_name": acting.name or None,
        "acting_user_id": acting.id,
        "title": topic.title,
        "deleted": p.deleted_at is not None or first.deleted_at is not None or topic.deleted_at is not None,
        "hidden": p.hidden,
        "post_type": p.post_type,
        "action_code": None,
        "category_id": topic.category_id,
        "closed": topic.closed,
        "archived": topic.archived,
    })
    return data


# --------------------------------------------------------------------------------------------- admin reports


REPORT_TEXTS = {
    # config/locales/server.en.yml `reports.<type>.{title,xaxis,yaxis,description}` (keys from Report#as_json; the
    # wordings were NOT confirmed line by line: the stored locale file is too long to reach that section)
    "posts": ("Posts", "Day", "Number of new posts", "New posts created during this period"),
    "topics": ("Topics", "Day", "Number of new topics", "New topics created during this period."),
    "likes": ("Likes", "Day", "Number of new likes", "Number of new likes."),
}
REPORT_SCHEMA_VERSION = 4
"""Report::SCHEMA_VERSION, the last part of `report_key`."""


def _report_time(moment: datetime) -> str:
    """ActiveSupport's Time#iso8601 for a UTC time: whole seconds, `Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def report(kind: str, *, start: datetime, end: datetime, facets: list[str], limit: int | None,
           data: list[tuple[str, int]] | None, total: int | None = None, prev30: int | None = None,
           prev_period: int | None = None, icon: str | None = None, error: str | None = None,
           category_filter: bool = False) -> Json:
    """Report#as_json (app/models/report.rb): one entry of `GET /admin/reports/bulk.json`'s `reports`.

    `data` is `[{x: "YYYY-MM-DD", y: count}]`, only the days that have a count, oldest first; `total`,
    `prev_period` and `limit` are sent only when set, `prev30Days` always (null when its facet is off); an unknown
    report is `Report._get` with `error: "not_found"` and `data: null`."""
    title, xaxis, yaxis, description = REPORT_TEXTS.get(kind, (None, None, None, None))
    prev_start = start - (end - start)                    # Report#prev_start_date
    facet_text = "[" + ", ".join(f":{name}" for name in facets) + "]"          # Ruby's Array#to_s of symbols
    key_parts = ["reports", kind, start.strftime("%Y%m%d"), end.strftime("%Y%m%d"), facet_text]
    if limit is not None:
        key_parts.append(str(limit))
    key_parts.append(str(REPORT_SCHEMA_VERSION))
    body: Json = {
        "type": kind,
        "title": title,
        "xaxis": xaxis,
        "yaxis": yaxis,
        "description": description,
        "description_link": None,
        "data": None if data is None else [{"x": day, "y": count} for day, count in data],
        "start_date": _report_time(start),
        "end_date": _report_time(end),
        "prev_data": None,
        "prev_start_date": _report_time(prev_start),
        "prev_end_date": _report_time(start),
        "prev30Days": prev30,
        "dates_filtering": True,
        "report_key": ":".join(key_parts),
        "primary_color": "rgba(0,136,204,1)",             # ColorScheme tertiary 0088cc
        "secondary_color": "rgba(0,136,204,0.1)",
        "available_filters": [{"id": "category", "type": "category", "default": None}] if category_filter else [],
        "labels": [{"type": "date", "property": "x", "title": "Day"},
                   {"type": "number", "property": "y", "title": "Count"}],
        "average": False,
        "percent": False,
        "higher_is_better": True,
        "modes": ["table", "chart"],
    }
    if icon:
        body["icon"] = icon
    if error:
        body["error"] = error
    if total is not None:
        body["total"] = total
    if prev_period is not None:
        body["prev_period"] = prev_period
    if limit is not None:
        body["limit"] = limit
    return body
