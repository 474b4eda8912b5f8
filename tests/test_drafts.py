"""What the service posts: drafts, decisions and replies that no member text can break, and that never ping."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.domain.document import STARTER_TEXT, fenced_code, parse_document
from plugin.domain.safety import ZWSP, neutralize_mentions
from plugin.text.drafts import (ABOUT, AND_MORE, APPLIED_ANNOUNCEMENT, CREDITED, DECISIONS, DIFF_TOO_LONG, DRAFT_DATED, DRAFT_INTENT,
                           DRAFT_NTH, DRAFT_TITLE, EMPTY_TEXT, NEEDED_MANY, NEEDED_ONE, MAX_LISTED, MAX_POST_CHARS, MAX_TITLE_CHARS, MAX_TITLE_WORD_CHARS, NO_REASON,
                           NO_SOURCES, NOT_ALLOWED, NOT_CREDITED, PROBLEM_REPLY, REASON_GIVEN, REJECTED_CLOSING,
                           REJECTION_PM_TITLE, SHORTENED, STALE, SUPPORT_MANY, SUPPORT_ONE,
                           quote_member_text, render_applied_announcement, render_decision,
                           render_draft, render_not_allowed, render_problem_reply, render_rejection_pm,
                           render_stale, word_diff)
from plugin.domain.proposals import MESSAGES, NESTED, Problem, parse_proposals, unknown_section_problem

CONSENT = parse_document(STARTER_TEXT).find("consent")
DRAFT_URL = "https://forum.example.com/t/proposed-change/42"

# What a member might write to break out of a quote, open HTML, hide a fence or ping everyone.
HOSTILE = [
    "[/quote]", "[/QUOTE ]", "[quote]", '[quote="ann, post:1, topic:5"]', "[amend section=\"3\"]", "[/amend]",
    "<details>", "</details>", "</div>", "<!--", "<script>alert(1)</script>", "<ins>", "</del>", "&#91;/quote]",
    "```", "~~~~", "   ```js", "\\", "\\[/quote]", "@everyone", "@here", "@peer-support", "(@bob)", "é@bob",
    "@Ёжик", "[details=\"x\"]", "[/details]", "[spoiler]", "[code]", "**", "_", "# ", "## 9. New", "> ", "    ",
    "\n", "\n\n", "\r\n", "\x00", "\u202e", "\u200b", "日本語", "مرحبا", "|", "![x](https://evil.example/p.png)",
    "[link](javascript:alert(1))", "[^1]: note", "&amp;", "@", "`", "@_", "@\\_bob", "@&#98;ob",
]
MEMBER_TEXT = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12)), max_size=40).map("".join)

_LIVE_MENTION = re.compile(r"(?<![A-Za-z0-9_])@\w")
_LIVE_QUOTE_TAG = re.compile(r"\[(/?)quote\b", re.IGNORECASE)
_LIVE_HTML = re.compile(r"<(/?)([A-Za-z!][\w-]*)")
_OWN_NOTE = re.compile(r"\n\n\[//\]: # \([A-Za-z0-9 ,.:/_-]*\)\Z")
"""The service's own hidden note at the very end of a post (plugin.text.drafts.HIDDEN): not member text."""


def live(pattern: re.Pattern[str], markdown: str) -> list[re.Match[str]]:
    """Matches that markdown would act on: not after an odd number of backslashes, not inside fenced code."""
    fenced = [(start, end) for start, end, _ in fenced_code(markdown)]
    found = []
    for match in pattern.finditer(markdown):
        backslashes = 0
        while backslashes < match.start() and markdown[match.start() - backslashes - 1] == "\\":
            backslashes += 1
        if backslashes % 2 == 0 and not any(start <= match.start() < end for start, end in fenced):
            found.append(match)
    return found


def assert_safe(markdown: str, *, fences: int = 0) -> None:
    """The service's rules for anything it posts, whatever member text went into it."""
    markdown = _OWN_NOTE.sub("", markdown)
    unescaped = re.sub(r"\\(.)", r"\1", markdown, flags=re.DOTALL)
    assert not _LIVE_MENTION.search(unescaped), "a mention would ping"
    depth = 0
    for match in live(_LIVE_QUOTE_TAG, markdown):
        depth += -1 if match.group(1) else 1
        assert depth >= 0, "a [/quote] closes more than was opened"
    assert depth == 0, "a [quote] is left open"
    tags = [(m.group(1), m.group(2).lower()) for m in live(_LIVE_HTML, markdown)]
    assert {name for _, name in tags} <= {"del", "ins"}, f"HTML from member text: {tags}"
    assert tags == [(closing, name) for name in [n for c, n in tags if not c] for closing in ("", "/")]
    blocks = fenced_code(markdown)
    assert len(blocks) == fences and all(closed for _, _, closed in blocks), "a code fence opened or stayed open"
    assert parse_proposals(markdown) == ([], []), "the service's own post reads as a proposal"
    assert len(markdown) <= MAX_POST_CHARS


def assert_title(title: str) -> None:
    assert 15 <= len(title) <= MAX_TITLE_CHARS and "\n" not in title
    assert all(len(word) <= MAX_TITLE_WORD_CHARS for word in title.split())
    assert not _LIVE_MENTION.search(title)


def draft(**overrides: object) -> tuple[str, str]:
    fields: dict[str, object] = dict(
        amendment_id="coc-amendment-901-2", section_title=CONSENT.title, section_number=CONSENT.number,
        current=CONSENT.body, proposed="Ask before you share, every time.", supporters=4,
        credited=["ann", "bo_b"], source_links=["https://forum.example.com/t/care/7/3"], threshold=3)
    fields.update(overrides)
    return render_draft(**fields)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ mentions


@pytest.mark.parametrize("text, expected", [
    ("@bob", f"@{ZWSP}bob"), ("hi @everyone and @here", f"hi @{ZWSP}everyone and @{ZWSP}here"),
    ("(@peer-support)", f"(@{ZWSP}peer-support)"), ("é@bob", f"é@{ZWSP}bob"), ("@Ёжик", f"@{ZWSP}Ёжик"),
    ("@_x", f"@{ZWSP}_x"), ("kim@example.org", "kim@example.org"), ("a.b+c@mail.example", "a.b+c@mail.example"),
    ("@ bob", "@ bob"), ("@", "@"), ("@@bob", f"@@{ZWSP}bob"),
])
def test_neutralize_mentions(text: str, expected: str) -> None:
    assert neutralize_mentions(text) == expected
    assert neutralize_mentions(expected) == expected


# ------------------------------------------------------------------------------------------------ diff


def test_word_diff_marks_removed_and_added_words() -> None:
    assert word_diff("x a b c", "a B c d") == "<del>x</del> a <del>b</del> <ins>B</ins> c <ins>d</ins>"
    assert word_diff("same words", "same  words\n") == "same words"
    assert word_diff("", "") == ""
    assert word_diff("", "new") == "<ins>new</ins>"
    assert word_diff("old", "") == "<del>old</del>"


def test_word_diff_keeps_paragraphs_and_never_spans_them() -> None:
    diff = word_diff("Ask first.\n\nKeep it private.", "Ask first.\n\nA new paragraph.\n\nKeep it private.")
    assert diff == "Ask first.\n\n<ins>A new paragraph.</ins>\n\nKeep it private."
    removed = word_diff("One.\n\nTwo three.\n\nFour.", "One.\n\nFour.")
    assert removed == "One.\n\n<del>Two three.</del>\n\nFour."
    for paragraph in word_diff("a b\n\nc d", "x y\n\nz w").split("\n\n"):
        assert paragraph.count("<del>") == paragraph.count("</del>")
        assert paragraph.count("<ins>") == paragraph.count("</ins>")


def test_escaping_never_hides_a_mention_behind_a_backslash() -> None:
    assert word_diff("", "@_bob") == f"<ins>@{ZWSP}\\_bob</ins>"
    _, body = draft(section_title="@_bob", proposed="@\\_bob @&#98;ob")
    assert_safe(body)


def test_word_diff_shows_member_markup_literally() -> None:
    diff = word_diff("Be kind.", "Be kind. <b>@everyone</b> [/quote] *really*")
    assert diff == f"Be kind. <ins>\\<b\\>@{ZWSP}everyone\\</b\\> \\[/quote\\] \\*really\\*</ins>"


# ------------------------------------------------------------------------------------------------ quoting


@pytest.mark.parametrize("hostile", HOSTILE)
def test_quoted_member_text_cannot_escape(hostile: str) -> None:
    quoted = quote_member_text(f"Before {hostile} after")
    assert quoted.startswith("[quote]\n") and quoted.endswith("\n[/quote]")
    assert_safe(quoted)


def test_quoting_keeps_ordinary_markdown_and_marks_empty_text() -> None:
    text = "**Ask** first:\n\n- always\n- kindly"
    assert quote_member_text(text) == f"[quote]\n{text}\n[/quote]"
    assert quote_member_text(" \n\n") == f"[quote]\n{EMPTY_TEXT}\n[/quote]"


# ------------------------------------------------------------------------------------------------ drafts


def test_draft_shows_section_texts_diff_support_and_sources() -> None:
    title, body = draft()
    assert title == DRAFT_INTENT.format(section="3. Consent", gist="Ask before you share, every time.")
    assert title == "Proposed change to 3. Consent: “Ask before you share, every time.”"   # the section, and the intent
    needed = NEEDED_MANY.format(threshold=3)
    assert "**3. Consent**" in body and SUPPORT_MANY.format(count=4, needed=needed) in body
    assert quote_member_text(CONSENT.body) in body
    assert quote_member_text("Ask before you share, every time.") in body
    assert f"[quote]\n{word_diff(CONSENT.body, 'Ask before you share, every time.')}\n[/quote]" in body
    assert CREDITED.format(names="ann, bo\\_b") in body
    assert "- https://forum.example.com/t/care/7/3" in body
    assert body.endswith("\n\n[//]: # (coc-amendment-901-2)")   # for moderators and machines: the forum hides it
    assert "coc-amendment" not in body.removesuffix("[//]: # (coc-amendment-901-2)") and "901" not in title
    assert_safe(body)
    assert_title(title)


def test_draft_titles_name_the_intent_then_the_day_and_which_proposal_of_it() -> None:
    """Where the forum will not take a title (another topic has it, or it finds the member's words unfit), the next
    try names the day, then which proposal of the day."""
    long = "We ask before we share anything about another member, and we ask again if time has passed."
    intent, _ = draft(drafted_on="14 March 2026", proposed=long)
    assert intent == "Proposed change to 3. Consent: “We ask before we share anything about another member, and…”"
    dated, _ = draft(drafted_on="14 March 2026", nth=2)
    assert dated == DRAFT_DATED.format(section="3. Consent", date="14 March 2026")
    assert dated == "Proposed change to 3. Consent (14 March 2026)"
    third, _ = draft(drafted_on="14 March 2026", nth=3)
    assert third == DRAFT_NTH.format(section="3. Consent", nth=2, date="14 March 2026")
    assert third == "Proposed change to 3. Consent (proposal 2 of 14 March 2026)"
    for title in (intent, dated, third):
        assert_title(title)


def test_draft_support_wording_and_lists() -> None:
    _, one = draft(supporters=1, credited=[], source_links=[])
    assert SUPPORT_ONE.format(needed=NEEDED_MANY.format(threshold=3)) in one and NOT_CREDITED in one
    assert NO_SOURCES in one
    _, alone = draft(supporters=1, threshold=1)
    assert SUPPORT_ONE.format(needed=NEEDED_ONE) in alone and "1 is enough for a draft" in alone
    names = [f"member{n}" for n in range(MAX_LISTED + 7)]
    _, many = draft(credited=names + ["MEMBER1"], source_links=[f"https://f.example/p/{n}" for n in range(60)])
    assert AND_MORE.format(count=7) in many and AND_MORE.format(count=10) in many
    assert f"member{MAX_LISTED}" not in many


def test_draft_of_an_unnumbered_section_and_odd_amendment_ids() -> None:
    title, body = draft(section_title="Consent @here", section_number=None, amendment_id="weird id `x` -->")
    assert title == neutralize_mentions(DRAFT_INTENT.format(section="Consent @here", gist="Ask before you share, every time."))
    assert body.endswith("[//]: # (weird id x)")   # the note can neither show markup nor end its comment early
    assert_safe(body)
    assert_title(title)


def test_source_links_that_are_not_web_links_are_shown_as_text() -> None:
    _, body = draft(source_links=["javascript:alert(1)", "https://ok.example/t/1 [/quote]", "@everyone"])
    assert "- javascript:alert(1)" in body and "https://ok.example/t/1 \\[/quote\\]" in body
    assert_safe(body)


def test_a_long_title_is_cut_to_discourse_limits() -> None:
    title, _ = draft(section_title="Care " * 200, drafted_on="14 March 2026", nth=4)
    assert_title(title)
    assert title.endswith("(proposal 3 of 14 March 2026)")
    long_word, _ = draft(section_title="Antidisestablishmentarianismically-speaking")
    assert_title(long_word)
    assert "Antidisestablishmentarianismi…" in long_word


def test_a_huge_draft_still_fits_in_one_post() -> None:
    hostile = "@everyone [/quote] <details> " * 2_000
    _, without_diff = draft(current="Care. " * 2_500, proposed="Kindness. " * 1_000)
    assert DIFF_TOO_LONG in without_diff and SHORTENED not in without_diff
    assert_safe(without_diff)
    _, shortened = draft(current=hostile, proposed=hostile[:10_000])
    assert DIFF_TOO_LONG in shortened and SHORTENED in shortened
    assert_safe(shortened)


# ------------------------------------------------------------------------------------------------ replies


def test_decisions() -> None:
    approved = render_decision(verb="approve", decided_by="mod_1")
    assert approved == DECISIONS["approve"].format(who="mod\\_1")
    withdrawn = render_decision(verb="withdraw", decided_by="ann")
    assert withdrawn == DECISIONS["withdraw"].format(who="ann")
    rejected = render_decision(verb="reject", decided_by="mod", reason="Conflicts with @everyone's [/quote] §2")
    assert rejected.startswith(DECISIONS["reject"].format(who="mod")) and REASON_GIVEN in rejected
    assert quote_member_text("Conflicts with @everyone's [/quote] §2") in rejected
    assert rejected.endswith(REJECTED_CLOSING)
    assert NO_REASON in render_decision(verb="reject", decided_by="mod", reason="  ")
    for text in (approved, withdrawn, rejected):
        assert_safe(text)
    with pytest.raises(ValueError, match="unknown decision"):
        render_decision(verb="delete", decided_by="mod")


def test_replies_can_be_made_unique() -> None:
    plain = render_stale(section_title="Consent")
    about = render_stale(section_title="Consent", about=DRAFT_URL)
    assert about == plain + ABOUT.format(note=DRAFT_URL) and about.endswith(f"[//]: # ({DRAFT_URL})")
    assert render_not_allowed(verb="approve", who_may="moderators", about="coc-amendment-1-1").endswith(
        "\n\n[//]: # (coc-amendment-1-1)")
    assert render_decision(verb="approve", decided_by="m", about="@everyone [/quote] --> <b>").endswith(
        "[//]: # (everyone /quote - b)")
    assert_safe(render_decision(verb="approve", decided_by="m", about="@everyone [/quote]"))


def test_announcement_stale_and_not_allowed() -> None:
    announcement = render_applied_announcement(section_title="3. Consent", draft_url=DRAFT_URL)
    assert announcement == APPLIED_ANNOUNCEMENT.format(section="3. Consent", draft=DRAFT_URL)
    stale = render_stale(section_title="Consent")
    assert stale == STALE.format(section="Consent", ref="Consent")
    assert "[amend section=" in stale.replace("\\[", "[")
    not_allowed = render_not_allowed(verb="reject", who_may="moderators (staff or the coc-moderators group)")
    assert not_allowed == NOT_ALLOWED.format(who_may="moderators (staff or the coc-moderators group)", verb="reject")
    for text in (announcement, stale, not_allowed):
        assert_safe(text)
    with pytest.raises(ValueError, match="unknown command"):
        render_not_allowed(verb="delete", who_may="moderators")


def test_rejection_pm() -> None:
    title, body = render_rejection_pm(section_title="Consent", reason="Too broad for now.", draft_url=DRAFT_URL)
    assert title == REJECTION_PM_TITLE.format(section="Consent")
    assert quote_member_text("Too broad for now.") in body and DRAFT_URL in body
    assert_title(title)
    assert_safe(body)
    assert NO_REASON in render_rejection_pm(section_title="Consent", reason="", draft_url=DRAFT_URL)[1]


def test_problem_reply_lists_each_problem_once_and_is_not_a_proposal_itself() -> None:
    nested = Problem(MESSAGES[NESTED].format(where="Your first [amend] block"), NESTED)
    unknown = unknown_section_problem("@everyone [/quote] <b>", parse_document(STARTER_TEXT))
    reply = render_problem_reply([nested, unknown, nested])
    head = PROBLEM_REPLY.split("{items}")[0]
    assert reply.startswith(head) and reply.count("\n- ") == 2
    assert "- Your first \\[amend\\] block has another \\[amend\\] inside it." in reply
    assert_safe(reply, fences=1)
    with pytest.raises(ValueError):
        render_problem_reply([])


# ------------------------------------------------------------------------------------------------ properties


@settings(max_examples=150, deadline=None)
@given(current=MEMBER_TEXT, proposed=MEMBER_TEXT, title=MEMBER_TEXT, names=st.lists(MEMBER_TEXT, max_size=4),
       links=st.lists(MEMBER_TEXT, max_size=3), number=st.none() | st.integers(0, 10**6))
def test_any_member_text_makes_a_safe_draft(current: str, proposed: str, title: str, names: list[str],
                                            links: list[str], number: int | None) -> None:
    draft_title, body = render_draft(amendment_id="coc-amendment-5-1", section_title=title, section_number=number,
                                     current=current, proposed=proposed, supporters=3, credited=names,
                                     source_links=links, threshold=3)
    assert_title(draft_title)
    assert_safe(body)


@settings(max_examples=150, deadline=None)
@given(text=MEMBER_TEXT, other=MEMBER_TEXT)
def test_any_member_text_makes_safe_replies(text: str, other: str) -> None:
    assert_safe(word_diff(text, other))
    assert_safe(quote_member_text(text))
    assert_safe(render_decision(verb="reject", decided_by=other, reason=text, about=other))
    assert_safe(render_applied_announcement(section_title=text, draft_url=other))
    assert_safe(render_stale(section_title=text))
    assert_safe(render_not_allowed(verb="withdraw", who_may=text))
    pm_title, pm = render_rejection_pm(section_title=text, reason=other, draft_url=text)
    assert_title(pm_title)
    assert_safe(pm)
    problems = parse_proposals(text)[1] + [unknown_section_problem(text, parse_document(other))]
    assert_safe(render_problem_reply(problems), fences=1)


@settings(max_examples=100, deadline=None)
@given(st.text(), st.text())
def test_any_unicode_diff_keeps_every_new_word(old: str, new: str) -> None:
    diff = word_diff(old, new)
    assert_safe(diff)
    without_deleted = re.sub(r"<del>.*?</del>", " ", diff, flags=re.DOTALL).replace("<ins>", "").replace("</ins>", "")
    shown = re.sub(r"\\(.)", r"\1", without_deleted, flags=re.DOTALL).replace("@" + ZWSP, "@")
    written = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", new).replace("@" + ZWSP, "@")
    assert shown.split() == written.split()
