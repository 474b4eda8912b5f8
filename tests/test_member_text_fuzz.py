"""Whatever members write, through the whole domain: the parser, the draft, the living document, the kind reply.

Member text here is hostile or just unusual: `[amend]` nested, unterminated or huge (100 KB); Arabic, CJK, emoji,
right-to-left marks, zero-width and combining characters; HTML and BBCode injection (`<script>`, `<img onerror>`,
`[quote]`, `[details]`), markdown links and images, `@mentions`, `@everyone`, `#hashtags`, code fences that never
close; sections that do not exist. Properties:

- reading a post never raises, and every `[amend` a member wrote ends as a proposal or as a Problem whose message
  is one of the member-facing messages, filled in;
- a draft made from any accepted proposal is balanced, as the forum's markdown engine reads it (`tests.markup`):
  exactly the template's quote blocks, each tag alone on its line; outside them exactly the template's six
  `### ` headings and nothing that takes effect (no HTML, code block, link, image or mention); inside them no
  heading as large as a section of the Code (level 1 or 2), no HTML but the diff's own `<ins>`/`<del>` pairs, no
  link, image or mention; and no BBCode tag anywhere but those quote tags;
- the document with any accepted proposal applied keeps its sections, both as the service parses them and as the
  forum shows them (its level-1 and level-2 headings), and the new section leaves nothing open that would pull the
  sections after it in (an HTML comment, a `<script>` or `<details>`, a `[quote]` block);
- end to end, a huge post, an opening tag never finished and an unknown section each get exactly one kind reply,
  and no job fails or waits to be retried.

The `@example`s are cases these properties found, kept after the fix (see the messages HEADING, OPEN_MARKUP and
INCOMPLETE_TAG in `plugin.domain.proposals`, and `plugin.text.drafts.word_diff` and `neutralize_mentions`).
"""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from plugin.domain.care import ESCALATE, REMIND
from plugin.domain.names import care_timer_job_id
from plugin.domain.document import STARTER_TEXT, Document, parse_document
from plugin.text.drafts import (DIFF_TOO_LONG, DRAFT_BODY, MAX_POST_CHARS, PROBLEM_REPLY, render_draft,
                           render_problem_reply)
from plugin.queues import QUEUES
from plugin.domain.proposals import (HEADING, INCOMPLETE_TAG, MESSAGES, OPEN_MARKUP, TOO_LONG, UNKNOWN_SECTION,
                              UNTERMINATED, Problem, Proposal, parse_command, parse_proposals, unknown_section_problem)
from simulator.state import Forum as SimForum
from tests.companion import Companion, companion  # noqa: F401  (fixture)
from tests.markup import Reading, assert_balanced_html, read, read_quoted
from tests.test_amendments_e2e import bot_posts

DOCUMENT = parse_document(STARTER_TEXT)
TEMPLATE_HEADINGS = [(3, text) for text in re.findall(r"^### (.+)$", DRAFT_BODY, re.MULTILINE)]
"""The draft's own headings, in order ("Current text", "Proposed text", …)."""
SECTION_LEVELS = (1, 2)
"""Headings this large look like a section of the Code (`## 3. Consent`) or larger: member text may not make one."""

SCRIPTS = ["مرحبا بالجميع", "نحن نهتم ببعضنا", "同意してください", "关怀", "돌봄", "Согласие", "🙂", "👩‍👩‍👧", "🏳️‍🌈",
           "\u200f", "\u200e", "\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff", "e\u0301", "a\u0308\u0323",
           "Z\u0336a\u0337l\u0338g\u0335o", "\u0000", "\t", "\r\n", "\u2028", "\x85", "ǅ", "ß", "İ"]
INJECTIONS = ["<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "<details><summary>x</summary>",
              "</details>", "<div>", "</div>", "<!--", "-->", "<ins>", "</del>", "<https://evil.example>",
              "[quote]", "[/quote]", '[quote="mod, post:1, topic:1"]', '[details="open me"]', "[/details]",
              "[spoiler]", "[code]", "[/code]", "[b]", "[url=https://evil.example]x[/url]", "[img]x[/img]",
              "[link](javascript:alert(1))", "![pixel](https://evil.example/p.png)", "[x]: https://evil.example",
              "@everyone", "@here", "@peer-support", "@alice", "@_bob", "(@mod)", "é@carol", "@Ёжик", "@\\_dave",
              "kim@example.org", "#hashtag", "#staff-room", "&#64;everyone", "&lt;script&gt;", "&amp;", "\\",
              "\\[/quote]", "```", "```js", "~~~", "   ```", "``", "`", "## 9. Fake section", "# Fake", "  ## Fake",
              "#", "##", "Fake\n===", "Fake\n---", "\n---\n", "> ", "- ", "1. ", "    ", "|a|b|\n|-|-|", "**",
              "_", "~~", "\n", "\n\n", "direct support", "/approve", "[amend section=\"3\"]", "[/amend]"]
WORDS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
MEMBER_TEXT = st.lists(st.one_of(st.sampled_from(SCRIPTS + INJECTIONS), WORDS), max_size=30).map("".join)
REFS = st.one_of(st.sampled_from(["Consent", "3", "3. Consent", "harm and repair", "§ 5", "section 2", "Care",
                                  "CONSENT", "ｃｏｎｓｅｎｔ", "Nowhere", "9", "@everyone", "[/quote]", "同意", ""]),
                 st.text(max_size=20))
OPENINGS = st.sampled_from(['[amend section="{ref}"]', "[amend section='{ref}']", "[AMEND SECTION={ref}]",
                            '[amend="{ref}"]', "[amend section=“{ref}”]", '[amend section="{ref}"',
                            "[amend section={ref}\n", "[amend", "[amend]"])
CLOSINGS = st.sampled_from(["[/amend]", "[/AMEND ]", "", "[/amend", "[/amend][/amend]"])


@st.composite
def posts(draw: st.DrawFn) -> str:
    """A post with zero or more (often broken) `[amend]` blocks among hostile text."""
    pieces = [draw(MEMBER_TEXT)]
    for _ in range(draw(st.integers(0, 3))):
        opening = draw(OPENINGS).replace("{ref}", draw(REFS))
        body = draw(MEMBER_TEXT)
        if draw(st.integers(0, 9)) == 0:          # now and then a huge one
            body = body * max(1, 100_000 // max(len(body), 1))
        pieces += [opening, "\n" if draw(st.booleans()) else "", body, "\n", draw(CLOSINGS), draw(MEMBER_TEXT)]
    return "".join(pieces)


@st.composite
def proposal_posts(draw: st.DrawFn) -> str:
    """A post likely to hold accepted proposals: well-formed blocks around hostile wording."""
    blocks = []
    for _ in range(draw(st.integers(1, 3))):
        ref = draw(st.sampled_from(["Consent", "3", "Care", "harm and repair", "5. Privacy", "6"]))
        blocks.append(f'[amend section="{ref}"]\n{draw(MEMBER_TEXT)}x\n[/amend]')
    return draw(MEMBER_TEXT) + "\n" + "\n\n".join(blocks) + "\n" + draw(MEMBER_TEXT)


def outcome(raw: str, document: Document) -> tuple[list[tuple[Proposal, str]], list[Problem]]:
    """What the service makes of a post (as `worker.feedback.gather` does): (proposal, section slug) pairs for the
    sections the document has, and the Problems the member is told about."""
    proposals, problems = parse_proposals(raw)
    accepted = []
    for proposal in proposals:
        section = document.find(proposal.section_ref)
        if section is None:
            problems.append(unknown_section_problem(proposal.section_ref, document))
        else:
            accepted.append((proposal, section.slug))
    return accepted, problems


def template_pattern(kind: str) -> re.Pattern[str]:
    """The member-facing message of `kind` as a pattern: its fixed words literally, each field as some text."""
    parts = re.split(r"\{[^}]*\}", MESSAGES[kind])
    return re.compile(".+?".join(re.escape(part) for part in parts), re.DOTALL)


def assert_clear(problem: Problem) -> None:
    """A Problem the member can act on: one of the messages, filled in, on one line, of a readable length."""
    assert problem.kind in MESSAGES, problem
    assert template_pattern(problem.kind).fullmatch(problem.message), problem
    assert "\n" not in problem.message and len(problem.message) < 1_000, problem


def assert_shows_nothing_live(reading: Reading, *, html: frozenset[str] = frozenset()) -> None:
    assert not reading.mentions, f"a mention would ping: {reading.mentions}"
    assert not reading.links and not reading.images, (reading.links, reading.images)
    assert_balanced_html(reading, html)


def assert_balanced_draft(raw: str) -> None:
    """The draft's structure is the template's, whatever the member wrote (see the module's docstring)."""
    quoted = read_quoted(raw)
    outside = quoted.outside
    diff_shown = DIFF_TOO_LONG not in "\n".join(outside.shown)
    assert len(quoted.insides) == (3 if diff_shown else 2), quoted.quote_lines
    assert [(level, text) for level, text, _ in outside.headings] == TEMPLATE_HEADINGS, outside.headings
    assert not outside.code, f"a code block outside the quotes: {outside.code}"
    assert_shows_nothing_live(outside)
    for n, inside in enumerate(quoted.insides):
        large = [h for h in inside.headings if h[0] in SECTION_LEVELS]
        assert not large, f"a heading that looks like a section of the Code: {large}"
        assert_shows_nothing_live(inside, html=frozenset({"ins", "del"}) if n == 2 and diff_shown else frozenset())
    assert parse_proposals(raw) == ([], []) and parse_command(raw) is None
    assert len(raw) <= MAX_POST_CHARS


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
CLOSED_BY_A_HEADING = {"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "optgroup", "rt",
                       "rp", "colgroup", "caption"}
"""Elements HTML closes by itself at the next heading (or at the end of their container): harmless left open."""
BLOCK_BBCODE = {"quote", "details", "spoiler", "poll", "wrap", "code"}
_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)(?:\s[^<>]*?)?(/?)>")
_RAW_BLOCK = re.compile(r"\s*<(script|pre|style|textarea)(?=[\s>]|$)", re.IGNORECASE)
_OPENERS = {"<!--": "-->", "<?": "?>", "<![CDATA[": "]]>", "<!": ">"}


def left_open(markdown: str) -> list[str]:
    """What `markdown`, read alone by the forum's engine, opens and never closes: HTML comments, declarations,
    raw-text blocks and elements, BBCode blocks (which open only at the start of a line). A section body that
    leaves one open pulls the sections after it in (hidden in a comment, folded in a `<details>`, quoted by a
    `[quote]`). Closing an element closes what opened inside it, as HTML does."""
    reading = read(markdown)
    found, stack = [], []                       # stack: "<name>" or "[name]"

    def close(opened: str) -> None:
        if opened in stack:
            del stack[len(stack) - 1 - stack[::-1].index(opened):]

    for kind, content, line_start in reading.markup:
        if kind == "bbcode":
            name = content.lstrip("/")
            if name in BLOCK_BBCODE and content.startswith("/"):
                close(f"[{name}]")
            elif name in BLOCK_BBCODE and line_start:
                stack.append(f"[{name}]")
            continue
        opener = next((o for o in _OPENERS if content.startswith(o)), None)
        if opener:
            if _OPENERS[opener] not in content[len(opener):]:
                found.append(opener)
            continue
        raw_block = _RAW_BLOCK.match(content) if kind == "html_block" else None
        if raw_block and f"</{raw_block.group(1).lower()}" not in content.lower():
            found.append(f"<{raw_block.group(1)}")
        for closing, name, self_closing in _TAG.findall(content):
            name = name.lower()
            if closing:
                close(f"<{name}>")
            elif not self_closing and name not in VOID | CLOSED_BY_A_HEADING:
                stack.append(f"<{name}>")
    return found + stack


def section_headings(markdown: str) -> list[tuple[int, str]]:
    """The headings the forum shows as large as a section of the Code, or larger."""
    return [(level, text) for level, text, _ in read(markdown).headings if level in SECTION_LEVELS]


# ------------------------------------------------------------------------------------------------ reading


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(posts())
@example('[amend section="Consent"\nAsk first, always.')                            # an opening tag never finished
@example("I'd like to [amend")
@example('[amend section="' + "x" * 600 + '"]\nToo long a name.\n[/amend]')
@example('[amend section="Consent"]\n' + "<script>alert(1)</script> @everyone " * 4_000 + "\n[/amend]")
@example('[amend section="Nowhere"]\nNew words.\n[/amend]')
def test_every_post_is_read_into_proposals_or_clear_problems(raw: str) -> None:
    accepted, problems = outcome(raw, DOCUMENT)
    for problem in problems:
        assert_clear(problem)
    for proposal, slug in accepted:
        assert proposal.text.strip() and DOCUMENT.find(slug) is not None
    reply = render_problem_reply(problems, about="post 1") if problems else ""
    if reply:
        assert reply.startswith(PROBLEM_REPLY.split("{items}")[0])
        reading = read(reply)
        assert_shows_nothing_live(reading)
        assert not reading.headings and not reading.bbcode and len(reading.code) == 1    # the example, fenced


AMEND_ONLY = st.lists(st.one_of(OPENINGS.map(lambda o: o.replace("{ref}", "Consent")), CLOSINGS,
                                st.sampled_from(SCRIPTS + ["text ", "\n", "]", "=", '"', "section", "<b>"]),
                                st.text(alphabet="abc =]\n", max_size=5)), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(AMEND_ONLY)
@example('[amend section="Consent"\nAsk first, always.')
@example("[amend")
def test_no_amend_tag_goes_unanswered(raw: str) -> None:
    """A post with an opening `[amend` (complete or not) or a closing `[/amend]` that markdown shows as written (no
    quote, code or escape around it) gets a proposal or a Problem: a member who tried to propose is never met with
    silence."""
    assume(re.search(r"\[amend(?=[\s=\]]|$)|\[/amend[ \t]*\]", raw, re.IGNORECASE))
    accepted, problems = outcome(raw, DOCUMENT)
    assert accepted or problems, raw


def test_an_opening_tag_that_never_ends_is_named() -> None:
    problems = parse_proposals('Here is my idea. [amend section="Consent"\nAsk first, always.')[1]
    assert problems == [Problem(MESSAGES[INCOMPLETE_TAG], INCOMPLETE_TAG)]
    assert parse_proposals("[amend]\nwords")[1][0].kind == UNTERMINATED          # a complete tag, never closed
    assert parse_proposals("`[amend`")[1] == []                                 # shown as code: not a tag


@pytest.mark.parametrize("text, kind, fields", [
    ("Ask first.\n# Bigger than a section", HEADING, {}),
    ("Ask first.\n  ## 9. Not a section", HEADING, {}),
    ("> ## 9. Quoted", HEADING, {}),
    ("- # of us who ask", HEADING, {}),
    ("Ask first.\n---", HEADING, {}),
    ("Ask first.\n===", HEADING, {}),
    ("Ask first.\r## 9. After a lone CR", HEADING, {}),
    ("Ask first.\n<!-- a note to myself", OPEN_MARKUP, {"opening": "<!--", "closing": "-->"}),
    ("<details><summary>More</summary>\nFolded.", OPEN_MARKUP, {"opening": "<details>", "closing": "</details>"}),
    ("Ask first.\n<script", OPEN_MARKUP, {"opening": "<script>", "closing": "</script>"}),
    ("[quote]\nSomeone said so.", OPEN_MARKUP, {"opening": "[quote]", "closing": "[/quote]"}),
    ("<b>Bold ever after", OPEN_MARKUP, {"opening": "<b>", "closing": "</b>"}),
])
def test_wording_that_would_change_the_codes_shape_is_named(text: str, kind: str, fields: dict[str, str]) -> None:
    problems = parse_proposals(f'[amend section="Care"]\n{text}\n[/amend]')[1]
    assert problems == [Problem(MESSAGES[kind].format(where='Your proposal for section "Care"', **fields), kind)]


@pytest.mark.parametrize("text", [
    "### A heading inside the section", "Ask first.\n\n---\n\nThen a rule.", "#hashtags and #1 priorities",
    "\\# not a heading", "```\n# code, not a heading\n<details>\n```", "`<details>` in code", "<p>We care.",
    "a <b>bold</b> word<br>", "x < y and y > z, <3", "We say [quote] in a sentence.", "\\[quote]\nescaped",
    "<https://example.org> and <kim@example.org>", "<details><summary>More</summary>\nShown.\n</details>",
])
def test_ordinary_markup_is_accepted(text: str) -> None:
    assert parse_proposals(f'[amend section="Care"]\n{text}\n[/amend]') == ([Proposal(1, "Care", text)], [])


# ------------------------------------------------------------------------------------------------ drafts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(raw=proposal_posts(), names=st.lists(MEMBER_TEXT, max_size=4), number=st.none() | st.integers(0, 10**6))
@example(raw='[amend section="Consent"]\nAsk first.\n  ## 9. Not a section\n[/amend]', names=[], number=3)
@example(raw='[amend section="Consent"]\nAsk first.\nNot a section\n---\n[/amend]', names=[], number=3)
@example(raw='[amend section="Consent"]\nAsk first.\n\n# Bigger than a section\n[/amend]', names=[], number=3)
@example(raw='[amend section="Consent"]\n> ## 9. Quoted heading\n[/amend]', names=[], number=3)
@example(raw='[amend section="Consent"]\n- ```\n  [/quote]\n[/amend]', names=["@everyone"], number=None)
@example(raw='\n[amend section="Consent"]\n``x\n[/amend]\n``[/amend]', names=[], number=None)   # a code span
@example(raw='[amend section="Consent"]\n\u2028\n---\nx\n[/amend]', names=[], number=None)  # not a blank line
@example(raw='[amend section="Consent"]\n@\\_daveمرحبا بالجميع_@everyonex\n[/amend]', names=[], number=None)
@example(raw='[amend section="Consent"]\n> \n---\nx\n[/amend]', names=[], number=None)  # --- in the diff
@example(raw='[amend section="Consent"]\n0\n1. \n---\nx\n[/amend]', names=[], number=None)
@example(raw='[amend section="Consent"]\n```js```\n---\nx\n[/amend]', names=[], number=None)   # not a fence
@example(raw='[amend section="Consent"]\n#\x1f\tx\n[/amend]', names=[], number=None)   # the draft drops \x1f
def test_a_draft_from_any_accepted_proposal_is_balanced(raw: str, names: list[str], number: int | None) -> None:
    accepted, _ = outcome(raw, DOCUMENT)
    assume(accepted)
    document = DOCUMENT
    for proposal, slug in accepted:
        section = document.find(slug)
        title, body = render_draft(amendment_id="coc-amendment-7-1", section_title=section.title,
                                   section_number=number, current=section.body, proposed=proposal.text,
                                   supporters=3, credited=names, source_links=["https://forum.example/p/7"],
                                   threshold=3)
        assert_balanced_draft(body)
        assert "\n" not in title and not read(title).mentions
        document = document.replace(section, proposal.text)     # the next draft quotes the changed text


# ------------------------------------------------------------------------------------------------ the document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(proposal_posts())
@example('[amend section="Consent"]\nAsk first.\n   ## 4. Harm and repair\nA fake section.\n[/amend]')
@example('[amend section="Consent"]\nAsk first.\n4. Harm and repair\n==================\n[/amend]')
@example('[amend section="Care"]\n~~~\nnever closed\n[/amend]')
@example('[amend section="Consent"]\n#\rx\n[/amend]\n')                # a lone CR ends a line for markdown
@example('[amend section="Consent"]\nAsk.\r```\n[/amend]\n')
@example('[amend section="Care"]\nWe care.\n<!-- a note to myself\n[/amend]')
@example('[amend section="Care"]\nWe care.\n<details><summary>More</summary>\nFolded away.\n[/amend]')
@example('[amend section="Care"]\nWe care.\n<script\n[/amend]')
@example('[amend section="Care"]\nWe care.\n[quote]\nSomeone said so.\n[/amend]')
@example('[amend section="Care"]\nWe care.\n<div><details>x</details>\n[/amend]')
@example('[amend section="Care"]\nWe care.\n<b>and bold ever after\n[/amend]')
@example('[amend section="Care"]\n<p>We care.\n<ul><li>always\n[/amend]')
@example('[amend section="Consent"]\n\u2028[quote]x\n[/amend]\n')
@example('[amend section="Consent"]\n</del>[quote]x\n[/amend]\n')
@example('[amend section="Consent"]\n- [quote]x\n[/amend]\n')
@example('[amend section="Consent"]\n</details>\\<details><summary>x</summary>x\n[/amend]\n')   # an HTML block
def test_no_accepted_proposal_adds_or_removes_a_section(raw: str) -> None:
    accepted, _ = outcome(raw, DOCUMENT)
    assume(accepted)
    document, shown = DOCUMENT, section_headings(STARTER_TEXT)
    for proposal, slug in accepted:
        section = document.find(slug)
        changed = document.replace(section, proposal.text)      # raises if the sections would change
        new_raw = changed.render()
        assert parse_document(new_raw) == changed
        assert [(s.number, s.title, s.slug, s.heading) for s in changed.sections] == \
            [(s.number, s.title, s.slug, s.heading) for s in document.sections]
        assert [s.body for s in changed.sections if s.slug != slug] == \
            [s.body for s in document.sections if s.slug != slug]
        assert changed.find(slug).body.strip() == proposal.text.strip()
        assert section_headings(new_raw) == shown, "the forum would show a section that is not one, or hide one"
        assert left_open(changed.find(slug).body) == [], "the sections after it would end up inside it"
        document = changed


# ------------------------------------------------------------------------------------------------ end to end


class RoomyForum(SimForum):
    """A forum whose admin raised `max_post_length` (Discourse's site setting; the simulator's is fixed at
    32,000 characters), so that a member's 100 KB post gets through to the service."""

    def _check_lengths(self, raw: str, title: str | None, *, first: bool, pm: bool = False) -> None:
        super()._check_lengths(raw[:30_000], title, first=first, pm=pm)


@pytest.fixture
def sim_forum() -> SimForum:
    forum = RoomyForum()
    forum.settings["max_admin_api_reqs_per_minute"] = 100_000
    return forum


HUGE = ('Here is everything I think the Consent section should say.\n\n[amend section="Consent"]\n'
        + "Ask first. <img src=x onerror=alert(1)> @everyone [/quote] مرحبا 👩‍👩‍👧 \u202e ```\n" * 1_400
        + "[/amend]\n")
UNTERMINATED_TAG = 'أقترح هذا التغيير 🙂\n\n[amend section="Consent"\nنسأل دائمًا قبل أن نشارك.'
UNKNOWN = '[amend section="@everyone [/quote] <img src=x onerror=alert(1)> Kindness"]\nBe gentle, always.\n[/amend]'


def no_failed_jobs(c: Companion) -> None:
    """No job failed and none waits to be retried; the care requests' reminders and alerts wait by design."""
    timers = {care_timer_job_id(r.post_id, t) for r in c.store.care_requests() for t in (REMIND, ESCALATE)}
    for queue in QUEUES:
        assert FailedJobRegistry(queue, connection=c.conn).get_job_ids() == [], f"a failed job on {queue}"
        waiting = set(ScheduledJobRegistry(queue, connection=c.conn).get_job_ids()) - timers
        assert not waiting, f"a job to retry on {queue}: {sorted(waiting)}"


@pytest.mark.parametrize("raw, kinds", [(HUGE, [TOO_LONG]), (UNTERMINATED_TAG, [INCOMPLETE_TAG]),
                                        (UNKNOWN, [UNKNOWN_SECTION])], ids=["huge", "unterminated", "unknown"])
def test_a_member_gets_one_kind_reply_and_no_job_fails(companion: Companion, raw: str, kinds: list[str]) -> None:
    c = companion
    assert len(HUGE) > 100_000
    document = c.store.document()
    post = c.member("alice").create_post(raw, topic_id=document["topic_id"])
    c.settle()
    _, problems = outcome(raw, parse_document(document["raw"]))
    assert [p.kind for p in problems] == kinds
    answers = [p for p in bot_posts(c, document["topic_id"]) if p.reply_to_post_number == post["post_number"]]
    assert [a.raw for a in answers] == [render_problem_reply(problems, about=f"post {post['id']}")]
    reading = read(answers[0].raw)
    assert_shows_nothing_live(reading)
    assert not reading.bbcode and len(answers[0].raw) <= MAX_POST_CHARS
    assert c.store.amendments_of_post(post["id"]) == []
    no_failed_jobs(c)
