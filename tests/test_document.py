"""The living document: sections parsed from `## ` headings, rendered back byte for byte, replaced one at a time."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.domain.document import STARTER_TEXT, STRUCTURE_CHANGED, Document, Section, body_changes_structure, \
    fenced_code, parse_document
from plugin.domain.safety import mentions_direct_support
from plugin.domain.proposals import parse_proposals

REPO_ROOT = Path(__file__).resolve().parent.parent

SAMPLE = """\
Our Code of Care.

## 1. Why

Because.

## 2) Care ##

Care text.
### A sub-heading stays inside
More care.

```
## 9. Not a heading: inside a fenced code block
```

## Consent

Ask first.
"""

# Lines that make parsing interesting: headings, near-headings, fences of both kinds, line endings.
MARKDOWN_LINES = st.sampled_from([
    "## 1. Why", "## 2) Care ##", "## Consent", "##", "## ", "##x", " ## indented", "### sub", "#### deeper",
    "```", "````", "```python", "~~~", "~~~~", "   ```", "    ```", "``` `x`", "text", "", "  ", "## 3. Согласие",
    "## 4. 同意", "\r", "## 5. Harm\r", "# one", "## ##", "## 6.", "## 12345678901234567890. Big",
])
MARKDOWN = st.lists(st.one_of(MARKDOWN_LINES, st.text(max_size=12)), max_size=30).map("\n".join)
NEW_BODIES = st.lists(st.one_of(st.sampled_from(["text", "", "### sub", "@bob", "[quote]", "  ", "\r", "## 9. New",
                                                 "```", "~~~"]),
                                st.text(alphabet=st.characters(blacklist_characters="#`~"), max_size=15)),
                      max_size=8).map("\n".join)


def test_sections_are_read_from_level_two_headings_only() -> None:
    document = parse_document(SAMPLE)
    assert document.preamble == "Our Code of Care.\n\n"
    assert [(s.number, s.title, s.slug) for s in document.sections] == [
        (1, "Why", "why"), (2, "Care", "care"), (None, "Consent", "consent")]
    care = document.sections[1]
    assert care.heading == "## 2) Care ##"
    assert "### A sub-heading stays inside" in care.body and "## 9. Not a heading" in care.body
    assert document.sections[2].body == "\nAsk first.\n"
    assert document.render() == SAMPLE


def test_near_headings_and_fenced_headings_stay_in_bodies() -> None:
    raw = ("## 1. One\n##no space\n ## indented\n~~~~\n## 2. In a tilde fence\n~~~\n## still fenced\n~~~~\n"
           "```` x\n```\n## 3. still fenced\n````\n## 2. Two\n")
    document = parse_document(raw)
    assert [s.heading for s in document.sections] == ["## 1. One", "## 2. Two"]
    assert document.render() == raw


def test_unclosed_fence_hides_every_later_heading() -> None:
    document = parse_document("## 1. One\n```\n## 2. Two\n")
    assert [s.number for s in document.sections] == [1]
    assert fenced_code("a\n```\nb") == [(2, 7, False)]


def test_line_endings_and_a_heading_at_the_very_end_are_kept() -> None:
    raw = "Intro\r\n## 1. One\r\nbody\r\n## 2. Last"
    document = parse_document(raw)
    one, last = document.sections
    assert (one.heading, one.newline, one.body) == ("## 1. One", "\r\n", "body\r\n")
    assert (last.heading, last.newline, last.body, last.title) == ("## 2. Last", "", "", "Last")
    assert document.render() == raw


def test_a_text_without_headings_is_all_preamble() -> None:
    for raw in ("", "just words\n", "# Title\n\n### three\n"):
        document = parse_document(raw)
        assert document == Document(raw, ()) and document.render() == raw


@pytest.mark.parametrize("ref, number", [
    ("3", 3), ("3.", 3), (" 3 ", 3), ("3)", 3), ("Section 3", 3), ("§3", 3), ("３", 3),
    ("consent", 3), ("CONSENT", 3), ("  Consent ", 3), ("3. Consent", 3), ("3.consent", 3), ('"Consent"', 3),
    ("harm and repair", 4), ("Harm   and\trepair", 4), ("harm-and-repair", 4), ("4. HARM AND REPAIR", 4),
    ("Asking for support", 6), ("how-this-code-changes", 7), ("1", 1),
])
def test_find_by_number_title_slug_or_both(ref: str, number: int) -> None:
    section = parse_document(STARTER_TEXT).find(ref)
    assert section is not None and section.number == number


@pytest.mark.parametrize("ref", ["", "   ", "8", "0", "Kindness", "3. Care", "9" * 5000, "@everyone", "[/quote]", "-"])
def test_find_returns_none_for_what_is_not_there(ref: str) -> None:
    assert parse_document(STARTER_TEXT).find(ref) is None


def test_find_in_other_scripts_and_unnumbered_sections() -> None:
    document = parse_document("## 1. Согласие\n\nтекст\n\n## 同意\n\n文\n\n## Care & Repair\nx\n")
    assert document.find("согласие").number == 1
    assert document.find("СОГЛАСИЕ") is document.find("1")
    assert document.find("同意").title == "同意" and document.find("同意").number is None
    assert document.find("care-repair").title == "Care & Repair"
    assert [s.slug for s in document.sections] == ["согласие", "同意", "care-repair"]


def test_titles_that_start_with_the_word_section_are_found() -> None:
    document = parse_document("## 1. Section on care\nx\n## 2. Sections of this Code\ny\n")
    assert document.find("Section on care").number == 1
    assert document.find("sections of this code").number == 2
    assert document.find("section 2").number == 2


def test_label_names_the_section_for_people() -> None:
    document = parse_document(SAMPLE)
    assert [s.label for s in document.sections] == ["1. Why", "2. Care", "Consent"]


def test_replace_changes_one_body_and_keeps_every_other_byte() -> None:
    document = parse_document(STARTER_TEXT)
    consent = document.find("consent")
    changed = document.replace(consent, "Ask first, every time.\n\nA no needs no reason.")
    raw = changed.render()
    start = STARTER_TEXT.index(consent.heading)
    end = start + len(consent.heading) + 1 + len(consent.body)
    assert raw[:start] == STARTER_TEXT[:start] and raw[-len(STARTER_TEXT[end:]):] == STARTER_TEXT[end:]
    assert changed.find("consent").body == "\nAsk first, every time.\n\nA no needs no reason.\n\n"
    assert [s.heading for s in changed.sections] == [s.heading for s in document.sections]
    assert changed.find("consent").fingerprint != consent.fingerprint
    assert changed.find("care") == document.find("care")


def test_replace_normalizes_the_edges_of_the_new_body() -> None:
    document = parse_document("## 1. A\nold\n## 2. B\n\nold\n\n\n## 3. C")
    one, two, three = document.sections
    assert document.replace(one, "\n\n  new  \n\n").render() == "## 1. A\n  new\n## 2. B\n\nold\n\n\n## 3. C"
    assert document.replace(two, "new\r\n").render() == "## 1. A\nold\n## 2. B\n\nnew\n\n\n## 3. C"
    assert document.replace(three, "new").render() == "## 1. A\nold\n## 2. B\n\nold\n\n\n## 3. C\nnew"


def test_replace_an_empty_section_keeps_the_next_heading_on_its_own_line() -> None:
    document = parse_document("## 1. A\n## 2. B\nb\n")
    changed = document.replace(document.sections[0], "now with text")
    assert changed.render() == "## 1. A\nnow with text\n## 2. B\nb\n"
    assert [s.heading for s in changed.sections] == ["## 1. A", "## 2. B"]


@pytest.mark.parametrize("body", ["new\n## 9. Sneaky new section", "```\nnever closed", "~~~~\n~~~\n"])
def test_replace_refuses_a_body_that_would_change_the_sections(body: str) -> None:
    document = parse_document(STARTER_TEXT)
    consent = document.find("consent")
    assert body_changes_structure(body)
    with pytest.raises(ValueError) as error:
        document.replace(consent, body)
    assert str(error.value) == STRUCTURE_CHANGED.format(label=consent.label)


def test_replace_refuses_a_section_of_another_document() -> None:
    stranger = Section(3, "Consent", "consent", "## 3. Consent", "\nsomething else\n")
    with pytest.raises(ValueError, match="not in this document"):
        parse_document(STARTER_TEXT).replace(stranger, "new")


def test_fingerprint_ignores_trailing_whitespace_but_not_words() -> None:
    def fingerprint(body: str) -> str:
        return Section(1, "A", "a", "## 1. A", body).fingerprint

    assert fingerprint("\nSame words.\n\n") == fingerprint("Same words.  \n") == fingerprint("Same words.\r\n")
    assert fingerprint("Same words.") != fingerprint("Same  words.") != fingerprint("Other words.")
    assert len(fingerprint("x")) == 16


def test_starter_text_is_a_kind_numbered_code() -> None:
    document = parse_document(STARTER_TEXT)
    assert document.preamble.strip() and len(document.preamble) < 400
    assert [s.number for s in document.sections] == [1, 2, 3, 4, 5, 6, 7]
    assert [s.slug for s in document.sections][1:6] == ["care", "consent", "harm-and-repair", "privacy",
                                                       "asking-for-support"]
    assert all(s.body.strip() for s in document.sections)
    assert mentions_direct_support(document.find("asking for support").body)
    assert "[amend section=" in document.find("7").body
    assert parse_proposals(STARTER_TEXT) == ([], [])    # the syntax example is shown in code, not proposed


def test_starter_text_is_found_whatever_the_working_directory(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for cwd in (REPO_ROOT, tmp_path):
        shown = subprocess.run([sys.executable, "-c", "from plugin.domain.document import STARTER_TEXT; print(STARTER_TEXT)"],
                               cwd=cwd, env=environment, capture_output=True, text=True, timeout=60, check=True)
        assert shown.stdout == STARTER_TEXT + "\n"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_render_is_the_identity_for_any_text(raw: str) -> None:
    assert parse_document(raw).render() == raw


@settings(max_examples=300, deadline=None)
@given(MARKDOWN)
def test_render_is_the_identity_for_markdown_like_text(raw: str) -> None:
    document = parse_document(raw)
    assert document.render() == raw
    assert all(s.heading.startswith("##") and "\n" not in s.heading for s in document.sections)


@settings(max_examples=200, deadline=None)
@given(MARKDOWN, st.data())
def test_replace_touches_only_its_section(raw: str, data: st.DataObject) -> None:
    document = parse_document(raw)
    if not document.sections:
        return
    index = data.draw(st.integers(0, len(document.sections) - 1))
    body = data.draw(NEW_BODIES)
    try:
        changed = document.replace(document.sections[index], body)
    except ValueError:
        assert body_changes_structure(body)
        return
    before = document.preamble + "".join(s.heading + s.newline + s.body for s in document.sections[:index])
    after = "".join(s.heading + s.newline + s.body for s in document.sections[index + 1:])
    raw_changed = changed.render()
    assert raw_changed.startswith(before + document.sections[index].heading) and raw_changed.endswith(after)
    assert [(s.number, s.title) for s in changed.sections] == [(s.number, s.title) for s in document.sections]
    assert changed.sections[index].body.strip() == body.strip()
    assert parse_document(raw_changed) == changed


def test_an_unclosed_fence_is_refused_even_where_repeated_headings_would_hide_it() -> None:
    # found by test_replace_touches_only_its_section: the fence closes in the next section, and the headings,
    # all alike, still count the same afterwards
    document = parse_document("## 1. Why\n## 1. Why\n   ```\n## 1. Why")
    with pytest.raises(ValueError):
        document.replace(document.sections[0], "```")
