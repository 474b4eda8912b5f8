"""Routing a member who asked for "direct support" to the peer-support team, privately and at once.

Runs on the `care` queue, which every worker serves first. Exactly once per post: each message is an effect keyed
by the post (`Store.once`) and a topic with an `external_id` of its own, which the forum refuses to create twice
(after a crash between the two, the adapter finds the message that was sent).
The post is also taken out of everything public: its proposals are withdrawn, its discussion and engagement are
forgotten, and it is remembered as a care post so that later events about it (likes, edits) are ignored.
"""

from __future__ import annotations

from plugin.domain.events import Post, PostEvent
from plugin.domain.names import care_effects, care_message_ids, unreachable_effect
from plugin.domain.safety import is_service
from plugin.text.care import UNREACHABLE_MARKER, member_message, team_message, unreachable_notice
from worker.amendments import message_once, reply_once
from worker.feedback import admitted, withdraw_post
from worker.services import Services


def route(s: Services, event: PostEvent) -> str:
    post = event.post
    if not post.private:
        admitted(s, event)  # known as seen (for reconcile), whatever its version: it is routed anyway
    forget(s, post)
    if is_service(post.username, s.settings.bot_username):
        return "the service's own words"
    group = s.settings.care_group
    post_url = s.forum.post_in_topic_url(post.topic_slug, post.topic_id, post.post_number)
    team_key, member_key = care_effects(post.id)
    team_id, member_id = care_message_ids(post.id)
    title, raw = team_message(
        member=post.username, group=group, post_id=post.id, post_url=post_url, private=post.private
    )
    s.store.once(
        team_key, lambda: s.forum.private_message(title=title, raw=raw, recipients=[group], external_id=team_id)
    )
    title, raw = member_message(member=post.username, group=group, post_id=post.id)
    refused = message_once(s, member_key, title=title, raw=raw, recipients=[post.username], external_id=member_id)
    if refused:
        tell_team_unreachable(s, post, refused)
        return f"care: the team was messaged; the member could not be ({refused})"
    return "care: the team and the member were messaged"


def tell_team_unreachable(s: Services, post: Post, reason: str) -> None:
    """The forum refused the member's message: say so in the team's conversation (once), so that the team reaches
    out another way instead of waiting for a reply that cannot come."""
    team_topic = s.forum.topic_by_external_id(care_message_ids(post.id)[0])
    if team_topic is None:
        return
    reply_once(
        s,
        unreachable_effect(post.id),
        team_topic.topic.id,
        None,
        unreachable_notice(member=post.username, reason=reason),
        marker=UNREACHABLE_MARKER,
    )


def forget(s: Services, post: Post) -> None:
    """Take a care post out of everything public, for good."""
    s.store.mark_care_post(post.id)
    withdraw_post(s, post.id, why="a care post is never feedback")
    s.engagement.forget_post(post.id, opened_topic=post.topic_id if post.post_number == 1 else None)
