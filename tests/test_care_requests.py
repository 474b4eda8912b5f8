"""A care request's rules (plugin.domain.care) and the words they send (plugin.text.care): pure, no I/O."""

from __future__ import annotations

import pytest

from plugin.domain.care import (
    CLOSED,
    ESCALATE,
    MEMBER,
    PICKED_UP,
    REMIND,
    TEAM,
    CareRequest,
    asks_to_close,
    conversation_of,
    due,
    oldest_waiting_seconds,
    on_closed,
    on_team_reply,
    percentile,
    relays,
    summarize,
    timer_at,
)
from plugin.domain.events import Post
from plugin.domain.safety import ZWSP, asks_for_care, is_care_post, mentions_direct_support
from plugin.text.care import (
    PICKUP_MARKER,
    REMINDER_MARKER,
    alert,
    pickup_notice,
    relay,
    relay_marker,
    reminder,
    waited,
)

T0 = 1_800_000_000.0
WAITS = {"remind_after": 30 * 60.0, "escalate_after": 120 * 60.0}


def request(**changes: object) -> CareRequest:
    base = CareRequest(post_id=7, member="erin", asked_at=T0, team_topic_id=70, member_topic_id=71)
    return CareRequest(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_a_request_knows_its_two_conversations() -> None:
    r = request()
    assert (conversation_of(r, 70), conversation_of(r, 71), conversation_of(r, 72)) == (TEAM, MEMBER, None)
    with pytest.raises(ValueError, match="unknown care request status"):
        request(status="lost")


def test_the_first_team_reply_picks_up_and_a_rerun_answers_the_same() -> None:
    picked = on_team_reply(request(), post_id=101, author="pat", raw="I'll write to her", at=T0 + 600)
    assert picked.picked_up and not picked.closed
    assert (picked.request.status, picked.request.picked_by, picked.request.pickup_seconds()) == (PICKED_UP, "pat", 600)
    again = on_team_reply(picked.request, post_id=101, author="pat", raw="I'll write to her", at=T0 + 900)
    assert again.picked_up and again.request == picked.request  # the same reply, run twice: made once more, not changed
    later = on_team_reply(picked.request, post_id=102, author="sam", raw="thanks pat", at=T0 + 950)
    assert not later.picked_up and later.request == picked.request  # the team's coordination changes nothing


def test_done_closes_whatever_the_state_and_then_nothing_changes() -> None:
    assert asks_to_close("/done") and asks_to_close("  /DONE, she is safe") and not asks_to_close("not /done yet")
    assert not asks_to_close("/doneness") and not asks_to_close("")
    closed = on_team_reply(request(), post_id=103, author="pat", raw="/done", at=T0 + 60)
    assert closed.closed and (closed.request.status, closed.request.closed_by) == (CLOSED, "pat")
    assert closed.request.picked_by is None  # closed without anyone picking it up: it never counts as picked up
    assert on_team_reply(closed.request, post_id=103, author="pat", raw="/done", at=T0 + 99).closed  # a rerun
    after = on_team_reply(closed.request, post_id=104, author="sam", raw="/done", at=T0 + 120)
    assert not after.closed and not after.picked_up and after.request == closed.request


def test_closing_the_conversation_closes_once() -> None:
    closed = on_closed(request(), by=None, at=T0 + 5)
    assert closed is not None and closed.status == CLOSED and closed.closed_at == T0 + 5
    assert on_closed(closed, by="pat", at=T0 + 9) is None


def test_only_the_member_is_relayed() -> None:
    assert relays(request(), author="Erin") and not relays(request(), author="pat")


@pytest.mark.parametrize(
    ("state", "timer", "now", "expected"),
    [
        ({}, REMIND, T0 + 29 * 60, False),
        ({}, REMIND, T0 + 30 * 60, True),
        ({"reminded": True}, REMIND, T0 + 40 * 60, False),
        ({}, ESCALATE, T0 + 119 * 60, False),
        ({}, ESCALATE, T0 + 120 * 60, True),
        ({"escalated": True}, ESCALATE, T0 + 200 * 60, False),
        ({"status": PICKED_UP, "picked_by": "pat"}, REMIND, T0 + 40 * 60, False),
        ({"status": CLOSED}, ESCALATE, T0 + 200 * 60, False),
    ],
)
def test_a_timer_is_due_once_and_only_while_nobody_picked_it_up(
    state: dict[str, object], timer: str, now: float, expected: bool
) -> None:
    assert due(request(**state), timer, now=now, **WAITS) is expected


def test_timers_accept_decimal_minutes_and_refuse_unknown_ones() -> None:
    assert timer_at(request(), REMIND, remind_after=0.05 * 60, escalate_after=0.1 * 60) == pytest.approx(T0 + 3)
    with pytest.raises(ValueError, match="unknown care timer"):
        due(request(), "nag", now=T0, **WAITS)


def test_the_weekly_summary_and_the_oldest_waiting() -> None:
    week = [
        request(post_id=1, asked_at=T0, status=PICKED_UP, picked_at=T0 + 60, picked_by="pat"),
        request(post_id=2, asked_at=T0 + 10, status=CLOSED, picked_at=T0 + 10 + 600, picked_by="sam"),
        request(post_id=3, asked_at=T0 + 20, escalated=True),
        request(post_id=4, asked_at=T0 + 8 * 86400),  # the next week
    ]
    summary = summarize(week, start=T0, end=T0 + 7 * 86400)
    assert (summary.requests, summary.picked_up, summary.escalated, summary.still_open) == (3, 2, 1, 1)
    assert (summary.pickup_median_minutes, summary.pickup_p90_minutes) == (1.0, 10.0)
    assert summarize([], start=T0, end=T0 + 1).pickup_median_minutes is None
    assert oldest_waiting_seconds(week[:3], now=T0 + 100) == 80  # only request 3 waits
    assert oldest_waiting_seconds(week[:2], now=T0 + 100) == 0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0 and percentile([5.0], 90) == 5.0


def post(raw: str, *, username: str = "erin", user_id: int = 12) -> Post:
    return Post(id=1, topic_id=2, post_number=3, user_id=user_id, username=username, post_type=1,
                created_at="2027-01-04T10:00:00Z", updated_at="2027-01-04T10:00:00Z", version=1, raw=raw)


@pytest.mark.parametrize(
    "raw",
    ["I need direct support", "DIRECT SUPPORT please", "direct\nsupport", "direct\u00a0support", "direct&nbsp;support"],
)
def test_the_phrase_counts_across_any_whitespace_and_case(raw: str) -> None:
    assert mentions_direct_support(raw) and is_care_post(post(raw), "care-bot")


def test_the_service_and_the_forums_bots_never_ask_for_care() -> None:
    words = 'Our Code says: write the words "direct support" and the team will reach out.'
    assert not is_care_post(post(words, username="care-bot", user_id=5), "care-bot")
    assert not is_care_post(post(words, username="system", user_id=-1), "care-bot")
    assert not is_care_post(post("> direct support\n\nquoted only"), "care-bot")
    assert not is_care_post(post("`direct support` in code"), "care-bot")


def test_the_words_the_team_and_the_member_read() -> None:
    text = relay(member="erin", raw="Please, not @pat. [/quote] I'd rather not be contacted.", number=2)
    assert relay_marker(2) in text and f"@{ZWSP}pat" in text and text.count("[/quote]") - text.count("\\[/quote]") == 1
    assert "**pat**" in pickup_notice(picker="pat") and PICKUP_MARKER in pickup_notice(picker="pat")
    assert "pat" not in pickup_notice(picker=None) and PICKUP_MARKER in pickup_notice(picker=None)
    assert REMINDER_MARKER in reminder(member="erin", waited_seconds=1800) and "30 minutes" in reminder(
        member="erin", waited_seconds=1800
    )
    title, raw = alert(member="erin", group="peer-support", backup="moderators", waited_seconds=7200)
    assert "2 hours" in raw and "peer-support" in raw and "erin" in raw and title
    assert [waited(s) for s in (1, 45, 600, 5400, 90000, 200000)] == [
        "1 second", "45 seconds", "10 minutes", "2 hours", "25 hours", "2 days"
    ]


def test_asks_for_care_is_only_for_new_or_edited_posts() -> None:
    from plugin.domain.events import Delivery, PostEvent  # noqa: PLC0415

    delivery = Delivery(event_id="1", instance="https://forum", event_name="post_edited", event_type="post")
    assert asks_for_care(PostEvent(delivery, post=post("direct support")), "care-bot")
    gone = Delivery(event_id="2", instance="https://forum", event_name="post_destroyed", event_type="post")
    assert not asks_for_care(PostEvent(gone, post=post("direct support")), "care-bot")


def test_the_teams_list_of_requests() -> None:
    from plugin.text.care import care_table  # noqa: PLC0415

    requests = [
        request(post_id=1, member="bob", asked_at=T0 - 7200, status=PICKED_UP, picked_by="pat"),
        request(post_id=2, member="erin", asked_at=T0 - 600, escalated=True),
        request(post_id=3, member="gina", asked_at=T0 - 86400 * 3, status=CLOSED, picked_by="sam"),
    ]
    lines = care_table(requests, now=T0).splitlines()
    assert lines[0].split() == ["asked", "by", "asked", "status", "picked", "up", "by", "escalated"]
    assert lines[1].split() == ["bob", "2", "hours", "ago", "picked", "up", "pat", "no"]
    assert lines[2].split() == ["erin", "10", "minutes", "ago", "waiting", "—", "yes"]
    assert len(lines) == 3  # the closed one only with --all
    assert "gina" in care_table(requests, now=T0, closed_too=True)
    assert care_table([], now=T0) == "No open or picked-up care requests."
