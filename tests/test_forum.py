"""The forum adapter against the simulator over real HTTP and a real Redis budget: what each call does, what it
costs, and how throttling, refusals and outages come back."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from flask import Flask, Response, jsonify

from plugin.adapters.budget import WINDOW_SECONDS, ApiBudget
from plugin.config import ConfigError, Settings
from plugin.adapters.forum import (ADMIN_BUCKET_ERROR_CODE, DEFAULT_WAIT_SECONDS, GROUP_MEMBERS_PAGE, LIKERS_PAGE,
                          TOPIC_CHUNK, Forum, ForumRefused, ForumUnavailable, Member, MessageRefused, Throttled,
                          TopicView)
from plugin.domain.events import Post
from plugin.adapters.keys import Keys
from simulator.auth import AdminApiBucket
from simulator.state import Forum as SimForum
from simulator.state import User
from tests.servers import serving
from tests.simulator_fixtures import Sim, png, start_sim

KEYS = Keys("coc-test:")
BOT = "care-bot"
SECRET = "forum-test-webhook-secret"


def settings_for(sim: Sim, **overrides: object) -> Settings:
    return Settings.from_env({}, dotenv=False, discourse_url=sim.url, discourse_api_key=sim.api_key,
                             discourse_webhook_secret=SECRET, bot_username=BOT, **overrides)


def budget_for(conn: redis.Redis, per_minute: int = 60) -> ApiBudget:
    return ApiBudget(conn, key=KEYS.api_budget, pause_key=KEYS.api_pause, per_minute=per_minute)


@pytest.fixture
def bot(sim: Sim) -> User:
    return sim.user(BOT, trust_level=1)


@pytest.fixture
def forum(sim: Sim, bot: User, redis_conn: redis.Redis) -> Iterator[Forum]:
    with Forum(settings_for(sim), budget=budget_for(redis_conn)) as adapter:
        yield adapter


def spent(forum: Forum, before: int) -> int:
    return forum.calls_made - before


# --------------------------------------------------------------------------------------------------
# Members and groups
# --------------------------------------------------------------------------------------------------


def test_member_reads_roles_trust_groups_and_suspension(sim: Sim, forum: Forum) -> None:
    alice = sim.user("alice", trust_level=2)
    mod = sim.user("mod", trust_level=3)
    sim.forum.set_moderator(mod, True)
    credit = sim.forum.create_group(name="coc-credit")
    sim.forum.add_members(credit, [alice])
    before = forum.calls_made
    member = forum.member("alice")
    assert spent(forum, before) == 1
    assert (member.id, member.username, member.trust_level, member.staff, member.suspended) == (
        alice.id, "alice", 2, False, False)
    assert "coc-credit" in member.groups and "trust_level_2" in member.groups
    assert forum.member("mod").staff and forum.member("mod").moderator
    sim.forum.suspend(alice, sim.forum.now() + timedelta(days=3), "cooling off")
    assert forum.member("alice").suspended


def test_a_past_suspension_is_over() -> None:
    user = {"id": 5, "username": "x", "trust_level": 1, "suspended_till": "2001-01-01T00:00:00.000Z"}
    assert Member.from_json(user).suspended is False
    assert Member.from_json({**user, "suspended_till": "2999-01-01T00:00:00Z"}).suspended is True


def test_an_unknown_member_is_refused_as_not_found(forum: Forum) -> None:
    with pytest.raises(ForumRefused) as refused:
        forum.member("nobody-here")
    assert refused.value.status == 404 and refused.value.not_found
    assert refused.value.error_type == "not_found" and refused.value.errors


def test_group_members_reads_every_page(sim: Sim, forum: Forum) -> None:
    group = sim.forum.create_group(name="coc-credit")
    users = [sim.user(f"member{i:04d}") for i in range(GROUP_MEMBERS_PAGE + 1)]
    sim.forum.add_members(group, users)
    before = forum.calls_made
    names = forum.group_members("coc-credit")
    assert spent(forum, before) == 2
    assert sorted(names) == sorted(u.username for u in users)


def test_group_members_of_a_small_group_costs_one_call(sim: Sim, forum: Forum) -> None:
    sim.forum.add_members(sim.forum.create_group(name="peer-support"), [sim.user("carol")])
    sim.forum.create_group(name="coc-credit")
    before = forum.calls_made
    assert forum.group_members("peer-support") == ["carol"] and spent(forum, before) == 1
    assert forum.group_members("coc-credit") == [] and spent(forum, before) == 2


# --------------------------------------------------------------------------------------------------
# Posts, likes, topics
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def general(sim: Sim) -> int:
    return sim.forum.create_category(name="General").id


def test_likers_are_who_likes_the_post_now_oldest_first(sim: Sim, forum: Forum, general: int) -> None:
    alice, bob, carol = sim.user("alice"), sim.user("bob"), sim.user("carol")
    post = sim.forum.create_post(alice, title="A proposal for our code", raw="I propose gentler wording here.",
                                 category_id=general)
    sim.forum.like(carol, post)
    sim.forum.like(bob, post)
    before = forum.calls_made
    assert forum.likers(post.id) == ["carol", "bob"] and spent(forum, before) == 1
    sim.forum.unlike(carol, post)                      # no webhook for this: only the forum knows
    assert forum.likers(post.id) == ["bob"]
    assert forum.post(post.id).like_count == 1                 # from its actions_summary entry {"id": 2, "count": 1}


def test_likers_reads_every_page(sim: Sim, forum: Forum, general: int) -> None:
    author = sim.user("author")
    post = sim.forum.create_post(author, title="A very popular proposal", raw="Everyone likes this proposal.",
                                 category_id=general)
    fans = [sim.user(f"fan{i:04d}") for i in range(LIKERS_PAGE + 1)]
    for fan in fans:
        sim.forum.like(fan, post)
    before = forum.calls_made
    assert forum.likers(post.id) == [f.username for f in fans]
    assert spent(forum, before) == 2


def test_likers_of_a_message_are_refused_to_the_bot(sim: Sim, forum: Forum) -> None:
    alice, bob = sim.user("alice"), sim.user("bob")
    pm = sim.forum.create_post(alice, title="A private word between us", raw="Just between the two of us.",
                               archetype="private_message", target_recipients=["bob"])
    sim.forum.like(bob, pm)
    with pytest.raises(ForumRefused) as refused:
        forum.likers(pm.id)
    assert refused.value.status == 403


def test_post_topic_and_latest_posts(sim: Sim, forum: Forum, general: int) -> None:
    alice = sim.user("alice")
    sim.forum.ensure_tags(["code-of-care"], sim.forum.user_by_name("system"))   # members below TL3 cannot create tags
    first = sim.forum.create_post(alice, title="Talking about consent", raw="Consent should come first for us.",
                                  category_id=general, tags=["code-of-care"])
    reply = sim.forum.create_post(alice, topic_id=first.topic_id, raw="And it should be easy to withdraw.")
    before = forum.calls_made
    post = forum.post(reply.id)
    topic = forum.topic(first.topic_id)
    latest = forum.latest_posts()
    assert spent(forum, before) == 3
    assert post.raw == "And it should be easy to withdraw." and post.version == 1
    assert topic.topic.id == first.topic_id and topic.topic.tags == ("code-of-care",)
    assert topic.stream == (first.id, reply.id) and topic.first_post_id == first.id
    assert [p.id for p in latest] == [reply.id, first.id]
    assert [p.id for p in forum.latest_posts(before=reply.id)] == [first.id]


def test_answers_are_read_into_the_domains_types_at_the_edge() -> None:
    view = TopicView.from_json({
        "id": 5, "slug": "our-code", "title": "Our Code", "tags": [{"id": 1, "name": "code-of-care", "slug": "x"}],
        "closed": True, "post_stream": {"stream": [50, 51], "posts": [
            {"id": 50, "post_number": 1, "username": "gone", "user_id": None, "cooked": "<p>Hello</p>",
             "actions_summary": [{"id": 3, "can_act": True}, {"id": 2, "count": 3}]}]}})
    assert (view.topic.id, view.topic.tags, view.topic.closed) == (5, ("code-of-care",), True)
    assert view.stream == (50, 51) and view.first_post_id == 50
    (first,) = view.posts
    # the topic's id and slug when the post does not say them; no author id (an account that is gone): 0
    assert (first.topic_id, first.topic_slug, first.user_id, first.like_count) == (5, "our-code", 0, 3)
    assert first.cooked == ""                                   # the HTML only when asked for (a job need not carry it)
    assert Post.from_payload({"id": 1, "topic_id": 2, "post_number": 1, "user_id": 3, "cooked": "<p>Hi</p>"},
                             cooked=True).cooked == "<p>Hi</p>"
    assert TopicView.from_json({"id": 5, "post_stream": {"posts": [{"id": 9, "post_number": 1}]}}).first_post_id == 9


def test_recent_posts_costs_one_call_for_a_short_topic_and_two_for_a_long_one(sim: Sim, forum: Forum,
                                                                              general: int) -> None:
    alice = sim.user("alice")
    short = sim.forum.create_post(alice, title="A short thread here", raw="Only a few posts in this one.",
                                  category_id=general)
    sim.forum.create_post(alice, topic_id=short.topic_id, raw="A second post in the short thread.")
    before = forum.calls_made
    assert [p.post_number for p in forum.recent_posts(short.topic_id)] == [1, 2]
    assert spent(forum, before) == 1
    long = sim.forum.create_post(alice, title="A long thread indeed", raw="This thread will have many posts.",
                                 category_id=general)
    for n in range(TOPIC_CHUNK + 5):
        sim.forum.create_post(alice, topic_id=long.topic_id, raw=f"Reply number {n} in the long thread.")
    before = forum.calls_made
    recent = forum.recent_posts(long.topic_id)
    assert spent(forum, before) == 2
    assert [p.post_number for p in recent] == list(range(7, TOPIC_CHUNK + 7))
    assert [p.post_number for p in forum.recent_posts(long.topic_id, count=3)] == [24, 25, 26]


def test_topic_by_external_id_follows_the_redirect(sim: Sim, forum: Forum, general: int) -> None:
    alice = sim.user("alice")
    before = forum.calls_made
    assert forum.topic_by_external_id("coc-document") is None
    assert spent(forum, before) == 1
    made = sim.forum.create_post(alice, title="Our Code of Care here", raw="The living document of our care.",
                                 category_id=general, external_id="coc-document")
    before = forum.calls_made
    topic = forum.topic_by_external_id("coc-document")
    assert spent(forum, before) == 2                   # the 301 and the topic: both count in the forum's bucket
    assert topic is not None and topic.topic.id == made.topic_id and topic.topic.external_id == "coc-document"


def test_create_topic_is_idempotent_by_external_id(sim: Sim, forum: Forum, bot: User, general: int) -> None:
    sim.forum.ensure_tags(["coc-amendment"], sim.forum.user_by_name("system"))  # a trust-level-1 bot applies, not creates
    before = forum.calls_made
    created = forum.create_topic(title="Amendment to section Consent", raw="The proposed new wording is here.",
                                 category_id=general, tags=["coc-amendment"], external_id="coc-amendment-7-1")
    assert spent(forum, before) == 1
    topic = sim.forum.topics[created.topic_id]
    assert (topic.external_id, topic.tags, topic.category_id, topic.user_id) == (
        "coc-amendment-7-1", ["coc-amendment"], general, bot.id)
    count = len(sim.forum.topics)
    # Within 120 s the identical POST would get the first answer again (PostsController's DistributedMemoizer);
    # later it is refused, and the topic is found by its external_id.
    clock = sim.forum.clock
    sim.forum.clock = lambda: clock() + timedelta(seconds=121)
    before = forum.calls_made
    again = forum.create_topic(title="Amendment to section Consent", raw="The proposed new wording is here.",
                               category_id=general, tags=["coc-amendment"], external_id="coc-amendment-7-1")
    assert spent(forum, before) == 3
    assert len(sim.forum.topics) == count
    assert (again.id, again.topic_id, again.post_number) == (created.id, created.topic_id, 1)


def test_create_topic_passes_other_refusals_on(forum: Forum, general: int) -> None:
    with pytest.raises(ForumRefused) as refused:
        forum.create_topic(title="Short", raw="tiny", category_id=general, tags=[], external_id="coc-x")
    assert refused.value.status == 422 and any("Title" in e for e in refused.value.errors)


def lost_answer_forum(post_status: int, post_body: dict, topic: dict | None) -> Flask:
    """A forum that refuses POST /posts.json with `post_body` and holds `topic` (or nothing) under its external_id:
    what a retry meets when the first attempt's answer was lost, in any wording."""
    app = Flask("stub-forum")

    @app.post("/posts")
    @app.post("/posts.json")
    def create() -> Response:
        response = jsonify(post_body)
        response.status_code = post_status
        return response

    @app.get("/t/external_id/<external_id>.json")
    def by_external_id(external_id: str) -> Response:
        if topic is None:
            response = jsonify(errors=["The requested URL or resource could not be found."], error_type="not_found")
            response.status_code = 404
            return response
        return Response(status=301, headers={"Location": f"/t/{topic['slug']}/{topic['id']}.json"})

    @app.get("/t/<slug>/<int:topic_id>.json")
    def show(slug: str, topic_id: int) -> Response:
        return jsonify(topic)

    return app


def test_create_once_looks_the_key_up_after_any_refusal_whatever_its_words(redis_conn: redis.Redis) -> None:
    topic = {"id": 5, "slug": "proposed-change", "external_id": "coc-amendment-7-1",
             "post_stream": {"posts": [{"id": 50, "post_number": 1, "username": BOT}]}}
    refused = {"errors": ["Words no version of this adapter has seen"], "error_type": "record_invalid"}
    with serving(lost_answer_forum(422, refused, topic)) as served, stub_forum(served.url, redis_conn) as adapter:
        made = adapter.create_topic(title="Proposed change to Consent", raw="The proposed new wording is here.",
                                    category_id=3, tags=[], external_id="coc-amendment-7-1")
    assert (made.id, made.topic_id, made.topic_slug) == (50, 5, "proposed-change")
    assert adapter.calls_made == 3                    # the refusal, the look-up's redirect and the topic


NOT_ACCEPTING = {"errors": ["Sorry, erin is not accepting messages at the moment."], "error_type": "record_invalid"}


def test_a_refused_message_is_a_final_outcome_with_the_forums_words(redis_conn: redis.Redis) -> None:
    with serving(lost_answer_forum(422, NOT_ACCEPTING, None)) as served, stub_forum(served.url, redis_conn) as adapter:
        with pytest.raises(MessageRefused) as refused:
            adapter.private_message(title="You asked for direct support", raw="A person will write to you soon.",
                                    recipients=["erin"], external_id="coc-care-member-9")
    assert refused.value.recipients == ["erin"] and "not accepting messages" in refused.value.reason
    assert adapter.calls_made == 2                    # the refusal, then the look-up that found nothing


def test_a_post_held_for_review_is_refused_not_taken_for_a_post(redis_conn: redis.Redis) -> None:
    held = {"action": "enqueued", "pending_post": {"id": 3, "raw": "A reply held for review."}}
    with serving(lost_answer_forum(200, held, None)) as served, stub_forum(served.url, redis_conn) as adapter:
        with pytest.raises(ForumRefused) as refused:
            adapter.reply(topic_id=1, raw="A reply held for review.")
    assert refused.value.error_type == "enqueued" and "review" in str(refused.value)


def test_reply_message_edit_tags_and_close(sim: Sim, forum: Forum, bot: User, general: int) -> None:
    sim.forum.set_moderator(bot, True)          # as install makes it: the per-user limits would hold a new user back
    alice = sim.user("alice")
    system = sim.forum.user_by_name("system")
    care = sim.forum.create_group(name="peer-support", messageable_level=99)
    first = sim.forum.create_post(alice, title="Draft amendment topic", raw="The draft of an amendment is here.",
                                  category_id=general, tags=["coc-amendment"])
    before = forum.calls_made
    reply = forum.reply(topic_id=first.topic_id, raw="Thank you, this draft is now decided.",
                        reply_to_post_number=1)
    pm = forum.private_message(title="A member asked for support", raw="Someone asked for direct support.",
                               recipients=["peer-support", "alice"], external_id="coc-care-team-1")
    edited = forum.edit_post(first.id, raw="The draft of an amendment, revised.", edit_reason="Amendment x applied")
    forum.set_tags(first.topic_id, ["coc-amendment", "coc-approved"])
    forum.close_topic(first.topic_id)
    assert spent(forum, before) == 5
    assert (reply.username, reply.reply_to_post_number) == (BOT, 1)
    message = sim.forum.topics[pm.topic_id]
    assert message.is_pm and message.allowed_group_ids == [care.id] and alice.id in message.allowed_user_ids
    assert edited.version == 2
    revision = sim.forum.posts[first.id].revisions[-1]
    assert (revision.edit_reason, revision.user_id) == ("Amendment x applied", system.id)   # as the admin
    topic = sim.forum.topics[first.topic_id]
    assert topic.tags == ["coc-amendment", "coc-approved"] and topic.closed
    forum.set_tags(first.topic_id, [])
    assert topic.tags == []
    again = forum.private_message(title="A member asked for support", raw="Someone asked for direct support.",
                                  recipients=["peer-support", "alice"], external_id="coc-care-team-1")
    assert again.topic_id == pm.topic_id                              # the forum refused a second message
    assert sum(t.is_pm for t in sim.forum.topics.values()) == 1


def test_upload_png_answers_a_short_url(sim: Sim, forum: Forum) -> None:
    url = forum.upload_png("chart.png", png(40, 20))
    assert url.startswith("upload://") and url.endswith(".png")
    assert [u.width for u in sim.forum.uploads.values()] == [40]


def test_category_id_by_name_slug_or_id_is_remembered(sim: Sim, forum: Forum) -> None:
    drafts = sim.forum.create_category(name="Code of Care drafts")
    before = forum.calls_made
    assert forum.category_id("Code of Care drafts") == drafts.id
    assert forum.category_id("code of care drafts") == drafts.id
    assert spent(forum, before) == 1
    assert forum.category_id("code-of-care-drafts") == drafts.id
    assert forum.category_id(drafts.id) == drafts.id
    assert forum.category_id("No such category") is None


def test_refusals_carry_discourses_errors(sim: Sim, forum: Forum, general: int) -> None:
    topic = sim.forum.create_post(sim.user("alice"), title="A topic to reply in", raw="Some body text for it.",
                                  category_id=general)
    with pytest.raises(ForumRefused) as refused:
        forum.reply(topic_id=topic.topic_id, raw="short")
    # POST /posts.json answers a failed NewPostResult: {"action": "create_post", "errors": [...]}, no error_type.
    assert refused.value.status == 422 and refused.value.error_type is None
    assert refused.value.errors == ["Body is too short (minimum is 20 characters)"]


def test_a_bad_key_is_refused(sim: Sim, bot: User, redis_conn: redis.Redis) -> None:
    settings = Settings.from_env({}, dotenv=False, discourse_url=sim.url, discourse_api_key="not-the-key",
                                 bot_username=BOT)
    with Forum(settings, budget=budget_for(redis_conn)) as adapter, pytest.raises(ForumRefused) as refused:
        adapter.member(BOT)
    assert refused.value.status == 403


# --------------------------------------------------------------------------------------------------
# The budget and the forum's 429
# --------------------------------------------------------------------------------------------------


def test_an_empty_budget_throttles_without_calling_the_forum(sim: Sim, bot: User, redis_conn: redis.Redis) -> None:
    bucket = sim.app.extensions["admin_api_bucket"]
    with Forum(settings_for(sim), budget=budget_for(redis_conn, per_minute=2)) as adapter:
        adapter.member(BOT)
        adapter.member(BOT)
        performed = bucket.performed
        with pytest.raises(Throttled) as throttled:
            adapter.member(BOT)
        assert throttled.value.by_forum is False and 0 < throttled.value.retry_after <= WINDOW_SECONDS
        assert adapter.calls_made == 2 and bucket.performed == performed


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tight_sim() -> Iterator[Sim]:
    """A forum whose admin API bucket allows 2 requests a minute, on a clock that does not move."""
    sim_forum = SimForum()
    sim_forum.settings["max_admin_api_reqs_per_minute"] = 2
    running, handle = start_sim(sim_forum)
    running.app.extensions["admin_api_bucket"] = AdminApiBucket(2, clock=FrozenClock())
    running.user(BOT)
    try:
        yield running
    finally:
        running.close()
        handle.shutdown()


def test_the_forums_429_throttles_at_once_and_pauses_every_worker(tight_sim: Sim, redis_conn: redis.Redis,
                                                                   redis_url: str) -> None:
    bucket = tight_sim.app.extensions["admin_api_bucket"]
    first = Forum(settings_for(tight_sim), budget=budget_for(redis_conn))
    first.member(BOT)
    first.member(BOT)
    started = time.monotonic()
    with pytest.raises(Throttled) as throttled:
        first.member(BOT)
    elapsed = time.monotonic() - started
    assert throttled.value.by_forum is True
    assert throttled.value.retry_after == 60.0                        # the forum's extras.wait_seconds
    assert bucket.refused == 1                                        # one request: pydiscourse's loop is bypassed
    assert elapsed < throttled.value.retry_after / 2                  # and nothing slept the forum's wait
    other_conn = redis.Redis.from_url(redis_url)
    second = Forum(settings_for(tight_sim), budget=budget_for(other_conn))   # another worker
    with pytest.raises(Throttled) as paused:
        second.member(BOT)
    assert paused.value.by_forum is False and 55 < paused.value.retry_after <= 60
    assert second.calls_made == 0 and bucket.refused == 1 and bucket.performed == 2
    first.close()
    second.close()
    other_conn.close()


def answering(status: int, body: str, content_type: str, headers: dict[str, str] | None = None) -> Flask:
    app = Flask("stub-forum")

    @app.route("/<path:anything>", methods=["GET", "POST", "PUT"])
    def answer(anything: str) -> Response:
        return Response(body, status=status, content_type=content_type, headers=headers or {})

    return app


def stub_forum(url: str, conn: redis.Redis, *, timeout: float = 10.0) -> Forum:
    settings = Settings.from_env({}, dotenv=False, discourse_url=url, discourse_api_key="k", bot_username=BOT)
    return Forum(settings, budget=budget_for(conn), timeout=timeout)


@pytest.mark.parametrize(("headers", "wait"), [({"Retry-After": "7"}, 7.0), ({}, DEFAULT_WAIT_SECONDS)])
def test_a_plain_text_429_uses_retry_after_or_a_default(redis_conn: redis.Redis, headers: dict[str, str],
                                                        wait: float) -> None:
    app = answering(429, "Slow down, too many requests from this IP address", "text/plain", headers)
    with serving(app) as served, stub_forum(served.url, redis_conn) as adapter:
        with pytest.raises(Throttled) as throttled:
            adapter.post(1)
        assert throttled.value.retry_after == wait and throttled.value.by_forum
        assert budget_for(redis_conn).paused_for() == pytest.approx(wait, abs=1.0)


PER_USER_429 = ('{"errors":["You’ve performed this action too many times. Please wait 12 seconds before trying '
                'again."],"error_type":"rate_limit","extras":{"wait_seconds":12,"time_left":"12 seconds"}}')


def test_a_per_user_429_defers_only_the_job_that_met_it(redis_conn: redis.Redis) -> None:
    """Discourse's per-user limiters answer JSON without the admin bucket's error-code header (FACTS.md): only the
    job waits; the shared budget is not paused, so every other job (care first) goes on."""
    app = answering(429, PER_USER_429, "application/json; charset=utf-8", {"Retry-After": "12"})
    with serving(app) as served, stub_forum(served.url, redis_conn) as adapter:
        with pytest.raises(Throttled) as throttled:
            adapter.reply(topic_id=1, raw="A reply that the forum's per-user limit holds back.")
    assert throttled.value.scope == Throttled.ACCOUNT and throttled.value.account == BOT
    assert throttled.value.retry_after == 12.0
    assert budget_for(redis_conn).paused_for() == 0.0 and budget_for(redis_conn).try_spend() == 0.0


def test_the_admin_buckets_429_pauses_everyone(redis_conn: redis.Redis) -> None:
    app = answering(429, PER_USER_429, "application/json; charset=utf-8",
                    {"Retry-After": "12", "Discourse-Rate-Limit-Error-Code": ADMIN_BUCKET_ERROR_CODE})
    with serving(app) as served, stub_forum(served.url, redis_conn) as adapter:
        with pytest.raises(Throttled) as throttled:
            adapter.post(1)
    assert throttled.value.scope == Throttled.FORUM
    assert budget_for(redis_conn).paused_for() == pytest.approx(12.0, abs=1.0)


def test_server_errors_and_read_only_are_unavailable(redis_conn: redis.Redis) -> None:
    body = '{"errors":["The site is in read only mode."],"error_type":"read_only"}'
    with serving(answering(503, body, "application/json; charset=utf-8")) as served, \
            stub_forum(served.url, redis_conn) as adapter:
        with pytest.raises(ForumUnavailable) as unavailable:
            adapter.reply(topic_id=1, raw="A reply that will not be posted.")
        assert unavailable.value.status == 503


def test_a_page_that_is_not_json_is_unavailable(redis_conn: redis.Redis) -> None:
    with serving(answering(200, "<html>maintenance</html>", "text/html")) as served, \
            stub_forum(served.url, redis_conn) as adapter, pytest.raises(ForumUnavailable):
        adapter.post(1)


def test_a_connection_error_is_unavailable(redis_conn: redis.Redis) -> None:
    with serving(answering(200, "{}", "application/json")) as served:
        url = served.url                                  # a port that nothing listens on once the block ends
    with stub_forum(url, redis_conn) as adapter, pytest.raises(ForumUnavailable):
        adapter.post(1)


def test_a_timeout_is_unavailable(redis_conn: redis.Redis) -> None:
    release = threading.Event()
    app = Flask("slow-forum")

    @app.route("/posts/<int:post_id>.json")
    def slow(post_id: int) -> Response:
        release.wait(30)
        return jsonify(id=post_id)

    with serving(app) as served:
        try:
            with stub_forum(served.url, redis_conn, timeout=0.2) as adapter, pytest.raises(ForumUnavailable):
                adapter.post(1)
        finally:
            release.set()


def test_the_adapter_needs_an_address_a_key_and_a_timeout(redis_conn: redis.Redis) -> None:
    with pytest.raises(ConfigError):
        Forum(Settings.from_env({}, dotenv=False), budget=budget_for(redis_conn))
    with pytest.raises(ValueError):
        Forum(Settings.from_env({}, dotenv=False, discourse_url="http://x", discourse_api_key="k"),
              budget=budget_for(redis_conn), timeout=0)
