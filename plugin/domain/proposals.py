"""What members write: `[amend section="…"] … [/amend]` proposals, draft-topic commands, quotes of the document.

Pure functions over text. Bad input never raises: it becomes a Problem whose message tells the member, kindly and
specifically, what to change. Text inside `[quote]…[/quote]`, `[code]…[/code]`, fenced code blocks and inline code
is not read for proposals: a quoted or shown proposal is not a new one.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

from plugin.domain.document import Document, body_changes_structure, fenced_code, shows_large_heading

MAX_PROPOSALS_PER_POST = 5
MAX_PROPOSAL_CHARS = 10_000
MIN_QUOTED_CHARS = 12
"""A shorter quote counts for a section only if it is the section's heading or title (short words are everywhere)."""

# Problem kinds, and the message templates the member reads (one sentence or two, what to change and how).
UNTERMINATED, NESTED, STRAY_CLOSE, NO_SECTION, EMPTY, TOO_LONG, TOO_MANY, HEADING, OPEN_FENCE, UNKNOWN_SECTION = (
    "unterminated",
    "nested",
    "stray_close",
    "no_section",
    "empty",
    "too_long",
    "too_many",
    "heading",
    "open_fence",
    "unknown_section",
)
INCOMPLETE_TAG, OPEN_MARKUP = "incomplete_tag", "open_markup"
MESSAGES = {
    UNTERMINATED: "{where} has no closing [/amend], so I can't tell where the new wording ends. Please add [/amend] "
    "on the line after it.",
    NESTED: "{where} has another [amend] inside it. Proposals can't be nested: please close the first one with "
    "[/amend] before you start the next.",
    STRAY_CLOSE: 'I found a closing [/amend] without an opening [amend section="…"] before it. If you meant to '
    "propose new wording, check that the opening tag is complete, with its ] on the same line.",
    NO_SECTION: "{where} doesn't say which section it changes. Please write the opening tag as "
    '[amend section="Consent"], with the section\'s number, title or both.',
    EMPTY: "{where} has no text between [amend] and [/amend]. Please put the new wording of the section between them.",
    TOO_LONG: "{where} is {length:,} characters long, and a proposal can have at most {limit:,}. Could you shorten "
    "it, or split it into proposals for separate sections?",
    TOO_MANY: "Your post has {count} proposals, and I read at most {limit} in one post, so I left out the ones after "
    "the first {limit}. Please move the others into a new post.",
    HEADING: "{where} has a line that would show as a heading as large as a section of the Code (a line starting "
    'with "# " or "## ", or text with a line of === or --- right under it). A proposal changes one '
    'section: please use "### " for a heading inside it, and leave a blank line before a --- rule.',
    OPEN_FENCE: "{where} opens a code block with {fence} that never closes. Please close it with {fence} on a line "
    "of its own before [/amend].",
    OPEN_MARKUP: "{where} opens {opening} and never closes it, so the rest of the Code after this section would "
    "end up inside it. Please close it with {closing} before [/amend].",
    INCOMPLETE_TAG: "I found an opening [amend tag that isn't complete, so I can't tell which section it changes. "
    'Please write it on one line with its closing ], like [amend section="Consent"], and end the '
    "new wording with [/amend].",
    UNKNOWN_SECTION: 'I couldn\'t find a section called "{ref}" in the Code of Care. The sections are: {sections}. '
    'You can name one by its number, its title or both, like section="{example}".',
}
NO_SECTIONS_YET = "(none yet)"
COMMAND_VERBS = ("approve", "reject", "withdraw")

_AMEND_OPEN = re.compile(r"\[amend(?=[\s=\]])(?P<attrs>[^\]\n]{0,500})\]", re.IGNORECASE)
_AMEND_CLOSE = re.compile(r"\[/amend[ \t]*\]", re.IGNORECASE)
_AMEND_START = re.compile(r"\[amend(?=[\s=\]]|\Z)", re.IGNORECASE)
"""Where an opening tag starts, complete or not (an `[amend` whose `]` is missing, or past 500 characters)."""
_QUOTE_OPEN = re.compile(r"\[quote(?=[\s=\]])[^\]\n]{0,1000}\]", re.IGNORECASE)
_QUOTE_CLOSE = re.compile(r"\[/quote[ \t]*\]", re.IGNORECASE)
_CODE_OPEN = re.compile(r"\[code(?=[\s=\]])[^\]\n]{0,200}\]", re.IGNORECASE)
_CODE_CLOSE = re.compile(r"\[/code[ \t]*\]", re.IGNORECASE)
_MARKUP = re.compile(
    r"(?P<special><!--|<\?|<!\[CDATA\[|<![A-Za-z])"
    r"|<(?P<html_close>/)?(?P<html>[A-Za-z][A-Za-z0-9-]*)(?=[\s/>]|$)(?P<html_end>[^<>]*>)?"
    r"|(?P<bb_start>^(?:[^\S\n]|>|[-+*](?=\s)|\d{1,9}[.)](?=\s))*)?"
    r"\[(?P<bb_close>/)?(?P<bb>quote|details|spoiler|poll|wrap|code)(?=[\s=\]])[^\]\n]*\]",
    re.IGNORECASE | re.MULTILINE,
)
"""What a section body may open and must close: HTML comments and declarations, HTML elements, BBCode blocks
(which open only at the start of a line or of a quoted line or list item: elsewhere Discourse shows the tag as it
is)."""
_SPECIAL_ENDS = {"<!--": "-->", "<?": "?>", "<![cdata[": "]]>"}
"""Where markdown's raw HTML blocks that are not elements end (any other `<!X` ends at the next `>`)."""
_HTML_UNCLOSED = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "p",
        "li",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "option",
        "optgroup",
        "rt",
        "rp",
        "colgroup",
        "caption",
    }
)
"""Elements that need no closing tag: void ones, and those the next heading (or their container) closes."""
_HTML_RAW_TEXT = frozenset({"script", "pre", "style", "textarea"})
"""Elements whose start alone opens a markdown HTML block that runs until their closing tag, `>` or not."""
_SECTION_ATTR = re.compile(
    r"""(?:(?<![\w-])section\s*=|^\s*=)\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|“(?P<cq>[^”]*)”|‘(?P<csq>[^’]*)’"""
    r"""|(?P<bare>.*))""",
    re.IGNORECASE,
)
_QUOTE_SOURCE = re.compile(r"(?<![\w-])(?P<key>topic|post)\s*:\s*(?P<id>\d{1,12})", re.IGNORECASE)
_COMMAND = re.compile(r"/(?P<verb>approve|reject|withdraw)\b(?P<rest>.*)", re.IGNORECASE | re.DOTALL)
_BACKTICKS = re.compile(r"`+")
_BLANK_LINE = re.compile(r"\n[ \t]*\r?\n")
_NOT_PLAIN = re.compile(r"[*_`~#>\\|\x00-\x1f\x7f]+")
_WHITESPACE = re.compile(r"\s+")
_CARRIAGE_RETURN = re.compile(r"\r\n?")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""The control characters the service's posts leave out (`plugin.text.drafts`): without them, text may read
otherwise."""
_NOT_NEWLINE = re.compile(r"[^\n]")
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")
_ORDINALS = ("first", "second", "third", "fourth", "fifth")


@dataclass(frozen=True)
class Proposal:
    index: int  # 1-based position among the post's [amend] blocks (the n in coc-amendment-<post id>-<n>)
    section_ref: str  # as written in section="…"
    text: str  # the proposed new body, stripped of the surrounding blank lines


@dataclass(frozen=True)
class Problem:
    message: str  # a kind, specific sentence to the member: what to change and how (shown in a reply)
    kind: str = ""  # which of MESSAGES it is (UNTERMINATED, NESTED, …)


@dataclass(frozen=True)
class Command:
    verb: str  # "approve" | "reject" | "withdraw"
    reason: str  # for reject ("" if none given)


# ------------------------------------------------------------------------------------------------ proposals


def parse_proposals(raw: str) -> tuple[list[Proposal], list[Problem]]:
    """The well-formed proposals of a post, and a Problem for each thing the member should fix."""
    blocks, stray, incomplete = _amend_blocks(raw)
    problems = [_problem(STRAY_CLOSE)] if stray else [_problem(INCOMPLETE_TAG)] if incomplete else []
    proposals: list[Proposal] = []
    for index, block in enumerate(blocks[:MAX_PROPOSALS_PER_POST], start=1):
        proposal, found = _read_block(raw, index, block)
        problems.extend(found)
        if proposal is not None:
            proposals.append(proposal)
    if len(blocks) > MAX_PROPOSALS_PER_POST:
        problems.append(_problem(TOO_MANY, count=len(blocks), limit=MAX_PROPOSALS_PER_POST))
    return proposals, problems


@dataclass
class _Block:
    """One outermost [amend] block as found: its opening tag, its closing tag (None if never closed), and
    whether another [amend] opened inside it."""

    opening: re.Match[str]
    closing: re.Match[str] | None = None
    nested: bool = False


def _amend_blocks(raw: str) -> tuple[list[_Block], bool, bool]:
    """The outermost [amend] blocks of `raw` outside quotes and code, whether a stray [/amend] was found, and
    whether an opening tag outside every block was left incomplete."""
    visible = _visible(raw)
    tags = sorted(
        (
            m
            for pattern in (_AMEND_OPEN, _AMEND_CLOSE)
            for m in pattern.finditer(visible)
            if not _escaped(raw, m.start())
        ),
        key=lambda m: m.start(),
    )
    complete = {tag.start() for tag in tags if tag.re is _AMEND_OPEN}
    tags = sorted(
        tags
        + [m for m in _AMEND_START.finditer(visible) if m.start() not in complete and not _escaped(raw, m.start())],
        key=lambda m: m.start(),
    )
    blocks: list[_Block] = []
    depth, stray, incomplete = 0, False, False
    for tag in tags:
        if tag.re is _AMEND_START:
            incomplete = incomplete or depth == 0
        elif tag.re is _AMEND_OPEN:
            if depth == 0:
                blocks.append(_Block(tag))
            else:
                blocks[-1].nested = True
            depth += 1
        elif depth == 0:
            stray = True
        else:
            depth -= 1
            if depth == 0:
                blocks[-1].closing = tag
    return blocks, stray, incomplete


def unknown_section_problem(ref: str, document: Document) -> Problem:
    """The Problem for a proposal naming a section the document does not have, listing the ones it has."""
    labels = [section.label for section in document.sections]
    example = next((str(s.number) for s in document.sections if s.number is not None), labels[0] if labels else "1")
    return _problem(UNKNOWN_SECTION, ref=_shorten(ref), sections="; ".join(labels) or NO_SECTIONS_YET, example=example)


def _read_block(raw: str, index: int, block: _Block) -> tuple[Proposal | None, list[Problem]]:
    ref = _section_ref(block.opening.group("attrs"))
    where = f'your proposal for section "{_shorten(ref)}"' if ref else f"your {_ordinal(index)} [amend] block"
    if block.nested or block.closing is None:
        return None, [_problem(NESTED if block.nested else UNTERMINATED, where=where)]
    inside = raw[block.opening.end() : block.closing.start()]
    text = _LEADING_BLANK_LINES.sub("", inside).rstrip()
    if not _LEADING_BLANK_LINES.match(inside):  # the text starts on the tag's own line
        text = text.lstrip(" \t")
    problems = [] if ref else [_problem(NO_SECTION, where=where)]
    if not text.strip():
        problems.append(_problem(EMPTY, where=where))
    elif len(text) > MAX_PROPOSAL_CHARS:
        problems.append(_problem(TOO_LONG, where=where, length=len(text), limit=MAX_PROPOSAL_CHARS))
    elif (problem := _structure_problem(text, where)) is not None:
        problems.append(problem)
    if problems:
        return None, problems
    return Proposal(index=index, section_ref=ref, text=text), []


def _structure_problem(text: str, where: str) -> Problem | None:
    """What in `text` would change the Code's structure once it is a section: a `## ` line or a heading as large,
    a code fence, HTML comment or element or BBCode block left open. Read as the forum reads it (a lone CR ends a
    line) and as the service's posts show it (without control characters)."""
    lines = _CARRIAGE_RETURN.sub("\n", text)
    for shown in dict.fromkeys((lines, CONTROL_CHARACTERS.sub("", lines))):
        if body_changes_structure(shown):
            fences = [shown[start:end].lstrip()[:3] for start, end, closed in fenced_code(shown) if not closed]
            return _problem(OPEN_FENCE, where=where, fence=fences[0]) if fences else _problem(HEADING, where=where)
        if shows_large_heading(shown):
            return _problem(HEADING, where=where)
        if (unclosed := _unclosed_markup(shown)) is not None:
            return _problem(OPEN_MARKUP, where=where, opening=unclosed[0], closing=unclosed[1])
    return None


def _section_ref(attrs: str) -> str:
    match = _SECTION_ATTR.search(attrs)
    if match is None:
        return ""
    value = next(v for v in match.groupdict().values() if v is not None)
    return _WHITESPACE.sub(" ", value.strip().strip("\"'“”‘’")).strip()


def _problem(kind: str, *, where: str = "", **fields: object) -> Problem:
    return Problem(MESSAGES[kind].format(where=where[:1].upper() + where[1:], **fields), kind)


def _ordinal(index: int) -> str:
    return _ORDINALS[index - 1] if index <= len(_ORDINALS) else f"{index}th"


def _shorten(text: str, limit: int = 60) -> str:
    """Member text quoted back in a message: one line, at most `limit` characters."""
    text = _WHITESPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ------------------------------------------------------------------------------------------------ commands


def parse_command(raw: str) -> Command | None:
    """A draft-topic command from the post's first non-blank line: `/approve`, `/reject <reason>`, `/withdraw`.

    A reason may go on with the lines after the first. Anything else is not a command (None).
    """
    text = raw.lstrip()
    first, _, rest = text.partition("\n")
    match = _COMMAND.fullmatch(first.strip())
    if match is None:
        return None
    verb = match.group("verb").lower()
    reason = ""
    if verb == "reject":
        reason = (match.group("rest").strip().lstrip(":").strip() + "\n" + rest).strip()
    return Command(verb=verb, reason=reason)


# ------------------------------------------------------------------------------------------------ quotes


def quoted_sections(raw: str, document: Document, document_topic_id: int) -> set[str]:
    """Slugs of the document's sections that the post quotes from the document's first post.

    A quote counts when its text (whitespace- and markup-insensitive) appears in the document, and then for every
    section the quoted span touches; a short quote counts only if it is a section's heading or title.
    """
    visible = _without_code(raw)
    pairs = _pairs(visible, _QUOTE_OPEN, _QUOTE_CLOSE, nesting=True, escaped_in=raw)
    full, spans = _plain_document(document)
    found: set[str] = set()
    for opening, inner_start, inner_end, _ in pairs:
        if _quotes_document(raw[opening:inner_start], document_topic_id):
            quote = _plain(_outside_children(raw, pairs, inner_start, inner_end))
            found |= _sections_quoted(quote, document, full, spans)
    return found


def _quotes_document(tag: str, document_topic_id: int) -> bool:
    source = {m.group("key").lower(): int(m.group("id")) for m in _QUOTE_SOURCE.finditer(tag)}
    return source.get("topic") == document_topic_id and source.get("post", 1) == 1


def _outside_children(raw: str, pairs: list[tuple[int, int, int, int]], start: int, end: int) -> str:
    """raw[start:end] without the quotes nested in it (`pairs` are sorted by where they open)."""
    pieces, position = [], start
    for opening, _, _, closing_end in pairs[bisect_left(pairs, (start,)) :]:
        if opening >= end:
            break
        if opening >= position and closing_end <= end:
            pieces.append(raw[position:opening])
            position = closing_end
    pieces.append(raw[position:end])
    return " ".join(pieces)


def _plain_document(document: Document) -> tuple[str, list[tuple[int, int, str]]]:
    """The document as one plain string, and each section's (start, end, slug) in it."""
    parts, spans, position = [], [], 0
    for section in document.sections:
        part = _plain(section.heading.lstrip("#") + " " + section.body)
        spans.append((position, position + len(part), section.slug))
        parts.append(part)
        position += len(part) + 1
    return " ".join(parts), spans


def _sections_quoted(quote: str, document: Document, full: str, spans: list[tuple[int, int, str]]) -> set[str]:
    if not quote:
        return set()
    if len(quote) < MIN_QUOTED_CHARS:
        return {
            s.slug
            for s in document.sections
            if quote in (_plain(s.title), _plain(s.label), _plain(s.heading.lstrip("#")))
        }
    found: set[str] = set()
    position = full.find(quote)
    while position >= 0 and len(found) < len(spans):
        end = position + len(quote)
        found |= {slug for start, stop, slug in spans if start < end and position < stop}
        position = full.find(quote, position + 1)
    return found


def _plain(text: str) -> str:
    """Text reduced for comparison: width- and case-folded, without markdown marks, single-spaced."""
    text = _NOT_PLAIN.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return _WHITESPACE.sub(" ", text).strip()


# ------------------------------------------------------------------------------------------------ markup scanning


def _visible(raw: str) -> str:
    """`raw` with code and quotes blanked out (same length, newlines kept): where proposals may be written."""
    text = _without_code(raw)
    quotes = _pairs(text, _QUOTE_OPEN, _QUOTE_CLOSE, nesting=True, escaped_in=raw)
    return _blank(text, [(opening, closing_end) for opening, _, _, closing_end in quotes])


def _without_code(raw: str) -> str:
    """`raw` with closed fenced code blocks, [code]…[/code] and inline code spans blanked out."""
    text = _blank(raw, [(start, end) for start, end, closed in fenced_code(raw) if closed])
    blocks = _pairs(text, _CODE_OPEN, _CODE_CLOSE, nesting=False, escaped_in=raw)
    text = _blank(text, [(opening, closing_end) for opening, _, _, closing_end in blocks])
    return _blank(text, _inline_code(text, raw))


def _pairs(
    text: str, opening_re: re.Pattern[str], closing_re: re.Pattern[str], *, nesting: bool, escaped_in: str
) -> list[tuple[int, int, int, int]]:
    """Matched tag pairs as (opening start, opening end, closing start, closing end), outermost first."""
    tokens = sorted(
        [(m.start(), m.end(), True) for m in opening_re.finditer(text)]
        + [(m.start(), m.end(), False) for m in closing_re.finditer(text)]
    )
    stack: list[tuple[int, int]] = []
    pairs: list[tuple[int, int, int, int]] = []
    for start, end, is_opening in tokens:
        if _escaped(escaped_in, start):
            continue
        if is_opening:
            if nesting or not stack:
                stack.append((start, end))
        elif stack:
            opening_start, opening_end = stack.pop()
            pairs.append((opening_start, opening_end, start, end))
    return sorted(pairs)


def _unclosed_markup(text: str) -> tuple[str, str] | None:
    """The first HTML comment, element or BBCode block that `text` opens and never closes, as (how it opens, what
    closes it); None if everything it opens, it closes. Code is not read; an escaped `[` is not a tag.

    A section body that leaves one open would pull the rest of the Code into it: a comment or a `<script>` hides
    every later section, a `<details>` folds them away, a `[quote]` could pair with a `[/quote]` further down.
    """
    visible = _without_code(text)
    still_open: list[tuple[str, str, str]] = []  # (name, how it opened, what closes it)
    position = 0
    while (match := _MARKUP.search(visible, position)) is not None:
        position = match.end()
        if match.group("bb") and _escaped(text, match.start("bb") - 1 - bool(match.group("bb_close"))):
            continue  # (a backslash does not stop HTML: inside an HTML block, markdown reads no escape)
        if match.group("special"):
            opening = match.group("special")
            closing = _SPECIAL_ENDS.get(opening.lower(), ">")
            end = visible.find(closing, match.end())
            if end < 0:
                return opening, closing
            position = end + len(closing)
            continue
        name = (match.group("html") or match.group("bb")).lower()
        kind = "<" if match.group("html") else "["
        if match.group("html_close") or match.group("bb_close"):
            found = [i for i, (other, shown, _) in enumerate(still_open) if other == name and shown[0] == kind]
            if found:
                del still_open[found[-1] :]
            continue
        if kind == "<":
            tag_end = match.group("html_end")
            if (
                name in _HTML_UNCLOSED
                or (tag_end is not None and tag_end.endswith("/>"))
                or (tag_end is None and name not in _HTML_RAW_TEXT)
            ):
                continue
            still_open.append((name, f"<{name}>", f"</{name}>"))
        elif match.group("bb_start") is not None:
            still_open.append((name, f"[{name}]", f"[/{name}]"))
    return (still_open[0][1], still_open[0][2]) if still_open else None


def _inline_code(text: str, raw: str) -> list[tuple[int, int]]:
    """Inline code spans (a run of n backticks up to the next run of exactly n), never across a blank line."""
    spans: list[tuple[int, int]] = []
    bounds = [0] + [m.end() for m in _BLANK_LINE.finditer(text)] + [len(text)]
    for start, end in pairwise(bounds):
        runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text, start, end)]
        by_length: dict[int, list[int]] = defaultdict(list)
        for i, (run_start, run_end) in enumerate(runs):
            by_length[run_end - run_start].append(i)
        i = 0
        while i < len(runs):
            run_start, run_end = runs[i]
            same = by_length[run_end - run_start]
            following = bisect_right(same, i)
            if _escaped(raw, run_start) or following == len(same):
                i += 1
                continue
            closing = same[following]
            spans.append((run_start, runs[closing][1]))
            i = closing + 1
    return spans


def _escaped(text: str, position: int) -> bool:
    """True if the character at `position` follows an odd number of backslashes (markdown's escape)."""
    count = 0
    while position - count - 1 >= 0 and text[position - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with every character of `spans` but newlines replaced by a space (offsets stay the same)."""
    pieces, position = [], 0
    for start, end in sorted(spans):
        if start < position:  # inside a span already blanked
            start = position
        pieces.append(text[position:start])
        pieces.append(_NOT_NEWLINE.sub(" ", text[start:end]))
        position = max(position, end)
    pieces.append(text[position:])
    return "".join(pieces)
