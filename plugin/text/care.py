"""Care first: the two private messages a "direct support" post produces. Pure text, no I/O.

The team's message links to the post and names the member, but never copies what they wrote: their words stay
where they put them. The member's message is gentle, says a person from the team will write to them by name, and
names the team's group — without an @, so nobody is pinged but the people the message is for.
"""

from __future__ import annotations

from plugin.domain.safety import neutralize_mentions
from plugin.text.drafts import escape_inline

TEAM_TITLE = "A member asked for direct support (post {post_id})"
TEAM_BODY = """\
{member} asked for **direct support** {where}.

Please pick this up: reply here to say who is reaching out, then write to {member} personally, by name.

{link}

*This message links to their post and does not repeat it. It was sent by the Code of Care companion to the \
{group} group only.*"""
WHERE_PUBLIC = "in a post"
WHERE_PRIVATE = "in a private message to the Code of Care companion"
PRIVATE_LINK = "They wrote privately to the companion, so there is no post you can open: reach out to them directly."

MEMBER_TITLE = "You asked for direct support (post {post_id})"
MEMBER_BODY = """\
Hi {member},

Thank you for telling us. A person from our peer-support team — the {group} group — will write to you \
personally, by name, as soon as they can.

You don't need to do anything else. If you would rather not hear from them, just reply here and say so; that is \
completely fine.

Take care of yourself in the meantime."""


UNREACHABLE_MARKER = "a private message to tell them that someone will write"
"""Words of the unreachable notice that a retried job looks for in the team's conversation (it is posted once)."""
UNREACHABLE_BODY = """\
We could not send {member} {marker}: the forum said “{reason}”. They may have turned personal messages off, or \
the forum is not letting messages reach them just now.

Please reach out another way you know is welcome to them — and if they have said they would rather not be \
contacted, respect that."""


def team_message(*, member: str, group: str, post_id: int, post_url: str, private: bool) -> tuple[str, str]:
    """(title, raw) of the message to the peer-support group."""
    body = TEAM_BODY.format(
        member=neutralize_mentions(member),
        group=group,
        where=WHERE_PRIVATE if private else WHERE_PUBLIC,
        link=PRIVATE_LINK if private else post_url,
    )
    return TEAM_TITLE.format(post_id=post_id), body


def member_message(*, member: str, group: str, post_id: int) -> tuple[str, str]:
    """(title, raw) of the gentle message to the member who asked."""
    return MEMBER_TITLE.format(post_id=post_id), MEMBER_BODY.format(member=neutralize_mentions(member), group=group)


def unreachable_notice(*, member: str, reason: str) -> str:
    """The note for the team when the forum refused the member's message (`reason` is the forum's own words)."""
    return UNREACHABLE_BODY.format(
        member=f"**{escape_inline(member)}**", marker=UNREACHABLE_MARKER, reason=escape_inline(reason[:300])
    )
