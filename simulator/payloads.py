"""Webhook bodies as Discourse's serializers build them, seen by an admin (the system scope).

`WebHookPostSerializer`, `WebHookTopicViewSerializer`, the like body (`{"like": {"post", "user"}}`) and the
ping. Keys and their order follow Discourse's serializers and the reference samples; values come from the forum.
Because Discourse serializes webhook payloads as the system user, whispers, PMs and deleted posts are all
included: a receiver must filter staff-only content itself.
"""
from __future__ import annotations

import html
import json
from typing import Any

from .state import POST_REGULAR, POST_WHISPER, Forum, Post, Topic, User, avatar_template, iso, reply_target, slugify

PING_BODY = {"ping": "OK"}
"""The ping event's whole body."""

SETTING_TAGS_AS_OBJECTS = "webhook_tags_as_objects"
"""Forum setting: send topic `tags` as `{id, name, slug}` objects (newer cores) instead of names (default)."""


def dumps(body: dict[str, Any]) -> str:
    """Compact JSON text, as Discourse's `MultiJson.dump` writes a webhook body."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def basic_user(user: User | None) -> dict[str, Any] | None:
    """BasicUserSerializer: `id, username, name, avatar_template`."""
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "name": user.name or None,
            "avatar_template": avatar_template(user.username)}


def _live_posts(forum: Forum, topic: Topic) -> list[Post]:
    """The topic's posts that are not deleted (Discourse's default scope for `topic.posts`)."""
    return [forum.posts[i] for i in topic.post_ids if i in forum.posts and forum.posts[i].deleted_at is None]


def post_payload(forum: Forum, post: Post) -> dict[str, Any]:
    """WebHookPostSerializer for `post`, as an admin sees it (every key FACTS.md lists; no tags, no likes)."""
    author = forum.users.get(post.user_id)
    topic = forum.topics.get(post.topic_id)
    category = forum.categories.get(topic.category_id) if topic is not None and topic.category_id else None
    live = _live_posts(forum, topic) if topic is not None else []
    reply_count = sum(1 for p in live if p.reply_to_post_number == post.post_number and p.id != post.id)
    username = author.username if author else "deleted"
    name = (author.name or None) if author else None
    body: dict[str, Any] = {
        "id": post.id,
        "name": name,
        "username": username,
        "avatar_template": avatar_template(username),
        "created_at": iso(post.created_at),
        "cooked": post.cooked,
        "post_number": post.post_number,
        "post_type": post.post_type,
        "updated_at": iso(post.updated_at),
        "reply_count": reply_count,
        "reply_to_post_number": post.reply_to_post_number,
        "quote_count": 0,
        "incoming_link_count": 0,
        "reads": 0,
        "score": 0,
        "topic_id": post.topic_id,
        "topic_slug": topic.slug if topic else None,
        "topic_title": topic.title if topic else None,
        "category_id": topic.category_id if topic else None,
        "display_username": name,
        "primary_group_name": None,
        "flair_name": None,
        "flair_group_id": None,
        "version": post.version,
        "user_title": author.title if author else None,
    }
    target = reply_target(forum, post)
    target_author = forum.users.get(target.user_id) if target is not None else None
    if target_author is not None:
        # PostSerializer#include_reply_to_user?: only when the post replies to another member's post.
        body["reply_to_user"] = {"username": target_author.username, "name": target_author.name or None,
                                 "avatar_template": avatar_template(target_author.username)}
    body.update({
        "bookmarked": False,
        "raw": post.raw,
        "moderator": bool(author and author.moderator),
        "admin": bool(author and author.admin),
        "staff": bool(author and author.staff),
        "user_id": post.user_id,
        "hidden": post.hidden,
        "trust_level": author.trust_level if author else 0,
        "deleted_at": iso(post.deleted_at),
        "user_deleted": False,
        "edit_reason": post.edit_reason,
        "wiki": post.wiki,
        "reviewable_id": None,
        "reviewable_score_count": 0,
        "reviewable_score_pending_count": 0,
    })
    if author is not None and author.suspended(forum.now()):
        body["user_suspended"] = True
    body["topic_posts_count"] = len(live)
    body["topic_filtered_posts_count"] = sum(1 for p in live if p.post_type == POST_REGULAR)
    body["topic_archetype"] = topic.archetype if topic else ""
    if category is not None:
        # WebHookPostSerializer#include_category_slug?: only when the topic has a category (not for PMs).
        body["category_slug"] = category.slug
    return body


def _tags(forum: Forum, topic: Topic, *, as_objects: bool) -> list[Any]:
    if not as_objects:
        return list(topic.tags)
    out = []
    for name in topic.tags:
        tag = forum.tags.get(name)
        out.append({"id": tag.id if tag else None, "name": name, "slug": slugify(name)})
    return out


def topic_payload(forum: Forum, topic: Topic, *, tags_as_objects: bool | None = None) -> dict[str, Any]:
    """WebHookTopicViewSerializer for `topic`, as an admin sees it.

    `tags` is a list of names, or of `{id, name, slug}` objects when `tags_as_objects` (default: the forum
    setting `webhook_tags_as_objects`).
    """
    if tags_as_objects is None:
        tags_as_objects = bool(forum.settings.get(SETTING_TAGS_AS_OBJECTS, False))
    live = _live_posts(forum, topic)
    counted = [p for p in live if p.post_type != POST_WHISPER]
    last = next((p for p in reversed(counted) if p.post_type == POST_REGULAR), counted[-1] if counted else None)
    all_posts = [forum.posts[i] for i in topic.post_ids if i in forum.posts]
    tag_descriptions = {name: forum.tags[name].description for name in topic.tags
                        if name in forum.tags and forum.tags[name].description}
    body: dict[str, Any] = {
        "tags": _tags(forum, topic, as_objects=tags_as_objects),
        "tags_descriptions": tag_descriptions,
        "id": topic.id,
        "title": topic.title,
        "fancy_title": html.escape(topic.title, quote=False),
        "posts_count": len(counted),
        "created_at": iso(topic.created_at),
        "views": topic.views,
        "reply_count": max(0, len(counted) - 1),
        "like_count": sum(len(p.likes) for p in live),
        "last_posted_at": iso(topic.last_posted_at),
        "visible": topic.visible,
        "closed": topic.closed,
        "archived": topic.archived,
        "archetype": topic.archetype,
        "slug": topic.slug,
        "category_id": topic.category_id,
        "word_count": sum(len(p.raw.split()) for p in counted),
        "deleted_at": iso(topic.deleted_at),
        "user_id": topic.user_id,
        "featured_link": None,
        "pinned_globally": False,
        "pinned_at": iso(topic.updated_at) if topic.pinned else None,
        "pinned_until": None,
        "unpinned": None,
        "pinned": topic.pinned,
        "highest_post_number": topic.highest_post_number,
        "deleted_by": basic_user(forum.users.get(topic.deleted_by_id)) if topic.deleted_by_id is not None else None,
        "has_deleted": any(p.deleted_at is not None for p in all_posts),
        "bookmarked": False,
        "participant_count": len({p.user_id for p in counted}),
        "thumbnails": None,
    }
    if topic.external_id is not None:
        body["external_id"] = topic.external_id
    if topic.is_pm:
        body["message_archived"] = False
    if topic.shared_draft_category_id is not None:
        body["is_shared_draft"] = True
        body["destination_category_id"] = topic.shared_draft_category_id
    body["created_by"] = basic_user(forum.users.get(topic.user_id))
    body["last_poster"] = basic_user(forum.users.get(last.user_id if last else topic.user_id))
    return body


def like_payload(forum: Forum, post: Post, user: User) -> dict[str, Any]:
    """WebHookLikeSerializer: the liked post (WebHookPostSerializer) and the liker (BasicUserSerializer)."""
    return {"post": post_payload(forum, post), "user": basic_user(user)}


def event_body(forum: Forum, event_type: str, subject: Any) -> dict[str, Any]:
    """The whole body for one event: `{<event_type>: payload}`, or the ping body.

    `subject` is what `Forum.emit` passes: a Topic, a Post, or `(Post, User)` for a like.
    """
    if event_type == "ping":
        return dict(PING_BODY)
    if event_type == "topic":
        return {"topic": topic_payload(forum, subject)}
    if event_type == "post":
        return {"post": post_payload(forum, subject)}
    if event_type == "like":
        post, user = subject
        return {"like": like_payload(forum, post, user)}
    raise ValueError(f"no webhook serializer for event type {event_type!r}")
