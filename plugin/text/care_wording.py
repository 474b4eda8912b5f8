"""The care messages' words as the peer-support team may change them: which messages, what each may say, the
conversation where the team changes them, and the companion's answers there. Pure text, no I/O.

The team changes a message by replying in the conversation with its heading and the new words
(plugin.domain.wording has the rules). The default words stay in plugin.text.care; a team's words are used in
their place by each of its functions (`template=`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from plugin.domain.engagement import parse_time
from plugin.domain.wording import (
    EMPTY,
    MISSING_PLACEHOLDER,
    STRAY_BRACE,
    TOO_LONG,
    UNKNOWN_HEADING,
    UNKNOWN_PLACEHOLDER,
    Change,
    Problem,
    Spec,
)
from plugin.text import care
from plugin.text.drafts import escape_inline

MEMBER, TEAM, PICKUP, REMINDER, ALERT, CLOSED, UNREACHABLE = (
    "member",
    "team",
    "pickup",
    "reminder",
    "alert",
    "closed",
    "unreachable",
)
"""The keys of the messages whose words the team may change (stored in Redis: they never change)."""
UNKNOWN = "*"
"""Where a reply's headings that name no message are remembered (for `doctor`)."""

TAKEN, LATER, REFUSED = "taken", "later", "refused"
"""What became of one heading of a reply: its words are used; a later reply had already changed the message; not
used, for the problems it has."""

PLACEHOLDERS = {
    "member": "the name of the member who asked",
    "group": "this group's name",
    "where": "“in a post” or “in a private message to the Code of Care companion”",
    "link": "the link to their post (or, when they wrote privately, a sentence saying there is none)",
    "picker": "the name of who picked the request up, in bold (or “Someone”, when the team prefers not to say)",
    "waited": "how long they have waited, as people say it: “45 minutes”, “2 hours”",
    "backup": "the backup group's name",
    "closer": "the name of who closed the request",
    "reason": "what the forum said when it refused the message",
}
"""What each placeholder becomes, as the conversation explains it."""


@dataclass(frozen=True)
class Message:
    """A care message whose words the team may change."""

    spec: Spec
    purpose: str  # who gets it and when
    default: str  # its default words, as the team would write them
    title: str = ""  # its fixed title, for the messages that start a conversation


def _default(body: str, marker: str = "") -> str:
    return body.replace("{marker}", marker)


MESSAGES = (
    Message(
        Spec(MEMBER, "To the member who asked", ("member", "group"), aliases=("To the member",)),
        "Sent privately to the member as soon as they ask.",
        care.MEMBER_BODY,
        care.MEMBER_TITLE,
    ),
    Message(
        Spec(
            TEAM,
            "To the team",
            ("member", "group", "where", "link"),
            required=("member", "link"),
            aliases=("To the peer-support team", "To this group"),
        ),
        "Starts this group's private conversation about a request.",
        care.TEAM_BODY,
        care.TEAM_TITLE.format(member="(their name)"),
    ),
    Message(
        Spec(PICKUP, "To the member when someone picks it up", ("picker",), aliases=("Pickup notice", "Picked up")),
        "Sent in the member's conversation when someone from this group answers in the team's.",
        care.PICKUP_BODY,
    ),
    Message(
        Spec(REMINDER, "Reminder to the team", ("member", "waited"), required=("member",), aliases=("Reminder",)),
        "Posted once in the team's conversation while nobody has picked the request up.",
        _default(care.REMINDER_BODY, care.REMINDER_MARKER),
    ),
    Message(
        Spec(
            ALERT,
            "Alert to the backup group",
            ("member", "group", "backup", "waited"),
            required=("member",),
            aliases=("Alert",),
        ),
        "Sent once to the backup group when a request still waits.",
        care.ALERT_BODY,
        care.ALERT_TITLE,
    ),
    Message(
        Spec(CLOSED, "Closed note to the team", ("closer", "member"), aliases=("Closed note", "Closed")),
        "Posted in the team's conversation when someone closes the request with /done.",
        _default(care.CLOSED_BODY, care.CLOSED_MARKER),
    ),
    Message(
        Spec(
            UNREACHABLE,
            "When the member cannot be messaged",
            ("member", "reason"),
            required=("member",),
            aliases=("Unreachable",),
        ),
        "Posted in the team's conversation when the forum refuses the member's message.",
        _default(care.UNREACHABLE_BODY, care.UNREACHABLE_MARKER),
    ),
)
SPECS = tuple(m.spec for m in MESSAGES)
BY_KEY = {m.spec.key: m for m in MESSAGES}

# ------------------------------------------------------------------------------------------------ the conversation

TITLE = "Our care messages: the words the companion uses"
INTRO = """\
These are the words the Code of Care companion uses when a member asks for support: what it writes to them, to \
this group, and to the backup group. They are yours to change, whenever you like, without waiting for anyone.

**To change a message**, reply here with its heading, as written below, and your words under it. For example:

```text
## Reminder to the team
{member} is still waiting for someone: they asked {waited} ago. Can one of us reach out today?
```

- One reply may change several messages: give each its own heading.
- Words in `{curly brackets}` are filled in by the companion. Each message may use only its own, and some must \
use one. Curly brackets are only for those.
- Write `default` alone under a heading to go back to the words shown here.
- The latest reply that gives a heading counts. Editing an earlier reply changes nothing: write a new one.
- Markdown works (bold, lists, links, `###` smaller headings), but not `#` or `##` headings inside a message: \
those start the next one.

The companion answers every reply that gives a heading, saying what it took and what it could not use, and why. \
A reply it cannot use changes nothing: the message keeps the words it had. Members never see this conversation.

**The messages**, each below under its heading with the words it starts with:

{list}

{messages}"""
ITEM = "- **{heading}**: {purpose}{title} It may use {uses}.{must}"
MESSAGE = """\
## {heading}

{default}"""


def conversation() -> tuple[str, str]:
    """(title, raw) of the conversation where the team changes the words: what each message is and may say, then
    each under its heading with its default words, so that a section copied into a reply is a good reply."""
    items = "\n".join(_item(m) for m in MESSAGES)
    messages = "\n\n".join(MESSAGE.format(heading=m.spec.heading, default=m.default) for m in MESSAGES)
    return TITLE, INTRO.replace("{list}", items).replace("{messages}", messages)


def _item(message: Message) -> str:
    spec = message.spec
    uses = "; ".join(f"`{{{name}}}` {PLACEHOLDERS[name]}" for name in spec.placeholders)
    return ITEM.format(
        heading=spec.heading,
        purpose=message.purpose,
        title=f" Its title stays “{message.title}”." if message.title else "",
        uses=uses,
        must=f" It must use {_names(spec.required)}." if spec.required else "",
    )


# ------------------------------------------------------------------------------------------------ the answer

ANSWER = """\
Thank you. Here is what I did with your reply:

{lines}

{after}"""
AFTER_REFUSED = "To try again, reply with the heading and the corrected words."
AFTER_SOME_REFUSED = AFTER_REFUSED[:-1] + ": what I took stands."
AFTER_TAKEN = "From now on I use these words. Write `default` under a heading to go back to the words I started with."


def answer(outcomes: Sequence[tuple[Change, str]], *, team_words: Mapping[str, Mapping[str, Any]]) -> str:
    """The companion's one answer to a reply that gave headings: what it took and what not, and why.
    `outcomes`: each heading with TAKEN, LATER or REFUSED; `team_words`: the team's words each message uses now."""
    lines = [_outcome(change, outcome, team_words) for change, outcome in outcomes]
    refused = any(outcome == REFUSED for _, outcome in outcomes)
    some_taken = any(outcome == TAKEN for _, outcome in outcomes)
    after = (AFTER_SOME_REFUSED if some_taken else AFTER_REFUSED) if refused else AFTER_TAKEN
    return ANSWER.format(lines="\n".join(lines), after=after)


def _outcome(change: Change, outcome: str, team_words: Mapping[str, Mapping[str, Any]]) -> str:
    if change.key is None:
        known = ", ".join(f"“{m.spec.heading}”" for m in MESSAGES)
        name = escape_inline(change.heading)
        return f"- **{name}**: I don't know a message by that name. The headings I know: {known}."
    message = BY_KEY[change.key]
    heading = f"- **{message.spec.heading}**"
    if outcome == LATER:
        return f"{heading}: a later reply had already changed this message, so these words were not used."
    if outcome == TAKEN:
        return f"{heading}: back to the default words." if change.text is None else f"{heading}: taken."
    reasons = "; ".join(describe(p, message.spec) for p in change.problems)
    return f"{heading}: not taken: {reasons}. {_keeps(change.key, team_words)}"


def describe(problem: Problem, spec: Spec | None) -> str:
    """One problem of a heading's words, in plain words."""
    if problem.kind == EMPTY:
        return "there are no words under the heading"
    if problem.kind == TOO_LONG:
        return f"it is longer than {problem.limit} characters"
    if problem.kind == UNKNOWN_PLACEHOLDER:
        may = f" (it may use {_names(spec.placeholders)})" if spec is not None and spec.placeholders else ""
        return f"I don't know {_written(problem.names)}{may}"
    if problem.kind == MISSING_PLACEHOLDER:
        return f"it must use {_names([n.strip('{}') for n in problem.names])}"
    if problem.kind == STRAY_BRACE:
        return "a curly bracket is not part of a placeholder (they are only for placeholders)"
    if problem.kind == UNKNOWN_HEADING:
        return "no message has that heading"
    return problem.kind


def _keeps(key: str, team_words: Mapping[str, Mapping[str, Any]]) -> str:
    record = team_words.get(key)
    if record is None:
        return "It keeps its default words."
    return f"It keeps the words your team gave it on {when(record.get('at'))}."


def _names(names: Sequence[str]) -> str:
    quoted = [f"`{{{n}}}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _written(written: Sequence[str]) -> str:
    """Placeholders as the team wrote them (their text, escaped: it is not ours)."""
    shown = [escape_inline(w[:60]) for w in written[:5]]
    return " and ".join([", ".join(shown[:-1]), shown[-1]]) if len(shown) > 1 else shown[0]


def when(at: Any) -> str:
    """A post's `created_at` as "2026-12-03 14:05 UTC" ("an unknown date" when it cannot be read)."""
    try:
        return datetime.fromtimestamp(parse_time(at), UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError, OverflowError):
        return "an unknown date"


# ------------------------------------------------------------------------------------------------ for `doctor`


def status(key: str, record: Mapping[str, Any] | None) -> str:
    """Which words a message uses: "default", or "the team's wording since <date> (by <name>)"."""
    if record is None or record.get("text") is None:
        return "default"
    by = f" (by {record['author']})" if record.get("author") else ""
    return f"the team's wording since {when(record.get('at'))}{by}"


def refusal(key: str, record: Mapping[str, Any]) -> str:
    """A reply that could not be used, as `doctor` tells it."""
    problems = [Problem.from_json(p) for p in record.get("problems", ())]
    who = f" by {record['author']}" if record.get("author") else ""
    reply = f"the reply of {when(record.get('at'))}{who} (post {record.get('post_id')})"
    if key == UNKNOWN:
        headings = ", ".join(f"“{n}”" for p in problems for n in p.names)
        return f"{reply} has headings that name no message: {headings}"
    message = BY_KEY.get(key)
    reasons = "; ".join(describe(p, None if message is None else message.spec) for p in problems)
    reasons = reasons.replace("`", "")  # for a terminal
    return f"{reply} was not used: {reasons}; reply again in the conversation with corrected words"
