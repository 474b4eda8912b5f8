"""The weekly digest end to end: two weeks of forum activity through the simulator, its signed webhooks and the
receiver into the engagement store; then the digest job on a real RQ worker posts the topic, once.

The forum's clock is set by the test, so the weeks are real past ISO weeks (2026-W09 and 2026-W10), and every
figure the digest must show is worked out below from the script of the weeks. A member asks for "direct support"
in the second week — in a reply and in a topic of their own — and appears nowhere: not named, not counted.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from plugin.__main__ import main
from plugin.domain.names import TAG_DIGEST as DIGEST_TAG
from plugin.text.digest import CHART, inline_text
from plugin.domain.document import parse_document
from plugin.adapters.engagement_store import Engagement
from plugin.queues import QUEUE_DIGEST
from simulator.state import Forum as SimForum
from tests.companion import Companion, companion  # noqa: F401  (fixture)
from tests.test_amendments_e2e import like, propose, reply
from worker.digest import WeekNotOver, post_digest

UTC = timezone.utc
BEFORE, WEEK = "2026-W09", "2026-W10"
MONDAY_BEFORE = datetime(2026, 2, 23, tzinfo=UTC)      # 2026-W09: 23 February – 1 March
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)               # 2026-W10: 2 – 8 March
EXTERNAL_ID = "coc-digest-2026-W10"

T1 = "Tea and kindness on Tuesdays"
T2 = "How do we welcome newcomers here?"
T3 = "Ideas for the spring gathering"
T4 = "Having a really hard week, honestly"
CARE_REPLY = "I am not doing well at all and I think I need direct support, please."
CARE_TOPIC = "Everything feels too heavy right now. Could someone give me direct support?"


class Clock:
    """The forum's and the engagement store's time, moved by the test."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_BEFORE - timedelta(days=7))       # install happens in the week before the first one


@pytest.fixture
def sim_forum(clock: Clock) -> SimForum:
    forum = SimForum(clock=clock)
    forum.settings["max_admin_api_reqs_per_minute"] = 100_000
    return forum


@pytest.fixture
def c(companion: Companion, clock: Clock) -> Iterator[Companion]:  # noqa: F811
    """The companion, its engagement store on the test's clock (a like carries no time: it counts when recorded)."""
    companion.services.engagement = Engagement(companion.conn, companion.services.keys,
                                               bot_username=companion.settings.bot_username,
                                               clock=lambda: clock().timestamp())
    yield companion


def at(c: Companion, clock: Clock, moment: datetime) -> None:
    """Let everything so far reach the service, then move the clock on."""
    c.settle()
    assert moment >= clock.at
    clock.at = moment


def topic(c: Companion, who: str, title: str, raw: str) -> dict:
    return c.member(who).create_post(raw, title=title)


def answer(c: Companion, who: str, post: dict, raw: str) -> dict:
    return c.member(who).create_post(raw, topic_id=post["topic_id"], reply_to_post_number=post["post_number"])


def two_weeks(c: Companion, clock: Clock) -> dict[str, int]:
    """The script. Every post is at least 20 characters (Discourse's minimum)."""
    for name in ("alice", "bob", "carol", "dave", "erin", "sam"):
        c.member(name, trust_level=1)
    credit = c.sim.forum.group_by_name(c.settings.consent_group)
    c.sim.forum.add_members(credit, [c.sim.forum.user_by_name("carol"), c.sim.forum.user_by_name("sam")])
    document_topic = c.store.document()["topic_id"]
    d = timedelta

    # ---- 2026-W09
    at(c, clock, MONDAY_BEFORE + d(hours=10))
    t1 = topic(c, "alice", T1, "Shall we meet for tea every Tuesday to talk about care?")
    at(c, clock, MONDAY_BEFORE + d(hours=12))
    t1_bob = answer(c, "bob", t1, "Yes please, Tuesdays work well for me.")            # answers alice after 2 h
    at(c, clock, MONDAY_BEFORE + d(days=1, hours=10))
    answer(c, "erin", t1, "Count me in for the first one at least.")
    at(c, clock, MONDAY_BEFORE + d(days=1, hours=11))
    like(c, "bob", t1["id"])

    # ---- 2026-W10
    at(c, clock, MONDAY + d(hours=10))
    t2 = topic(c, "carol", T2, "What helped you feel welcome when you first arrived here?")
    at(c, clock, MONDAY + d(hours=11))
    t2_alice = answer(c, "alice", t2, "Someone replied to my first post within the hour.")   # 1 h
    at(c, clock, MONDAY + d(hours=13))
    t2_carol = answer(c, "carol", t2_alice, "That is lovely, thank you for sharing it.")
    at(c, clock, MONDAY + d(hours=14))
    reply(c, "carol", document_topic, "I have been reading the Code this week and it helps me a lot.")
    at(c, clock, MONDAY + d(hours=15))
    like(c, "dave", t2["id"])
    at(c, clock, MONDAY + d(days=1, hours=10))
    t3 = topic(c, "dave", T3, "Where should we meet for the spring gathering this year?")
    at(c, clock, MONDAY + d(days=1, hours=12))
    like(c, "alice", t3["id"])
    at(c, clock, MONDAY + d(days=1, hours=15))
    propose(c, "bob")
    at(c, clock, MONDAY + d(days=2, hours=12))
    t3_bob = answer(c, "bob", t3, "The park by the river has shade and benches.")       # 26 h
    at(c, clock, MONDAY + d(days=2, hours=14))
    answer(c, "dave", t3_bob, "Good idea, I will ask about the benches.")
    at(c, clock, MONDAY + d(days=2, hours=16))
    like(c, "bob", t2_alice["id"])
    at(c, clock, MONDAY + d(days=3, hours=9))
    answer(c, "alice", t1_bob, "See you on Tuesday then, I will bring biscuits.")
    at(c, clock, MONDAY + d(days=3, hours=10))
    regret = answer(c, "dave", t2, "A reply that dave will take back shortly after.")
    at(c, clock, MONDAY + d(days=3, hours=10, minutes=30))
    assert c.sim.http("dave").delete(f"{c.sim.url}/posts/{regret['id']}.json").status_code == 200
    at(c, clock, MONDAY + d(days=3, hours=12))
    c.member("alice").create_post("Just between us: thank you for the tea.", title="A private thank you note",
                                  archetype="private_message", target_recipients="bob")
    at(c, clock, MONDAY + d(days=4, hours=15))
    care_reply = answer(c, "sam", t2, CARE_REPLY)
    at(c, clock, MONDAY + d(days=4, hours=16))
    care_topic = topic(c, "sam", T4, CARE_TOPIC)
    at(c, clock, MONDAY + d(days=4, hours=17))
    like(c, "carol", care_reply["id"])
    at(c, clock, MONDAY + d(days=5, hours=10))
    answer(c, "bob", t2_carol, "Welcoming people by name matters, I think.")
    at(c, clock, MONDAY + d(days=6, hours=20))
    # two weeks later, every topic of the week is old enough to say whether it went 7 days without an answer
    at(c, clock, MONDAY + d(days=14, hours=10))
    return {"t1": t1["topic_id"], "t2": t2["topic_id"], "t3": t3["topic_id"], "care_topic": care_topic["topic_id"],
            "document": document_topic}


# Worked out from the script. 2026-W10, counted posts: carol (T2 #1, T2 #3, the Code's topic), alice (T2 #2,
# T1 #4), dave (T3 #1, T3 #3), bob (the proposal, T3 #2, T2 #6) = 10, of which 2 open topics and 8 reply.
# Not counted: dave's deleted reply, alice's message, sam's two care posts and carol's like of one of them.
# Likes: dave, alice, bob = 3. Took part: carol, alice, dave, bob = 4. New: carol, dave (alice and bob posted in
# W09) = 2. Inactive: erin (posted in W09 only) = 1; returning: 0.
# First responses: T2 after 1 h, T3 after 26 h → median (1 + 26) / 2 = 13.5 h, 90th percentile 1 + 0.9 × 25 =
# 23.5 h, mean 13.5 h; T3 went unanswered for more than 24 h: 1 of 2 = 50 %; none for 7 days: 0 %.
# Reply graph over W07–W10: bob→alice, erin→alice (W09); alice→carol, carol→alice, bob→dave, dave→bob, alice→bob,
# bob→carol (W10) = 8 edges, 6 of them answered in kind (all but erin→alice and bob→carol): 0.75.
# Posts per member 3, 3, 2, 2: Gini = Σ|xi − xj| / (2 n² x̄) = 8 / (2 × 16 × 2.5) = 0.10; half of 10 posts needs
# 2 members (3 + 3 ≥ 5): absence factor 2.
# 2026-W09: posts alice, bob, erin = 3, 1 topic, 2 replies, 1 like; 3 took part, all new; T1 answered after 2 h;
# edges bob→alice, erin→alice, none answered: 0.00; 1 post each: Gini 0.00, absence factor 2 (1 + 1 ≥ 1.5).
EXPECTED_ROWS = {
    "Members who took part (started a topic, replied or liked)": ["4", "3", "+1"],
    "New contributors (first post ever)": ["2", "3", "−1"],
    "Returning contributors (back after 90 days or more)": ["0", "0", "no change"],
    "Inactive contributors (posted in the 90 days before, not this week)": ["1", "0", "+1"],
    "Topics": ["2", "1", "+1"],
    "Posts": ["10", "3", "+7"],
    "Replies": ["8", "2", "+6"],
    "Likes given": ["3", "1", "+2"],
    "Time to first response, median": ["13.5 h", "2.0 h", "+11.5 h"],
    "Time to first response, 90th percentile": ["23.5 h", "2.0 h", "+21.5 h"],
    "Time to first response, mean (Discourse-comparable)": ["13.5 h", "2.0 h", "+11.5 h"],
    "Topics without a response after 24 hours": ["50 %", "0 %", "+50 points"],
    "Topics without a response after 7 days": ["0 %", "0 %", "no change"],
    "Reciprocity: replies answered in kind (last 4 weeks, 0 to 1)": ["0.75", "0.00", "+0.75"],
    "Concentration: participation Gini (0 = everyone posts alike)": ["0.10", "0.00", "+0.10"],
    "Absence factor: fewest members who wrote half the posts": ["2", "2", "no change"],
}


def rows(raw: str) -> dict[str, list[str]]:
    table = {}
    for line in raw.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in EXPECTED_ROWS:
            table[cells[0]] = cells[1:]
    return table


def digest_topics(c: Companion) -> list:
    return [t for t in c.sim.forum.topics.values() if t.external_id == EXTERNAL_ID]


def use_the_companion_from_the_command_line(c: Companion, monkeypatch: pytest.MonkeyPatch) -> None:
    s = c.settings
    for name, value in {"DISCOURSE_URL": s.discourse_url, "DISCOURSE_API_KEY": s.discourse_api_key,
                        "DISCOURSE_API_USERNAME": s.discourse_api_username, "REDIS_URL": s.redis_url,
                        "DISCOURSE_WEBHOOK_SECRET": s.discourse_webhook_secret, "COC_REDIS_PREFIX": s.redis_prefix,
                        "COC_API_BUDGET_PER_MIN": str(s.api_budget_per_min)}.items():
        monkeypatch.setenv(name, value)


def test_the_weekly_digest_shows_the_week_posts_once_and_leaves_care_out(
        c: Companion, clock: Clock, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    topics = two_weeks(c, clock)
    uploads_before = len(c.sim.forum.uploads)

    # by hand, first a dry run: it prints the digest and changes nothing
    use_the_companion_from_the_command_line(c, monkeypatch)
    assert main(["digest", "--week", WEEK, "--dry-run"]) == 0
    dry_run = capsys.readouterr().out
    assert digest_topics(c) == [] and len(c.sim.forum.uploads) == uploads_before
    assert not c.services.engagement.is_frozen(WEEK)

    # the scheduled job, on a real RQ worker
    c.services.enqueue(QUEUE_DIGEST, "worker.jobs.post_digest", WEEK, job_id=EXTERNAL_ID)
    c.settle()
    (posted,) = digest_topics(c)
    assert posted.title == "Weekly digest: 2–8 March 2026"                    # its dates, as members read them
    assert DIGEST_TAG in posted.tags
    assert c.sim.forum.categories[posted.category_id].name == c.settings.drafts_category
    assert c.sim.forum.users[posted.user_id].username == c.settings.bot_username
    raw = c.sim.forum.posts[posted.post_ids[0]].raw

    assert rows(raw) == EXPECTED_ROWS

    # the chart, uploaded through the forum's upload API
    (upload,) = [u for u in c.sim.forum.uploads.values() if u.short_url in raw]
    assert CHART.format(url=upload.short_url) in raw
    assert upload.data[:8] == b"\x89PNG\r\n\x1a\n" and (upload.width, upload.height) == (800, 360)
    assert len(c.sim.forum.uploads) == uploads_before + 1

    # the Code of Care: bob's proposal discussed "Consent", carol's reply the Code as a whole
    consent = parse_document(c.store.document()["raw"]).find("Consent")
    assert consent is not None
    assert f"- **{consent.label}**: 1 post discussed it, 1 proposal\n" in raw
    assert "- **The Code as a whole**: 1 post discussed it\n" in raw

    # the most active public threads: T2 (4 counted posts), T3 (3), the Code's topic (2), T1 (1)
    document_title = inline_text(c.sim.forum.topics[topics["document"]].title)
    assert (f"1. [{T2}](/t/{topics['t2']}) — 4 posts\n2. [{T3}](/t/{topics['t3']}) — 3 posts\n"
            f"3. [{document_title}](/t/{topics['document']}) — 2 posts\n4. [{T1}](/t/{topics['t1']}) — 1 post\n"
            ) in raw

    # two new contributors; carol consented to be named, dave did not
    assert ("Thank you to the 2 members who posted here for the first time this week: welcome! Among them, carol "
            "chose to be named.") in raw
    assert "dave" not in raw

    # care: sam consented to be named too, yet sam, their words and their topic are nowhere
    for absent in ("sam", T4, "hard week", "direct support", "heavy", f"/t/{topics['care_topic']}"):
        assert absent not in raw, absent

    # the dry run printed the same digest, without the chart (which it does not upload)
    assert dry_run == f"{posted.title}\n\n{raw.replace(CHART.format(url=upload.short_url) + chr(10) * 2, '')}"

    # exactly once: the job again, the command by hand, and a run that lost Redis' marks of what it did
    c.services.enqueue(QUEUE_DIGEST, "worker.jobs.post_digest", WEEK, job_id=f"{EXTERNAL_ID}-again")
    c.settle()
    assert main(["digest", "--week", WEEK]) == 0
    assert capsys.readouterr().out == f"digest {WEEK} already posted as topic {posted.id}\n"
    c.conn.delete(c.keys.digest_topic(WEEK), c.keys.digest_chart(WEEK))
    assert post_digest(c.services, WEEK).startswith(f"digest {WEEK} posted as topic {posted.id}; ")
    assert digest_topics(c) == [posted]
    assert len(c.sim.forum.uploads) == uploads_before + 1          # the same chart, deduplicated by the forum
    assert c.sim.forum.posts[posted.post_ids[0]].raw == raw

    # the published week is frozen: a late reply dated in it changes nothing
    clock.at = MONDAY + timedelta(days=6)
    answer(c, "erin", {"topic_id": topics["t3"], "post_number": 1}, "Sorry I am late, the park sounds good.")
    c.settle()
    assert c.services.engagement.figures(WEEK).posts == 10


def test_a_week_that_is_not_over_has_no_digest(c: Companion) -> None:
    with pytest.raises(WeekNotOver, match="is not over until 2026-03-09 00:00 UTC"):
        post_digest(c.services, WEEK, now=MONDAY + timedelta(days=6, hours=23))
    assert digest_topics(c) == [] and not c.services.engagement.is_frozen(WEEK)


def test_the_digest_command_refuses_a_week_that_is_not_over(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digest", "--week", "2099-W01"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("digest: the week 2099-W01 is not over until 2099-01-05 00:00 UTC")


def test_the_digest_command_wants_an_iso_week(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["digest", "--week", "2026-W54", "--dry-run"])
    assert exited.value.code == 2
    assert "argument --week: 2026 has ISO weeks 1 to 53" in capsys.readouterr().err
