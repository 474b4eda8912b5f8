"""The amendment lifecycle's pure rules: support counting, thresholds, who may decide, staleness."""
from __future__ import annotations

from plugin.domain.amendments import (APPLIED, DRAFTED, OPEN, REJECTED, STALE, WITHDRAWN, Amendment, Voter,
                               count_support, decide, reaches_threshold, record)
from plugin.domain.names import amendment_id

BOT = "care-bot"


def drafted(**changes: object) -> Amendment:
    base = Amendment(id=amendment_id(40, 1), post_id=40, index=1, topic_id=7, proposer="alice", section_slug="consent",
                     section_title="Consent", base_fingerprint="f1", text="Ask first.", status=DRAFTED,
                     draft_topic_id=90)
    return record(base, "2026-11-16T10:00:00Z", "drafted", **changes)


def test_amendment_id_is_the_design_external_id() -> None:
    assert amendment_id(98765, 2) == "coc-amendment-98765-2"


def test_support_counts_distinct_trusted_members_and_the_proposer() -> None:
    likers = [Voter("bob", 1), Voter("Bob", 1), Voter("carol", 2), Voter("alice", 3),  # proposer's own like
              Voter(BOT, 4), Voter("newbie", 0), Voter("sus", 3, suspended=True)]
    assert count_support("alice", likers, bot_username=BOT, min_trust_level=1) == ["alice", "bob", "carol"]


def test_min_trust_level_is_configurable() -> None:
    assert count_support("alice", [Voter("newbie", 0)], bot_username=BOT, min_trust_level=0) == ["alice", "newbie"]


def test_threshold_and_optional_quorum() -> None:
    assert not reaches_threshold(2, 3)
    assert reaches_threshold(3, 3)
    assert reaches_threshold(3, 3, discussants=10, quorum=0.0)
    assert not reaches_threshold(3, 3, discussants=10, quorum=0.5)
    assert reaches_threshold(5, 3, discussants=10, quorum=0.5)


def test_only_moderators_approve_or_reject() -> None:
    amendment = drafted()
    assert decide(amendment, verb="approve", reason="", actor="dave", actor_is_moderator=False,
                  current_fingerprint="f1").outcome == "not_allowed"
    assert decide(amendment, verb="reject", reason="no", actor="alice", actor_is_moderator=False,
                  current_fingerprint="f1").outcome == "not_allowed"
    assert decide(amendment, verb="approve", reason="", actor="mod", actor_is_moderator=True,
                  current_fingerprint="f1").outcome == APPLIED
    rejected = decide(amendment, verb="reject", reason="  too vague ", actor="mod", actor_is_moderator=True,
                      current_fingerprint=None)
    assert (rejected.outcome, rejected.reason) == (REJECTED, "too vague")


def test_only_the_proposer_withdraws() -> None:
    amendment = drafted()
    assert decide(amendment, verb="withdraw", reason="", actor="mod", actor_is_moderator=True,
                  current_fingerprint="f1").outcome == "not_allowed"
    assert decide(amendment, verb="withdraw", reason="", actor="ALICE", actor_is_moderator=False,
                  current_fingerprint="f1").outcome == WITHDRAWN


def test_a_changed_or_missing_section_makes_approval_stale() -> None:
    amendment = drafted()
    for fingerprint in ("f2", None):
        assert decide(amendment, verb="approve", reason="", actor="mod", actor_is_moderator=True,
                      current_fingerprint=fingerprint).outcome == STALE


def test_decided_or_open_amendments_ignore_commands() -> None:
    for status in (OPEN, APPLIED, REJECTED, WITHDRAWN, STALE):
        assert decide(drafted(status=status), verb="approve", reason="", actor="mod", actor_is_moderator=True,
                      current_fingerprint="f1").outcome == "ignored"


def test_record_keeps_history_in_order() -> None:
    amendment = record(drafted(), "2026-11-17T09:00:00Z", "applied by mod", status=APPLIED)
    assert amendment.status == APPLIED
    assert amendment.history == ("2026-11-16T10:00:00Z drafted", "2026-11-17T09:00:00Z applied by mod")
