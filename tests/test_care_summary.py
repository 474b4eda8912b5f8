"""The care group's weekly summary as the team reads it (plugin.text.care.weekly_summary): pure, no I/O."""

from __future__ import annotations

import pytest

from plugin.domain.care import CLOSED, PICKED_UP, CareRequest, CareSummary, summarize
from plugin.domain.engagement import week_bounds
from plugin.domain.names import care_summary_effect, care_summary_id
from plugin.text.care import weekly_summary

WEEK = "2026-W10"


def text(summary: CareSummary) -> tuple[str, str]:
    return weekly_summary(week=WEEK, summary=summary, group="peer-support", backup="moderators")


def test_a_week_of_requests_from_the_store_to_the_words() -> None:
    start = week_bounds(WEEK)[0].timestamp()
    requests = [
        CareRequest(1, "bob", start + 3600, status=PICKED_UP, picked_by="pat", picked_at=start + 3600 + 10 * 60),
        CareRequest(2, "erin", start + 7200, status=CLOSED, picked_by="sam", picked_at=start + 7200 + 2 * 3600),
        CareRequest(3, "dave", start + 9000, escalated=True),
        CareRequest(4, "frank", start - 60, escalated=True),  # the week before
    ]
    title, raw = text(summarize(requests, start=start, end=start + 7 * 86400))
    assert title == "Care in the week of 2–8 March 2026"
    assert raw.startswith("Hello everyone,\n\nHere is how the week of 2–8 March 2026 went")
    assert (
        "- **3 requests** for direct support came in.\n"
        "- **2 requests** were picked up by one of you: half of them within **10 minutes**, and nine in ten "
        "within **2 hours**.\n"
        "- **1 request** waited long enough that the moderators group was alerted.\n"
        "- **1 request** is still waiting for someone to pick it up: its conversation is in this group's messages.\n"
    ) in raw
    assert "peer-support group only" in raw and "public weekly digest" in raw
    for name in ("bob", "erin", "dave", "frank", "pat", "sam"):
        assert name not in raw


@pytest.mark.parametrize(
    ("summary", "lines"),
    [
        (
            CareSummary(1, 1, 25.0, 25.0, 0, 0),
            [
                "- **1 request** for direct support came in.",
                "- **1 request** was picked up by one of you, after **25 minutes**.",
                "- No request waited long enough to alert the moderators group.",
                "- Every request has been picked up or closed.",
            ],
        ),
        (
            CareSummary(2, 0, None, None, 2, 2),
            [
                "- **2 requests** for direct support came in.",
                "- None of them has been picked up yet.",
                "- **2 requests** waited long enough that the moderators group was alerted.",
                "- **2 requests** are still waiting for someone to pick them up: their conversations are in this "
                "group's messages.",
            ],
        ),
    ],
)
def test_one_and_none_are_said_as_people_say_them(summary: CareSummary, lines: list[str]) -> None:
    raw = text(summary)[1]
    assert [line for line in raw.splitlines() if line.startswith("- ")] == lines


def test_a_quiet_week_is_a_short_kind_note() -> None:
    title, raw = text(summarize([], start=0, end=1))
    assert title == "Care in the week of 2–8 March 2026"
    assert "Nobody asked for direct support in the week of 2–8 March 2026." in raw and "Thank you" in raw
    assert "- " not in raw and "0" not in raw.replace("2026", "")  # no list of zeros


def test_its_names_are_per_week() -> None:
    assert care_summary_id(WEEK) == "coc-care-summary-2026-W10" and care_summary_effect(WEEK) == "care-summary-2026-W10"
    with pytest.raises(ValueError, match="ISO week"):
        care_summary_id("2026-10")
