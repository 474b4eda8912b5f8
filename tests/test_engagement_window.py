"""Redis bounded by a window of weeks (`Engagement.compact`), against a real Redis: a year of activity is recorded as
the worker records it (digests freezing the weeks as they end, until the scheduler stopped), every answer is read,
the weeks before a 12-week window are compacted, and every answer must be the same — for the old weeks (frozen)
and for the window's weeks (still computed, from what compaction keeps) — while the old weeks' detail is gone."""
from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field, replace

import pytest
import redis

from plugin.adapters.engagement_store import Engagement
from plugin.domain.engagement import (INACTIVE_DAYS, iso_week, lookback, parse_time, shift_week, week_start_day,
                                      weeks_between)
from plugin.domain.events import Delivery, LikeEvent, Post, PostEvent
from tests.test_engagement_store import (BOT, HOUR, KEYS, W47, Clock, clock, contents, eng,  # noqa: F401  (fixtures)
                                         run_stats, stamp, table, topic_event)

WEEK = 7 * 24.0
LAST = "2026-W47"                                   # the last week of the year of activity
FIRST = shift_week(LAST, -52)                       # 2025-W47
WINDOW = shift_week(LAST, -11)                      # 2026-W36: the chart's 12 weeks, W36 to W47
NOW = 7 * 24 + 9                                    # Monday of 2026-W48, 09:00 (hours after W47 began)
CATEGORIES = (5, 6, 7, 8, 9, 99)                    # 8 appears mid-year, 9 only through a late post, 99 never
MEMBERS = [f"m{i:02d}" for i in range(40)]
SPECIAL = ["ann", "bob", "oldtimer", "lookback", "seeded", "newbie", "carer"]
USER_IDS = {name: 100 + i for i, name in enumerate(MEMBERS + SPECIAL)} | {BOT: 50}
DIGESTS_UNTIL = -20                                 # digests froze each week up to 20 weeks before the last …
DIGESTS_MISSED = {-45, -33, -26}                    # … except these; then the scheduler was down
_event_ids = itertools.count(10_000)


def week_of(offset: int) -> str:
    return shift_week(LAST, offset)


def hours_of(week: str) -> float:
    return (week_start_day(week) - week_start_day(LAST)) * 24.0


def member_post(post_id: int, username: str, topic_id: int, number: int, hours: float, category: int, *,
                reply_to: str | None = None, raw: str = "Thank you, that helps.") -> Post:
    return Post(id=post_id, topic_id=topic_id, post_number=number, user_id=USER_IDS[username], username=username,
                post_type=1, created_at=stamp(hours), updated_at=stamp(hours), version=1, raw=raw,
                topic_title=f"Topic {topic_id}", topic_archetype="regular", category_id=category,
                reply_to_post_number=None if reply_to is None else 1, reply_to_username=reply_to)


def post_event(name: str, p: Post) -> PostEvent:
    if name == "post_destroyed":
        p = replace(p, deleted_at=p.created_at)
    return PostEvent(Delivery(str(next(_event_ids)), name, "post"), post=p)


def like_event(p: Post, liker: str) -> LikeEvent:
    return LikeEvent(Delivery(str(next(_event_ids)), "post_liked", "like"), post=p, liker_id=USER_IDS[liker],
                     liker_username=liker)


@dataclass
class Forum:
    """Writes a forum's activity through `Engagement.record`, with the fake clock: a like is recorded an hour after
    the post it likes, as the worker would record it then."""

    eng: Engagement
    clock: Clock
    rng: random.Random = field(default_factory=lambda: random.Random(20261116))
    post_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    topic_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    topics: dict[int, list[Post]] = field(default_factory=dict)      # topic → its posts, in order
    by_week: dict[str, list[Post]] = field(default_factory=dict)

    def open(self, username: str, hours: float, category: int, raw: str = "Shall we talk about this?") -> Post:
        topic = next(self.topic_ids)
        p = member_post(next(self.post_ids), username, topic, 1, hours, category, raw=raw)
        self.topics[topic] = [p]
        return self.write(p)

    def reply(self, username: str, topic: int, hours: float, reply_to: str | None = None) -> Post:
        thread = self.topics[topic]
        at = max(hours, parse_hours(thread[-1]) + 0.5)         # after the post before it
        p = member_post(next(self.post_ids), username, topic, len(thread) + 1, at, thread[0].category_id or 5,
                        reply_to=reply_to)
        thread.append(p)
        return self.write(p)

    def write(self, p: Post) -> Post:
        self.eng.record(post_event("post_created", p))
        self.by_week.setdefault(iso_week(p.created_at), []).append(p)
        return p

    def like(self, p: Post, liker: str) -> None:
        saved = self.clock.hours
        self.clock.hours = parse_hours(p) + 1
        self.eng.record(like_event(p, liker))
        self.clock.hours = saved

    def week(self, offset: int, active: list[str]) -> None:
        """A week of ordinary activity among `active` members."""
        rng, start = self.rng, hours_of(week_of(offset))
        categories = [5, 6, 7] + ([8] if offset >= -30 else [])
        for _ in range(rng.randint(2, 4)):
            self.open(rng.choice(active), start + rng.uniform(0, 150), rng.choice(categories))
        recent = [t for t, posts in self.topics.items() if parse_hours(posts[0]) >= start - 2 * WEEK]
        for _ in range(rng.randint(15, 30)):
            topic = rng.choice(recent if rng.random() < 0.9 else list(self.topics))
            thread = self.topics[topic]
            if parse_hours(thread[-1]) >= start + 7 * 24 - 1:
                continue
            to = rng.choice(thread).username if rng.random() < 0.5 else None
            self.reply(rng.choice(active), topic, start + rng.uniform(0, 7 * 24 - 1), reply_to=to)
        written = self.by_week.get(week_of(offset), [])
        for _ in range(rng.randint(3, 10)):
            self.like(rng.choice(written), rng.choice(active))
        if rng.random() < 0.4:                     # a post taken back, sometimes given back
            taken = rng.choice(written)
            self.eng.record(post_event("post_destroyed", taken))
            if rng.random() < 0.3:
                self.eng.record(post_event("post_recovered", taken))


def parse_hours(p: Post) -> float:
    return (parse_time(p.created_at) - W47) / HOUR


@dataclass
class Year:
    forum: Forum
    specials: dict[str, Post]


def build_year(eng: Engagement, clock: Clock) -> Year:
    """53 weeks, 2025-W47 to 2026-W47, as the worker would have recorded them, ending on Monday of 2026-W48."""
    forum = Forum(eng, clock)
    rng = random.Random(47)
    spans = {m: sorted(rng.sample(range(-52, 1), 2)) for m in MEMBERS}       # each member's active months
    returns = {m: rng.sample(range(-52, 1), 3) for m in MEMBERS[:10]}       # and a few weeks back later
    eng.seed_contributors([("seeded", stamp(-400 * 24)), ("m03", stamp(-380 * 24)), "m07"])
    specials: dict[str, Post] = {}
    for offset in range(-52, 1):
        week, start = week_of(offset), hours_of(week_of(offset))
        clock.hours = start + 3 * 24
        active = [m for m in MEMBERS if spans[m][0] <= offset <= spans[m][1] or offset in returns.get(m, ())]
        forum.week(offset, active or MEMBERS[:3])
        if offset == -52:
            specials["oldtimer"] = forum.open("oldtimer", start + 5, 5)       # a year ago, never again
        if offset == -45:
            doomed = forum.open("m01", start + 6, 6)
            forum.reply("m02", doomed.topic_id, start + 7)
            eng.record(topic_event("topic_destroyed", doomed.topic_id, f"Topic {doomed.topic_id}"))
        if offset == -40:
            specials["care"] = forum.open("carer", start + 8, 5, raw="I need direct support, please.")
            forum.like(specials["care"], "m05")
        if offset == -30:
            forum.write(member_post(next(forum.post_ids), BOT, next(forum.topic_ids), 1, start + 9, 5))
        if offset == -20:                            # a post of week -40 arrives late, in a category never seen
            late = member_post(next(forum.post_ids), "m04", next(forum.topic_ids), 1, hours_of(week_of(-40)) + 30, 9)
            forum.topics[late.topic_id] = [late]
            forum.write(late)
            forum.reply("m06", late.topic_id, hours_of(week_of(-39)) + 2)
            specials["late"] = late
        if offset == -13:                            # within the 90 days before the window, then silent
            specials["lookback"] = forum.reply("lookback", specials["oldtimer"].topic_id, start + 10)
        if offset == -12:                            # W35: bob answers ann; in W36 (the window) ann answers back
            specials["ann"] = forum.open("ann", start + 11, 6)
            specials["bob"] = forum.reply("bob", specials["ann"].topic_id, start + 12, reply_to="ann")
            specials["slow"] = forum.open("m08", start + 13, 7)   # first answered in the window, weeks later
        if offset == -11:
            forum.reply("ann", specials["ann"].topic_id, start + 13, reply_to="bob")
        if offset == -9:
            forum.reply("m09", specials["slow"].topic_id, start + 14)
            forum.reply("seeded", specials["ann"].topic_id, start + 15)
        if offset <= DIGESTS_UNTIL and offset not in DIGESTS_MISSED:
            clock.hours = start + WEEK + 9           # Monday after, 09:00: the digest freezes the week
            eng.freeze(week)
    clock.hours = NOW
    return Year(forum, specials)


Answers = dict[str, tuple[object, ...]]


def answers(eng: Engagement) -> Answers:
    """Everything the digest and `stats` read, for every week from before the year to the current one."""
    got: Answers = {}
    with eng.reading():
        for week in weeks_between(shift_week(FIRST, -3), shift_week(LAST, 2)):
            got[week] = (eng.figures(week), *(eng.figures(week, c) for c in CATEGORIES), eng.history(week, 12),
                         eng.top_topics(week, 20), eng.top_topics(week), eng.new_contributor_names(week))
    return got


def assert_same(before: Answers, after: Answers) -> None:
    assert before.keys() == after.keys()
    for week in before:
        assert after[week] == before[week], week


def memory(conn: redis.Redis, pattern: str = "*") -> int:
    """Bytes Redis uses for the keys of the test database (MEMORY USAGE of each, every element counted)."""
    pipe = conn.pipeline(transaction=False)
    for key in conn.keys(pattern):
        pipe.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
    return sum(pipe.execute())


def names(conn: redis.Redis, pattern: str) -> set[str]:
    return {k.decode() for k in conn.keys(pattern)}


def key_week(key: str) -> str:
    return key.split(":")[3]


@pytest.fixture
def year(eng: Engagement, clock: Clock) -> Year:
    return build_year(eng, clock)


# ---------------------------------------------------------------------------------------- the year compacted


def test_compacting_keeps_every_answer_and_frees_the_old_weeks(eng: Engagement, year: Year,
                                                              redis_conn: redis.Redis) -> None:
    before = answers(eng)
    used, used_frozen = memory(redis_conn), memory(redis_conn, KEYS.engagement_frozen_pattern)
    old_weeks = weeks_between(FIRST, WINDOW)
    categories = {f"figures:{c.decode()}".encode() for c in redis_conn.smembers(KEYS.engagement_categories)}
    incomplete = [w for w in old_weeks if not categories <= set(redis_conn.hkeys(KEYS.engagement_frozen(w)))]
    assert [w for w in old_weeks if not eng.is_frozen(w)] == [week_of(o) for o in (-45, -33, -26, *range(-19, -11))]
    late = week_of(-40)                              # frozen before category 9 was seen; then a late post came
    assert eng.is_frozen(late) and late in incomplete and before[late][5].posts == 1
    assert before[WINDOW][0].reciprocity is not None

    report = eng.compact(WINDOW)

    assert_same(before, answers(eng))
    after, after_frozen = memory(redis_conn), memory(redis_conn, KEYS.engagement_frozen_pattern)
    print(f"\nRedis memory of the test year: {used} bytes before ({used - used_frozen} without the frozen copies), "
          f"{after} after compacting to {WINDOW} ({after - after_frozen} without them); "
          f"{report.keys_deleted} keys and {report.entries_removed} entries deleted, {report.bytes_freed} bytes freed")
    assert after < used * 2 / 3
    assert after - after_frozen < (used - used_frozen) / 2               # the detail: 12 of 53 weeks, and a bit
    assert report.bytes_freed == used - after
    assert report.window_start == WINDOW
    assert report.weeks_compacted == tuple(old_weeks)
    assert report.weeks_frozen == tuple(incomplete)
    assert all(eng.is_frozen(w) for w in old_weeks)
    assert not any(eng.is_frozen(week_of(o)) for o in range(-11, 1))   # the window is left as it was

    # the old weeks' detail is gone; what the window reads of them is kept
    window = lookback(WINDOW)
    assert window.reply_weeks == (week_of(-14), week_of(-13), week_of(-12))
    per_week = names(redis_conn, KEYS.engagement_week_pattern)
    assert {k for k in per_week if week_start_day(key_week(k)) < window.first_day} == {
        KEYS.engagement_week_reply_edges(w) for w in window.reply_weeks}
    days = {int(k.rsplit(":", 1)[1]) for k in names(redis_conn, KEYS.engagement_day_pattern)}
    assert min(days) >= window.days_from == window.first_day - INACTIVE_DAYS
    assert any(day < window.first_day for day in days)                # the 90 days before the window
    standings = {v.decode() for v in redis_conn.hvals(KEYS.engagement_posts)}
    assert all(week_start_day(s.split(":", 1)[1]) >= window.first_day for s in standings if s != "care")
    assert redis_conn.hget(KEYS.engagement_posts, str(year.specials["care"].id)) == b"care"
    for lines in redis_conn.hvals(KEYS.engagement_post_likes):
        assert all(week_start_day(line.split("|")[0]) >= window.first_day for line in lines.decode().splitlines())
    window_start = window.first_day * 86400
    for key in redis_conn.keys(KEYS.engagement_replies("*")):
        assert redis_conn.zrangebyscore(key, "-inf", f"({window_start}") == []
    for key in redis_conn.keys(KEYS.engagement_member_days_pattern):
        assert len(redis_conn.zrangebyscore(key, "-inf", f"({window.days_from}")) <= 1   # the first day only
    first = redis_conn.zrange(KEYS.engagement_member_days("*", "oldtimer"), 0, -1, withscores=True)
    assert [day for _, day in first] == [float(week_start_day(FIRST))]


def test_a_second_compaction_changes_nothing(eng: Engagement, year: Year, redis_conn: redis.Redis) -> None:
    eng.compact(WINDOW)
    kept = contents(redis_conn)
    again = eng.compact(WINDOW)
    assert (again.weeks_compacted, again.weeks_frozen, again.keys_deleted, again.entries_removed) == ((), (), 0, 0)
    assert again.bytes_freed == 0
    assert eng.compact(shift_week(WINDOW, -5)).window_start == WINDOW   # the window only moves on
    assert contents(redis_conn) == kept


def test_late_events_for_compacted_weeks_change_nothing(eng: Engagement, year: Year, clock: Clock,
                                                        redis_conn: redis.Redis) -> None:
    eng.compact(WINDOW)
    before, kept = answers(eng), contents(redis_conn)
    forum, old = year.forum, year.forum.by_week[week_of(-30)]
    counted = [p for p in old if p.username != BOT][:3]
    late_reply = member_post(90_001, "m11", counted[0].topic_id, 99, hours_of(week_of(-30)) + 20, 5, reply_to="m12")
    for e in [post_event("post_created", late_reply),                        # written then, arriving now
              post_event("post_edited", replace(counted[0], version=2, category_id=7)),   # moved
              post_event("post_destroyed", counted[1]),
              post_event("post_recovered", counted[1]),
              post_event("post_recovered", counted[2]),
              post_event("post_created", year.specials["late"]),
              post_event("post_destroyed", year.specials["oldtimer"])]:     # the oldtimer's first post stays his
        eng.record(e)
    forum.like(counted[2], "m13")                                          # recorded back then (a rebuild)
    assert contents(redis_conn) == kept
    assert_same(before, answers(eng))
    eng.forget_post(counted[1].id)                                         # a care post, found late
    assert redis_conn.hget(KEYS.engagement_posts, str(counted[1].id)) == b"care"
    assert_same(before, answers(eng))
    eng.record(post_event("post_recovered", counted[1]))
    assert_same(before, answers(eng))


def test_the_window_still_counts_as_before(eng: Engagement, year: Year, clock: Clock) -> None:
    eng.compact(WINDOW)
    forum, monday = year.forum, hours_of(week_of(1))
    clock.hours = monday + 3 * 24
    opened = forum.open("oldtimer", monday + 10, 5)                       # back after a year: not new
    forum.reply("newbie", opened.topic_id, monday + 11, reply_to="oldtimer")   # never seen before: new
    forum.reply("oldtimer", opened.topic_id, monday + 12, reply_to="newbie")
    forum.reply("seeded", opened.topic_id, monday + 13)                  # seeded at install, 400 days ago
    forum.reply("ann", year.specials["ann"].topic_id, monday + 14, reply_to="bob")   # her topic of W35
    forum.like(opened, "lookback")
    eng.record(like_event(year.specials["late"], "m20"))                 # a post of week -40, liked now
    clock.hours = monday + WEEK + 9
    week = week_of(1)
    f = eng.figures(week)
    assert eng.new_contributor_names(week) == ["newbie"]
    assert f.new_contributors == 1 and f.posts == 5 and f.topics == 1 and f.likes == 2
    assert eng.figures(week, 9).likes == 1 and eng.figures(week_of(-40), 9).likes == 0
    assert f.returning_contributors == 1                                   # oldtimer (seeded, ann posted in W36–W38)
    assert f.ttfr_median_hours == 1.0                                      # newbie answered in an hour
    assert f.reciprocity is not None and f.reciprocity > 0                 # oldtimer ↔ newbie
    assert eng.figures(week, 5).new_contributors == 2                      # and seeded, new in category 5
    assert eng.top_topics(week)[0] == (opened.topic_id, f"Topic {opened.topic_id}", 4)
    frozen = eng.freeze(week)                                              # the digest of the week after
    assert frozen == f


def test_the_window_moves_on(eng: Engagement, year: Year, clock: Clock, redis_conn: redis.Redis) -> None:
    eng.compact(WINDOW)
    forum = year.forum
    for offset in range(1, 5):                                             # four more weeks, then compact again
        clock.hours = hours_of(week_of(offset)) + 3 * 24
        forum.week(offset, MEMBERS[:12])
    clock.hours = hours_of(week_of(5)) + 9
    before = answers(eng) | {week_of(o): (eng.figures(week_of(o)),) for o in range(1, 6)}
    moved = shift_week(WINDOW, 4)
    report = eng.compact(moved)
    assert report.weeks_compacted == tuple(weeks_between(lookback(WINDOW).reply_weeks[0], moved))
    after = answers(eng) | {week_of(o): (eng.figures(week_of(o)),) for o in range(1, 6)}
    assert_same(before, after)
    edges = {key_week(k) for k in names(redis_conn, KEYS.engagement_week_reply_edges("*"))}
    assert edges == set(lookback(moved).reply_weeks)


def test_an_event_during_compaction_is_counted_or_ignored_whole(eng: Engagement, year: Year, clock: Clock,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 redis_conn: redis.Redis) -> None:
    before = answers(eng)
    old = year.forum.by_week[week_of(-25)][0]
    fresh = member_post(90_002, "m14", year.specials["ann"].topic_id, 98, hours_of(week_of(1)) + 1, 6)
    freezing = eng._freeze_before

    def meanwhile(*args: object) -> list[str]:         # the window has moved, nothing is deleted yet
        eng.record(post_event("post_destroyed", old))
        eng.record(post_event("post_created", member_post(90_003, "m15", old.topic_id, 97, parse_hours(old) + 1, 5)))
        eng.record(post_event("post_created", fresh))
        return freezing(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(eng, "_freeze_before", meanwhile)
    eng.compact(WINDOW)
    after = answers(eng)
    for week in before:
        if week != week_of(1):
            assert after[week] == before[week], week
    assert after[week_of(1)][0].posts == before[week_of(1)][0].posts + 1
    assert redis_conn.hget(KEYS.engagement_posts, str(old.id)) is None


def test_the_window_cannot_start_after_this_week(eng: Engagement, clock: Clock, redis_conn: redis.Redis) -> None:
    with pytest.raises(ValueError, match="after the current week 2026-W48"):
        eng.compact("2026-W49")
    with pytest.raises(ValueError, match="ISO week"):
        eng.compact("2026-47")
    assert eng.compact("2026-W48").weeks_compacted == ()                   # nothing filed yet
    assert json.loads(redis_conn.get(KEYS.engagement_window_start) or b"0") == week_start_day("2026-W48")


def test_stats_answers_an_old_week_as_before(eng: Engagement, year: Year, redis_url: str) -> None:
    week = week_of(-40)                              # its category 9 was answered live, from the week's detail
    before = run_stats(redis_url, "--week", week, "--category", "9")
    eng.compact(WINDOW)
    after = run_stats(redis_url, "--week", week, "--category", "9")
    assert before.returncode == after.returncode == 0, after.stderr
    assert table(after.stdout) == table(before.stdout) and table(after.stdout)["posts"] == "1"
    assert "frozen" in after.stdout.splitlines()[0]
