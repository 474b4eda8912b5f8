"""Words a team may change without a deploy: a reply that gives new wording, the checks, and filling it in. Pure.

A team changes a message by replying in a conversation with the message's heading (`## To the team`) and the
new words under it; one reply may change several messages. Each heading is checked on its own, so a broken one
never stops the others:

- the heading names a message (`Spec.heading` or one of its aliases; case, punctuation and spacing do not matter);
- the words are not empty and not longer than `Spec.max_length`;
- every `{placeholder}` is one the message knows (`Spec.placeholders`; `{Member}` and `{ member }` are
  `{member}`), every required one is there, and no brace is left over;
- `default` alone under a heading puts the message back to its default words.

What the team quoted (`[quote]…[/quote]`) is someone else's words, and what comes before the first heading is
conversation: neither changes anything. Headings of level 1 and 2 separate the messages; a message may use
smaller headings (`###`) inside.

Filling a template in (`worded`) never fails: a team's template that cannot be filled (a placeholder problem that
slipped through, or one a later release no longer knows) gives the default words instead, and every mention in
the team's words is neutralized, as in everything the service writes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from plugin.domain.safety import neutralize_mentions

UNKNOWN_HEADING = "unknown heading"
UNKNOWN_PLACEHOLDER = "unknown placeholder"
MISSING_PLACEHOLDER = "missing placeholder"
STRAY_BRACE = "stray brace"
EMPTY = "empty"
TOO_LONG = "too long"
PROBLEM_KINDS = (UNKNOWN_HEADING, UNKNOWN_PLACEHOLDER, MISSING_PLACEHOLDER, STRAY_BRACE, EMPTY, TOO_LONG)

MAX_LENGTH = 3000
"""The most characters a message's template may have (the defaults have fewer than 600)."""
RESET_WORDS = frozenset({"default", "the default", "back to default", "back to the default", "use the default"})
"""Words that, alone under a heading, put the message back to its default words."""

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_HEADING = re.compile(r"^ {0,3}(#{1,2})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_QUOTE = re.compile(r"\[quote(?:[= ][^\]]*)?\](?:(?!\[quote[\]= ]).)*?\[/quote\]", re.IGNORECASE | re.DOTALL)
_FENCED = re.compile(r"\A(`{3,}|~{3,})[^\n]*\n(.*)\n\1[ \t]*\Z", re.DOTALL)


@dataclass(frozen=True)
class Spec:
    """A message whose words may be changed: its key, the heading that names it, what it may say."""

    key: str
    heading: str
    placeholders: tuple[str, ...]  # the `{names}` it may use
    required: tuple[str, ...] = ()  # the ones it must use
    aliases: tuple[str, ...] = ()  # other headings that name it
    max_length: int = MAX_LENGTH

    def names(self, heading: str) -> bool:
        wanted = _normal(heading)
        return any(wanted == _normal(h) for h in (self.heading, *self.aliases))


@dataclass(frozen=True)
class Problem:
    kind: str  # one of PROBLEM_KINDS
    names: tuple[str, ...] = ()  # the placeholders concerned (as written), or the heading
    limit: int = 0  # TOO_LONG: the most characters allowed

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "names": list(self.names), "limit": self.limit}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Problem:
        return cls(str(data["kind"]), tuple(str(n) for n in data.get("names", ())), int(data.get("limit", 0)))


@dataclass(frozen=True)
class Change:
    """One heading of a reply and what it asks."""

    heading: str  # as the team wrote it
    key: str | None  # the message it names; None when it names none
    text: str | None  # the new template; None puts the message back to its default words
    problems: tuple[Problem, ...] = ()

    @property
    def taken(self) -> bool:
        return self.key is not None and not self.problems


@dataclass(frozen=True)
class Reply:
    changes: tuple[Change, ...]  # in the reply's order; a message named twice counts once, with its last words

    @property
    def taken(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.taken)

    @property
    def refused(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if not c.taken)

    @property
    def unknown(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.key is None)


def parse_reply(raw: str, specs: Iterable[Spec]) -> Reply:
    """What a reply asks of each message it names (no change at all when it has no level 1 or 2 heading)."""
    specs = tuple(specs)
    sections = _sections(_unquoted(raw or ""))
    changes: dict[str, Change] = {}
    for index, (heading, body) in enumerate(sections):
        spec = next((s for s in specs if s.names(heading)), None)
        if spec is None:
            changes[f"?{index}"] = Change(heading, None, None, (Problem(UNKNOWN_HEADING, (heading,)),))
            continue
        changes.pop(spec.key, None)  # named again: the last words count, in the place they were given
        text = _unfenced(body)
        if _normal(text) in RESET_WORDS:
            changes[spec.key] = Change(heading, spec.key, None)
        else:
            changes[spec.key] = Change(heading, spec.key, text, template_problems(text, spec))
    return Reply(tuple(changes.values()))


def template_problems(text: str, spec: Spec) -> tuple[Problem, ...]:
    """What is wrong with `text` as the template of `spec`'s message (nothing: it may be used)."""
    if not text.strip():
        return (Problem(EMPTY),)
    problems = []
    if len(text) > spec.max_length:
        problems.append(Problem(TOO_LONG, limit=spec.max_length))
    written = [m.group(0) for m in _PLACEHOLDER.finditer(text)]
    unknown = _unique(w for w in written if _name(w) not in spec.placeholders)
    if unknown:
        problems.append(Problem(UNKNOWN_PLACEHOLDER, unknown))
    used = {_name(w) for w in written}
    missing = tuple(f"{{{r}}}" for r in spec.required if r not in used)
    if missing:
        problems.append(Problem(MISSING_PLACEHOLDER, missing))
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        problems.append(Problem(STRAY_BRACE))
    return tuple(problems)


def placeholders_of(text: str) -> tuple[str, ...]:
    """The placeholder names a template uses, in order, once each."""
    return _unique(_name(m.group(0)) for m in _PLACEHOLDER.finditer(text))


def fill(template: str, values: Mapping[str, str]) -> str | None:
    """The template with each `{placeholder}` replaced by its value; None when it uses a name without a value or
    has a brace left over. Values are inserted as they are: whatever they need (escaping) is done before."""
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        return None
    if any(_name(m.group(0)) not in values for m in _PLACEHOLDER.finditer(template)):
        return None
    return _PLACEHOLDER.sub(lambda m: values[_name(m.group(0))], template)


def worded(template: str | None, default: str, **values: str) -> str:
    """A message's words: the team's `template` filled in, mentions neutralized; the `default` (a `str.format`
    template the service owns) when there is no template or it cannot be filled. Never raises for a template."""
    if template is not None:
        try:
            text = fill(template, values)
        except (KeyError, ValueError, TypeError):  # pragma: no cover - fill guards every case it knows
            text = None
        if text is not None and text.strip():
            return neutralize_mentions(text)
    return default.format(**values)


def marker_in(text: str, marker: str) -> str:
    """The words a retried reply looks for in what the service posted (worker.effects.reply_once): the default's
    `marker` when the message holds it, else none, so that a retry after a crash posts again rather than
    mistaking another of the service's posts for this one (the team's words may repeat elsewhere)."""
    return marker if marker in text else ""


# ------------------------------------------------------------------------------------------------ reading a reply


def _unquoted(raw: str) -> str:
    """The reply without what it quotes (innermost quotes first, so nested quotes go too)."""
    text = raw.replace("\r\n", "\n")
    while True:
        shorter = _QUOTE.sub("", text)
        if shorter == text:
            return text
        text = shorter


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of each level 1 or 2 heading outside code blocks, in order; the text before the first
    heading is left out."""
    sections: list[tuple[str, list[str]]] = []
    fence: str | None = None
    for line in text.split("\n"):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
        elif opening:
            fence = opening.group(1)
        elif heading := _HEADING.match(line):
            sections.append((heading.group(2).strip(), []))
            continue
        if sections:
            sections[-1][1].append(line)
    return [(heading, "\n".join(lines).strip()) for heading, lines in sections]


def _unfenced(body: str) -> str:
    """Words given inside one code block (copied from the conversation's first post) are the words themselves."""
    fenced = _FENCED.match(body)
    return fenced.group(2).strip("\n") if fenced else body


def _normal(text: str) -> str:
    """A heading as compared: letters and digits only, lower case, single spaces (quotes and dashes are spaces)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def _name(placeholder: str) -> str:
    return placeholder[1:-1].strip().casefold()


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
