"""Every engagement metric on small hand-built weeks; each expected answer is worked out beside it."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plugin.domain.engagement import (NEVER, PostFact, TopicStart, WeekActivity, absence_factor, check_week, contributors,
                               day_number, first_responses, gini, iso_week, parse_time, percentile, reciprocity,
                               reply_edges, response_summary, shift_week, summarize_week, week_bounds,
                               week_start_day, weeks_ending)

HOUR = 3600.0
MONDAY = parse_time("2026-11-16T00:00:00Z")     # 2026-W47 starts here


def at(hours: float) -> float:
    """A moment `hours` after the start of 2026-W47."""
    return MONDAY + hours * HOUR


# ------------------------------------------------------------------------------------------------ weeks


def test_iso_week_of_moments_in_utc() -> None:
    assert iso_week("2026-11-16T00:00:00.000Z") == "2026-W47"          # Monday 00:00 opens W47
    assert iso_week("2026-11-15T23:59:59.999Z") == "2026-W46"          # Sunday night still W46
    assert iso_week("2026-11-16T01:30:00+02:00") == "2026-W46"         # 23:30 UTC on Sunday
    assert iso_week("2027-01-01T12:00:00Z") == "2026-W53"              # 2026 has 53 ISO weeks (1 Jan 2026 = Thu)
    assert iso_week(datetime(2026, 11, 22, 23, 59, tzinfo=UTC)) == "2026-W47"
    assert iso_week(MONDAY) == "2026-W47"


def test_week_bounds_are_monday_to_monday_utc() -> None:
    start, end = week_bounds("2026-W47")
    assert start == datetime(2026, 11, 16, tzinfo=UTC)
    assert end == datetime(2026, 11, 23, tzinfo=UTC)
    assert week_bounds("2027-W01")[0] == datetime(2027, 1, 4, tzinfo=UTC)


def test_shifting_weeks_across_years() -> None:
    assert shift_week("2026-W53", 1) == "2027-W01"
    assert shift_week("2027-W01", -1) == "2026-W53"
    assert shift_week("2026-W47", -12) == "2026-W35"
    assert weeks_ending("2027-W02", 4) == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]


@pytest.mark.parametrize("bad", ["2026-47", "2026-W7", "2025-W53", "2026-W00", "week 47"])
def test_malformed_or_missing_weeks_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        check_week(bad)                                                  # 2025 has 52 ISO weeks only


def test_days_count_from_the_epoch_in_utc() -> None:
    assert day_number("1970-01-02T00:00:00Z") == 1
    assert week_start_day("2026-W47") == day_number("2026-11-16T12:00:00Z")


# ------------------------------------------------------------------------------------------------ statistics


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0.5) == 2.5          # sorted 1 2 3 4: rank (4-1)*0.5 = 1.5 → 2 + 0.5*(3-2)
    assert percentile(values, 0.9) == pytest.approx(3.7)   # rank 2.7 → 3 + 0.7*(4-3)
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([], 0.5) is None


def test_gini_of_equal_and_unequal_participation() -> None:
    assert gini([3, 3, 3, 3]) == 0.0
    # 0 0 0 4: Σ|xi-xj| over ordered pairs = 3*1*2*4 = 24; 2 n² mean = 2*16*1 = 32 → 0.75
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)
    # 1 2 3: Σ|xi-xj| = 2*(1+2+1) = 8; 2 n² mean = 2*9*2 = 36 → 2/9
    assert gini([3, 1, 2]) == pytest.approx(2 / 9)
    assert gini([7]) == 0.0
    assert gini([]) is None


def test_absence_factor_follows_the_chaoss_example() -> None:
    # CHAOSS: total 2,475, half 1,237.5; sorted 1000, 433 → 1,433 ≥ 1,237.5 after two contributors
    assert absence_factor([1000, 202, 90, 33, 332, 343, 42, 433]) == 2
    assert absence_factor([5, 5]) == 1              # half of 10 is 5: the first alone wrote it
    assert absence_factor([3, 3, 3]) == 2           # half of 9 is 4.5: 3 < 4.5 ≤ 6
    assert absence_factor([1]) == 1
    assert absence_factor([]) is None


def test_reciprocity_is_reciprocated_edges_over_edges() -> None:
    # a→b and b→a are reciprocated, a→c is not: 2 of 3 edges
    assert reciprocity([("a", "b"), ("b", "a"), ("a", "c")]) == pytest.approx(2 / 3)
    assert reciprocity([("a", "b"), ("a", "b")]) == 0.0      # a set of edges: the duplicate is one edge
    assert reciprocity([("a", "a"), ("b", "c")]) == 0.0      # no self-loops: one edge, unanswered
    assert reciprocity([("a", "a")]) is None
    assert reciprocity([]) is None


# ------------------------------------------------------------------------------------------------ responses


def test_first_response_skips_the_author_and_anything_before_the_topic() -> None:
    opened = [PostFact(1, "ann", 10, None, at(0), 1), PostFact(2, "bob", 20, None, at(0), 1),
              PostFact(3, "cy", 30, None, at(5), 1)]
    replies = [
        PostFact(11, "ann", 10, None, at(1), 2),     # ann in her own topic: no response
        PostFact(12, "bob", 10, None, at(-1), 3),    # before the topic (clock skew): no response
        PostFact(13, "cy", 10, None, at(3), 4),
        PostFact(14, "bob", 10, None, at(2), 5),     # the first that qualifies in topic 10
        PostFact(21, "bob", 20, None, at(1), 2),     # only bob himself in topic 20
        PostFact(31, "ann", 30, None, at(5), 2),     # at the very moment the topic opened: Discourse wants after
        PostFact(41, "ann", 40, None, at(1), 2),     # a topic not opened in these posts
    ]
    assert first_responses(opened, replies) == {10: at(2)}


def test_reply_edges_go_to_the_answered_post_else_the_topic_author() -> None:
    posts = [
        PostFact(1, "bob", 10, None, at(1), 2, reply_to="cy"),   # bob answers cy's post
        PostFact(2, "dee", 10, None, at(1), 3),                  # dee answers the topic: its author, ann
        PostFact(3, "eve", 20, None, at(1), 2),                  # topic 20's author is unknown: no edge
        PostFact(4, "ann", 10, None, at(1), 4),                  # ann in her own topic: no self-loop
        PostFact(5, "ann", 30, None, at(0), 1),                  # opening a topic is no reply
        PostFact(6, "bob", 10, None, at(2), 6, reply_to="cy"),   # the same edge again
    ]
    assert reply_edges(posts, {10: "ann", 30: "ann"}) == {("bob", "cy"), ("dee", "ann")}


def test_response_summary_over_a_week_of_topics() -> None:
    now = at(7 * 24 + 10)                          # Monday of the next week, 10:00
    topics = [
        TopicStart(1, at(0), at(1)),               # answered after 1 h
        TopicStart(2, at(0), at(3)),               # 3 h
        TopicStart(3, at(0), at(30)),              # 30 h: later than 24 h
        TopicStart(4, at(0), None),                # never answered, 178 h old
        TopicStart(5, at(170), None),              # never answered, only 8 h old: too young to judge at 24 h
    ]
    median, p90, average, no_24h, no_7d = response_summary(topics, now)
    assert median == 3.0                           # answered: 1 3 30 → median 3
    assert p90 == pytest.approx(24.6)              # rank (3-1)*0.9 = 1.8 → 3 + 0.8*(30-3) = 24.6
    assert average == pytest.approx(34 / 3)        # (1 + 3 + 30) / 3
    assert no_24h == pytest.approx(2 / 4)          # judged: topics 1-4 (≥ 24 h old); unanswered in 24 h: 3 and 4
    assert no_7d == pytest.approx(1 / 4)           # judged: 1-4 (≥ 168 h old: 178 h); unanswered in 7 days: 4


def test_response_summary_of_no_topics() -> None:
    assert response_summary([], at(0)) == (None, None, None, None, None)


# ------------------------------------------------------------------------------------------------ contributors


def test_new_returning_and_inactive_contributors() -> None:
    start = week_start_day("2026-W47")
    posters = ["ann", "bob", "cy", "dee"]
    earliest = {"ann": start + 2,      # first post ever this Wednesday: new
                "bob": start - 200,    # posted long ago, not in the 90 days before: returning
                "cy": start - 10,      # posted 10 days ago: a regular, neither new nor returning
                "dee": NEVER}          # seeded: posted before, when unknown; not in the window: returning
    window = {"cy", "eve", "fay"}      # posted in the 90 days before the week
    who = contributors(posters, earliest, window, start)
    assert who.new == {"ann"}
    assert who.returning == {"bob", "dee"}
    assert who.inactive == {"eve", "fay"}              # in the window, silent this week


def test_a_poster_with_no_known_history_is_new() -> None:
    start = week_start_day("2026-W47")
    assert contributors(["gus"], {}, set(), start).new == {"gus"}


# ------------------------------------------------------------------------------------------------ a whole week


def test_summarize_a_hand_built_week() -> None:
    start = week_start_day("2026-W47")
    posts = (
        PostFact(1, "ann", 10, 5, at(0), 1),                      # ann opens topic 10
        PostFact(2, "bob", 10, 5, at(2), 2, reply_to="ann"),      # bob answers after 2 h
        PostFact(3, "ann", 10, 5, at(3), 3, reply_to="bob"),
        PostFact(4, "ann", 10, 5, at(4), 4, reply_to="bob"),
        PostFact(5, "cy", 11, 6, at(24), 1),                      # cy opens topic 11; nobody answers
        PostFact(6, "ann", 11, 6, at(30), 2),                     # ann's reply, 6 h later
    )
    activity = WeekActivity(
        week="2026-W47", posts=posts,
        likers=("dee", "dee", "bob"),                             # dee liked twice, bob once
        topics=(TopicStart(10, at(0), at(2)), TopicStart(11, at(24), at(30))),
        reply_edges=frozenset({("bob", "ann"), ("ann", "bob"), ("ann", "cy")}),
        earliest_day={"ann": start - 400, "bob": start - 3, "cy": start + 1},
        window=frozenset({"bob", "eve"}), now=at(7 * 24 + 9),
    )
    f = summarize_week(activity)
    assert f.week == "2026-W47"
    assert f.engaged_members == 4            # posters ann bob cy + liker dee (bob counted once)
    assert f.new_contributors == 1           # cy: first day ever is this week
    assert f.returning_contributors == 1     # ann: before the week, not in the 90-day window
    assert f.inactive_contributors == 1      # eve: in the window, not this week
    assert (f.topics, f.posts, f.replies, f.likes) == (2, 6, 4, 3)
    assert f.ttfr_median_hours == 4.0        # responses after 2 h and 6 h: median (2+6)/2
    assert f.ttfr_p90_hours == pytest.approx(5.6)   # rank 0.9 → 2 + 0.9*(6-2)
    assert f.ttfr_mean_hours == 4.0
    assert f.topics_no_response_24h == 0.0   # both answered within 24 h
    assert f.topics_no_response_7d == 0.0    # topic 10 is 177 h old (judged), 11 is 153 h (not yet): 0 of 1
    assert f.reciprocity == pytest.approx(2 / 3)    # ann↔bob reciprocated, ann→cy not
    # posts per member: ann 4, bob 1, cy 1 → sorted 1 1 4: Σ i·x = 1+2+12 = 15; 2*15/(3*6) - 4/3 = 1/3
    assert f.gini == pytest.approx(1 / 3)
    assert f.absence_factor == 1             # ann wrote 4 of 6, more than half


def test_summarize_an_empty_week() -> None:
    f = summarize_week(WeekActivity(week="2026-W47", posts=(), likers=(), topics=(), reply_edges=frozenset(),
                                    earliest_day={}, window=frozenset({"eve"}), now=at(200)))
    assert (f.engaged_members, f.posts, f.likes, f.inactive_contributors) == (0, 0, 0, 1)
    assert (f.ttfr_median_hours, f.reciprocity, f.gini, f.absence_factor) == (None, None, None, None)
