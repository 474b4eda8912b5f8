"""How the forum's markdown engine reads what the service posts: an independent check of its escaping.

Discourse renders posts with markdown-it; markdown-it-py is its Python port (CommonMark). So what `read` finds in a
text — headings, HTML, code blocks, links, BBCode tags that take effect, mentions that would ping — is what the
forum would act on, found by a parser that shares no code with `plugin.text.drafts` or `plugin.text.digest`.

Discourse's BBCode blocks (`[quote]…[/quote]`) are block containers whose inside is parsed on its own; CommonMark
does not know them, so `read_quoted` splits a post at its live quote tags and reads the outside and each inside
separately, as the forum does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

_MD = MarkdownIt("commonmark").disable("text_join")      # escapes stay visible as `text_special` tokens
_BBCODE = re.compile(r"\[(/?)([A-Za-z][\w-]*)")
_MENTION = re.compile(r"(?<![A-Za-z0-9])@\w[\w.-]*")
"""An `@` Discourse could read as a mention (of a member, a group, `everyone` or `here`): in the text as shown,
after anything but an ASCII letter or digit (an email address), followed by a word character of any script.
Stricter than Discourse."""
_HTML_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)")
_ESCAPED, _SOMETHING = "\x01", "\x00"
"""In the text `_read_inline` scans for BBCode tags: an escaped character (it shows, but markdown does not act on
it; a member's own \x01 is no `[` either) and anything else that is not text (code, HTML, a link: a tag after it
is not at the start of its line; markdown-it turns a member's own NUL into U+FFFD)."""


@dataclass
class Reading:
    """What the forum makes of one markdown text (line numbers count from 0, "\\n" ends a line)."""

    headings: list[tuple[int, str, int]] = field(default_factory=list)     # (level, text, first line)
    html: list[tuple[str, str, int]] = field(default_factory=list)          # ("block"|"inline", tag text, line)
    code: list[tuple[int, int]] = field(default_factory=list)               # fenced or indented blocks: lines
    links: list[str] = field(default_factory=list)                          # link targets and image sources
    images: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    bbcode: list[str] = field(default_factory=list)                         # "quote", "/quote", …, in order
    line_starts: list[bool] = field(default_factory=list)                   # for each: at the start of a line?
    markup: list[tuple[str, str, bool]] = field(default_factory=list)
    """HTML and BBCode in document order: ("html_block" or "html", the HTML, False), or ("bbcode", the tag, whether
    it is at the start of a line)."""
    shown: list[str] = field(default_factory=list)                           # each block's text as shown


def read(markdown: str) -> Reading:
    """Everything the forum would act on in `markdown`."""
    reading = Reading()
    tokens = _MD.parse(markdown)
    for n, token in enumerate(tokens):
        line = token.map[0] if token.map else -1
        if token.type == "heading_open":
            reading.headings.append((int(token.tag[1]), _shown(tokens[n + 1]).strip(), line))
        elif token.type == "html_block":
            reading.html.append(("block", token.content.strip(), line))
            reading.markup.append(("html_block", token.content.strip(), False))
        elif token.type in ("fence", "code_block"):
            reading.code.append((token.map[0], token.map[1]))
        elif token.type == "inline":
            _read_inline(token, reading)
    return reading


def _read_inline(inline: Token, reading: Reading) -> None:
    line = inline.map[0] if inline.map else -1
    shown = _shown(inline)
    reading.shown.append(shown)
    reading.mentions += _MENTION.findall(shown)
    live, html = [], []
    for child in inline.children or []:
        if child.type in ("softbreak", "hardbreak"):
            line += 1          # approximate: a code span across lines counts as one
            live.append("\n")
        elif child.type == "text":
            live.append(child.content)
        elif child.type == "text_special":
            live.append(_ESCAPED)
        elif child.type == "html_inline":
            reading.html.append(("inline", child.content, line))
            html.append((sum(map(len, live)), child.content))
            live.append(_SOMETHING)
        else:
            live.append(_SOMETHING)
            if child.type == "link_open":
                reading.links.append(str(child.attrs.get("href", "")))
            elif child.type == "image":
                reading.images.append(str(child.attrs.get("src", "")))
    text = "".join(live)
    found: list[tuple[int, str, str, bool]] = [(at, "html", content, False) for at, content in html]
    for match in _BBCODE.finditer(text):
        tag = match.group(1) + match.group(2).lower()
        line_start = not text[:match.start()].rpartition("\n")[2].strip(" \t")
        reading.bbcode.append(tag)
        reading.line_starts.append(line_start)
        found.append((match.start(), "bbcode", tag, line_start))
    reading.markup += [(kind, content, line_start) for _, kind, content, line_start in sorted(found)]


def _shown(inline: Token) -> str:
    """The text a reader sees (escapes resolved, code and HTML left out), line breaks as "\\n"."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "text_special"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type in ("code_inline", "html_inline"):
            parts.append(" ")
    return "".join(parts)


@dataclass
class QuotedReading:
    """A post read as the forum reads BBCode quotes: the text outside them, and each quote's inside on its own."""

    outside: Reading
    insides: list[Reading]
    quote_lines: list[tuple[int, int]]      # each quote's opening and closing tag line


def read_quoted(markdown: str) -> QuotedReading:
    """Split `markdown` at its `[quote]`/`[/quote]` lines and read each part.

    Every BBCode tag that takes effect must be one of those lines, each alone on its line, and they must pair up
    without nesting, as the service writes them; anything else fails with an AssertionError saying what it found.
    """
    lines = markdown.split("\n")
    tag_lines = [(n, line[1:-1]) for n, line in enumerate(lines) if line in ("[quote]", "[/quote]")]
    live = read(markdown).bbcode
    assert live == [tag for _, tag in tag_lines], f"BBCode that takes effect: {live}; tag lines: {tag_lines}"
    assert live == ["quote", "/quote"] * (len(live) // 2), f"quote tags do not pair: {live}"
    pairs = [(tag_lines[i][0], tag_lines[i + 1][0]) for i in range(0, len(tag_lines), 2)]
    outside_lines = list(lines)
    insides = []
    for opening, closing in pairs:
        insides.append(read("\n".join(lines[opening + 1:closing])))
        for n in range(opening + 1, closing):
            outside_lines[n] = ""
        outside_lines[opening] = outside_lines[closing] = "QUOTE"      # a paragraph of its own, as the block is
    return QuotedReading(read("\n".join(outside_lines)), insides, pairs)


def html_tags(reading: Reading) -> list[tuple[str, str]]:
    """The HTML tags the text opens and closes, in order: ("", "del"), ("/", "del"), …"""
    found = []
    for _, content, _ in reading.html:
        found += [(m.group(1), m.group(2).lower()) for m in _HTML_TAG.finditer(content)]
    return found


def assert_balanced_html(reading: Reading, allowed: frozenset[str] = frozenset()) -> None:
    """Only `allowed` inline tags, each closed before the next opens; no HTML block at all."""
    assert not [h for h in reading.html if h[0] == "block"], f"an HTML block: {reading.html}"
    tags = html_tags(reading)
    assert {name for _, name in tags} <= allowed, f"HTML tags: {tags}"
    assert tags == [(closing, name) for _, name in tags[::2] for closing in ("", "/")], f"unbalanced: {tags}"
