"""What the service writes in the forum: drafts, decisions, announcements and kind replies, as markdown strings.

Pure functions. Member text (proposed and current wording, reasons, section names) can never break the markup
around it, nor ping anyone:
- every `@` that could start a mention gets a zero-width space after it (`neutralize_mentions`);
- wording goes inside `[quote]…[/quote]` with `\\`, `[`, `<` and `&` backslash-escaped, so no BBCode tag
  (`[/quote]`, `[amend]`, `[details]`), HTML tag, comment or entity written by a member takes effect, and a code
  fence cannot open;
- short pieces (names, reasons in a sentence, titles) are flattened to one line with every markdown mark escaped.
"""

from __future__ import annotations

import difflib
import re

from plugin.domain.decisions import proposer_only
from plugin.domain.proposals import COMMAND_VERBS, CONTROL_CHARACTERS, Problem
from plugin.domain.safety import neutralize_mentions

MAX_TITLE_CHARS = 255  # Discourse's max_topic_title_length
MAX_POST_CHARS = 32_000  # Discourse's max_post_length
MAX_LISTED = 50  # names or links listed in a draft; the rest are counted
MAX_TITLE_SECTION_CHARS = 120
MAX_TITLE_WORD_CHARS = 30  # Discourse's title_max_word_length: a longer word makes the title invalid
EXACT_DIFF_LIMIT = 1_000_000
"""Above this many (old word, new word) pairs the diff lets difflib skip very common words (its `autojunk`), which
keeps an adversarial text from costing seconds of worker time; ordinary sections are far below it."""

DRAFT_TITLE = "Proposed change to {section}"
"""A draft's title names the section and what the proposer wants it to say (`DRAFT_INTENT`: the proposed wording's
first words); where the forum will not take that title (another public topic has it — Discourse wants them unique —
or it finds the member's words unfit for a title), `DRAFT_DATED` names the day it was drafted, and `DRAFT_NTH`
which proposal of that day it is. Members tell drafts apart by what they are about, never by an internal id."""
DRAFT_INTENT = DRAFT_TITLE + ": “{gist}”"
DRAFT_DATED = DRAFT_TITLE + " ({date})"
DRAFT_NTH = DRAFT_TITLE + " (proposal {nth} of {date})"
GIST_CHARS = 60
"""At most this much of the proposed wording goes into a draft's title (cut at a word, then "…")."""
DRAFT_BODY = """\
Members have proposed new wording for **{section}** of the Code of Care, and {support}. Here it is, for everyone \
to read and discuss.

### Current text

{current}

### Proposed text

{proposed}

### What changes

{diff}

### Support

{credits}

### Where it was proposed

{sources}

### How this is decided

Everyone is welcome to share their thoughts in this topic. A moderator decides by replying here with `/approve`, \
or with `/reject` followed by a reason. The member who proposed it can reply `/withdraw` to take it back.{hidden}"""
SUPPORT_ONE = "1 member supports it ({needed})"
SUPPORT_MANY = "{count} members support it ({needed})"
NEEDED_ONE = "1 is enough for a draft"
NEEDED_MANY = "{threshold} are needed for a draft"
CREDITED = "Supporters who chose to be named: {names}."
NOT_CREDITED = "Supporters are counted here, not named, unless they chose to be credited."
AND_MORE = " and {count} more"
NO_SOURCES = "(there are no posts to link to)"
EMPTY_TEXT = "(this text is empty)"
DIFF_TOO_LONG = "(the changes are too long to show word by word here: please compare the two texts above)"
SHORTENED = "… (shortened to fit in one post)"

DECISIONS = {
    "approve": "Approved by {who}, and applied to the Code of Care. The forum keeps the earlier wording in the "
    "document's history. Thank you to everyone who proposed, supported and discussed this change.",
    "reject": "Not adopted this time: {who} decided not to make this change.",
    "withdraw": "Withdrawn by {who}, who proposed it. Thank you for taking part: new proposals are always welcome.",
}
REASON_GIVEN = "The reason given:"
NO_REASON = "No reason was given; anyone is welcome to ask about it here."
REJECTED_CLOSING = "Thank you to everyone who took part. This section can always be proposed again."

APPLIED_ANNOUNCEMENT = (
    "**{section}** of the Code of Care has new wording, approved by the moderators after members "
    "proposed and supported it. The proposal, the discussion and the decision are here: {draft}"
)
STALE = (
    "This proposal can't be applied as it stands: **{section}** has changed since it was proposed, and applying "
    "it would undo those changes. The member who proposed it is warmly invited to propose it again on the "
    "current text: copy the section as it reads now, make the change, and post it between "
    '\\[amend section="{ref}"] and \\[/amend].'
)
NOT_ALLOWED = (
    "Thank you for caring about this proposal. Only {who_may} can {verb} it, so your /{verb} didn't "
    "change anything. If you support it, a like on the original proposal helps, and your thoughts are always "
    "welcome here."
)
REJECTION_PM_TITLE = "About your proposed change to {section}"
REJECTION_PM_BODY = """\
Thank you for proposing new wording for **{section}** of the Code of Care, and for the care you put into it.

The moderators decided not to adopt it this time. {reason}

The whole discussion is in the draft, and you can reply there: {draft}

One decision doesn't close the conversation. You are always welcome to propose again, for example with changes \
that answer the moderators' concerns."""
PROBLEM_REPLY = """\
Thank you for proposing a change to the Code of Care. I couldn't read all of it yet:

{items}

You can edit your post to fix this, and I'll read it again when you save. A proposal looks like this:

```
[amend section="Consent"]
The new wording of the section …
[/amend]
```"""
HIDDEN = "\n\n[//]: # ({note})"
"""A note for moderators and machines only, in the raw: a markdown link reference that nothing refers to, which
the forum never shows (markdown's comment; an HTML comment would be an HTML block, which the service never
posts). A draft's names its amendment; a reply's says what it is about, because Discourse refuses a second
identical post from the same (non-staff) account within `unique_posts_mins`, so two otherwise equal replies must
differ."""
ABOUT = HIDDEN

"""An `@` that Discourse could read as the start of a mention: not after an ASCII letter or digit (as in an email
address), and followed by a letter, digit or underscore of any script. An underscore before it does not protect
it: markdown may read that `_` as the end of an emphasis and drop it (`_a_@everyone`)."""
_BLOCK_MARKS = re.compile(r"[\\\[<&]")
_INLINE_MARKS = re.compile(r"[\\`*_\[\]<>#~|&]")
_FENCE_START = re.compile(r"^( {0,3})(?=`{3}|~{3})", re.MULTILINE)
_WORD = re.compile(r"\S+")
_UNDERLINE_WORD = re.compile(r"[-=]+")
"""A word that, alone on a line of the diff under text, would make that text a heading (a setext underline)."""
_LONG_WORD = re.compile(rf"\S{{{MAX_TITLE_WORD_CHARS + 1},}}")
_WHITESPACE = re.compile(r"\s+")
_GIST_DROPPED = re.compile(r"[\\&<>\[\]`]")
_URL = re.compile(r"https?://[^\s<>\[\]\"'`\\@]+")
_UNSAFE_IN_NOTE = re.compile(r"[^A-Za-z0-9 ,.:/_-]+")
"""What a hidden note leaves out, so that it can neither end its line early nor carry markup."""


# ------------------------------------------------------------------------------------------------ member text


def word_diff(old: str, new: str) -> str:
    """A readable word-level diff as markdown: unchanged words plain, removed ones in <del>, added ones in <ins>.

    Paragraphs are kept (a removed or added run never spans a blank line), and every word is escaped, so member
    text shows literally and cannot open a tag.
    """
    old_words, old_separators = _words(old)
    new_words, new_separators = _words(new)
    pieces: list[tuple[str, str]] = []  # (separator before, markdown)
    exact = len(old_words) * len(new_words) <= EXACT_DIFF_LIMIT
    matcher = difflib.SequenceMatcher(None, old_words, new_words, autojunk=not exact)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pieces += [(new_separators[j], _escape_word(new_words[j])) for j in range(j1, j2)]
            continue
        for n, group in enumerate(_paragraphs(range(i1, i2), old_separators)):
            words = " ".join(_escape_word(old_words[i]) for i in group)
            pieces.append((old_separators[group[0]] if n == 0 else "\n\n", f"<del>{words}</del>"))
        for n, group in enumerate(_paragraphs(range(j1, j2), new_separators)):
            words = "".join((new_separators[j] if j != group[0] else "") + _escape_word(new_words[j]) for j in group)
            pieces.append((" " if n == 0 and op == "replace" else new_separators[group[0]], f"<ins>{words}</ins>"))
    return "".join((sep or " ") + text for sep, text in pieces).lstrip()


def quote_member_text(text: str) -> str:
    """Member wording as a `[quote]` block that nothing inside can close, escape or turn into a ping."""
    body = _clean(text).strip("\n")
    if not body.strip():
        return f"[quote]\n{EMPTY_TEXT}\n[/quote]"
    body = _BLOCK_MARKS.sub(lambda m: "\\" + m.group(), neutralize_mentions(body))
    body = _FENCE_START.sub(lambda m: m.group(1) + "\\", body)
    return f"[quote]\n{body}\n[/quote]"


# ------------------------------------------------------------------------------------------------ posts


def render_draft(
    *,
    amendment_id: str,
    section_title: str,
    section_number: int | None,
    current: str,
    proposed: str,
    supporters: int,
    credited: list[str],
    source_links: list[str],
    threshold: int,
    drafted_on: str = "",
    nth: int = 1,
) -> tuple[str, str]:
    """(title, raw body) of an amendment's draft topic; the body always fits in one Discourse post.

    The title names the section and, given `drafted_on` (a day as people write it, "14 March 2026"), that day;
    `nth` > 1 makes it "proposal `nth` of" that day, for when an earlier draft of the section took the title. The
    amendment's id is only in a hidden note (and the topic's external_id), never in what members read."""
    label = _label(section_number, section_title)
    gist = _gist(proposed)
    if nth == 1 and gist:
        title = _title(DRAFT_INTENT, section=label, gist=gist)
    elif nth <= 2 and drafted_on:
        title = _title(DRAFT_DATED, section=label, date=drafted_on)
    elif drafted_on:
        title = _title(DRAFT_NTH, section=label, nth=str(nth - 1 if gist else nth), date=drafted_on)
    else:
        title = _title(DRAFT_TITLE, section=label)
    needed = NEEDED_ONE if threshold == 1 else NEEDED_MANY.format(threshold=threshold)
    support = (SUPPORT_ONE if supporters == 1 else SUPPORT_MANY).format(count=supporters, needed=needed)
    names = _deduplicated(credited)
    credits = CREDITED.format(names=_listed([escape_inline(n) for n in names], ", ")) if names else NOT_CREDITED
    links = _deduplicated(source_links)
    sources = _listed([f"- {_link(link)}" for link in links], "\n") if links else NO_SOURCES

    def body(current_text: str, proposed_text: str, diff: str) -> str:
        return DRAFT_BODY.format(
            section=escape_inline(label),
            support=support,
            diff=diff,
            credits=credits,
            current=quote_member_text(current_text),
            proposed=quote_member_text(proposed_text),
            sources=sources,
            hidden=_hidden(amendment_id),
        )

    diff = word_diff(current, proposed)
    raw = body(current, proposed, f"[quote]\n{diff}\n[/quote]" if diff else quote_member_text(""))
    if len(raw) > MAX_POST_CHARS:
        raw = body(current, proposed, DIFF_TOO_LONG)
    if len(raw) > MAX_POST_CHARS:
        room = (MAX_POST_CHARS - len(body("", "", DIFF_TOO_LONG)) - 2 * len(SHORTENED)) // 4
        raw = body(_shortened(current, room), _shortened(proposed, room), DIFF_TOO_LONG)
    return title, raw


def render_decision(*, verb: str, decided_by: str, reason: str = "", about: str = "") -> str:
    """The service's reply in a draft topic once `/approve`, `/reject` or `/withdraw` has decided it."""
    if verb not in DECISIONS:
        raise ValueError(f"unknown decision {verb!r}; expected one of {', '.join(DECISIONS)}")
    text = DECISIONS[verb].format(who=escape_inline(decided_by))
    if verb == "reject":
        explained = f"{REASON_GIVEN}\n\n{quote_member_text(reason)}" if reason.strip() else NO_REASON
        text = f"{text} {explained}\n\n{REJECTED_CLOSING}"
    return text + _about(about)


def render_applied_announcement(*, section_title: str, draft_url: str) -> str:
    """The reply in the document topic announcing that an approved amendment changed a section."""
    return APPLIED_ANNOUNCEMENT.format(section=escape_inline(section_title), draft=_link(draft_url))


def render_stale(*, section_title: str, about: str = "") -> str:
    """The reply in a draft whose section changed after it was proposed: it is not applied."""
    return STALE.format(section=escape_inline(section_title), ref=escape_inline(section_title)) + _about(about)


def render_not_allowed(*, verb: str, who_may: str | None = None, about: str = "") -> str:
    """The one kind answer to a member whose command cannot decide the draft (`who_may`: by default, who may give
    that command)."""
    if verb not in COMMAND_VERBS:
        raise ValueError(f"unknown command {verb!r}; expected one of {', '.join(COMMAND_VERBS)}")
    who_may = who_may or ("the proposer" if proposer_only(verb) else "a moderator")
    return NOT_ALLOWED.format(who_may=escape_inline(who_may), verb=verb) + _about(about)


EDIT_REASON = "New wording for {section}, approved by {moderator}"


def edit_reason(section_title: str, moderator: str) -> str:
    """The edit reason of the document's revision that applies an amendment (members read it in the post's
    history): which section changed and who approved it, on one line."""
    section = _shortened(_WHITESPACE.sub(" ", _clean(section_title)).strip(), MAX_TITLE_SECTION_CHARS, "…")
    return neutralize_mentions(EDIT_REASON.format(section=section, moderator=moderator))


def render_rejection_pm(*, section_title: str, reason: str, draft_url: str) -> tuple[str, str]:
    """(title, raw) of the private message telling the proposer their proposal was not adopted, and why."""
    title = _title(REJECTION_PM_TITLE, section=section_title)
    explained = f"{REASON_GIVEN}\n\n{quote_member_text(reason)}" if reason.strip() else NO_REASON
    return title, REJECTION_PM_BODY.format(
        section=escape_inline(section_title), reason=explained, draft=_link(draft_url)
    )


def render_problem_reply(problems: list[Problem], *, about: str = "") -> str:
    """The reply to a post whose proposals the member needs to fix: one line per distinct problem."""
    messages = _deduplicated([problem.message for problem in problems])
    if not messages:
        raise ValueError("no problems to report")
    items = "\n".join(f"- {escape_inline(message)}" for message in messages)
    return PROBLEM_REPLY.format(items=items) + _about(about)


# ------------------------------------------------------------------------------------------------ helpers


def _clean(text: str) -> str:
    """Member text with Windows and old Mac line endings made "\\n" and control characters removed."""
    return CONTROL_CHARACTERS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def escape_inline(text: str) -> str:
    """Member text for the middle of a sentence: one line, every markdown mark escaped, no mention."""
    flat = neutralize_mentions(_WHITESPACE.sub(" ", _clean(text)).strip())
    return _INLINE_MARKS.sub(lambda m: "\\" + m.group(), flat)


def _escape_word(word: str) -> str:
    """One word of member text for the diff, where it may start a line: escaped, and never a setext underline."""
    escaped = escape_inline(word)
    return "\\" + escaped if _UNDERLINE_WORD.fullmatch(escaped) else escaped


def _link(url: str) -> str:
    """A forum URL as is (Discourse links it); anything that is not a plain http(s) URL as escaped text."""
    url = url.strip()
    return url if _URL.fullmatch(url) else escape_inline(url)


def _about(about: str) -> str:
    return _hidden(about)


def _hidden(note: str) -> str:
    """`note` as a line the forum never shows ("" when nothing of it is safe to keep)."""
    kept = _UNSAFE_IN_NOTE.sub(" ", note)
    while "--" in kept:
        kept = kept.replace("--", "-")
    kept = _WHITESPACE.sub(" ", kept).strip(" -")[:200]
    return HIDDEN.format(note=kept) if kept else ""


def _gist(proposed: str) -> str:
    """The proposed wording's first words, for a title: one line, at most GIST_CHARS, cut at a word ("…")."""
    # a title is plain text: marks that only markup reads (escapes, entities, tags, links, code) go, so that none
    # can hide a mention from neutralize_mentions or show as code in a list of titles
    flat = _WHITESPACE.sub(" ", _GIST_DROPPED.sub("", _clean(proposed))).strip().strip('“”"')
    if len(flat) <= GIST_CHARS:
        return flat
    cut = flat[:GIST_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:.–-")
    return (cut or flat[:GIST_CHARS]) + "…"


def _label(number: int | None, title: str) -> str:
    return f"{number}. {title}" if number is not None else title


def _title(template: str, **fields: str) -> str:
    """A topic title within Discourse's limits: one line, no mention, the member part shortened if need be."""
    shortened = {
        name: _shortened(_WHITESPACE.sub(" ", _clean(value)).strip(), MAX_TITLE_SECTION_CHARS, "…")
        for name, value in fields.items()
    }
    title = neutralize_mentions(template.format(**shortened))
    return _LONG_WORD.sub(lambda m: m.group()[: MAX_TITLE_WORD_CHARS - 1] + "…", title)[:MAX_TITLE_CHARS]


def _shortened(text: str, limit: int, marker: str = SHORTENED) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit, 0)].rstrip() + marker


def _deduplicated(items: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for item in items:
        if item.strip() and item.casefold() not in seen:
            seen.add(item.casefold())
            kept.append(item)
    return kept


def _listed(items: list[str], separator: str) -> str:
    shown = separator.join(items[:MAX_LISTED])
    return shown + (AND_MORE.format(count=len(items) - MAX_LISTED) if len(items) > MAX_LISTED else "")


def _separator(whitespace: str) -> str:
    """The whitespace between two words, reduced to what markdown keeps: a paragraph break, a line break, a space."""
    newlines = whitespace.count("\n")
    return "\n\n" if newlines >= 2 else "\n" if newlines == 1 else " "


def _words(text: str) -> tuple[list[str], list[str]]:
    """The words of `text`, and before each the whitespace that separated it from the previous one (reduced)."""
    text = _clean(text)
    words, separators, position = [], [], 0
    for match in _WORD.finditer(text):
        words.append(match.group())
        separators.append(_separator(text[position : match.start()]) if position else "")
        position = match.end()
    return words, separators


def _paragraphs(indexes: range, separators: list[str]) -> list[list[int]]:
    """`indexes` (of words) cut into runs that stay inside one paragraph."""
    groups: list[list[int]] = []
    for i in indexes:
        if not groups or separators[i] == "\n\n":
            groups.append([])
        groups[-1].append(i)
    return groups
