"""Words members read: no internal id in anything the service posts.

Every template a member, the peer-support team or a moderator reads in the forum is rendered here with realistic
values, and what the forum shows (the hidden `[//]: # (…)` note left out: the forum never shows it) must hold no amendment id
(`5-1`, `coc-amendment-…`), no "post 17", and no pointer to the service's README.
"""
from __future__ import annotations

import re

import pytest

from plugin.domain.care import CareSummary
from plugin.domain.document import STARTER_TEXT, parse_document
from plugin.domain.engagement import WeekFigures
from plugin.domain.names import amendment_id
from plugin.domain.proposals import Problem, unknown_section_problem
from plugin.text import care, care_wording, digest, drafts

KEY = amendment_id(517, 1)                        # "coc-amendment-517-1"
DRAFT_URL = "https://forum.example.org/t/proposed-change-to-consent/88"
POST_URL = "https://forum.example.org/t/checking-in/41/3"
CONSENT = parse_document(STARTER_TEXT).find("consent")

_HIDDEN = re.compile(r"^\[//\]: # \(.*\)$", re.MULTILINE)
_INTERNAL = [
    re.compile(r"(?<![\w/.])\d+-\d+(?![\w/])"),   # an amendment's number: "517-1"
    re.compile(r"\bpost \d+", re.IGNORECASE),     # "(post 517)"
    re.compile(r"\bamendment \d", re.IGNORECASE),
    re.compile(r"coc-amendment", re.IGNORECASE),
    re.compile(r"readme", re.IGNORECASE),
    re.compile(r"\b\d{4}-W\d{2}\b"),              # an ISO week key: "2026-W47"
]


def visible(text: str) -> str:
    return _HIDDEN.sub("", text)


def internal_ids(text: str) -> list[str]:
    return [m.group() for pattern in _INTERNAL for m in pattern.finditer(visible(text))]


def rendered() -> dict[str, str]:
    """Every member-visible text, by a name for the failure message."""
    out: dict[str, str] = {}
    for nth, drafted_on in ((1, ""), (1, "14 March 2026"), (2, "14 March 2026")):
        title, body = drafts.render_draft(
            amendment_id=KEY, section_title=CONSENT.title, section_number=CONSENT.number, current=CONSENT.body,
            proposed="We ask before we share anything about another member, and we ask again if time has passed.",
            supporters=4, credited=["alice"], source_links=[POST_URL], threshold=3, drafted_on=drafted_on, nth=nth)
        out[f"draft title {nth} {drafted_on}"], out[f"draft body {nth}"] = title, body
    for verb in ("approve", "reject", "withdraw"):
        out[f"decision {verb}"] = drafts.render_decision(verb=verb, decided_by="sam", reason="Too broad for now.",
                                                         about=KEY)
        out[f"not allowed {verb}"] = drafts.render_not_allowed(verb=verb, about=f"{KEY} answering post 520")
    out["stale"] = drafts.render_stale(section_title="Consent", about=KEY)
    out["announcement"] = drafts.render_applied_announcement(section_title="Consent", draft_url=DRAFT_URL)
    out["edit reason"] = drafts.edit_reason("Consent", "sam")
    out["rejection title"], out["rejection body"] = drafts.render_rejection_pm(
        section_title="Consent", reason="Too broad for now.", draft_url=DRAFT_URL)
    problems = [Problem("Your first [amend] block never ends."),
                unknown_section_problem("Consnet", parse_document(STARTER_TEXT))]
    out["problem reply"] = drafts.render_problem_reply(problems, about="post 517")

    out["team title"], out["team body"] = care.team_message(member="bob", group="peer-support", post_url=POST_URL, private=False)
    out["team title private"], out["team body private"] = care.team_message(
        member="bob", group="peer-support", post_url="", private=True)
    out["member title"], out["member body"] = care.member_message(member="bob", group="peer-support")
    out["unreachable"] = care.unreachable_notice(member="bob", reason="bob has chosen not to receive messages")
    out["relay"] = care.relay(member="bob", raw="Thank you, I'd like to talk tonight.", number=2)
    out["relay edited"] = care.relay(member="bob", raw="Tomorrow is better.", number=2, changed="14:05:09")
    out["pickup"] = care.pickup_notice(picker="kim")
    out["pickup anonymous"] = care.pickup_notice(picker=None)
    out["closed"] = care.closed_note(closer="kim", member="bob")
    out["reminder"] = care.reminder(member="bob", waited_seconds=1800)
    out["alert title"], out["alert body"] = care.alert(member="bob", group="peer-support", backup="moderators",
                                                       waited_seconds=7200)
    summary = CareSummary(requests=3, picked_up=2, pickup_median_minutes=12.0, pickup_p90_minutes=40.0,
                          escalated=1, still_open=1)
    out["summary title"], out["summary body"] = care.weekly_summary(week="2026-W47", summary=summary,
                                                                    group="peer-support", backup="moderators")
    out["wording title"], out["wording body"] = care_wording.conversation()

    figures = WeekFigures(
        week="2026-W47", engaged_members=12, new_contributors=2, returning_contributors=1, inactive_contributors=4,
        topics=5, posts=40, replies=35, likes=22, ttfr_median_hours=2.5, ttfr_p90_hours=30.0, ttfr_mean_hours=0.25,
        topics_no_response_24h=0.2, topics_no_response_7d=0.0, reciprocity=0.42, gini=0.31, absence_factor=3)
    out["digest title"], out["digest body"] = digest.render_digest(
        week="2026-W47", figures=figures, previous=None, sections=[], threads=[(41, "Checking in", 3)],
        new_count=2, credited_names=["alice"], chart_url="upload://chart.png")
    return out


@pytest.mark.parametrize("name", sorted(rendered()))
def test_no_internal_id_in_what_members_read(name: str) -> None:
    text = rendered()[name]
    assert text.strip(), f"{name} is empty"
    assert internal_ids(text) == [], f"{name}: {visible(text)!r}"


def test_the_draft_still_names_its_amendment_where_only_machines_look() -> None:
    body = rendered()["draft body 1"]
    assert f"[//]: # ({KEY})" in body and KEY not in visible(body)


def test_the_check_itself_finds_the_old_ids() -> None:
    """The patterns catch what the service used to write (so a passing test means something)."""
    for old in ("Proposed change to 3. Consent (amendment 517-1)", "Amendment `coc-amendment-517-1`",
                "*About: coc-amendment-517-1, post 520*", "A member asked for direct support (post 517)",
                "Amendment coc-amendment-517-1 approved by sam", "in the companion's README",
                "Weekly digest: 16–22 November 2026 (2026-W47)"):
        assert internal_ids(old), old
    assert internal_ids("[//]: # (coc-amendment-517-1)") == []
