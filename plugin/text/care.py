"""Care first: the two private messages a "direct support" post produces. Pure text, no I/O.

The team's message links to the post and names the member, but never copies what they wrote: their words stay
where they put them. The member's message is gentle, says a person from the team will write to them by name, and
names the team's group — without an @, so nobody is pinged but the people the message is for.
"""

from __future__ import annotations

from collections.abc import Sequence

from plugin.domain.care import CLOSED, OPEN, PICKED_UP, CareRequest, CareSummary
from plugin.domain.safety import neutralize_mentions
from plugin.domain.wording import worded
from plugin.text.digest import week_dates
from plugin.text.drafts import escape_inline, quote_member_text

TEAM_TITLE = "{member} asked for direct support"
"""The team's conversation names who asked (only the team reads it), so that each request is told apart by the
person, not by a number; the message's external_id keys it."""
TEAM_BODY = """\
{member} asked for **direct support** {where}.

Could one of you pick this up? Reply here to say who is reaching out, then write to {member} personally, by name.

{link}

*This message links to their post and does not repeat it. It was sent by the Code of Care companion to the \
{group} group only.*"""
WHERE_PUBLIC = "in a post"
WHERE_PRIVATE = "in a private message to the Code of Care companion"
PRIVATE_LINK = "They wrote privately to the companion, so there is no post you can open: reach out to them directly."

MEMBER_TITLE = "Your request for direct support"
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


def team_message(
    *, member: str, group: str, post_url: str, private: bool, template: str | None = None
) -> tuple[str, str]:
    """(title, raw) of the message to the peer-support group (in the team's words, `template`, if they gave
    theirs: plugin.text.care_wording; each function here takes them the same way)."""
    body = worded(
        template,
        TEAM_BODY,
        member=neutralize_mentions(member),
        group=group,
        where=WHERE_PRIVATE if private else WHERE_PUBLIC,
        link=PRIVATE_LINK if private else post_url,
    )
    return team_title(member), body


def member_message(*, member: str, group: str, template: str | None = None) -> tuple[str, str]:
    """(title, raw) of the gentle message to the member who asked."""
    body = worded(template, MEMBER_BODY, member=neutralize_mentions(member), group=group)
    return MEMBER_TITLE, body


def team_title(member: str) -> str:
    """The title of the team's conversation about a request: who asked, on one line, pinging nobody."""
    name = " ".join(neutralize_mentions(member).split())[:60] or "A member"
    return TEAM_TITLE.format(member=name)


def unreachable_notice(*, member: str, reason: str, template: str | None = None) -> str:
    """The note for the team when the forum refused the member's message (`reason` is the forum's own words)."""
    return worded(
        template,
        UNREACHABLE_BODY,
        member=f"**{escape_inline(member)}**",
        marker=UNREACHABLE_MARKER,
        reason=escape_inline(reason[:300]),
    )


# ------------------------------------------------------------------------------------------------ follow-through

RELAY_MARKER = "wrote in their conversation with the companion (message {number})"
"""Words each relayed reply holds, its number among the member's messages (a retried relay looks for it first)."""
RELAY_EDITED_MARKER = "changed message {number} in their conversation with the companion (at {changed} UTC)"
"""Words a relayed change holds: the message's number and when it was changed (each change is relayed once; the
forum keeps the version of a quick edit, so the time tells them apart)."""
RELAY_BODY = """\
**{member}** {marker}:

{words}

*Only this group sees this. Reply here to coordinate; {member} does not see what you write here.*"""

PICKUP_MARKER = "picked up your request"
PICKUP_BODY = """\
{picker} from the peer-support team has picked up your request and will write to you personally.

If you would rather not hear from anyone, reply here and say so: the team will see it."""
PICKUP_ANONYMOUS_BODY = """\
Someone from the peer-support team has picked up your request and will write to you personally.

If you would rather not hear from anyone, reply here and say so: the team will see it."""

CLOSED_MARKER = "closed this request"
CLOSED_BODY = "{closer} {marker}. Thank you for looking after {member}."

REMINDER_MARKER = "has not been picked up yet"
REMINDER_BODY = """\
{member}'s request {marker}: they asked {waited} ago.

If you can, reply here to say you are reaching out; then write to {member} personally, by name."""

ALERT_TITLE = "A request for direct support is waiting"
ALERT_BODY = """\
{member} asked for **direct support** {waited} ago, and nobody from the {group} group has picked the request \
up yet.

Please make sure someone reaches out to {member} personally, or ask the {group} group who can.

*This alert was sent by the Code of Care companion to the {backup} group only. It does not repeat what \
{member} wrote.*"""


def relay(*, member: str, raw: str, number: int, changed: str = "") -> str:
    """What the member wrote in their conversation (their `number`-th message there; `changed`, the time "HH:MM:SS"
    when they changed it since), as the team reads it in theirs: quoted, pinging nobody."""
    name = escape_inline(neutralize_mentions(member))
    return RELAY_BODY.format(member=name, marker=relay_marker(number, changed), words=quote_member_text(raw))


def relay_marker(number: int, changed: str = "") -> str:
    if changed:
        return RELAY_EDITED_MARKER.format(number=number, changed=changed)
    return RELAY_MARKER.format(number=number)


def pickup_notice(*, picker: str | None, template: str | None = None) -> str:
    """The member is told who picked their request up (or only that someone did, when the team prefers: the
    team's words then say "Someone" for `{picker}`)."""
    if picker is None:
        return worded(template, PICKUP_ANONYMOUS_BODY, picker=ANONYMOUS_PICKER)
    return worded(template, PICKUP_BODY, picker=f"**{escape_inline(neutralize_mentions(picker))}**")


ANONYMOUS_PICKER = "Someone"


def closed_note(*, closer: str, member: str, template: str | None = None) -> str:
    """The note in the team's conversation that a request is closed."""
    return worded(
        template,
        CLOSED_BODY,
        closer=escape_inline(neutralize_mentions(closer)),
        marker=CLOSED_MARKER,
        member=escape_inline(neutralize_mentions(member)),
    )


def reminder(*, member: str, waited_seconds: float, template: str | None = None) -> str:
    """The one reminder in the team's conversation that a request is still waiting."""
    name = escape_inline(neutralize_mentions(member))
    return worded(template, REMINDER_BODY, member=name, marker=REMINDER_MARKER, waited=waited(waited_seconds))


def alert(
    *, member: str, group: str, backup: str, waited_seconds: float, template: str | None = None
) -> tuple[str, str]:
    """(title, raw) of the one alert to the backup group about a request nobody picked up."""
    name = escape_inline(neutralize_mentions(member))
    body = worded(template, ALERT_BODY, member=name, group=group, backup=backup, waited=waited(waited_seconds))
    return ALERT_TITLE, body


def waited(seconds: float) -> str:
    """A wait as people say it: "45 seconds", "30 minutes", "2 hours", "1 day"."""
    if seconds < 90:
        return _plural(round(seconds), "second")
    if seconds < 90 * 60:
        return _plural(round(seconds / 60), "minute")
    if seconds < 36 * 3600:
        return _plural(round(seconds / 3600), "hour")
    return _plural(round(seconds / 86400), "day")


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


# ------------------------------------------------------------------------------------------------ the team's list


def care_table(requests: Sequence[CareRequest], *, now: float, closed_too: bool = False) -> str:
    """The requests as a plain table for a terminal: who asked, how long ago, where it stands."""
    shown = [r for r in requests if closed_too or r.status != CLOSED]
    if not shown:
        return "No care requests." if closed_too else "No open or picked-up care requests."
    rows = [("asked by", "asked", "status", "picked up by", "escalated")]
    for r in shown:
        status = {OPEN: "waiting", PICKED_UP: "picked up", CLOSED: "closed"}[r.status]
        rows.append(
            (r.member, f"{waited(now - r.asked_at)} ago", status, r.picked_by or "—", "yes" if r.escalated else "no")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


# ------------------------------------------------------------------------------------------------ the week's summary

SUMMARY_TITLE = "Care in the week of {dates}"
SUMMARY_QUIET = """\
Hello everyone,

Nobody asked for direct support in the week of {dates}. Thank you for being there all the same: knowing that \
someone will answer is part of what makes this a safe place to ask.

{footer}"""
SUMMARY_BODY = """\
Hello everyone,

Here is how the week of {dates} went for the members who asked for direct support.

- {asked}
- {picked}
- {escalated}
- {still_open}

Thank you for looking after our members, and after each other.

{footer}"""
SUMMARY_FOOTER = (
    "*Sent by the Code of Care companion to the {group} group only. It names nobody, and none of it is ever in "
    "the public weekly digest.*"
)


def weekly_summary(*, week: str, summary: CareSummary, group: str, backup: str) -> tuple[str, str]:
    """(title, raw) of the care group's private summary of an ISO week, named by its dates as the digest names
    them: how many asked, how soon someone picked their request up, how many were escalated and how many
    still wait. Figures only: no name, no link, nothing a member wrote."""
    dates = week_dates(week)
    footer = SUMMARY_FOOTER.format(group=group)
    title = SUMMARY_TITLE.format(dates=dates)
    if summary.requests == 0:
        return title, SUMMARY_QUIET.format(dates=dates, footer=footer)
    waiting = (
        "is still waiting for someone to pick it up: its conversation is"
        if summary.still_open == 1
        else "are still waiting for someone to pick them up: their conversations are"
    )
    return title, SUMMARY_BODY.format(
        dates=dates,
        asked=f"**{_plural(summary.requests, 'request')}** for direct support came in.",
        picked=_picked_up(summary),
        escalated=(
            f"**{_plural(summary.escalated, 'request')}** waited long enough that the {backup} group was alerted."
            if summary.escalated
            else f"No request waited long enough to alert the {backup} group."
        ),
        still_open=(
            f"**{_plural(summary.still_open, 'request')}** {waiting} in this group's messages."
            if summary.still_open
            else "Every request has been picked up or closed."
        ),
        footer=footer,
    )


def _picked_up(summary: CareSummary) -> str:
    """How soon requests were picked up: the median and the 90th percentile, said as people say them."""
    median, p90 = summary.pickup_median_minutes, summary.pickup_p90_minutes
    if summary.picked_up == 0 or median is None or p90 is None:
        return "None of them has been picked up yet."
    if summary.picked_up == 1:
        return f"**1 request** was picked up by one of you, after **{waited(median * 60)}**."
    return (
        f"**{summary.picked_up} requests** were picked up by one of you: half of them within "
        f"**{waited(median * 60)}**, and nine in ten within **{waited(p90 * 60)}**."
    )
