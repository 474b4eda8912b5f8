"""Member syntax: [amend] proposals (and every way to get them wrong), draft commands, quotes of the document."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.domain.document import STARTER_TEXT, body_changes_structure, parse_document, shows_large_heading
from plugin.domain.proposals import (EMPTY, HEADING, MAX_PROPOSAL_CHARS, MAX_PROPOSALS_PER_POST, MESSAGES, NESTED,
                              NO_SECTION, NO_SECTIONS_YET, OPEN_FENCE, OPEN_MARKUP, STRAY_CLOSE, TOO_LONG, TOO_MANY,
                              UNKNOWN_SECTION, UNTERMINATED, Command, Problem, Proposal, parse_command,
                              parse_proposals, quoted_sections, unknown_section_problem)

DOCUMENT = parse_document(STARTER_TEXT)
DOCUMENT_TOPIC = 17
CONSENT_WORDS = "Ask before you share someone's story, words or image"

# Pieces of member text that stress the parser: its own tags, quotes, code, escapes, other scripts, injections.
FRAGMENTS = st.sampled_from([
    '[amend section="Consent"]', "[amend section='2']", "[AMEND SECTION=care]", "[amend]", "[amend=", "[/amend]",
    "[/AMEND]", "[amend section=\"", "[quote]", '[quote="ann, post:1, topic:17"]', "[/quote]", "[code]", "[/code]",
    "```", "~~~", "`", "``", "\\", "\n", "\n\n", "## 9. New", "<details>", "</div>", "@everyone", "Согласие",
    "同意", "مرحبا", "\u202e", "\x00", "]", "[", '"', "“", "text ",
])
MEMBER_TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=10)), max_size=40).map("".join)
PLAIN_TEXT = st.text(alphabet=st.characters(blacklist_characters="[]`~#\\\r", blacklist_categories=("Cs",)),
                     min_size=1, max_size=200).filter(str.strip)


def only_problem(raw: str) -> Problem:
    proposals, problems = parse_proposals(raw)
    assert proposals == [] and len(problems) == 1, (proposals, problems)
    return problems[0]


# ------------------------------------------------------------------------------------------------ proposals


@pytest.mark.parametrize("raw, ref, text", [
    ('[amend section="Consent"]\nAsk, always.\n[/amend]', "Consent", "Ask, always."),
    ("[amend section='3']\n\n  Ask.\n\n[/amend]", "3", "  Ask."),
    ("[amend section=Harm and repair]\nRepair.\n[/amend]", "Harm and repair", "Repair."),
    ("[AMEND Section = “Consent”] Ask. [/Amend ]", "Consent", "Ask."),
    ('[amend="Care"]\nCare.\n[/amend]', "Care", "Care."),
    ("[amend section=\"  3.   Consent \"]\nAsk.\r\n[/amend]", "3. Consent", "Ask."),
    ('[amend section="Согласие"]\nСпрашивайте.\n[/amend]', "Согласие", "Спрашивайте."),
    ('[amend section="同意"]\n先に聞いてください。\n[/amend]', "同意", "先に聞いてください。"),
    ('[amend section="2"]\nمرحبا بالجميع\n[/amend]', "2", "مرحبا بالجميع"),
])
def test_one_proposal_in_each_spelling(raw: str, ref: str, text: str) -> None:
    assert parse_proposals(raw) == ([Proposal(1, ref, text)], [])


def test_several_proposals_keep_their_position_and_inner_markup() -> None:
    raw = ('Two ideas.\n[amend section="Consent"]\nAsk first.\n\n### Examples\n```\n[/amend] in code\n```\n[/amend]\n'
           "Also:\n[amend section=5]\nPrivacy [quote]matters\n[/amend]\n")
    proposals, problems = parse_proposals(raw)
    assert problems == []
    assert proposals == [Proposal(1, "Consent", "Ask first.\n\n### Examples\n```\n[/amend] in code\n```"),
                         Proposal(2, "5", "Privacy [quote]matters")]


def test_a_broken_block_keeps_its_place_in_the_numbering() -> None:
    proposals, problems = parse_proposals("[amend section=1][/amend] [amend section=2]Two[/amend]")
    assert proposals == [Proposal(2, "2", "Two")]
    assert [p.kind for p in problems] == [EMPTY]


@pytest.mark.parametrize("raw", [
    '[quote="ann, post:4, topic:9"]\n[amend section="Consent"]\nOld idea\n[/amend]\n[/quote]',
    '[quote]\n[quote="bob"]\n[amend section=3]x[/amend]\n[/quote]\n[/quote]',
    "Write it like `[amend section=3]x[/amend]`.",
    "Write it like ``[amend section=3]` x`[/amend]``.",
    "```\n[amend section=3]\nx\n[/amend]\n```",
    "~~~~\n[amend section=3]\nx\n[/amend]\n~~~~",
    "[code]\n[amend section=3]\nx\n[/amend]\n[/code]",
    "\\[amend section=3]x\\[/amend]",
    "[amendment section=3]x[/amendment]",
])
def test_quoted_shown_or_escaped_proposals_are_not_proposals(raw: str) -> None:
    assert parse_proposals(raw) == ([], [])


def test_a_proposal_after_a_quote_is_read() -> None:
    raw = ('[quote="ann, post:1, topic:17"]\n[amend section=2]Old[/amend]\n[/quote]\n'
           "I agree, and:\n[amend section=2]New[/amend]")
    assert parse_proposals(raw) == ([Proposal(1, "2", "New")], [])


def test_unterminated_quote_or_code_hides_nothing() -> None:
    assert parse_proposals("[quote]\n[amend section=2]Kept[/amend]") == ([Proposal(1, "2", "Kept")], [])
    assert parse_proposals("`[amend section=2]Kept[/amend]") == ([Proposal(1, "2", "Kept")], [])


@pytest.mark.parametrize("raw, kind, where", [
    ('[amend section="Consent"]\nno end', UNTERMINATED, 'Your proposal for section "Consent"'),
    ("[amend]\nno section, no end", UNTERMINATED, "Your first [amend] block"),
    ("[amend section=3] a [amend section=4] b [/amend] c [/amend]", NESTED, 'Your proposal for section "3"'),
    ("[amend section=3] a [amend section=4] b [/amend]", NESTED, 'Your proposal for section "3"'),
    ("[amend]\ntext\n[/amend]", NO_SECTION, "Your first [amend] block"),
    ('[amend section=""]\ntext\n[/amend]', NO_SECTION, "Your first [amend] block"),
    ("[amend section=3]\n  \n[/amend]", EMPTY, 'Your proposal for section "3"'),
    ("[amend section=3]\nNew\n## 8. Another section\n[/amend]", HEADING, 'Your proposal for section "3"'),
])
def test_each_mistake_gets_its_message(raw: str, kind: str, where: str) -> None:
    assert only_problem(raw) == Problem(MESSAGES[kind].format(where=where), kind)


def test_an_unclosed_code_fence_is_named() -> None:
    problem = only_problem("[amend section=3]\n~~~~\ncode\n[/amend]")
    assert problem == Problem(MESSAGES[OPEN_FENCE].format(where='Your proposal for section "3"', fence="~~~"),
                              OPEN_FENCE)


def test_a_broken_opening_tag_shows_as_a_stray_closing_tag() -> None:
    for raw in ('[amend section="Consent"\nAsk.\n[/amend]', "Ask.\n[/amend]", "[amend section=3]x[/amend][/amend]"):
        problems = parse_proposals(raw)[1]
        assert problems == [Problem(MESSAGES[STRAY_CLOSE], STRAY_CLOSE)]


def test_long_section_names_are_shortened_in_messages() -> None:
    problem = only_problem(f"[amend section=\"{'Very long name ' * 20}\"]\n")
    assert problem.kind == UNTERMINATED and len(problem.message) < len(MESSAGES[UNTERMINATED]) + 100
    assert "…" in problem.message


def test_text_size_limit() -> None:
    at_limit = "a" * MAX_PROPOSAL_CHARS
    assert parse_proposals(f"[amend section=3]\n{at_limit}\n[/amend]") == ([Proposal(1, "3", at_limit)], [])
    problem = only_problem(f"[amend section=3]\n{at_limit}b\n[/amend]")
    assert problem == Problem(MESSAGES[TOO_LONG].format(where='Your proposal for section "3"',
                                                        length=MAX_PROPOSAL_CHARS + 1, limit=MAX_PROPOSAL_CHARS),
                              TOO_LONG)
    assert "10,001" in problem.message


def test_at_most_five_proposals_are_read_from_a_post() -> None:
    raw = "\n".join(f"[amend section={n}]Text {n}[/amend]" for n in range(1, 8))
    proposals, problems = parse_proposals(raw)
    assert [p.index for p in proposals] == list(range(1, MAX_PROPOSALS_PER_POST + 1))
    assert problems == [Problem(MESSAGES[TOO_MANY].format(count=7, limit=MAX_PROPOSALS_PER_POST), TOO_MANY)]


@pytest.mark.parametrize("raw", [
    "[amend section=3]" * 20_000,
    "[/amend]" * 20_000,
    "`" * 50_000 + "[amend section=3]x[/amend]",
    "[quote]" * 10_000 + "[amend section=3]x[/amend]",
    "[code]" * 10_000,
    "\\" * 50_000 + "[amend section=3]x[/amend]",
    "[amend section=" + "x" * 100_000,
    "```\n" * 20_000,
])
def test_huge_and_hostile_posts_get_an_answer(raw: str) -> None:
    proposals, problems = parse_proposals(raw)
    assert len(proposals) <= MAX_PROPOSALS_PER_POST
    assert all(isinstance(problem, Problem) and problem.message for problem in problems)


def test_html_and_bbcode_in_the_text_are_kept_for_the_renderer_to_defuse() -> None:
    raw = '[amend section=3]\n<details><summary>x</summary>\n</div> [quote] @everyone [details="a"]</details>\n[/amend]'
    assert parse_proposals(raw) == (
        [Proposal(1, "3", '<details><summary>x</summary>\n</div> [quote] @everyone [details="a"]</details>')], [])


def test_unknown_section_lists_the_sections_there_are() -> None:
    problem = unknown_section_problem("Kindness", DOCUMENT)
    labels = "; ".join(s.label for s in DOCUMENT.sections)
    assert problem == Problem(MESSAGES[UNKNOWN_SECTION].format(ref="Kindness", sections=labels, example="1"),
                              UNKNOWN_SECTION)
    assert "3. Consent" in problem.message and "7. How this Code changes" in problem.message
    empty = unknown_section_problem("x" * 500, parse_document("no sections yet"))
    assert NO_SECTIONS_YET in empty.message and len(empty.message) < 400


@settings(max_examples=300, deadline=None)
@given(MEMBER_TEXT)
def test_any_post_gives_proposals_or_problems_never_an_exception(raw: str) -> None:
    proposals, problems = parse_proposals(raw)
    assert len(proposals) <= MAX_PROPOSALS_PER_POST
    assert [p.index for p in proposals] == sorted({p.index for p in proposals})
    for proposal in proposals:
        assert proposal.section_ref and proposal.text.strip()
        assert len(proposal.text) <= MAX_PROPOSAL_CHARS and not body_changes_structure(proposal.text)
    assert all(problem.message and problem.kind in MESSAGES for problem in problems)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_unicode_is_safe(raw: str) -> None:
    parse_proposals(raw)
    parse_command(raw)
    quoted_sections(raw, DOCUMENT, DOCUMENT_TOPIC)


@settings(max_examples=200, deadline=None)
@given(PLAIN_TEXT, st.sampled_from(["Consent", "3", "harm and repair", "Согласие"]))
def test_a_wrapped_text_comes_back_and_a_quoted_one_does_not(text: str, ref: str) -> None:
    block = f'[amend section="{ref}"]\n{text}\n[/amend]'
    proposals, problems = parse_proposals(block)
    expected = re.sub(r"\A(?:[ \t]*\n)+", "", text).rstrip()     # without the surrounding blank lines
    if body_changes_structure(expected):
        assert [p.kind for p in problems] in ([HEADING], [OPEN_FENCE])
    elif shows_large_heading(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", expected)) or \
            shows_large_heading(expected):                          # an `=`/`-` underline, a "# " line: as large
        assert [p.kind for p in problems] == [HEADING]
    elif "<" in expected and problems:                              # HTML it opens and never closes
        assert [p.kind for p in problems] == [OPEN_MARKUP]
    else:
        assert (proposals, problems) == ([Proposal(1, ref, expected)], [])
    assert parse_proposals(f'[quote="ann, post:2, topic:5"]\n{block}\n[/quote]') == ([], [])


# ------------------------------------------------------------------------------------------------ commands


@pytest.mark.parametrize("raw, command", [
    ("/approve", Command("approve", "")),
    ("  /APPROVE  \nLooks good to me.", Command("approve", "")),
    ("\n\n/approve", Command("approve", "")),
    ("/reject It conflicts with section 2.", Command("reject", "It conflicts with section 2.")),
    ("/reject: too broad", Command("reject", "too broad")),
    ("/reject\nIt conflicts with section 2.\n\nSorry.", Command("reject", "It conflicts with section 2.\n\nSorry.")),
    ("/reject", Command("reject", "")),
    ("/Withdraw", Command("withdraw", "")),
])
def test_commands(raw: str, command: Command) -> None:
    assert parse_command(raw) == command


@pytest.mark.parametrize("raw", ["", "approve", "/approved", "/approveit", "I /approve", "Great!\n/approve",
                                 "[quote]\n/approve\n[/quote]", "/delete", "//approve", "`/approve`"])
def test_not_commands(raw: str) -> None:
    assert parse_command(raw) is None


# ------------------------------------------------------------------------------------------------ quotes


def quote(text: str, topic: int = DOCUMENT_TOPIC, post: int = 1) -> str:
    return f'[quote="care-bot, post:{post}, topic:{topic}"]\n{text}\n[/quote]'


def test_a_quote_of_a_section_body_counts_for_that_section() -> None:
    assert quoted_sections(quote(CONSENT_WORDS) + "\nI'm not sure.", DOCUMENT, DOCUMENT_TOPIC) == {"consent"}


def test_markup_and_spacing_differences_do_not_matter() -> None:
    text = "Ask  **before** you\nshare _someone's_ story"
    assert quoted_sections(quote(text), DOCUMENT, DOCUMENT_TOPIC) == {"consent"}


def test_a_quote_across_two_sections_counts_for_both() -> None:
    text = "stay private unless everyone in them agrees otherwise.\n\n## 4. Harm and repair\n\nAny of us can hurt"
    assert quoted_sections(quote(text), DOCUMENT, DOCUMENT_TOPIC) == {"consent", "harm-and-repair"}


def test_a_quoted_heading_counts_but_a_short_common_word_does_not() -> None:
    assert quoted_sections(quote("## 3. Consent"), DOCUMENT, DOCUMENT_TOPIC) == {"consent"}
    assert quoted_sections(quote("Privacy"), DOCUMENT, DOCUMENT_TOPIC) == {"privacy"}
    assert quoted_sections(quote("we"), DOCUMENT, DOCUMENT_TOPIC) == set()
    assert quoted_sections(quote(""), DOCUMENT, DOCUMENT_TOPIC) == set()


@pytest.mark.parametrize("raw", [
    quote(CONSENT_WORDS, topic=DOCUMENT_TOPIC + 1),
    quote(CONSENT_WORDS, post=2),
    f"[quote]\n{CONSENT_WORDS}\n[/quote]",
    f"```\n{quote(CONSENT_WORDS)}\n```",
    f'[quote="care-bot, post:1, topic:{DOCUMENT_TOPIC}"]\n{CONSENT_WORDS}',
    quote("Words that are nowhere in the Code of Care at all"),
    CONSENT_WORDS,
])
def test_what_is_not_a_quote_of_the_document(raw: str) -> None:
    assert quoted_sections(raw, DOCUMENT, DOCUMENT_TOPIC) == set()


def test_only_the_quote_own_text_counts_not_a_quote_nested_in_it() -> None:
    inner = quote("Any of us can hurt someone without meaning to", topic=99)
    assert quoted_sections(quote(f"{inner}\n{CONSENT_WORDS}"), DOCUMENT, DOCUMENT_TOPIC) == {"consent"}
    nested_document_quote = quote(quote("Any of us can hurt someone without meaning to"), topic=99)
    assert quoted_sections(nested_document_quote, DOCUMENT, DOCUMENT_TOPIC) == {"harm-and-repair"}
