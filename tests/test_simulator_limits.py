"""Discourse's per-user rate limits and post validators in the simulator (simulator/limits.py), over real HTTP.

Each rule: the first action passes, the next is refused with Discourse's status, body and Retry-After, and time (the
forum's clock, never a sleep) or a staff account or a setting lets it through. Members are made in the forum
directly; `created_at` is the forum's clock, so a fresh member is a new user on their first day, as in Discourse.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from simulator.limits import SITE_SETTINGS
from simulator.state import Forum, User
from tests.simulator_fixtures import Sim, start_sim

DAY = 86400
REPLY_TOO_QUICKLY = "You’re replying a bit too quickly. Please wait {} before trying again."
TOPICS_TOO_QUICKLY = "You’re creating topics a bit too quickly. Please wait {} before trying again."


class Clock:
    """The forum's clock, moved by the tests."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 12, 0, 0, tzinfo=timezone.utc)
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim_forum(clock: Clock) -> Forum:
    """A forum on a clock the test moves, whose admin API bucket does not get in the way of these tests (it is
    tested in test_simulator_api.py); every per-user setting keeps Discourse's default."""
    forum = Forum(clock=clock)
    forum.settings["max_admin_api_reqs_per_minute"] = 100_000
    return forum


# --------------------------------------------------------------------------------------------------- helpers


def member(sim: Sim, username: str, *, trust_level: int = 1, days_old: float = 0) -> User:
    user = sim.user(username, trust_level=trust_level)
    user.created_at = sim.forum.now() - timedelta(days=days_old)
    return user


def moderator(sim: Sim, username: str = "mod") -> User:
    user = member(sim, username, trust_level=1)
    sim.forum.set_moderator(user, True)
    return user


def a_topic(sim: Sim, author: str = "system", title: str = "A topic to reply to in these tests") -> int:
    user = sim.forum.require_user(author)
    return sim.forum.create_post(user, title=title,
                                 raw="The opening post of a topic for the rate limit tests.").topic_id


def reply(sim: Sim, username: str, topic_id: int, raw: str) -> requests.Response:
    return sim.http(username).post(f"{sim.url}/posts.json", data={"topic_id": topic_id, "raw": raw})


def new_topic(sim: Sim, username: str, title: str, raw: str | None = None) -> requests.Response:
    return sim.http(username).post(f"{sim.url}/posts.json",
                                   data={"title": title, "raw": raw or f"The body of the topic called {title}."})


def message(sim: Sim, username: str, to: str, title: str) -> requests.Response:
    return sim.http(username).post(f"{sim.url}/posts.json", data={
        "title": title, "raw": f"A private word, called {title}.", "archetype": "private_message",
        "target_recipients": to})


def edit(sim: Sim, username: str, post_id: int, raw: str) -> requests.Response:
    return sim.http(username).put(f"{sim.url}/posts/{post_id}.json", data={"post[raw]": raw})


def like(sim: Sim, username: str, post_id: int) -> requests.Response:
    return sim.http(username).post(f"{sim.url}/post_actions.json", data={"id": post_id, "post_action_type_id": 2})


def unlike(sim: Sim, username: str, post_id: int) -> requests.Response:
    return sim.http(username).delete(f"{sim.url}/post_actions/{post_id}.json", params={"post_action_type_id": 2})


def setting(sim: Sim, name: str, value: Any) -> None:
    answer = sim.http("system").put(f"{sim.url}/admin/site_settings/{name}.json", data={name: value})
    assert answer.status_code == 200, answer.text


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: requests.Response, wait: int, message: str) -> None:
    """Discourse's 429 for a per-user limit: the exact body, Retry-After, and no error-code header."""
    assert response.status_code == 429, response.text
    time_left = ("a few seconds" if wait <= 3 else f"{wait} seconds" if wait < 60 else
                 (f"{wait // 60} minute" + ("s" if wait // 60 != 1 else "")) if wait < 3600 else
                 (f"{wait // 3600} hour" + ("s" if wait // 3600 != 1 else "")))
    assert response.json() == {"errors": [message.format(time_left)], "error_type": "rate_limit",
                               "extras": {"wait_seconds": wait, "time_left": time_left}}
    assert response.headers["Retry-After"] == str(wait)
    assert "Discourse-Rate-Limit-Error-Code" not in response.headers
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def invalid(response: requests.Response, *errors: str) -> None:
    """A refused `POST /posts.json`: 422 and NewPostResultSerializer's body (PostsController#create)."""
    assert response.status_code == 422, response.text
    assert response.json() == {"action": "create_post", "errors": list(errors)}


def posts_in(sim: Sim, topic_id: int) -> int:
    return len(sim.forum.topics[topic_id].post_ids)


# --------------------------------------------------------------------------------------------------- settings


def test_the_settings_are_discourses_with_its_defaults(sim: Sim) -> None:
    listed = {s["setting"]: s["value"] for s in
              ok(sim.http("system").get(f"{sim.url}/admin/site_settings.json"))["site_settings"]}
    for name, default in SITE_SETTINGS.items():
        assert listed[name] == str(default)
    assert SITE_SETTINGS["rate_limit_create_topic"] == 15 and SITE_SETTINGS["rate_limit_create_post"] == 5
    assert SITE_SETTINGS["rate_limit_new_user_create_post"] == 30 and SITE_SETTINGS["unique_posts_mins"] == 5
    assert (SITE_SETTINGS["max_topics_per_day"], SITE_SETTINGS["max_personal_messages_per_day"],
            SITE_SETTINGS["max_topics_in_first_day"], SITE_SETTINGS["max_replies_in_first_day"],
            SITE_SETTINGS["max_edits_per_day"], SITE_SETTINGS["max_likes_per_day"],
            SITE_SETTINGS["max_consecutive_replies"]) == (20, 20, 3, 10, 30, 50, 3)
    # Deleted from Discourse in 2023 (PR #23326): PUT answers as for any unknown setting.
    gone = sim.http("system").put(f"{sim.url}/admin/site_settings/rate_limit_new_user_create_topic.json",
                                  data={"rate_limit_new_user_create_topic": "0"})
    assert gone.status_code == 422
    setting(sim, "tl3_additional_likes_per_day_multiplier", "2.5")
    assert sim.forum.settings["tl3_additional_likes_per_day_multiplier"] == 2.5


# --------------------------------------------------------------------------------------------------- intervals


def test_a_new_user_waits_30_seconds_between_posts_and_a_refusal_changes_nothing(sim: Sim, clock: Clock) -> None:
    member(sim, "alice")                                          # trust level 1, joined now: a new user
    topic_id = a_topic(sim)
    ok(reply(sim, "alice", topic_id, "My first reply in this topic, hello everyone."))
    clock.advance(10)
    before = posts_in(sim, topic_id)
    refused(reply(sim, "alice", topic_id, "A second reply, ten seconds later, too soon."), 20, REPLY_TOO_QUICKLY)
    assert posts_in(sim, topic_id) == before
    clock.advance(18)
    refused(reply(sim, "alice", topic_id, "A second reply, twenty-eight seconds later."), 2, REPLY_TOO_QUICKLY)
    clock.advance(2)
    ok(reply(sim, "alice", topic_id, "A second reply, thirty seconds later: now it goes."))


def test_a_member_past_the_first_day_waits_5_seconds_and_staff_never(sim: Sim, clock: Clock) -> None:
    member(sim, "olive", days_old=3)                              # trust level 1, joined 3 days ago
    moderator(sim)
    topic_id = a_topic(sim)
    ok(reply(sim, "olive", topic_id, "A reply from a member who joined days ago."))
    refused(reply(sim, "olive", topic_id, "And another one straight away, too soon."), 5, REPLY_TOO_QUICKLY)
    clock.advance(5)
    ok(reply(sim, "olive", topic_id, "And another one five seconds later, fine."))
    for _ in range(5):                                            # staff: rate_unlimited?, and no validators
        ok(reply(sim, "mod", topic_id, "The moderator says the same thing again and again."))


def test_topics_and_messages_share_the_topic_interval_and_a_first_post_counts_as_a_post(
        sim: Sim, clock: Clock) -> None:
    member(sim, "olive", trust_level=2)
    member(sim, "bob")
    ok(new_topic(sim, "olive", "The first topic olive starts"))
    clock.advance(5)
    before = len(sim.forum.topics)
    refused(new_topic(sim, "olive", "The second topic olive starts"), 10, TOPICS_TOO_QUICKLY)
    refused(message(sim, "olive", "bob", "A message five seconds on"), 10, TOPICS_TOO_QUICKLY)
    assert len(sim.forum.topics) == before
    clock.advance(10)
    ok(message(sim, "olive", "bob", "A message fifteen seconds on"))
    clock.advance(15)
    topic_id = ok(new_topic(sim, "olive", "The third topic olive starts"))["topic_id"]
    clock.advance(2)                                              # the topic's first post was a post
    refused(reply(sim, "olive", topic_id, "Replying to my own topic right away."), 3, REPLY_TOO_QUICKLY)


def test_a_new_user_has_no_longer_topic_interval_but_their_post_interval_applies(sim: Sim, clock: Clock) -> None:
    """rate_limit_new_user_create_topic was deleted from Discourse: a new user's topics wait 15 s, like anyone's,
    but the topic's first post waits the new user's 30 s post interval."""
    member(sim, "alice")
    ok(new_topic(sim, "alice", "Alice starts her first topic"))
    clock.advance(20)
    refused(new_topic(sim, "alice", "Alice starts her second topic"), 10, REPLY_TOO_QUICKLY)
    clock.advance(10)
    ok(new_topic(sim, "alice", "Alice starts her second topic"))


# --------------------------------------------------------------------------------------------------- per day


def test_first_day_topics_then_the_new_user_may_start_more_after_a_day(sim: Sim, clock: Clock) -> None:
    member(sim, "alice")
    for n in range(3):                                            # max_topics_in_first_day
        ok(new_topic(sim, "alice", f"Alice's topic number {n + 1} today"))
        clock.advance(30)
    refused(new_topic(sim, "alice", "Alice's topic number 4 today"), DAY - 90,
            "We appreciate your enthusiasm! That said, for the safety of our community, you’ve reached the maximum "
            "number of topics a new user can create on their first day. Please wait {} and you’ll be able to "
            "create more new topics.")
    clock.advance(DAY - 90)
    ok(new_topic(sim, "alice", "Alice's topic number 4, a day later"))


def test_topics_per_day_set_through_the_admin_api_and_messages_do_not_count(sim: Sim, clock: Clock) -> None:
    member(sim, "olive", trust_level=2)
    member(sim, "bob")
    setting(sim, "max_topics_per_day", 2)
    for n in range(2):
        ok(new_topic(sim, "olive", f"Olive's topic number {n + 1} today"))
        clock.advance(15)
    refused(new_topic(sim, "olive", "Olive's topic number 3 today"), DAY - 30,
            "You’ve reached the maximum new topics allowed per day. You can create more new topics in {}.")
    ok(message(sim, "olive", "bob", "A message is not a topic of the day"))
    clock.advance(DAY - 30)
    ok(new_topic(sim, "olive", "Olive's topic number 3, a day later"))


def test_messages_per_day(sim: Sim, clock: Clock) -> None:
    member(sim, "olive", trust_level=2)
    member(sim, "bob")
    setting(sim, "max_personal_messages_per_day", 1)
    ok(message(sim, "olive", "bob", "The one message of the day"))
    clock.advance(15)
    refused(message(sim, "olive", "bob", "A second message today"), DAY - 15,
            "You’ve reached the maximum messages allowed per day. You can create more new messages in {}.")
    ok(new_topic(sim, "olive", "A topic is not a message of the day"))


def test_first_day_replies(sim: Sim, clock: Clock) -> None:
    alice = member(sim, "alice")
    topic_id = sim.forum.create_post(alice, title="Alice's own topic for replies",
                                     raw="Alice opens her topic.").topic_id
    setting(sim, "max_replies_in_first_day", 2)
    setting(sim, "rate_limit_new_user_create_post", 0)            # the interval is another test's
    for n in range(2):
        ok(reply(sim, "alice", topic_id, f"Alice's reply number {n + 1} on her first day."))
    refused(reply(sim, "alice", topic_id, "Alice's third reply on her first day."), DAY,
            "We appreciate your enthusiasm, keep it up! That said, for the safety of our community, you’ve reached "
            "the maximum number of replies a new user can create on their first day. Please wait {} and you’ll be "
            "able to create more replies.")
    clock.advance(DAY)                                            # her first post is a day old: no longer her first day
    ok(reply(sim, "alice", topic_id, "Alice's third reply, a day later."))


def test_edits_per_day_count_each_new_version_and_refuse_without_changing(sim: Sim, clock: Clock) -> None:
    alice = member(sim, "alice")
    post = sim.forum.create_post(alice, title="Alice's topic to edit a lot", raw="The first words of Alice's post.")
    setting(sim, "max_edits_per_day", 2)
    ok(edit(sim, "alice", post.id, "The second words of Alice's post."))
    clock.advance(1)
    ok(edit(sim, "alice", post.id, "The third words of Alice's post."))
    ok(edit(sim, "alice", post.id, "The third words of Alice's post."))   # no change: no revision, not counted
    clock.advance(1)
    refused(edit(sim, "alice", post.id, "The fourth words of Alice's post."), DAY - 2,
            "You’ve reached the maximum number of daily edits. You can submit more edits in {}.")
    assert (post.raw, post.version) == ("The third words of Alice's post.", 3)
    moderator(sim)
    ok(edit(sim, "mod", post.id, "A moderator may always edit it."))


def test_likes_per_day_scale_with_trust_level_and_an_unlike_gives_nothing_back(sim: Sim, clock: Clock) -> None:
    system = sim.forum.require_user("system")
    posts = [sim.forum.create_post(system, title=f"Something worth liking, number {n}",
                                   raw=f"A post to like, number {n}.") for n in range(6)]
    member(sim, "alice")                                          # trust level 1: max_likes_per_day
    member(sim, "tess", trust_level=3)                            # trust level 3: times 2
    setting(sim, "max_likes_per_day", 2)
    ok(like(sim, "alice", posts[0].id))
    ok(like(sim, "alice", posts[1].id))
    ok(unlike(sim, "alice", posts[1].id))
    clock.advance(7)
    before = len(posts[2].likes)
    refused(like(sim, "alice", posts[2].id), DAY - 7,
            "Wow! You’ve been sharing a lot of love! You’ve reached the maximum number of likes within a 24 hour "
            "period, but as you gain trust levels, you’ll earn more daily likes. You’ll be able to like posts "
            "again in {}.")
    assert len(posts[2].likes) == before
    for post in posts[:4]:
        ok(like(sim, "tess", post.id))
    assert like(sim, "tess", posts[4].id).status_code == 429


def test_liking_and_unliking_one_post_four_times_a_minute(sim: Sim, clock: Clock) -> None:
    system = sim.forum.require_user("system")
    post = sim.forum.create_post(system, title="A post to like and unlike", raw="Like me, unlike me, like me.")
    member(sim, "olive", trust_level=2)
    for _ in range(2):
        ok(like(sim, "olive", post.id))
        ok(unlike(sim, "olive", post.id))
    refused(like(sim, "olive", post.id), 60,
            "You’ve performed this action too many times. Please wait {} before trying again.")
    clock.advance(60)
    ok(like(sim, "olive", post.id))


# --------------------------------------------------------------------------------------------------- validators


def test_the_same_post_twice_within_unique_posts_mins_and_messages_keep_their_own_key(
        sim: Sim, clock: Clock) -> None:
    member(sim, "olive", trust_level=2)
    member(sim, "bob")
    first, second = a_topic(sim), a_topic(sim, title="Another topic to reply to in these tests")
    same = "I have said this before, and I will say it once more."
    ok(reply(sim, "olive", first, same))
    clock.advance(60)
    before = posts_in(sim, second)
    invalid(reply(sim, "olive", second, same), "Body is too similar to what you recently posted")
    assert posts_in(sim, second) == before
    pm = sim.forum.create_post(sim.forum.require_user("bob"), title="Bob writes to olive", raw="Hello olive, it's Bob.",
                               archetype="private_message", target_recipients=["olive"]).topic_id
    ok(reply(sim, "olive", pm, same))                             # unique-pm-post-…: its own key
    clock.advance(5)                                              # (another message: the same request again
    other_pm = sim.forum.create_post(                             #  would get its memoized answer)
        sim.forum.require_user("bob"), title="Bob writes to olive again", raw="Hello again olive, it's Bob.",
        archetype="private_message", target_recipients=["olive"]).topic_id
    invalid(reply(sim, "olive", other_pm, same), "Body is too similar to what you recently posted")
    clock.advance(4 * 60)                                         # five minutes after the first
    ok(reply(sim, "olive", second, same))


def test_no_more_than_three_consecutive_replies_except_in_messages_and_in_ones_own_topic(
        sim: Sim, clock: Clock) -> None:
    olive = member(sim, "olive", trust_level=2)
    member(sim, "bob", trust_level=2)
    topic_id = a_topic(sim)
    for n in range(3):
        ok(reply(sim, "olive", topic_id, f"Olive's reply number {n + 1} in a row here."))
        clock.advance(5)
    invalid(reply(sim, "olive", topic_id, "Olive's reply number 4 in a row here."),
            "No more than 3 consecutive replies are allowed. Please edit your previous reply, or wait for someone "
            "to reply to you.")
    ok(reply(sim, "bob", topic_id, "Bob answers olive, so she may go on."))
    ok(reply(sim, "olive", topic_id, "Olive's reply after Bob's answer."))
    own = sim.forum.create_post(olive, title="Olive's own topic of notes", raw="Olive keeps notes here.").topic_id
    pm = sim.forum.create_post(olive, title="Olive writes to Bob", raw="Hello Bob, it's olive.",
                               archetype="private_message", target_recipients=["bob"]).topic_id
    for n in range(4):
        clock.advance(5)
        ok(reply(sim, "olive", own, f"Olive's note number {n + 1} in her own topic."))
        clock.advance(5)
        ok(reply(sim, "olive", pm, f"Olive's message number {n + 1} to Bob."))
    setting(sim, "max_consecutive_replies", 1)
    clock.advance(5)
    invalid(reply(sim, "olive", topic_id, "One more from olive."),
            "No consecutive replies are allowed. Please edit your previous reply, or wait for someone to reply to you.")


def test_slow_mode(sim: Sim, clock: Clock) -> None:
    member(sim, "olive", trust_level=2)
    moderator(sim)
    topic_id = a_topic(sim)
    assert sim.http("olive").put(f"{sim.url}/t/{topic_id}/slow_mode.json", data={"seconds": 600}).status_code == 403
    answer = sim.http("mod").put(f"{sim.url}/t/{topic_id}/slow_mode.json", data={"seconds": 600})
    assert answer.status_code == 200 and answer.content == b""
    assert ok(sim.http("olive").get(f"{sim.url}/t/{topic_id}.json"))["slow_mode_seconds"] == 600
    ok(reply(sim, "olive", topic_id, "A thoughtful reply in a slow topic."))
    clock.advance(60)
    invalid(reply(sim, "olive", topic_id, "Another reply a minute later."), "This topic is in slow mode.")
    ok(reply(sim, "mod", topic_id, "Staff are not slowed down here."))
    ok(reply(sim, "mod", topic_id, "Not even twice in a row."))
    clock.advance(540)
    ok(reply(sim, "olive", topic_id, "Another reply ten minutes later."))
    assert sim.http("mod").put(f"{sim.url}/t/{topic_id}/slow_mode.json", data={"seconds": 0}).status_code == 200
    clock.advance(5)
    ok(reply(sim, "olive", topic_id, "Slow mode is off again, five seconds later."))


# --------------------------------------------------------------------------------------------------- the answers


def test_only_the_admin_bucket_429_names_its_error_code() -> None:
    forum = Forum()
    forum.settings["max_admin_api_reqs_per_minute"] = 1
    small, handle = start_sim(forum)
    try:
        assert small.http("system").get(f"{small.url}/latest.json").status_code == 200
        bucket = small.http("system").get(f"{small.url}/latest.json")
        assert bucket.status_code == 429
        assert bucket.headers["Discourse-Rate-Limit-Error-Code"] == "admin_api_key_rate_limit"
        assert bucket.headers["Retry-After"] == str(bucket.json()["extras"]["wait_seconds"])
        assert bucket.json()["error_type"] == "rate_limit"
    finally:
        small.close()
        handle.shutdown()


def test_scripted_members_are_exempt_and_marked_through_the_sim_route(sim: Sim, clock: Clock) -> None:
    member(sim, "alice")
    topic_id = a_topic(sim)
    unknown = requests.post(f"{sim.url}/_sim/scripted_members", json={"usernames": ["alice", "nobody"]}, timeout=10)
    assert unknown.status_code == 400 and not sim.forum.scripted_user_ids
    marked = requests.post(f"{sim.url}/_sim/scripted_members", json={"usernames": ["alice"]}, timeout=10)
    assert ok(marked) == {"usernames": ["alice"]}
    for _ in range(5):                                            # no interval, no unique post, no consecutive cap
        ok(reply(sim, "alice", topic_id, "A scripted member says the same thing again."))


def test_in_process_forum_methods_stay_unlimited(sim: Sim) -> None:
    alice = member(sim, "alice")
    topic = sim.forum.create_post(alice, title="Alice's topic made in-process",
                                  raw="Loaded fast, as in Discourse's tests.")
    for _ in range(12):
        sim.forum.create_post(alice, topic_id=topic.topic_id, raw="The same words, loaded fast by a test.")
    for n in range(4):
        sim.forum.create_post(alice, title=f"Another in-process topic {n}", raw="Loaded fast, as in Discourse's tests.")
    assert posts_in(sim, topic.topic_id) == 13
