"""The engagement store against a real Redis, fed with `plugin.domain.events` dataclasses as the worker receives them:
the figures of hand-built weeks, idempotency, deletion and recovery, exclusions, care posts and freezing."""
from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
import redis

from plugin.adapters.budget import ApiBudget
from plugin.config import Settings
from plugin.domain.engagement import iso_week, parse_time, week_start_day
from plugin.adapters.engagement_store import Engagement, seed_from_forum
from plugin.domain.events import POST_SMALL_ACTION, POST_WHISPER, Delivery, LikeEvent, Post, PostEvent, Topic, TopicEvent
from plugin.adapters.forum import Forum
from plugin.ops.install import seed_contributors as install_seed
from plugin.adapters.keys import Keys
from tests.companion import Companion, companion, sim_forum  # noqa: F401  (fixtures)
from tests.reference import REPO_ROOT
from tests.simulator_fixtures import Sim
from tests.test_amendments_e2e import like

KEYS = Keys("coc-test:")
BOT = "care-bot"
HOUR = 3600.0
W47 = parse_time("2026-11-16T00:00:00Z")       # Monday 00:00 UTC, the start of 2026-W47
IDS = {"ann": 1, "bob": 2, "cy": 3, "dee": 4, "eve": 5, "fay": 6, "gus": 7, "hal": 8, "ivy": 9, "jo": 10,
       "kim": 11, BOT: 50, "system": -1}
TITLES = {10: "Consent, in our words", 11: "Where do we ask for help?"}
_event_ids = itertools.count(1)


def stamp(hours: float) -> str:
    """Discourse's created_at for `hours` after the start of 2026-W47."""
    moment = datetime.fromtimestamp(W47, UTC) + timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def post(post_id: int, username: str, topic_id: int, number: int, hours: float, *, category: int | None = 5,
         reply_to: str | None = None, raw: str = "Thank you, that helps.", post_type: int = 1,
         archetype: str = "regular") -> Post:
    return Post(id=post_id, topic_id=topic_id, post_number=number, user_id=IDS[username], username=username,
                post_type=post_type, created_at=stamp(hours), updated_at=stamp(hours), version=1, raw=raw,
                topic_title=TITLES.get(topic_id, f"Topic {topic_id}"), topic_archetype=archetype, category_id=category,
                reply_to_post_number=None if reply_to is None else 1, reply_to_username=reply_to)


def event(name: str, p: Post) -> PostEvent:
    if name == "post_destroyed":
        p = replace(p, deleted_at=stamp(500))
    return PostEvent(Delivery(str(next(_event_ids)), name, "post"), post=p)


def liked(p: Post, liker: str) -> LikeEvent:
    return LikeEvent(Delivery(str(next(_event_ids)), "post_liked", "like"), post=p, liker_id=IDS[liker],
                     liker_username=liker)


def topic_event(name: str, topic_id: int, title: str, *, archetype: str = "regular") -> TopicEvent:
    topic = Topic(id=topic_id, title=title, slug="t", archetype=archetype, category_id=5, user_id=1,
                  created_at=stamp(0))
    return TopicEvent(Delivery(str(next(_event_ids)), name, "topic"), topic=topic)


@dataclass
class Clock:
    hours: float = 7 * 24 + 9          # Monday of 2026-W48, 09:00: when the digest of W47 is made

    def __call__(self) -> float:
        return W47 + self.hours * HOUR


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def eng(redis_conn: redis.Redis, clock: Clock) -> Engagement:
    return Engagement(redis_conn, KEYS, bot_username=BOT, clock=clock)


def record_all(eng: Engagement, clock: Clock, events: list[PostEvent | LikeEvent | TopicEvent]) -> None:
    """Record in order; a like is recorded at the time of the post it likes plus one hour (likes carry no time)."""
    saved = clock.hours
    for e in events:
        if isinstance(e, LikeEvent):
            clock.hours = (parse_time(e.post.created_at) - W47) / HOUR + 1
        eng.record(e)
    clock.hours = saved


def contents(conn: redis.Redis) -> dict[bytes, object]:
    """Everything in the test database, by key, whatever the type."""
    readers = {b"hash": conn.hgetall, b"set": conn.smembers, b"string": conn.get,
               b"zset": lambda k: conn.zrange(k, 0, -1, withscores=True)}
    return {key: readers[conn.type(key)](key) for key in conn.keys("*")}


# ---------------------------------------------------------------------------------------- a week of activity

ANN_OPENS = post(101, "ann", 10, 1, 0)
BOB_ANSWERS = post(102, "bob", 10, 2, 2, reply_to="ann")
ANN_THANKS = post(103, "ann", 10, 3, 3, reply_to="bob")
CY_OPENS = post(111, "cy", 11, 1, 24, category=6)
ANN_ANSWERS_CY = post(112, "ann", 11, 2, 30, category=6)


def the_week() -> list[PostEvent | LikeEvent | TopicEvent]:
    return [event("post_created", ANN_OPENS), event("post_created", BOB_ANSWERS), event("post_created", ANN_THANKS),
            event("post_created", CY_OPENS), event("post_created", ANN_ANSWERS_CY),
            liked(ANN_OPENS, "dee"), liked(CY_OPENS, "dee"), liked(CY_OPENS, "bob")]


def test_the_figures_of_a_hand_built_week(eng: Engagement, clock: Clock) -> None:
    record_all(eng, clock, the_week())
    f = eng.figures("2026-W47")
    assert f.engaged_members == 4                     # ann, bob, cy post; dee likes
    assert (f.topics, f.posts, f.replies, f.likes) == (2, 5, 3, 3)
    assert (f.new_contributors, f.returning_contributors, f.inactive_contributors) == (3, 0, 0)  # nothing before
    # topic 10: ann's own reply does not count, bob answered after 2 h; topic 11: ann answered after 6 h
    assert (f.ttfr_median_hours, f.ttfr_mean_hours) == (4.0, 4.0)
    assert f.ttfr_p90_hours == pytest.approx(5.6)     # 2 + 0.9 * (6 - 2)
    assert (f.topics_no_response_24h, f.topics_no_response_7d) == (0.0, 0.0)
    # edges bob→ann, ann→bob (reply_to), ann→cy (no reply_to: the topic's author): 2 of 3 reciprocated
    assert f.reciprocity == pytest.approx(2 / 3)
    # posts: ann 3, bob 1, cy 1 → sorted 1 1 3: 2*(1+2+9)/(3*5) - 4/3 = 4/15
    assert f.gini == pytest.approx(4 / 15)
    assert f.absence_factor == 1                      # ann's 3 of 5 are more than half


def test_the_figures_of_one_category(eng: Engagement, clock: Clock) -> None:
    record_all(eng, clock, the_week())
    f = eng.figures("2026-W47", category_id=5)
    assert (f.topics, f.posts, f.replies, f.likes, f.engaged_members) == (1, 3, 2, 1, 3)   # ann bob + dee's like
    assert f.ttfr_median_hours == 2.0
    assert f.reciprocity == 1.0                       # only ann↔bob in category 5
    assert f.new_contributors == 2                    # ann and bob
    assert eng.figures("2026-W47", category_id=6).posts == 2
    assert eng.figures("2026-W47", category_id=99).posts == 0


def test_top_topics_are_public_titles_by_posts_that_week(eng: Engagement, clock: Clock) -> None:
    record_all(eng, clock, the_week())
    assert eng.top_topics("2026-W47") == [(10, "Consent, in our words", 3), (11, "Where do we ask for help?", 2)]
    eng.record(topic_event("topic_edited", 11, "Asking for help"))
    assert eng.top_topics("2026-W47", n=1) == [(10, "Consent, in our words", 3)]
    assert eng.top_topics("2026-W47")[1] == (11, "Asking for help", 2)


def test_history_is_oldest_first_and_counts_each_week(eng: Engagement, clock: Clock) -> None:
    record_all(eng, clock, the_week() + [event("post_created", post(201, "eve", 20, 1, -7 * 24))])   # W46
    history = eng.history("2026-W47", n=3)
    assert [f.week for f in history] == ["2026-W45", "2026-W46", "2026-W47"]
    assert [f.posts for f in history] == [0, 1, 5]
    assert history[2] == eng.figures("2026-W47")


# ---------------------------------------------------------------------------------------- idempotency


def test_a_duplicate_event_changes_nothing(eng: Engagement, clock: Clock, redis_conn: redis.Redis) -> None:
    events = the_week()
    record_all(eng, clock, events)
    before = contents(redis_conn)
    figures = eng.figures("2026-W47")
    record_all(eng, clock, events[::-1])              # every event again, in another order
    record_all(eng, clock, [event("post_edited", replace(BOB_ANSWERS, version=2, raw="Edited."))])
    assert contents(redis_conn) == before
    assert eng.figures("2026-W47") == figures


def test_destroy_takes_a_post_back_and_recover_restores_it(eng: Engagement, clock: Clock,
                                                          redis_conn: redis.Redis) -> None:
    record_all(eng, clock, the_week())
    counted = contents(redis_conn)
    eng.record(event("post_destroyed", BOB_ANSWERS))
    f = eng.figures("2026-W47")
    assert (f.posts, f.replies) == (4, 2)
    # topic 10 is now answered by nobody but its author: one topic answered (after 6 h), one never
    assert (f.ttfr_median_hours, f.topics_no_response_24h) == (6.0, 0.5)
    assert f.reciprocity == 0.0                       # ann→bob and ann→cy, neither answered back
    assert f.engaged_members == 4                     # bob still liked a post this week
    eng.record(event("post_destroyed", BOB_ANSWERS))  # twice: nothing more
    assert eng.figures("2026-W47") == f
    eng.record(event("post_created", BOB_ANSWERS))    # a stale creation delivered late does not revive it
    assert eng.figures("2026-W47") == f
    eng.record(event("post_recovered", BOB_ANSWERS))
    assert contents(redis_conn) == counted


def test_a_deletion_takes_back_what_was_stored_even_if_the_post_moved(eng: Engagement, clock: Clock,
                                                                     redis_conn: redis.Redis) -> None:
    eng.record(event("post_created", ANN_OPENS))
    eng.record(event("post_destroyed", replace(ANN_OPENS, category_id=6)))    # the topic moved meanwhile
    assert eng.figures("2026-W47", category_id=5).posts == 0
    day = KEYS.engagement_day(week_start_day("2026-W47"))
    assert redis_conn.hgetall(day) == {}              # no count left behind, in either category
    assert redis_conn.zcard(KEYS.engagement_member_days("5", "ann")) == 0


def test_a_post_first_seen_deleted_counts_only_when_recovered(eng: Engagement) -> None:
    eng.record(event("post_destroyed", BOB_ANSWERS))
    eng.record(event("post_edited", BOB_ANSWERS))
    assert eng.figures("2026-W47").posts == 0
    eng.record(event("post_recovered", BOB_ANSWERS))
    assert eng.figures("2026-W47").posts == 1


def test_a_deleted_topic_leaves_the_figures_until_recovered(eng: Engagement, clock: Clock) -> None:
    record_all(eng, clock, the_week())
    eng.record(topic_event("topic_destroyed", 10, "Consent, in our words"))
    assert eng.figures("2026-W47").posts == 2
    assert [t for t, _, _ in eng.top_topics("2026-W47")] == [11]
    eng.record(topic_event("topic_recovered", 10, "Consent, in our words"))
    assert eng.figures("2026-W47").posts == 5


# ---------------------------------------------------------------------------------------- exclusions


def test_nothing_private_automated_or_asking_for_care_is_counted(eng: Engagement, clock: Clock,
                                                                redis_conn: redis.Redis) -> None:
    excluded = [
        post(301, "ann", 30, 1, 1, archetype="private_message"),              # a private message
        post(302, "bob", 10, 5, 2, post_type=POST_WHISPER),                   # a whisper
        post(303, BOT, 31, 1, 3),                                             # the service's own topic
        post(304, "system", 32, 1, 4),                                        # a Discourse bot (user id -1)
        post(305, "cy", 10, 6, 5, post_type=POST_SMALL_ACTION),               # a small action
        post(306, "dee", 33, 1, 6, raw="I need DIRECT  support, please."),    # a care post
    ]
    record_all(eng, clock, [event("post_created", p) for p in excluded]
               + [liked(p, "eve") for p in excluded]
               + [liked(ANN_OPENS, BOT), liked(ANN_OPENS, "system")])          # likes by bots
    f = eng.figures("2026-W47")
    assert (f.engaged_members, f.posts, f.topics, f.likes) == (0, 0, 0, 0)
    assert redis_conn.hlen(KEYS.engagement_week_posts("2026-W47")) == 0
    assert eng.top_topics("2026-W47") == []


def test_quoting_the_phrase_is_not_asking_for_care(eng: Engagement) -> None:
    eng.record(event("post_created", post(307, "ann", 10, 2, 1, raw='[quote]ask for "direct support"[/quote]\nYes.')))
    assert eng.figures("2026-W47").posts == 1


def test_bots_are_no_one_to_answer_or_to_reply_to(eng: Engagement, clock: Clock) -> None:
    record_all(eng, clock, [
        event("post_created", post(401, BOT, 40, 1, 0)),                 # the service opens a topic
        event("post_created", post(402, "ann", 40, 2, 1)),               # ann replies to it: no edge to a bot
        event("post_created", post(403, "bob", 41, 1, 0)),               # bob opens a topic
        event("post_created", post(404, BOT, 41, 2, 1, reply_to="bob")),  # only the service answers him
        event("post_created", post(405, "cy", 42, 2, 1, reply_to=BOT)),  # replying to the bot's post
    ])
    f = eng.figures("2026-W47")
    assert (f.posts, f.topics) == (3, 1)
    assert f.reciprocity is None                      # no edge at all
    assert f.ttfr_median_hours is None and f.topics_no_response_24h == 1.0   # bob's topic unanswered by people


# ---------------------------------------------------------------------------------------- care posts


def test_a_forgotten_post_leaves_no_trace_and_never_comes_back(eng: Engagement, clock: Clock) -> None:
    record_all(eng, clock, the_week())
    eng.forget_post(CY_OPENS.id)                      # cy's topic turned out to ask for care
    f = eng.figures("2026-W47")
    assert (f.topics, f.posts, f.likes) == (1, 4, 1)  # cy's opening post and both its likes are gone
    assert f.engaged_members == 3                     # ann, bob (a post), dee (a like of ann's post)
    assert [t for t, _, _ in eng.top_topics("2026-W47")] == [10]   # the topic is never listed
    record_all(eng, clock, [event("post_created", CY_OPENS), event("post_recovered", CY_OPENS),
                            liked(CY_OPENS, "eve")])
    assert eng.figures("2026-W47") == f


def test_a_post_edited_to_ask_for_care_is_forgotten_when_recorded(eng: Engagement, clock: Clock) -> None:
    record_all(eng, clock, the_week())
    eng.record(event("post_edited", replace(BOB_ANSWERS, version=2, raw="Actually I need direct support.")))
    f = eng.figures("2026-W47")
    assert (f.posts, f.replies) == (4, 2)
    eng.record(event("post_edited", replace(BOB_ANSWERS, version=3, raw="Never mind.")))
    assert eng.figures("2026-W47") == f               # once a care post, always left out


def test_forgetting_a_post_never_recorded_hides_the_topic_it_opened(eng: Engagement) -> None:
    eng.forget_post(501, opened_topic=50)
    eng.record(event("post_created", post(502, "ann", 50, 2, 1)))
    assert eng.figures("2026-W47").posts == 1         # ann's reply counts as hers
    assert eng.top_topics("2026-W47") == []           # but the care topic's title is never listed


# ---------------------------------------------------------------------------------------- freezing


def test_a_frozen_week_is_never_rewritten(eng: Engagement, clock: Clock) -> None:
    record_all(eng, clock, the_week())
    frozen = eng.freeze("2026-W47")
    category = eng.figures("2026-W47", category_id=5)
    top, names = eng.top_topics("2026-W47"), eng.new_contributor_names("2026-W47")
    assert frozen == eng.figures("2026-W47") and eng.is_frozen("2026-W47")
    late = [event("post_created", post(104, "eve", 10, 4, 20, reply_to="ann")),   # late: written in W47
            event("post_created", post(121, "fay", 12, 1, 8 * 24)),              # in W48
            event("post_destroyed", ANN_THANKS), liked(ANN_OPENS, "gus")]
    record_all(eng, clock, late)
    assert eng.figures("2026-W47") == frozen
    assert eng.figures("2026-W47", category_id=5) == category
    assert (eng.top_topics("2026-W47"), eng.new_contributor_names("2026-W47")) == (top, names)
    assert eng.freeze("2026-W47") == frozen           # a second freeze keeps the first copy
    assert eng.history("2026-W47", n=1) == [frozen]
    assert eng.figures("2026-W48").posts == 1         # the week after is live


# ---------------------------------------------------------------------------------------- contributors over time


def test_new_returning_and_inactive_over_ninety_days(eng: Engagement, clock: Clock) -> None:
    day = 24.0
    record_all(eng, clock, [
        event("post_created", post(601, "eve", 60, 1, -50 * day)),     # eve: 50 days before, silent now
        event("post_created", post(602, "fay", 61, 1, -100 * day)),    # fay: 100 days before …
        event("post_created", post(603, "fay", 62, 1, 1)),             # … and back this week
        event("post_created", post(604, "gus", 63, 1, 2)),
        event("post_created", post(605, "hal", 64, 1, 3)),
        event("post_created", post(606, "ivy", 65, 1, 4)),
        event("post_created", post(607, "kim", 66, 1, 5)),             # kim: nobody knows her
    ])
    eng.seed_contributors([("gus", stamp(-200 * day)),                 # gus posted 200 days before install
                           "hal",                                       # hal posted, date unknown
                           ("ivy", stamp(4)),                           # install re-run after ivy's first post
                           ("jo", stamp(-30 * day))])                  # jo posted 30 days before, silent now
    f = eng.figures("2026-W47")
    assert f.new_contributors == 2                    # ivy and kim: nothing before this week
    assert f.returning_contributors == 3              # fay (100 days), gus (200 days), hal (before, unknown)
    assert f.inactive_contributors == 2               # eve and jo posted within the 90 days, not this week
    assert eng.new_contributor_names("2026-W47") == ["ivy", "kim"]
    eng.record(event("post_destroyed", post(602, "fay", 61, 1, -100 * day)))
    assert eng.new_contributor_names("2026-W47") == ["fay", "ivy", "kim"]   # her old post is gone: she is new


def test_seeding_merges_first_and_last_days(eng: Engagement, redis_conn: redis.Redis) -> None:
    assert eng.seed_contributors([("ann", stamp(-48)), ("ann", stamp(-24))]) == 1
    eng.seed_contributors([("ann", stamp(-72)), "bob"])
    eng.seed_contributors(["ann"])
    monday = week_start_day("2026-W47")              # a username alone adds no date to what is known
    assert redis_conn.hgetall(KEYS.engagement_seeded) == {b"ann": f"{monday - 3},{monday - 1}".encode(),
                                                           b"bob": b","}


def test_reciprocity_spans_the_four_weeks_ending_with_the_week(eng: Engagement) -> None:
    week = 7 * 24.0
    eng.record(event("post_created", post(701, "ann", 70, 1, -4 * week)))                    # W43
    eng.record(event("post_created", post(702, "bob", 70, 2, -4 * week + 1, reply_to="ann")))  # W43: bob→ann
    eng.record(event("post_created", post(703, "ann", 70, 3, 1, reply_to="bob")))            # W47: ann→bob
    assert eng.figures("2026-W47").reciprocity == 0.0        # bob→ann is 4 weeks old: outside W44–W47
    assert eng.figures("2026-W46").reciprocity == 0.0        # W43–W46 hold bob→ann alone
    eng.record(event("post_created", post(704, "bob", 70, 4, -3 * week + 1, reply_to="ann")))  # W44: bob→ann
    assert eng.figures("2026-W47").reciprocity == 1.0


# ---------------------------------------------------------------------------------------- seeding from the forum


def test_seed_from_forum_reads_pages_of_latest_posts(sim: Sim, redis_conn: redis.Redis, eng: Engagement) -> None:
    forum_state = sim.forum
    members = {name: sim.user(name, trust_level=1) for name in ("ann", "bob", "cyd")}
    sim.user(BOT, trust_level=1)
    admin = forum_state.user_by_name("system")
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    topic = forum_state.create_post(members["ann"], raw="Let us write our Code of Care together.",
                                    title="Our Code of Care, first thoughts", created_at=start)
    for i in range(60):                                           # more than one page of 50
        author = members["bob"] if i % 2 else members["cyd"]
        forum_state.create_post(author, raw=f"Reply number {i} with enough words.", topic_id=topic.topic_id,
                                created_at=start + timedelta(hours=i + 1))
    forum_state.create_post(members["cyd"], raw="I would like direct support, please.", topic_id=topic.topic_id,
                            created_at=start + timedelta(days=5))
    forum_state.create_post(admin, raw="A private word with ann, kept private.", title="Just between us",
                            archetype="private_message", target_recipients=["ann"])
    settings = Settings.from_env({}, dotenv=False, discourse_url=sim.url, discourse_api_key=sim.api_key,
                                 bot_username=BOT)
    with Forum(settings, budget=ApiBudget(redis_conn, key=KEYS.api_budget, per_minute=60)) as forum:
        assert seed_from_forum(forum, eng, max_pages=1) == 2      # the newest 50: bob and cyd only
        assert seed_from_forum(forum, eng, max_pages=5) == 3
        calls = forum.calls_made
    assert calls == 1 + 2                                          # 62 public posts: pages of 50 and 12
    seeded = {k.decode(): v.decode() for k, v in redis_conn.hgetall(KEYS.engagement_seeded).items()}
    day = int(start.timestamp() // 86400)
    assert seeded["ann"] == f"{day},{day}"
    assert seeded["cyd"] == f"{day},{day + 2}"                    # cyd's care post (day + 5) is not seen


# ---------------------------------------------------------------------------------------- the stats command


def run_stats(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url, "COC_REDIS_PREFIX": KEYS.prefix, "COC_BOT_USERNAME": BOT}
    return subprocess.run([sys.executable, "-m", "plugin", "stats", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def table(output: str) -> dict[str, str]:
    """The table's rows: label → value (the label and the value are separated by two or more spaces)."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in output.splitlines()[2:] if line.strip()]
    return {label: value for label, value in rows}


def test_stats_prints_the_figures_as_a_table(eng: Engagement, clock: Clock, redis_url: str) -> None:
    record_all(eng, clock, the_week())
    result = run_stats(redis_url, "--week", "2026-W47")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Engagement in 2026-W47 (2026-11-16 to 2026-11-22, UTC), the whole forum\n")
    rows = table(result.stdout)
    assert (rows["engaged members"], rows["posts"], rows["replies"], rows["likes given"]) == ("4", "5", "3", "3")
    assert (rows["first response, median"], rows["reciprocity (4 weeks)"]) == ("4.0 h", "0.67")
    assert rows["contributor absence factor"] == "1"
    by_category = run_stats(redis_url, "--week", "2026-W47", "--category", "5")
    assert "category 5" in by_category.stdout.splitlines()[0]
    assert table(by_category.stdout)["posts"] == "3"
    eng.freeze("2026-W47")
    assert "frozen" in run_stats(redis_url, "--week", "2026-W47").stdout.splitlines()[0]


def test_stats_refuses_a_week_that_does_not_exist(redis_url: str) -> None:
    result = run_stats(redis_url, "--week", "2025-W53")
    assert result.returncode == 2
    assert "2025 has ISO weeks 1 to 52" in result.stderr


# ---------------------------------------------------------------------------------------- install seeds


def test_install_seeds_who_posted_before(sim: Sim, redis_conn: redis.Redis, eng: Engagement) -> None:
    sim.user(BOT, trust_level=1)
    ann = sim.user("ann", trust_level=1)
    sim.forum.create_post(ann, raw="Let us write our Code of Care together.", title="Our Code of Care, first thoughts")
    settings = Settings.from_env({}, dotenv=False, discourse_url=sim.url, discourse_api_key=sim.api_key,
                                 bot_username=BOT, redis_prefix=KEYS.prefix, seed_pages=3)
    with Forum(settings, budget=ApiBudget.for_settings(redis_conn, settings)) as forum:
        step = install_seed(settings, redis_conn, forum)
    assert step.line() == "ok            contributors who posted before: 1 member seeded from the latest 150 " \
                          "public posts at most"
    assert redis_conn.hexists(KEYS.engagement_seeded, "ann")


def test_a_first_response_weeks_later_is_found(eng: Engagement, clock: Clock) -> None:
    week = 7 * 24.0
    eng.record(event("post_created", post(801, "ann", 80, 1, 0)))                      # W47
    for i in range(25):                                                                  # W49: only ann, 25 times
        eng.record(event("post_created", post(802 + i, "ann", 80, 2 + i, 2 * week + i)))
    clock.hours = 5 * week
    assert eng.figures("2026-W47").ttfr_median_hours is None
    eng.record(event("post_created", post(900, "bob", 80, 30, 3 * week)))              # W50: bob, at last
    f = eng.figures("2026-W47")
    assert f.ttfr_median_hours == 3 * week                                              # 504 hours
    assert (f.topics_no_response_24h, f.topics_no_response_7d) == (1.0, 1.0)           # late on both counts


# ---------------------------------------------------------------------------------------- through the whole service


def test_the_worker_records_what_the_forum_sends(companion: Companion) -> None:
    c = companion
    opened = c.member("ann").create_post("How do we make sure every voice is heard here?",
                                         title="Hearing every voice in our threads")
    c.member("bob").create_post("By answering each other, I think.", topic_id=opened["topic_id"])
    taken_back = c.member("cyd").create_post("Thank you both; this matters to me.", topic_id=opened["topic_id"])
    c.member("dee").create_post("I need direct support, please, this week has been hard.",
                                topic_id=opened["topic_id"])
    like(c, "eve", opened["id"])
    c.settle()
    c.sim.http("cyd").delete(f"{c.sim.url}/posts/{taken_back['id']}.json")     # cyd takes her reply back
    c.settle()
    week = iso_week(opened["created_at"])
    f = c.services.engagement.figures(week)
    # ann opened, bob replied (cyd's reply deleted, dee's care post never counted, the bot's document excluded)
    assert (f.topics, f.posts, f.replies, f.likes) == (1, 2, 1, 1)
    assert f.engaged_members == 3                     # ann, bob, and eve who liked
    assert f.reciprocity == 0.0                       # bob→ann, unanswered
    assert c.services.engagement.top_topics(week) == [(opened["topic_id"], "Hearing every voice in our threads", 2)]
