"""Routing a member who asked for "direct support" to the peer-support team, privately and at once.

Runs on the `care` queue, which every worker serves first. Exactly once per post: each message is an effect keyed
by the post (`Store.once`) and a topic with an `external_id` of its own, which the forum refuses to create twice
(after a crash between the two, the adapter finds the message that was sent).
The post is also taken out of everything public: its proposals are withdrawn, its discussion and engagement are
forgotten, and it is remembered as a care post so that later events about it (likes, edits) are ignored.
"""
from __future__ import annotations

from plugin.care import member_message, message_ids, team_message
from plugin.events import Post, PostEvent
from worker.feedback import admitted, withdraw_post
from worker.services import Services


def route(s: Services, event: PostEvent) -> str:
    post = event.post
    if not post.private:
        admitted(s, event)                 # known as seen (for reconcile), whatever its version: it is routed anyway
    forget(s, post)
    if post.username.lower() == s.settings.bot_username.lower():
        return "the service's own words"
    group = s.settings.care_group
    post_url = f"{s.settings.discourse_url.rstrip('/')}/t/{post.topic_slug or 'topic'}/{post.topic_id}/{post.post_number}"
    sent = 0
    team_key, member_key = effect_keys(post.id)
    team_id, member_id = message_ids(post.id)
    for key, external_id, (title, raw), recipients in (
        (team_key, team_id, team_message(member=post.username, group=group, post_id=post.id, post_url=post_url,
                                         private=post.private), [group]),
        (member_key, member_id, member_message(member=post.username, group=group, post_id=post.id),
         [post.username]),
    ):
        sent += s.store.once(key, lambda t=title, r=raw, to=recipients, e=external_id: s.forum.private_message(
            title=t, raw=r, recipients=to, external_id=e))
    return f"care: {sent} message(s) sent"


def forget(s: Services, post: Post) -> None:
    """Take a care post out of everything public, for good."""
    s.store.mark_care_post(post.id)
    withdraw_post(s, post.id, why="a care post is never feedback")
    s.engagement.forget_post(post.id, opened_topic=post.topic_id if post.post_number == 1 else None)


def effect_keys(post_id: int) -> tuple[str, str]:
    """The effects (`Store.once` keys) of routing one care post: the team's message and the member's."""
    return f"care-team-{post_id}", f"care-member-{post_id}"

