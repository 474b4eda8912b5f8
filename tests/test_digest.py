"""The digest's rendering, pure: figures beside the week before, Code of Care activity, names only with consent,
no member text, markup that nothing can break, and the week arithmetic behind it."""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from plugin.domain.amendments import APPLIED, DRAFTED, OPEN, REJECTED, WITHDRAWN, Amendment
from plugin.config import ConfigError
from plugin.domain.names import TAG_DIGEST as DIGEST_TAG, digest_external_id
from plugin.text.digest import CHART, CODE_QUIET, FIGURE_TABLES, THREADS_NONE, WELCOME_NONE, render_digest, week_dates
from plugin.text.figures import COUNT, HOURS, NO_CHANGE, NO_VALUE, RATIO, SHARE, format_change, format_value
from plugin.config import digest_clock, digest_zone
from plugin.domain.activity import SectionActivity, section_activity
from plugin.domain.engagement import last_completed_week
from plugin.domain.safety import ZWSP
from plugin.domain.engagement import WeekFigures

UTC = timezone.utc
WEEK = "2026-W47"                           # Monday 16 to Sunday 22 November 2026
START = datetime(2026, 11, 16, tzinfo=UTC)
END = datetime(2026, 11, 23, tzinfo=UTC)

THIS_WEEK = WeekFigures(
    week=WEEK, engaged_members=12, new_contributors=3, returning_contributors=1, inactive_contributors=4, topics=5,
    posts=40, replies=35, likes=22, ttfr_median_hours=2.5, ttfr_p90_hours=30.0, ttfr_mean_hours=0.25,
    topics_no_response_24h=0.2, topics_no_response_7d=0.0, reciprocity=0.42, gini=0.31, absence_factor=3)
WEEK_BEFORE = dataclasses.replace(
    THIS_WEEK, week="2026-W46", engaged_members=9, new_contributors=5, ttfr_median_hours=0.5,
    ttfr_p90_hours=72.0, topics_no_response_24h=0.25, reciprocity=0.4, gini=None)

DOCUMENT = """Our Code of Care.

## 1. Welcome
We welcome everyone.

## 2. Consent
We ask first.

## 3. Harm
We name harm and repair it.
"""


def digest(**overrides: object) -> str:
    arguments: dict[str, object] = dict(week=WEEK, figures=THIS_WEEK, previous=WEEK_BEFORE, sections=[],
                                        threads=[], new_count=0, credited_names=[], chart_url=None)
    arguments.update(overrides)
    return render_digest(**arguments)[1]  # type: ignore[arg-type]


def row(raw: str, label: str) -> list[str]:
    """The cells of the table row whose first cell is `label`."""
    for line in raw.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no row {label!r} in:\n{raw}")


# ------------------------------------------------------------------------------------------------ figures


def test_each_figure_shows_this_week_the_week_before_and_the_change() -> None:
    raw = digest()
    # 12 members took part against 9: +3
    assert row(raw, "Members who took part (started a topic, replied or liked)") == ["12", "9", "+3"]
    # 3 new contributors against 5: −2 (a true minus sign)
    assert row(raw, "New contributors (first post ever)") == ["3", "5", "−2"]
    assert row(raw, "Posts") == ["40", "40", NO_CHANGE]
    # median 2.5 h against 0.5 h = 30 min: +2.0 h
    assert row(raw, "Time to first response, median") == ["2.5 h", "30 min", "+2.0 h"]
    # 90th percentile 30 h against 72 h = 3.0 days: −42.0 h
    assert row(raw, "Time to first response, 90th percentile") == ["30.0 h", "3.0 days", "−42.0 h"]
    assert row(raw, "Time to first response, mean (Discourse-comparable)") == ["15 min", "15 min", NO_CHANGE]
    # 20 % of topics unanswered after 24 h against 25 %: 5 percentage points fewer
    assert row(raw, "Topics without a response after 24 hours") == ["20 %", "25 %", "−5 points"]
    assert row(raw, "Reciprocity: replies answered in kind (last 4 weeks, 0 to 1)") == ["0.42", "0.40", "+0.02"]
    # no Gini the week before: nothing to compare
    assert row(raw, "Concentration: participation Gini (0 = everyone posts alike)") == ["0.31", NO_VALUE, NO_VALUE]
    assert row(raw, "Absence factor: fewest members who wrote half the posts") == ["3", "3", NO_CHANGE]


def test_every_figure_of_the_week_is_in_the_digest_once() -> None:
    raw = digest()
    shown = [name for _, rows in FIGURE_TABLES for _, name, _ in rows]
    assert sorted(shown) == sorted(f.name for f in dataclasses.fields(WeekFigures) if f.name != "week")
    for _, rows in FIGURE_TABLES:
        for label, _, _ in rows:
            assert sum(line.startswith(f"| {label} |") for line in raw.splitlines()) == 1


def test_without_a_week_before_there_is_no_change_to_show() -> None:
    raw = digest(previous=None)
    assert row(raw, "Posts") == ["40", NO_VALUE, NO_VALUE]
    assert row(raw, "Time to first response, median") == ["2.5 h", NO_VALUE, NO_VALUE]


@pytest.mark.parametrize("value, kind, shown", [
    (0, COUNT, "0"), (7, COUNT, "7"), (None, COUNT, NO_VALUE),
    (0.25, HOURS, "15 min"), (0.999, HOURS, "60 min"), (1.0, HOURS, "1.0 h"), (47.9, HOURS, "47.9 h"),
    (48.0, HOURS, "2.0 days"), (0.0, SHARE, "0 %"), (0.125, SHARE, "12 %"), (1.0, SHARE, "100 %"),
    (0.5, RATIO, "0.50"), (1.0, RATIO, "1.00"),
])
def test_values_are_shown_in_their_unit(value: float | None, kind: str, shown: str) -> None:
    assert format_value(value, kind) == shown


@pytest.mark.parametrize("now, before, kind, shown", [
    (5, 2, COUNT, "+3"), (2, 5, COUNT, "−3"), (4, 4, COUNT, NO_CHANGE), (4, None, COUNT, NO_VALUE),
    (3.0, 1.5, HOURS, "+1.5 h"), (1.0, 1.25, HOURS, "−15 min"), (1.0, 1.001, HOURS, NO_CHANGE),
    (0.30, 0.25, SHARE, "+5 points"), (0.251, 0.25, SHARE, NO_CHANGE),
    (0.5, 0.75, RATIO, "−0.25"), (0.5, 0.501, RATIO, NO_CHANGE), (None, 0.5, RATIO, NO_VALUE),
])
def test_changes_carry_a_sign_and_a_unit(now: float | None, before: float | None, kind: str, shown: str) -> None:
    assert format_change(now, before, kind) == shown


def test_title_names_the_week_by_its_dates() -> None:
    title, raw = render_digest(week=WEEK, figures=THIS_WEEK, previous=None, sections=[], threads=[], new_count=0,
                               credited_names=[], chart_url=None)
    assert title == "Weekly digest: 16–22 November 2026"   # members read dates; the ISO week is the topic's key
    assert WEEK not in title and WEEK not in raw and "README" not in raw
    assert digest_external_id(WEEK) == "coc-digest-2026-W47" and DIGEST_TAG == "coc-digest"


def test_the_chart_is_an_uploaded_image() -> None:
    assert CHART.format(url="upload://aBc123.png") in digest(chart_url="upload://aBc123.png")
    assert "![" not in digest(chart_url=None)


# ------------------------------------------------------------------------------------------------ the rest


def test_code_of_care_activity_per_section_with_links_to_applied_changes() -> None:
    raw = digest(sections=[SectionActivity("2. Consent", discussion=4, proposals=2, drafts=1, decisions=1,
                                           applied=(88,)),
                           SectionActivity("The Code as a whole", discussion=1)])
    assert ("- **2. Consent**: 4 posts discussed it, 2 proposals, 1 draft opened, 1 decision; "
            "applied to the Code: [change 1](/t/88)") in raw
    assert "- **The Code as a whole**: 1 post discussed it\n" in raw
    assert CODE_QUIET in digest(sections=[])


def test_most_active_threads_by_title_with_links() -> None:
    raw = digest(threads=[(12, "Season of care", 9), (14, "Hello", 1)])
    assert "1. [Season of care](/t/12) — 9 posts\n2. [Hello](/t/14) — 1 post\n" in raw
    assert THREADS_NONE in digest(threads=[])


def test_new_contributors_are_thanked_by_count_and_named_only_with_consent() -> None:
    raw = digest(new_count=3, credited_names=["alice"])
    assert "Thank you to the 3 members who posted here for the first time this week: welcome!" in raw
    assert "Among them, alice chose to be named." in raw
    two = digest(new_count=3, credited_names=["alice", "Bob", "bob"])     # each name once, in the order given
    assert "Among them, alice and Bob chose to be named." in two
    nobody_named = digest(new_count=1, credited_names=[])
    assert "Thank you to the member who posted here for the first time this week: welcome!" in nobody_named
    assert "chose to be named" not in nobody_named
    assert WELCOME_NONE in digest(new_count=0)


def test_names_and_titles_can_neither_ping_nor_format() -> None:
    raw = digest(new_count=2, credited_names=["@everyone", "bob_smith"],
                 threads=[(7, "Read **this** [now](https://x.example) @here <b>!</b> | `x`", 3)])
    assert "@everyone" not in raw and "@here" not in raw
    assert f"@{ZWSP}everyone" in raw and f"@{ZWSP}here" in raw
    assert "bob\\_smith" in raw
    assert ("[Read \\*\\*this\\*\\* \\[now\\]\\(https://x.example\\) @\u200bhere \\<b\\>\\!\\</b\\> \\| \\`x\\`](/t/7)"
            in raw)


def test_a_long_title_is_shortened() -> None:
    raw = digest(threads=[(7, "word " * 100, 3)])
    shown = re.search(r"1\. \[(.*)\]\(/t/7\)", raw)
    assert shown is not None and len(shown.group(1)) == 120 and shown.group(1).endswith("…")


def unescaped(raw: str) -> str:
    return re.sub(r"\\.", "", raw)


HOSTILE = ["]]]((( [quote] [/quote] **", "| a | b |", "<script>x</script>", "`", "![x](upload://y)", "\\", "_*_"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_markup_stays_balanced_whatever_titles_and_names_hold(hostile: str) -> None:
    raw = digest(threads=[(1, hostile, 2), (2, f"a {hostile} b", 1)], new_count=2, credited_names=[hostile],
                 sections=[SectionActivity(hostile, discussion=1, applied=(5,))], chart_url="upload://c.png")
    bare = unescaped(raw)
    assert bare.count("[") == bare.count("]")
    assert bare.count("(") == bare.count(")")
    assert bare.count("**") % 2 == 0
    assert "`" not in bare and "<" not in bare
    for line in bare.splitlines():
        if line.startswith("|"):
            assert line.count("|") == 5, line           # four cells in every table row, header included
    links = re.findall(r"\]\(([^)]*)\)", bare)
    assert links == ["upload://c.png", "/t/5", "/t/1", "/t/2"]


def test_no_member_text_reaches_the_digest() -> None:
    """A proposal's wording, a rejection's reason and who discussed what are in the Code of Care state the
    digest is built from; only counts and links come out."""
    proposal = Amendment(id="coc-amendment-41-1", post_id=41, index=1, topic_id=9, proposer="alice",
                         section_slug="consent", section_title="Consent", base_fingerprint="f",
                         text="PRIVATE WORDING that only belongs in the draft", status=REJECTED, draft_topic_id=77,
                         reason="A REASON the moderator wrote",
                         history=("2026-11-17T10:00:00Z proposed by alice", "2026-11-18T10:00:00Z drafted with 3 "
                                  "supporters", "2026-11-19T10:00:00Z rejected by mod"))
    discussions = {"consent": {42: {"author": "carol", "at": "2026-11-17T11:00:00.000Z"}}}
    sections = section_activity(document_raw=DOCUMENT, amendments=[proposal], discussions=discussions,
                                start=START, end=END)
    raw = digest(sections=sections, threads=[(9, "A public title", 2)])
    assert sections == [SectionActivity("2. Consent", discussion=1, proposals=1, drafts=1, decisions=1)]
    for secret in ("PRIVATE WORDING", "A REASON", "alice", "carol", "mod"):
        assert secret not in raw


# ------------------------------------------------------------------------------------------------ activity


def amendment(post_id: int, slug: str, *history: str, status: str = OPEN, draft: int | None = None) -> Amendment:
    return Amendment(id=f"coc-amendment-{post_id}-1", post_id=post_id, index=1, topic_id=9, proposer="p",
                     section_slug=slug, section_title=slug.title(), base_fingerprint="f", text="t", status=status,
                     draft_topic_id=draft, history=tuple(history))


def test_section_activity_counts_only_what_happened_in_the_week() -> None:
    amendments = [
        # proposed the week before, drafted and applied this week: 1 draft, 1 decision, applied as topic 70
        amendment(1, "consent", "2026-11-10T09:00:00Z proposed by p", "2026-11-16T00:00:00Z drafted with 3 supporters",
                  "2026-11-22T23:59:59Z applied by mod (document version 2)", status=APPLIED, draft=70),
        # proposed this week (an edit later in the week is no new proposal): 1 proposal
        amendment(2, "consent", "2026-11-17T09:00:00.000Z proposed by p", "2026-11-18T09:00:00.000Z edited by the "
                  "proposer"),
        # proposed this week, withdrawn before any draft (its post was deleted): counts nowhere
        amendment(3, "harm", "2026-11-17T09:00:00Z proposed by p", " the post was deleted", status=WITHDRAWN),
        # proposed and drafted this week, withdrawn by its proposer in the week after: 1 proposal, 1 draft
        amendment(4, "harm", "2026-11-16T08:00:00Z proposed by p", "2026-11-16T09:00:00Z drafted with 3 supporters",
                  "2026-11-23T00:00:00Z withdrawn by p", status=WITHDRAWN, draft=71),
        # a section the document no longer has: named by the amendment's own title, after the document's sections
        amendment(5, "old-rules", "2026-11-18T09:00:00Z proposed by p"),
    ]
    discussions = {
        "consent": {10: {"author": "a", "at": "2026-11-16T00:00:00Z"},      # first instant of the week: in
                    11: {"author": "b", "at": "2026-11-23T00:00:00Z"},      # first instant of the next: out
                    12: {"author": "c", "at": "2026-11-19T12:00:00+01:00"}},
        "welcome": {13: {"author": "a", "at": "2026-11-15T23:59:59Z"}},    # the Sunday before: out
        "general": {14: {"author": "d", "at": "2026-11-20T10:00:00Z"}, 15: {"author": "e", "at": "not a time"}},
    }
    sections = section_activity(document_raw=DOCUMENT, amendments=amendments, discussions=discussions,
                                start=START, end=END)
    assert sections == [
        SectionActivity("2. Consent", discussion=2, proposals=1, drafts=1, decisions=1, applied=(70,)),
        SectionActivity("3. Harm", proposals=1, drafts=1),
        SectionActivity("Old-Rules", proposals=1),
        SectionActivity("The Code as a whole", discussion=1),
    ]


def test_care_posts_count_nowhere_in_the_code_of_care_activity() -> None:
    amendments = [amendment(21, "consent", "2026-11-17T09:00:00Z proposed by p", status=DRAFTED, draft=80)]
    discussions = {"consent": {21: {"author": "x", "at": "2026-11-17T09:00:00Z"},
                               22: {"author": "y", "at": "2026-11-17T10:00:00Z"}}}
    counted = section_activity(document_raw=DOCUMENT, amendments=amendments, discussions=discussions,
                               start=START, end=END)
    assert counted == [SectionActivity("2. Consent", discussion=2, proposals=1)]
    care = section_activity(document_raw=DOCUMENT, amendments=amendments, discussions=discussions, start=START,
                            end=END, excluded_posts={21})
    assert care == [SectionActivity("2. Consent", discussion=1)]
    assert section_activity(document_raw=DOCUMENT, amendments=amendments, discussions=discussions, start=START,
                            end=END, excluded_posts={21, 22}) == []


# ------------------------------------------------------------------------------------------------ weeks


def test_week_dates_and_names() -> None:
    assert week_dates(WEEK) == "16–22 November 2026"
    assert week_dates("2026-W49") == "30 November – 6 December 2026"
    assert week_dates("2026-W53") == "28 December 2026 – 3 January 2027"
    for bad in ("2026-47", "2026-W54", "2025-W53", "2026-W00", ""):
        with pytest.raises(ValueError, match="ISO week"):
            digest_external_id(bad)


@pytest.mark.parametrize("now, zone, week", [
    (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), "UTC", "2026-W47"),           # Monday morning: last week
    (datetime(2026, 11, 22, 23, 59, tzinfo=UTC), "UTC", "2026-W46"),         # Sunday night: not over yet
    (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "Europe/Berlin", "2026-W47"),  # already Monday in Berlin
    (datetime(2026, 11, 23, 3, 0, tzinfo=UTC), "America/Los_Angeles", "2026-W46"),  # still Sunday there
    (datetime(2026, 11, 26, 12, 0, tzinfo=UTC), "UTC", "2026-W47"),          # any day of the next week
    (datetime(2027, 1, 4, 9, 0, tzinfo=UTC), "UTC", "2026-W53"),             # across the new year
])
def test_the_last_completed_week_is_read_on_the_local_calendar(now: datetime, zone: str, week: str) -> None:
    assert last_completed_week(now, ZoneInfo(zone)) == week


def test_time_zone_and_time_of_day_settings_are_checked() -> None:
    assert digest_zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert digest_clock("09:00") == (9, 0) and digest_clock("7:45") == (7, 45) and digest_clock("23:59") == (23, 59)
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(ConfigError, match="COC_TIMEZONE"):
            digest_zone(bad)
    for bad in ("9am", "24:00", "12:60", "09-00", ""):
        with pytest.raises(ConfigError, match="COC_DIGEST_TIME"):
            digest_clock(bad)
