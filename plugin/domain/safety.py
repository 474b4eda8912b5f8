"""Whose words count, and words that must not reach anyone unasked: the one home of these rules.

- **The service's own words** (posts by its account, `COC_BOT_USERNAME`) are never feedback, never counted, never
  a care request.
- **The forum's bots** (Discourse's `system`, `discobot`…: user ids below 1) are never counted as members.
- **A member's own words** are a regular post (not a small action or whisper) by a person who is neither.
- **Asking for care** is the phrase "direct support" in the writer's own words: quotes and code are someone else's
  words or an example.
- **Mentions** in anything the service writes are neutralized, so that nobody is pinged by the service.
"""

from __future__ import annotations

import re

from plugin.domain.events import POST_REGULAR, Event, Post, PostEvent

ZWSP = "\u200b"
"""The zero-width space that goes after an `@` so that it cannot ping."""

_MENTION = re.compile(r"(?<![A-Za-z0-9])@(?=\w)")
_DIRECT_SUPPORT = re.compile(r"\bdirect\s+support\b", re.IGNORECASE)
_SPACE_ENTITY = re.compile(r"&(?:nbsp|#160|#x0*a0);", re.IGNORECASE)
"""A non-breaking space written as an HTML entity: it reads as a space."""
_QUOTED = re.compile(
    r"\[quote[^\]]*\].*?\[/quote\]|^>.*?$|```.*?```|`[^`\n]*`", re.IGNORECASE | re.DOTALL | re.MULTILINE
)


def is_service(username: str, bot_username: str) -> bool:
    """The service's own account (usernames compare case-insensitively, as in Discourse)."""
    return username.lower() == bot_username.lower()


def is_forum_bot(user_id: int) -> bool:
    """One of the forum's own bots: Discourse gives them ids below 1."""
    return user_id < 1


def by_a_member(post: Post, bot_username: str) -> bool:
    """A regular post by a person: not a forum bot's, not the service's, not a small action or whisper."""
    regular = post.post_type == POST_REGULAR
    return regular and not is_forum_bot(post.user_id) and not is_service(post.username, bot_username)


def mentions_direct_support(text: str) -> bool:
    """True when the writer's own words contain the phrase "direct support" (any case, any spacing).

    Quoted text (`[quote]…[/quote]`, `> …` lines) and code are someone else's words or an example — quoting the
    Code's section on asking for support is not asking for it.
    """
    own = _SPACE_ENTITY.sub(" ", _QUOTED.sub(" ", text or ""))
    return bool(_DIRECT_SUPPORT.search(own))


def is_care_post(post: Post, bot_username: str) -> bool:
    """A post whose writer asks for care: a person's own words (never the service's, never the forum's bots')."""
    by_a_person = not is_forum_bot(post.user_id) and not is_service(post.username, bot_username)
    return by_a_person and mentions_direct_support(post.raw)


def asks_for_care(event: Event, bot_username: str) -> bool:
    """A post just written or edited (an edit that adds the phrase asks as a new post would) whose writer asks for
    "direct support"."""
    return (
        isinstance(event, PostEvent)
        and event.name in ("post_created", "post_edited")
        and is_care_post(event.post, bot_username)
    )


def neutralize_mentions(text: str) -> str:
    """`@name`, `@group`, `@everyone`, `@here` can't ping: a zero-width space goes after the `@`. Emails stay."""
    return _MENTION.sub("@" + ZWSP, text)
