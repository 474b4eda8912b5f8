"""The living Code of Care: one markdown text, split into `## ` sections, rendered back byte for byte.

`parse_document(raw).render() == raw` for any text. Only a level-2 heading at the very start of a line
(`## 3. Consent`) starts a section; `###` and deeper stay inside a body, and so does anything inside a fenced code
block. Nothing here does I/O except reading the bundled starter text once, at import.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources

GENERAL_SLUG = "general"
"""The discussion bucket for replies in the document's topic that name no section."""

STARTER_FILE = "starter_code_of_care.md"
STARTER_TEXT = resources.files(__package__).joinpath(STARTER_FILE).read_text(encoding="utf-8")
"""The Code of Care that `python -m plugin install` posts when the forum has none yet."""

STRUCTURE_CHANGED = (
    "the new text of section {label!r} would change the document's sections "
    "(a level-2 heading or an unclosed code fence in it); refusing to apply it"
)

_HEADING = re.compile(r"##[ \t]+(?P<text>\S.*)")
_CLOSING_HASHES = re.compile(r"[ \t]+#+[ \t]*$")
_NUMBERED = re.compile(r"(?P<number>\d{1,6})[.)](?:\s+(?P<title>.*))?")
_NUMBER_REF = re.compile(r"(\d{1,6})[.)]?")
_FENCE = re.compile(r" {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)")
_SECTION_PREFIX = re.compile(r"^(?:section\b|§)\s*", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+")
_WHITESPACE = re.compile(r"\s+")
_LEADING_BLANK_LINES = re.compile(r"(?:[ \t]*\r?\n)+")
_CONTAINER_MARKS = re.compile(r"(?:[ \t]*(?:>|(?:[-+*]|\d{1,9}[.)])(?=[ \t]|$)))*[ \t]*")
"""Where a line's own content starts: after its indentation, blockquote marks and list-item markers."""
_LARGE_ATX = re.compile(r"#{1,2}(?:[ \t]|$)")
_UNDERLINE = re.compile(r"[ \t>]*(?:=+|-+)[ \t]*")


@dataclass(frozen=True)
class Section:
    number: int | None  # from "## 3. Consent" → 3; None for an unnumbered "## Consent"
    title: str  # "Consent"
    slug: str  # "consent"
    heading: str  # the heading line exactly as written, without its line ending
    body: str  # the text after the heading line up to the next "## " heading, exactly as written
    newline: str = "\n"  # the heading line's ending as written: "\n", "\r\n", or "" when the text ends there

    @property
    def label(self) -> str:
        """How the section is named to people: "3. Consent", or "Consent" when it has no number."""
        return f"{self.number}. {self.title}" if self.number is not None else self.title

    @property
    def fingerprint(self) -> str:
        """A short, stable hash of the body that ignores trailing whitespace and blank lines at either end."""
        lines = self.body.replace("\r\n", "\n").split("\n")
        normalized = "\n".join(line.rstrip() for line in lines).strip("\n")
        return hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Document:
    preamble: str  # text before the first "## " heading, exactly as written
    sections: tuple[Section, ...]

    def find(self, ref: str) -> Section | None:
        """The section `ref` names: by number ("3", "3."), title, slug or "3. Consent"; None if none matches.

        Case-, width- and whitespace-insensitive; a leading "section" or "§" is allowed.
        """
        text = _key_text(ref)
        return self._find(text) or self._find(_SECTION_PREFIX.sub("", text))

    def _find(self, ref: str) -> Section | None:
        wanted = _key(ref)
        if not wanted:
            return None
        number = _NUMBER_REF.fullmatch(wanted)
        if number:
            return next((s for s in self.sections if s.number == int(number.group(1))), None)
        for section in self.sections:
            if wanted in (_key(_heading_text(section.heading)), _key(section.label), _key(section.title)):
                return section
        slug = _slugify(ref)
        return next((s for s in self.sections if slug and s.slug == slug), None)

    def replace(self, section: Section, new_body: str) -> Document:
        """The document with `section`'s body replaced by `new_body`; every other byte is kept.

        `section` is one of `sections` (as `find` returns it; an equal Section from another parse also works).
        The new body keeps the old one's leading blank lines and trailing newlines, so the next heading stays on
        its own line. Raises ValueError if `section` is not in the document, or if the new body would change the
        document's sections (a `## ` line, or a code fence that never closes).
        """
        index = next((i for i, s in enumerate(self.sections) if s is section), None)
        if index is None:  # an equal section from another parse of the same text
            index = next((i for i, s in enumerate(self.sections) if s == section), None)
        if index is None:
            raise ValueError(f"section {section.label!r} is not in this document")
        if body_changes_structure(new_body):  # checked on the body itself: repeated headings can hide it below
            raise ValueError(STRUCTURE_CHANGED.format(label=section.label))
        is_last = index == len(self.sections) - 1
        body, newline = _fitted_body(section, new_body, is_last=is_last)
        edited = Section(section.number, section.title, section.slug, section.heading, body, newline)
        result = parse_document(
            Document(self.preamble, (*self.sections[:index], edited, *self.sections[index + 1 :])).render()
        )
        if [(s.number, s.title) for s in result.sections] != [(s.number, s.title) for s in self.sections]:
            raise ValueError(STRUCTURE_CHANGED.format(label=section.label))
        return result

    def render(self) -> str:
        return self.preamble + "".join(s.heading + s.newline + s.body for s in self.sections)


def parse_document(raw: str) -> Document:
    """Split `raw` into its preamble and `## ` sections, keeping every byte."""
    preamble: list[str] = []
    sections: list[Section] = []
    heading: tuple[str, str] | None = None  # (line without ending, ending) of the section being read
    body: list[str] = []
    fence: str | None = None

    def close_section() -> None:
        if heading is not None:
            sections.append(_section(heading[0], heading[1], "".join(body)))

    for line in _lines(raw):
        content, ending = _split_ending(line)
        if fence is None and _HEADING.fullmatch(content):
            close_section()
            heading, body = (content, ending), []
            continue
        fence = _next_fence_state(fence, content)
        (body if heading is not None else preamble).append(line)
    close_section()
    return Document("".join(preamble), tuple(sections))


def body_changes_structure(text: str) -> bool:
    """True if `text`, used as a section body, would start a new section or leave a code fence open."""
    fence: str | None = None
    for line in _lines(text):
        content = _split_ending(line)[0]
        if fence is None and _HEADING.fullmatch(content):
            return True
        fence = _next_fence_state(fence, content)
    return fence is not None


def shows_large_heading(text: str) -> bool:
    """True if markdown would show a line of `text` as a level-1 or level-2 heading, anywhere and however spelled:
    `# `/`## ` after indentation, `>` or a list marker, or a line of `=` or `-` right under text (a setext
    heading). Such a heading looks like a section of the Code (or larger) without being one. Cautious: a `---`
    under a list item counts too, though markdown would draw a rule there."""
    fence: str | None = None
    previous = ""
    for line in _lines(text):
        content = _split_ending(line)[0]
        if fence is None:
            marks = _CONTAINER_MARKS.match(content)
            assert marks is not None  # every part of the pattern is optional: it always matches
            own = content[marks.end() :]
            if _LARGE_ATX.match(own) or (_UNDERLINE.fullmatch(content) and previous.strip(" \t")):
                return True
            previous = content.lstrip(" \t>")  # list markers count as text: "1." alone continues a paragraph
        fence = _next_fence_state(fence, content)
        if fence is not None:
            previous = ""
    return False


def fenced_code(text: str) -> list[tuple[int, int, bool]]:
    """Every fenced code block of `text` as (start, end, closed); an unclosed one runs to the end."""
    blocks: list[tuple[int, int, bool]] = []
    fence: str | None = None
    start = position = 0
    for line in _lines(text):
        after = _next_fence_state(fence, _split_ending(line)[0])
        if fence is None and after is not None:
            start = position
        elif fence is not None and after is None:
            blocks.append((start, position + len(line), True))
        fence, position = after, position + len(line)
    if fence is not None:
        blocks.append((start, len(text), False))
    return blocks


def _lines(text: str) -> list[str]:
    """`text` split after each "\\n" (only "\\n" ends a markdown line here); "".join() gives `text` back."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _split_ending(line: str) -> tuple[str, str]:
    """A line and its ending ("\r\n", "\n" or "" for the last line of a text)."""
    for ending in ("\r\n", "\n"):
        if line.endswith(ending):
            return line[: -len(ending)], ending
    return line, ""


def _next_fence_state(fence: str | None, line: str) -> str | None:
    """The open fence after `line`: None outside a fenced code block, else the fence that opened it."""
    match = _FENCE.match(line)
    if fence is None:
        if match and not (match.group("fence")[0] == "`" and "`" in match.group("info")):
            return match.group("fence")
        return None
    if (
        match
        and match.group("fence")[0] == fence[0]
        and len(match.group("fence")) >= len(fence)
        and not match.group("info").strip()
    ):
        return None
    return fence


def _section(heading: str, newline: str, body: str) -> Section:
    text = _heading_text(heading)
    number: int | None = None
    title = text
    numbered = _NUMBERED.fullmatch(text)
    if numbered:
        number = int(numbered.group("number"))
        title = (numbered.group("title") or "").strip() or text
    return Section(number, title, _slugify(title), heading, body, newline)


def _heading_text(heading: str) -> str:
    """The words of a heading line: without "## ", an optional closing run of "#", and surrounding spaces."""
    text = heading[2:].strip()
    return _CLOSING_HASHES.sub("", " " + text).strip() if text.endswith("#") else text


def _key_text(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().strip("\"'“”‘’").strip()


def _key(text: str) -> str:
    """A comparison key: width-folded, case-folded, with every whitespace removed."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text).casefold())


def _slugify(title: str) -> str:
    """ "Harm and repair" → "harm-and-repair"; letters of every script are kept."""
    return _NON_WORD.sub("-", unicodedata.normalize("NFKC", _key_text(title)).casefold()).strip("-")


def _fitted_body(old: Section, new_body: str, *, is_last: bool) -> tuple[str, str]:
    """`new_body` between the old body's leading blank lines and trailing newlines; and the heading's ending."""
    blank = _LEADING_BLANK_LINES.match(new_body)
    core = (new_body[blank.end() :] if blank else new_body).rstrip()
    if old.body.strip():
        blank = _LEADING_BLANK_LINES.match(old.body)
        lead, tail = (blank.group() if blank else ""), old.body[len(old.body.rstrip()) :]
    else:
        lead, tail = "", old.body
    if core and "\n" not in tail and not is_last:
        tail += "\n"
    return lead + core + tail, old.newline or "\n"
