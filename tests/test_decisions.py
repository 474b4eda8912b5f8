"""The rules the handlers decide by, apart from their I/O: what a post of feedback changes
(`plugin.domain.feedback`) and what drafting and deciding an amendment does (`plugin.domain.decisions`)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.domain.amendments import (
    APPLIED,
    DRAFTED,
    OPEN,
    REJECTED,
    STALE,
    WITHDRAWN,
    Amendment,
    Decision,
    Voter,
    record,
)
from plugin.domain.decisions import (
    Support,
    application,
    command_decision,
    confirmed_support,
    credited,
    current_section,
    decided,
    decided_verb,
    decision_effects,
    decision_line,
    drafted_as,
    is_moderator,
    is_open,
    is_stale,
    outcome_tags,
    proposer_only,
    seen_support,
    source_post_ids,
    support_confirmed,
)
from plugin.domain.document import GENERAL_SLUG, parse_document
from plugin.domain.events import POST_REGULAR, Post
from plugin.domain.feedback import (
    REMOVED_FROM_THE_POST,
    discussed_sections,
    gathered,
    proposed_amendment,
    withdrawals,
)
from plugin.domain.names import (
    TAG_APPROVED,
    TAG_DRAFT,
    TAG_REJECTED,
    amendment_id,
    announce_effect,
    decision_effect,
    rejection_effect,
)
from plugin.domain.proposals import Command, Proposal, parse_proposals, unknown_section_problem
from plugin.domain.safety import ZWSP

BOT = "care-bot"
DOCUMENT_TOPIC = 17
DOC_RAW = (
    "The Code of Care.\n\n"
    "## 1. Consent\n\nAsk before you share someone's story, words or image.\n\n"
    "## 2. Care\n\nWe look after each other, and after ourselves.\n"
)
DOC = parse_document(DOC_RAW)
CONSENT, CARE = DOC.find("consent"), DOC.find("care")
assert CONSENT is not None and CARE is not None
WHEN = "2026-11-16T10:05:00Z"


def post(raw: str, *, post_id: int = 40, topic_id: int = 7, username: str = "alice") -> Post:
    return Post(
        id=post_id,
        topic_id=topic_id,
        post_number=2,
        user_id=5,
        username=username,
        post_type=POST_REGULAR,
        created_at="2026-11-16T10:00:00Z",
        updated_at=WHEN,
        version=2,
        raw=raw,
    )


def amend(section: str, text: str) -> str:
    return f'[amend section="{section}"]\n{text}\n[/amend]'


def stored(
    index: int = 1, *, status: str = OPEN, section: str = "consent", text: str = "Ask first.", post_id: int = 40
) -> Amendment:
    """An amendment as the store holds it."""
    found = DOC.find(section)
    assert found is not None
    return Amendment(
        id=amendment_id(post_id, index),
        post_id=post_id,
        index=index,
        topic_id=7,
        proposer="alice",
        section_slug=found.slug,
        section_title=found.title,
        base_fingerprint=found.fingerprint,
        text=text,
        status=status,
        draft_topic_id=90 if status != OPEN else None,
    )


def doc_quote(text: str) -> str:
    return f'[quote="bob, post:1, topic:{DOCUMENT_TOPIC}"]\n{text}\n[/quote]'


# ================================================================================================ feedback (gather)


def test_a_new_proposal_is_recorded_kept_and_discussed() -> None:
    changes = gathered(post(amend("Consent", "Ask first.")), DOC_RAW, DOCUMENT_TOPIC, [])
    (new,) = changes.recorded
    assert new.id == amendment_id(40, 1) and changes.kept == (new.id,)
    assert (new.post_id, new.index, new.topic_id, new.proposer, new.status) == (40, 1, 7, "alice", OPEN)
    assert (new.section_slug, new.section_title, new.text) == ("consent", "Consent", "Ask first.")
    assert new.base_fingerprint == CONSENT.fingerprint
    assert new.history == (f"{WHEN} proposed by alice",)
    assert changes.withdrawn == () and changes.problems == ()
    assert changes.sections == {"consent"}


def test_proposals_keep_the_posts_order_and_an_unknown_section_is_a_problem() -> None:
    raw = amend("Care", "Be gentle.") + "\n" + amend("Nowhere", "Lost.") + "\n" + amend("1", "Ask first.")
    changes = gathered(post(raw), DOC_RAW, DOCUMENT_TOPIC, [])
    assert changes.kept == (amendment_id(40, 1), amendment_id(40, 3))
    assert [a.section_slug for a in changes.recorded] == ["care", "consent"]
    assert changes.problems == (unknown_section_problem("Nowhere", DOC).message,)
    assert changes.sections == {"care", "consent"}


def test_the_posts_own_problems_come_before_unknown_sections() -> None:
    raw = amend("Nowhere", "Lost.") + "\n[amend]\nno section\n[/amend]"
    _, own = parse_proposals(raw)
    changes = gathered(post(raw), DOC_RAW, DOCUMENT_TOPIC, [])
    assert own and changes.problems == (*[p.message for p in own], unknown_section_problem("Nowhere", DOC).message)
    assert changes.kept == () and changes.recorded == ()


def test_an_unchanged_proposal_is_kept_not_recorded_again() -> None:
    existing = stored()
    changes = gathered(post(amend("Consent", "Ask first.")), DOC_RAW, DOCUMENT_TOPIC, [existing])
    assert changes.recorded == () and changes.withdrawn == ()
    assert changes.kept == (existing.id,) and changes.sections == {"consent"}


@pytest.mark.parametrize(("section", "text"), [("Consent", "Ask, always."), ("Care", "Ask first.")])
def test_an_open_proposal_the_proposer_edited_is_refreshed(section: str, text: str) -> None:
    existing = record(stored(), "2026-11-15T09:00:00Z", "proposed by alice")
    changes = gathered(post(amend(section, text)), DOC_RAW, DOCUMENT_TOPIC, [existing])
    (refreshed,) = changes.recorded
    target = DOC.find(section)
    assert target is not None
    assert (refreshed.id, refreshed.text, refreshed.section_slug) == (existing.id, text, target.slug)
    assert (refreshed.section_title, refreshed.base_fingerprint) == (target.title, target.fingerprint)
    assert refreshed.history == (*existing.history, f"{WHEN} edited by the proposer")
    assert changes.sections == {target.slug}


@pytest.mark.parametrize("status", [DRAFTED, APPLIED, REJECTED, WITHDRAWN, STALE])
def test_a_proposal_no_longer_open_is_never_refreshed_and_keeps_its_section(status: str) -> None:
    existing = stored(status=status)  # on "consent"; the edited post now names "care"
    changes = gathered(post(amend("Care", "Something else.")), DOC_RAW, DOCUMENT_TOPIC, [existing])
    assert changes.recorded == () and changes.withdrawn == ()
    assert changes.kept == (existing.id,)
    assert changes.sections == {"consent"}


def test_an_open_proposal_taken_out_of_the_post_is_withdrawn_and_a_decided_one_stays() -> None:
    kept, removed, drafted = stored(1), stored(2, section="care"), stored(3, status=DRAFTED)
    changes = gathered(post(amend("Consent", "Ask first.")), DOC_RAW, DOCUMENT_TOPIC, [kept, removed, drafted])
    (withdrawn,) = changes.withdrawn
    assert withdrawn.id == removed.id and withdrawn.status == WITHDRAWN
    assert withdrawn.history == (f"{WHEN} {REMOVED_FROM_THE_POST}",)
    assert changes.kept == (kept.id,) and changes.recorded == ()
    assert changes.sections == {"consent"}  # a withdrawn proposal's section is no longer discussed


def test_gathered_refuses_amendments_of_another_post() -> None:
    with pytest.raises(ValueError, match="another post"):
        gathered(post(amend("Consent", "Ask first.")), DOC_RAW, DOCUMENT_TOPIC, [stored(post_id=41)])


def test_a_reply_in_the_document_topic_that_quotes_and_proposes_nothing_is_general() -> None:
    assert gathered(post("Thanks!", topic_id=DOCUMENT_TOPIC), DOC_RAW, DOCUMENT_TOPIC, []).sections == {GENERAL_SLUG}
    assert gathered(post("Thanks!"), DOC_RAW, DOCUMENT_TOPIC, []).sections == frozenset()
    # a proposal, even one of an unknown section, is not general discussion
    unknown = post(amend("Nowhere", "Lost."), topic_id=DOCUMENT_TOPIC)
    assert gathered(unknown, DOC_RAW, DOCUMENT_TOPIC, []).sections == frozenset()


def test_a_quote_of_the_document_counts_for_its_section_wherever_it_is() -> None:
    raw = doc_quote("Ask before you share someone's story") + "\nNot sure."
    for topic in (7, DOCUMENT_TOPIC):
        assert discussed_sections(post(raw, topic_id=topic), DOC, DOCUMENT_TOPIC, proposes=False) == {"consent"}
    raw += "\n" + amend("Care", "Be gentle.")
    assert gathered(post(raw), DOC_RAW, DOCUMENT_TOPIC, []).sections == {"consent", "care"}


def test_a_quote_of_another_topic_is_not_discussion_of_the_document() -> None:
    raw = '[quote="bob, post:1, topic:99"]\nAsk before you share someone\'s story\n[/quote]'
    assert discussed_sections(post(raw), DOC, DOCUMENT_TOPIC, proposes=False) == set()


def test_without_a_document_every_proposal_is_an_unknown_section() -> None:
    changes = gathered(post(amend("Consent", "Ask first.")), "", DOCUMENT_TOPIC, [stored()])
    assert changes.kept == () and changes.recorded == ()
    assert len(changes.problems) == 1 and "(none yet)" in changes.problems[0]
    assert [a.id for a in changes.withdrawn] == [amendment_id(40, 1)]  # no longer a proposal of a known section


def test_proposed_amendment_refuses_another_proposals_amendment() -> None:
    proposal = Proposal(index=2, section_ref="Consent", text="Ask first.")
    with pytest.raises(ValueError, match="is not proposal 2"):
        proposed_amendment(post(""), proposal, CONSENT, stored(1))


def test_withdrawals_withdraw_only_open_amendments_not_kept() -> None:
    amendments = [stored(1), stored(2), stored(3, status=DRAFTED), stored(4, status=WITHDRAWN)]
    withdrawn = withdrawals(amendments, when="", why="the post was deleted", keep=[amendment_id(40, 2)])
    assert [(a.id, a.status, a.history) for a in withdrawn] == [
        (amendment_id(40, 1), WITHDRAWN, (" the post was deleted",))
    ]
    assert withdrawals([], when=WHEN, why="gone") == []


MEMBER_TEXT = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.sampled_from(
            [
                amend("Consent", "Ask first."),
                amend("2", "Be kind."),
                amend("Nope", "x"),
                "[amend]",
                "[/amend]",
                '[amend section="Care"]',
                doc_quote("We look after each other"),
                "```",
                "\n",
                "text",
            ]
        ),
        max_size=8,
    ).map("\n".join),
)


@settings(max_examples=150, deadline=None)
@given(
    raw=MEMBER_TEXT,
    topic=st.sampled_from([7, DOCUMENT_TOPIC]),
    statuses=st.lists(st.sampled_from([OPEN, DRAFTED, APPLIED, WITHDRAWN]), max_size=3),
)
def test_whatever_a_member_writes_gathering_never_raises_and_stays_consistent(
    raw: str, topic: int, statuses: list[str]
) -> None:
    existing = [stored(i + 1, status=status) for i, status in enumerate(statuses)]
    changes = gathered(post(raw, topic_id=topic), DOC_RAW, DOCUMENT_TOPIC, existing)
    recorded, withdrawn = {a.id for a in changes.recorded}, {a.id for a in changes.withdrawn}
    assert recorded <= set(changes.kept) and not withdrawn & set(changes.kept)
    assert all(a.post_id == 40 and a.status == OPEN for a in changes.recorded)
    assert {a.id for a in existing if a.status == OPEN} - set(changes.kept) == withdrawn
    assert changes.sections <= {s.slug for s in DOC.sections} | {GENERAL_SLUG}


# ================================================================================================ support


def test_is_open() -> None:
    assert is_open(stored()) and not is_open(None)
    assert not any(is_open(stored(status=status)) for status in (DRAFTED, APPLIED, REJECTED, WITHDRAWN, STALE))


def test_seen_support_counts_the_proposer_and_distinct_likers_in_any_case() -> None:
    assert seen_support("alice", []) == 1
    assert seen_support("alice", ["bob", "Bob", "carol"]) == 3
    assert seen_support("Alice", ["alice", "ALICE"]) == 1  # the proposer's own like adds nothing


def support(*likers: Voter, discussants: tuple[str, ...] = (), threshold: int = 3, quorum: float = 0.0) -> Support:
    return confirmed_support(
        stored(), likers, discussants, bot_username=BOT, min_trust_level=1, threshold=threshold, quorum=quorum
    )


def test_confirmed_support_counts_only_likers_who_may_count() -> None:
    result = support(Voter("bob", 1), Voter("BOB", 1), Voter(BOT, 4), Voter("newbie", 0), Voter("sus", 2, True))
    assert result.supporters == ("alice", "bob") and result.count == 2 and not result.reached
    assert support(Voter("bob", 1), Voter("carol", 2)).reached
    assert not support(Voter("bob", 1), Voter("carol", 2), threshold=4).reached


def test_a_quorum_counts_the_sections_distinct_discussants() -> None:
    voters = (Voter("bob", 1), Voter("carol", 1))
    eight = tuple(f"m{i}" for i in range(8))
    assert support(*voters, discussants=eight, quorum=0.5).reached is False  # 3 of 8 < half
    assert support(*voters, discussants=("m1",) * 8 + ("m2",), quorum=0.5).reached  # 2 distinct
    assert support(*voters, discussants=eight).reached  # no quorum set
    assert support(*voters, quorum=0.5).reached  # nobody discussed it


def test_support_is_recorded_short_of_a_draft_or_with_the_draft() -> None:
    short = Support(("alice", "bob"), reached=False)
    confirmed = support_confirmed(stored(), short, WHEN)
    assert (confirmed.status, confirmed.supporters, confirmed.history) == (OPEN, 2, (f"{WHEN} support confirmed at 2",))
    enough = Support(("alice", "bob", "carol"), reached=True)
    drafted = drafted_as(stored(), enough, 91, WHEN)
    assert (drafted.status, drafted.draft_topic_id, drafted.supporters) == (DRAFTED, 91, 3)
    assert drafted.history == (f"{WHEN} drafted with 3 supporters",)
    with pytest.raises(ValueError, match="support is reached"):
        drafted_as(stored(), short, 91, WHEN)


def test_a_draft_credits_only_supporters_who_consented() -> None:
    assert credited(("alice", "Bob", "carol"), ["bob", "ALICE", "dave"]) == ["alice", "Bob"]
    assert credited(("alice",), []) == []


def test_a_draft_links_the_proposal_first_then_the_discussion() -> None:
    assert source_post_ids(stored(), [52, 40, 41]) == [40, 41, 52]
    assert source_post_ids(stored(), []) == [40]


def test_current_section() -> None:
    assert current_section(DOC_RAW, "care") == CARE
    assert current_section(DOC_RAW, "gone") is None
    assert current_section(None, "care") is None and current_section("", "care") is None


# ================================================================================================ authority


def test_a_moderator_is_staff_or_in_the_moderators_group_in_any_case() -> None:
    assert is_moderator(staff=True, groups=(), moderators_group="")
    assert is_moderator(staff=False, groups=("trust_level_2", "COC-Moderators"), moderators_group="coc-moderators")
    assert not is_moderator(staff=False, groups=("coc-moderators-2",), moderators_group="coc-moderators")
    assert not is_moderator(staff=False, groups=("",), moderators_group="")  # no group set: staff only
    assert not is_moderator(staff=False, groups=("coc-moderators",), moderators_group="")


def test_only_withdraw_is_the_proposers() -> None:
    assert proposer_only("withdraw")
    assert not proposer_only("approve") and not proposer_only("reject") and not proposer_only("")


def decision(
    command: Command, actor: str, *, staff: bool = False, groups: tuple[str, ...] = (), status: str = DRAFTED
) -> Decision:
    return command_decision(
        stored(status=status), command, actor=actor, staff=staff, groups=groups, moderators_group="coc-moderators"
    )


def test_command_decision_takes_authority_from_the_forums_record() -> None:
    approve, reject, withdraw = Command("approve", ""), Command("reject", "  too vague "), Command("withdraw", "")
    assert decision(approve, "dave").outcome == "not_allowed"
    assert decision(approve, "alice").outcome == "not_allowed"  # the proposer is not a moderator
    assert decision(approve, "dave", groups=("coc-moderators",)).outcome == APPLIED
    assert decision(reject, "mod", staff=True) == decision(reject, "mod", groups=("Coc-Moderators",))
    assert (decision(reject, "mod", staff=True).outcome, decision(reject, "mod", staff=True).reason) == (
        REJECTED,
        "too vague",
    )
    assert decision(withdraw, "mod", staff=True).outcome == "not_allowed"
    assert decision(withdraw, "ALICE").outcome == WITHDRAWN
    assert decision(approve, "mod", staff=True, status=APPLIED).outcome == "ignored"
    assert decision(Command("delete", ""), "mod", staff=True).outcome == "ignored"


def test_command_decision_leaves_staleness_to_the_application() -> None:
    """The command is judged on the amendment's own fingerprint: only `application` reads the section."""
    moved = record(stored(status=DRAFTED), WHEN, "drafted", base_fingerprint="an older text")
    result = command_decision(moved, Command("approve", ""), actor="mod", staff=True, groups=(), moderators_group="")
    assert result.outcome == APPLIED
    assert application(moved, DOC_RAW).stale


# ================================================================================================ staleness


def test_is_stale_when_the_section_changed_or_is_gone() -> None:
    amendment = stored()
    assert not is_stale(amendment, CONSENT)
    assert is_stale(amendment, CARE)
    assert is_stale(amendment, None)


def test_application_puts_the_text_in_its_section_only() -> None:
    applied = application(stored(text="Always ask first."), DOC_RAW)
    assert not applied.stale
    after = parse_document(applied.raw)
    assert after.find("consent").body.strip() == "Always ask first."  # type: ignore[union-attr]
    assert after.find("care") == CARE and after.preamble == DOC.preamble


def test_application_neutralizes_mentions() -> None:
    applied = application(stored(text="Ask @everyone and @alice first."), DOC_RAW)
    assert f"@{ZWSP}everyone" in applied.raw and f"@{ZWSP}alice" in applied.raw and "@everyone" not in applied.raw


def test_an_application_already_made_is_the_same_text() -> None:
    amendment = stored(text="Always ask @bob first.")
    once = application(amendment, DOC_RAW)
    assert application(amendment, once.raw) == once  # the section already reads so: nothing left to change
    assert once.raw != DOC_RAW


def test_an_application_to_a_changed_or_missing_section_is_stale() -> None:
    changed = DOC_RAW.replace("Ask before you share", "Never share")
    assert application(stored(), changed).stale and application(stored(), changed).raw == ""
    assert application(stored(), DOC_RAW.replace("## 1. Consent", "## 1. Agreement")).stale
    assert application(stored(), "").stale


def test_an_application_that_would_change_the_sections_is_refused() -> None:
    with pytest.raises(ValueError):
        application(stored(text="Ask first.\n\n## 9. New section\n\nSneaky."), DOC_RAW)


# ================================================================================================ outcome


@pytest.mark.parametrize(
    ("status", "tags"),
    [
        (DRAFTED, [TAG_DRAFT]),
        (APPLIED, [TAG_DRAFT, TAG_APPROVED]),
        (REJECTED, [TAG_DRAFT, TAG_REJECTED]),
        (WITHDRAWN, [TAG_DRAFT]),
        (STALE, [TAG_DRAFT]),
    ],
)
def test_outcome_tags(status: str, tags: list[str]) -> None:
    assert outcome_tags(status) == tags


@pytest.mark.parametrize("status", [OPEN, "ignored", "not_allowed", "", "approved"])
def test_outcome_tags_refuse_what_no_draft_is(status: str) -> None:
    with pytest.raises(ValueError):
        outcome_tags(status)


def test_decided_verb() -> None:
    assert [decided_verb(o) for o in (APPLIED, REJECTED, WITHDRAWN, STALE)] == ["approve", "reject", "withdraw", None]
    for bad in (OPEN, DRAFTED, "not_allowed", "approve"):
        with pytest.raises(ValueError):
            decided_verb(bad)


def test_decision_effects() -> None:
    key = amendment_id(40, 1)
    assert decision_effects(key, APPLIED) == [decision_effect(key), announce_effect(key)]
    assert decision_effects(key, REJECTED) == [decision_effect(key), rejection_effect(key)]
    for outcome in (WITHDRAWN, STALE, "not_allowed"):  # a rebuild reads any outcome back
        assert decision_effects(key, outcome) == [decision_effect(key)]


def test_decision_line() -> None:
    assert decision_line(REJECTED, "mod") == "rejected by mod"
    assert decision_line(APPLIED, "mod", version=4) == "applied by mod (document version 4)"
    assert decision_line(APPLIED, "mod", version=0) == "applied by mod"
    assert decision_line(REJECTED, "mod", proposer="alice", refused="") == "rejected by mod"
    assert (
        decision_line(REJECTED, "mod", proposer="alice", refused="messages are off")
        == "rejected by mod; alice could not be sent a message (the forum said: messages are off)"
    )


def test_decided_records_the_outcome_and_refuses_what_is_not_one() -> None:
    amendment = decided(
        stored(status=DRAFTED), WHEN, "rejected by mod", outcome=REJECTED, decided_by="mod", reason="No."
    )
    assert (amendment.status, amendment.decided_by, amendment.reason) == (REJECTED, "mod", "No.")
    assert amendment.history[-1] == f"{WHEN} rejected by mod"
    for bad in (OPEN, DRAFTED, "not_allowed", "ignored"):
        with pytest.raises(ValueError):
            decided(stored(status=DRAFTED), WHEN, "x", outcome=bad, decided_by="mod", reason="")
