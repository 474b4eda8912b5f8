"""Effects in the forum made exactly once, whatever crashes and reruns: a reply, a personal message."""

from __future__ import annotations

from dataclasses import dataclass

from plugin.adapters.forum import MessageRefused
from plugin.domain.events import Post
from plugin.domain.safety import is_service
from worker.services import Services


@dataclass(frozen=True)
class Sent:
    """What became of a personal message: the forum's words if it refused it for good (else ""), and its topic
    when this run sent it."""

    refused: str = ""
    post: Post | None = None


def reply_once(
    s: Services, key: str, topic_id: int | None, reply_to: int | None, raw: str, *, marker: str = ""
) -> None:
    """Reply in a topic exactly once for `key`; after a crash, the topic is checked for the reply first: a post of
    the bot's answering `reply_to`, or (for a reply to no post in particular) one whose text holds `marker`."""
    if topic_id is None:
        return

    def made() -> bool:
        return any(
            is_service(p.username, s.settings.bot_username)
            and p.reply_to_post_number == reply_to
            and (reply_to is not None or (marker and marker in p.cooked))
            for p in s.forum.recent_posts(topic_id)
        )

    s.store.once(
        key, lambda: s.forum.reply(topic_id=topic_id, raw=raw, reply_to_post_number=reply_to), already_made=made
    )


def message_once(s: Services, key: str, *, title: str, raw: str, recipients: list[str], external_id: str) -> Sent:
    """Send a personal message exactly once for `key`. `Sent.refused` is "" when it was sent (now or before), or
    the forum's reason when it refused the message (now or before): a final outcome (the member turned messages
    off, is suspended, …), recorded with the forum's words so that it is never tried again and a rerun of the job
    still makes what follows from it (the team told, the history written)."""
    earlier = s.store.refusal(key)
    if earlier is not None:
        return Sent(refused=earlier)
    made: list[Post] = []

    def send() -> None:
        made.append(s.forum.private_message(title=title, raw=raw, recipients=recipients, external_id=external_id))

    try:
        s.store.once(key, send)
    except MessageRefused as refused:
        s.store.mark_refused(key, refused.reason)
        return Sent(refused=refused.reason)
    return Sent(post=made[0] if made else None)
