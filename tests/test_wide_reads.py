"""Three reads that cost calls per window, not per forum history: topics by id (`GET /latest.json?topic_ids=`),
likes received with their real time (`GET /user_actions.json?filter=2`) and the forum's own daily figures
(`GET /admin/reports/bulk.json`) — the simulator's routes (shape, visibility, refusals) and the adapter's methods
over real HTTP, counting the calls they make.

Shapes: `/latest.json` and `/user_actions.json` are checked against Discourse's OpenAPI description (with the
suite's errata, and below the few the user_actions description needs). `/admin/reports/bulk.json` is not in the
description: its entries are checked against Report#as_json (app/models/report.rb), key for key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import pytest
import redis
import requests
from flask import Flask, jsonify, request
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from plugin.adapters.forum import LATEST_TOPICS_PAGE, USER_ACTIONS_PAGE, Forum, ReceivedLike
from plugin.config import Settings
from simulator.state import Forum as SimForum
from simulator.state import Post, User, iso
from tests.reference import reference_dir
from tests.servers import serving
from tests.simulator_fixtures import Community, Sim
from tests.test_forum import BOT, SECRET, budget_for, settings_for
from tests.test_simulator_openapi import ERRATA, ERROR_SHAPE, INT_OR_NULL, Erratum, _explain, apply_errata

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
"""When the community is built (the forum's clock starts here)."""


class Clock:
    """The simulated forum's clock: one millisecond later at every reading (so every like has a time of its own, in
    the order made), and set by the tests to move to another day."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def sim_forum(clock: Clock) -> SimForum:
    """The forum the `sim` fixture serves, on the tests' clock."""
    return SimForum(clock=clock)


# --------------------------------------------------------------------------------------------------
# The description, with the errata the user_actions route needs
# --------------------------------------------------------------------------------------------------

_UA = "/properties/user_actions/items"
USER_ACTION_ERRATA: tuple[Erratum, ...] = (
    Erratum("/user_actions.json", "get", f"{_UA}/properties/post_id", "replace", {"type": "integer"},
            "UserAction.stream selects `p.id as post_id`: an integer (the description says string|null)"),
    Erratum("/user_actions.json", "get", f"{_UA}/properties/hidden", "replace", {"type": "boolean"},
            "UserAction.stream selects `p.hidden`, a boolean column (the description says string|null)"),
    Erratum("/user_actions.json", "get", f"{_UA}/properties/post_type", "replace", {"type": "integer"},
            "UserAction.stream selects `p.post_type`, an integer (Post.types; the description says string|null)"),
    Erratum("/user_actions.json", "get", f"{_UA}/properties/category_id", "replace", INT_OR_NULL,
            "`t.category_id` is null for a personal message, whose likes an admin and the member see"),
    Erratum("/user_actions.json", "get", _UA, "add_properties", {"truncated": {"type": "boolean"}},
            "PostItemExcerpt adds `truncated: true` when the cooked post is longer than 300 characters"),
)


@lru_cache(maxsize=1)
def described() -> OpenAPI:
    spec = json.loads((reference_dir() / "openapi.json").read_text(encoding="utf-8"))
    spec = apply_errata(spec, ERRATA + USER_ACTION_ERRATA)
    spec["servers"] = [{"url": "http://127.0.0.1:{port}", "variables": {"port": {"default": "80"}}}]
    return OpenAPI.from_dict(spec)


def ok(response: requests.Response) -> requests.Response:
    """A 200 whose body the (corrected) description accepts."""
    assert response.status_code == 200, f"{response.url}: {response.status_code} {response.text[:400]}"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    errors = list(described().iter_response_errors(RequestsOpenAPIRequest(response.request),
                                                   RequestsOpenAPIResponse(response)))
    assert not errors, f"{response.url}: " + "; ".join(_explain(e) for e in errors)
    return response


def refused(response: requests.Response, status: int, error_type: str) -> list[str]:
    """Discourse's error answer (FACTS.md): the status, JSON, `errors` and `error_type`."""
    assert response.status_code == status, f"{response.url}: {response.status_code} {response.text[:300]}"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert not list(ERROR_SHAPE.iter_errors(body)), body
    assert body["error_type"] == error_type
    return list(body["errors"])


def test_every_user_actions_erratum_is_needed(sim: Sim, community: Community) -> None:
    """Without the errata the description refuses what Discourse really sends (an integer post_id, a boolean)."""
    spec = json.loads((reference_dir() / "openapi.json").read_text(encoding="utf-8"))
    spec = apply_errata(spec, ERRATA)
    spec["servers"] = [{"url": "http://127.0.0.1:{port}", "variables": {"port": {"default": "80"}}}]
    response = sim.http().get(f"{sim.url}/user_actions.json", params={"username": "alice", "filter": 2})
    assert response.status_code == 200 and response.json()["user_actions"]
    errors = list(OpenAPI.from_dict(spec).iter_response_errors(RequestsOpenAPIRequest(response.request),
                                                               RequestsOpenAPIResponse(response)))
    assert errors


# --------------------------------------------------------------------------------------------------
# Topics by id: GET /latest.json?topic_ids=
# --------------------------------------------------------------------------------------------------


def _topic(forum: SimForum, author: User, title: str, category_id: int, tags: list[str] | None = None) -> Post:
    return forum.create_post(author, title=title, category_id=category_id, tags=tags or [],
                             raw=f"The opening words of the topic called {title}.")


def test_latest_topic_ids_keeps_only_those_the_viewer_may_list(sim: Sim, community: Community) -> None:
    c = community
    system = sim.forum.users[-1]
    unlisted = _topic(sim.forum, c.alice, "An unlisted topic about care", c.general_id, ["code-of-care"])
    sim.forum.set_status(system, sim.forum.topics[unlisted.topic_id], "visible", False)
    asked = [c.welcome_topic_id, c.staff_topic_id, c.pm_topic_id, c.deleted_topic_id, unlisted.topic_id, 987654]
    query = {"topic_ids": ",".join(str(i) for i in asked), "per_page": 100}

    def listed(username: str | None) -> dict[str, Any]:
        answer = ok(sim.http(username).get(f"{sim.url}/latest.json", params=query)).json()
        return dict(answer["topic_list"])

    admin = listed("system")
    assert {t["id"] for t in admin["topics"]} == {c.welcome_topic_id, c.staff_topic_id, unlisted.topic_id}
    assert admin["per_page"] == 100 and "more_topics_url" not in admin
    welcome = next(t for t in admin["topics"] if t["id"] == c.welcome_topic_id)
    assert [tag["name"] for tag in welcome["tags"]] == ["code-of-care"]
    assert welcome["category_id"] == c.general_id and welcome["closed"] is False and welcome["visible"] is True
    hidden = next(t for t in admin["topics"] if t["id"] == unlisted.topic_id)
    assert hidden["visible"] is False
    assert {t["id"] for t in listed("mod")["topics"]} == {c.welcome_topic_id, c.staff_topic_id, unlisted.topic_id}
    assert [t["id"] for t in listed("bob")["topics"]] == [c.welcome_topic_id]
    assert [t["id"] for t in listed(None)["topics"]] == [c.welcome_topic_id]

    array_form = ok(sim.http("bob").get(f"{sim.url}/latest.json",
                                        params={"topic_ids[]": [c.pm_topic_id, c.welcome_topic_id]})).json()
    assert [t["id"] for t in array_form["topic_list"]["topics"]] == [c.welcome_topic_id]
    loose = ok(sim.http("bob").get(f"{sim.url}/latest.json", params={"topic_ids": f"{c.welcome_topic_id}x,abc"}))
    assert [t["id"] for t in loose.json()["topic_list"]["topics"]] == [c.welcome_topic_id]  # String#to_i
    empty = ok(sim.http("bob").get(f"{sim.url}/latest.json", params={"topic_ids": ""})).json()
    assert empty["topic_list"]["topics"] == []  # `topics.id in (NULL)`
    everything = ok(sim.http("bob").get(f"{sim.url}/latest.json")).json()
    assert c.welcome_topic_id in [t["id"] for t in everything["topic_list"]["topics"]]


def test_latest_per_page_pages_and_refusals(sim: Sim, community: Community) -> None:
    c = community
    made = [_topic(sim.forum, c.alice, f"Topic number {n:03d} of the pile", c.general_id).topic_id for n in range(35)]
    default = ok(sim.http("bob").get(f"{sim.url}/latest.json")).json()["topic_list"]
    assert len(default["topics"]) == 30 and default["per_page"] == 30 and default["more_topics_url"]
    wide = ok(sim.http("bob").get(f"{sim.url}/latest.json", params={"per_page": 100})).json()["topic_list"]
    assert len(wide["topics"]) == 36 and wide["per_page"] == 100 and "more_topics_url" not in wide

    ids = ",".join(str(i) for i in made[:5])
    second = ok(sim.http("bob").get(f"{sim.url}/latest.json", params={"topic_ids": ids, "per_page": 2, "page": 1}))
    page = second.json()["topic_list"]
    assert [t["id"] for t in page["topics"]] == [made[2], made[1]]  # newest first: 4 3 | 2 1 | 0
    assert page["more_topics_url"] == f"/latest?page=2&per_page=2&topic_ids={ids}"

    for bad in ({"per_page": 101}, {"per_page": 0}, {"per_page": "ten"}, {"page": -1}, {"topic_ids[a]": 1},
                {"per_page[]": 5}):
        errors = refused(sim.http("bob").get(f"{sim.url}/latest.json", params=bad), 400, "invalid_parameters")
        assert errors == [f"You supplied invalid parameters to the request: {next(iter(bad)).split('[')[0]}"]


# --------------------------------------------------------------------------------------------------
# Likes with their real time: GET /user_actions.json?filter=2
# --------------------------------------------------------------------------------------------------


def _like_of(post: Post, user: User) -> str:
    return str(iso(next(like.created_at for like in post.likes if like.user_id == user.id)))


def _likes_world(sim: Sim, c: Community) -> dict[str, Post]:
    """Alice's posts and their likes: bob on the welcome post (the community's), bob in her message to him, carol on
    a topic that is then unlisted, bob on a reply that the staff then delete, and carol's like taken back."""
    f = sim.forum
    system = f.users[-1]
    welcome = f.posts[c.welcome_post_id]
    pm_post = f.first_post(f.topics[c.pm_topic_id])
    f.like(c.bob, pm_post)
    unlisted = _topic(f, c.alice, "A topic that will be unlisted", c.general_id)
    f.like(c.carol, unlisted)
    f.set_status(system, f.topics[unlisted.topic_id], "visible", False)
    doomed = f.create_post(c.alice, topic_id=c.welcome_topic_id, raw="A reply of mine the staff will remove.")
    f.like(c.bob, doomed)
    f.delete_post(system, doomed)
    f.like(c.carol, welcome)
    f.unlike(c.carol, welcome)
    return {"welcome": welcome, "pm": pm_post, "unlisted": unlisted, "deleted": doomed}


def test_likes_received_newest_first_with_the_like_time(sim: Sim, community: Community) -> None:
    c = community
    posts = _likes_world(sim, c)
    rows = ok(sim.http().get(f"{sim.url}/user_actions.json",
                             params={"username": "alice", "filter": 2})).json()["user_actions"]
    assert [(r["post_id"], r["acting_username"]) for r in rows] == [
        (posts["unlisted"].id, "carol"), (posts["pm"].id, "bob"), (posts["welcome"].id, "bob")]
    newest = rows[0]
    assert newest["created_at"] == _like_of(posts["unlisted"], c.carol)
    assert newest["created_at"] != iso(posts["unlisted"].created_at)  # the like's time, not the post's
    assert (newest["action_type"], newest["acting_user_id"], newest["target_username"], newest["username"],
            newest["topic_id"], newest["post_number"]) == (
        2, c.carol.id, "alice", "alice", posts["unlisted"].topic_id, 1)
    assert rows[1]["category_id"] is None and rows[2]["category_id"] == c.general_id  # a message has no category
    assert rows[2]["created_at"] == _like_of(posts["welcome"], c.bob)

    mine = ok(sim.http("alice").get(f"{sim.url}/user_actions.json", params={"username": "alice", "filter": "2"}))
    assert [r["post_id"] for r in mine.json()["user_actions"]] == [r["post_id"] for r in rows]

    second = ok(sim.http().get(f"{sim.url}/user_actions.json",
                               params={"username": "alice", "filter": 2, "offset": 1, "limit": 1}))
    assert [r["post_id"] for r in second.json()["user_actions"]] == [posts["pm"].id]
    assert ok(sim.http().get(f"{sim.url}/user_actions.json",
                             params={"username": "alice", "filter": 2, "limit": 0})).json()["user_actions"] == []
    below_zero = ok(sim.http().get(f"{sim.url}/user_actions.json",
                                   params={"username": "alice", "filter": 2, "offset": -5}))
    assert len(below_zero.json()["user_actions"]) == 3  # `[0, offset.to_i].max`


def test_likes_received_only_for_the_member_and_admins(sim: Sim, community: Community) -> None:
    """WAS_LIKED is one of UserAction.private_types: Guardian#can_see_user_actions? lets only the member and admins
    see it — a moderator, another member and an anonymous visitor get a 404."""
    _likes_world(sim, community)
    params = {"username": "alice", "filter": 2}
    for username in ("mod", "bob", None):
        refused(sim.http(username).get(f"{sim.url}/user_actions.json", params=params), 404, "not_found")
    refused(sim.http().get(f"{sim.url}/user_actions.json", params={"filter": 2}), 400, "invalid_parameters")
    refused(sim.http().get(f"{sim.url}/user_actions.json", params={"username": "nobody-here", "filter": 2}),
            404, "not_found")
    for unsimulated in ({"filter": 5}, {}):
        refused(sim.http().get(f"{sim.url}/user_actions.json", params={"username": "alice", **unsimulated}),
                400, "invalid_parameters")


def test_likes_given_follow_the_viewers_visibility(sim: Sim, community: Community) -> None:
    """LIKE (1) is not private: anyone who may see bob's profile sees his likes, filtered as UserAction.stream
    filters them — no messages for others, no unlisted topics for non-staff, nothing on deleted posts."""
    posts = _likes_world(sim, community)
    params = {"username": "bob", "filter": 1}
    public = ok(sim.http(None).get(f"{sim.url}/user_actions.json", params=params)).json()["user_actions"]
    assert [r["post_id"] for r in public] == [posts["welcome"].id]
    assert public[0]["acting_username"] == "bob" and public[0]["username"] == "alice"
    by_carol = ok(sim.http("carol").get(f"{sim.url}/user_actions.json", params=params)).json()["user_actions"]
    assert [r["post_id"] for r in by_carol] == [posts["welcome"].id]
    himself = ok(sim.http("bob").get(f"{sim.url}/user_actions.json", params=params)).json()["user_actions"]
    assert [r["post_id"] for r in himself] == [posts["pm"].id, posts["welcome"].id]
    carol = {"username": "carol", "filter": 1}
    refused(sim.http(None).get(f"{sim.url}/user_actions.json", params=carol), 404, "not_found")  # no posts: hidden
    carols = ok(sim.http("alice").get(f"{sim.url}/user_actions.json", params=carol))
    assert carols.json()["user_actions"] == []  # her like of an unlisted topic, and the one she took back
    as_staff = ok(sim.http("mod").get(f"{sim.url}/user_actions.json", params=carol))
    assert [r["post_id"] for r in as_staff.json()["user_actions"]] == [posts["unlisted"].id]


def test_user_actions_limit_defaults_to_30_and_stops_at_100(sim: Sim, community: Community) -> None:
    c = community
    for n in range(55):
        reply = sim.forum.create_post(c.alice, topic_id=c.welcome_topic_id, raw=f"Reply number {n} from Alice here.")
        sim.forum.like(c.bob, reply)
        sim.forum.like(c.carol, reply)
    url = f"{sim.url}/user_actions.json"
    assert len(ok(sim.http().get(url, params={"username": "alice", "filter": 2})).json()["user_actions"]) == 30
    capped = ok(sim.http().get(url, params={"username": "alice", "filter": 2, "limit": 500})).json()
    assert len(capped["user_actions"]) == 100
    rest = ok(sim.http().get(url, params={"username": "alice", "filter": 2, "limit": 100, "offset": 100})).json()
    assert len(rest["user_actions"]) == 111 - 100
    times = [r["created_at"] for r in capped["user_actions"] + rest["user_actions"]]
    assert times == sorted(times, reverse=True)


# --------------------------------------------------------------------------------------------------
# The forum's own figures: GET /admin/reports/bulk.json
# --------------------------------------------------------------------------------------------------

REPORT_KEYS = {
    # Report#as_json (app/models/report.rb): always sent…
    "type", "title", "xaxis", "yaxis", "description", "description_link", "data", "start_date", "end_date",
    "prev_data", "prev_start_date", "prev_end_date", "prev30Days", "dates_filtering", "report_key",
    "primary_color", "secondary_color", "available_filters", "labels", "average", "percent", "higher_is_better",
    "modes",
}
"""…and `icon`, `error`, `total`, `prev_period`, `limit` only when set."""


def _figures_world(sim: Sim, c: Community, clock: Clock) -> None:
    """On 28 November the community (3 counted posts: two first posts and bob's reply; 2 topics; bob's like), on
    30 November a new topic with a reply, a whisper and a message reply, carol's like taken back and bob's like."""
    f = sim.forum
    clock.at = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    topic = _topic(f, c.alice, "A topic of the thirtieth", c.general_id)
    f.create_post(c.bob, topic_id=topic.topic_id, raw="A reply on the thirtieth of November.")
    f.create_post(c.mod, topic_id=topic.topic_id, whisper=True, raw="A whisper nobody counts as a post.")
    f.create_post(c.bob, topic_id=c.pm_topic_id, raw="A reply in the message, not counted.")
    f.like(c.carol, f.posts[c.welcome_post_id])
    f.unlike(c.carol, f.posts[c.welcome_post_id])
    f.like(c.bob, topic)


def _bulk(sim: Sim, username: str | None, **reports: dict[str, Any]) -> requests.Response:
    params: dict[str, Any] = {}
    for kind, options in reports.items():
        for name, value in options.items():
            params[f"reports[{kind}][{name}]{'[]' if isinstance(value, list) else ''}"] = value
    return sim.http(username).get(f"{sim.url}/admin/reports/bulk.json", params=params)


def test_reports_bulk_counts_by_discourse_definitions(sim: Sim, community: Community, clock: Clock) -> None:
    _figures_world(sim, community, clock)
    window = {"start_date": "2026-11-28", "end_date": "2026-11-30"}
    response = _bulk(sim, "system", posts=window, topics=window, likes=window, bogus=window)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["reports"]
    posts, topics, likes, bogus = body["reports"]
    assert [r["type"] for r in body["reports"]] == ["posts", "topics", "likes", "bogus"]
    for report in (posts, topics):
        assert set(report) == REPORT_KEYS | {"total"}
    assert set(likes) == REPORT_KEYS | {"total", "icon"} and likes["icon"] == "heart"
    assert posts["data"] == [{"x": "2026-11-28", "y": 3}, {"x": "2026-11-30", "y": 2}]
    assert topics["data"] == [{"x": "2026-11-28", "y": 2}, {"x": "2026-11-30", "y": 1}]
    assert likes["data"] == [{"x": "2026-11-28", "y": 1}, {"x": "2026-11-30", "y": 2}]  # carol's taken back too
    assert (posts["total"], topics["total"], likes["total"]) == (5, 3, 3)
    assert posts["prev30Days"] == 0
    assert (posts["start_date"], posts["end_date"]) == ("2026-11-28T00:00:00Z", "2026-11-30T23:59:59Z")
    assert posts["report_key"] == "reports:posts:20261128:20261130:[:total, :prev30Days]:4"
    assert posts["labels"][0] == {"type": "date", "property": "x", "title": "Day"}
    assert bogus["error"] == "not_found" and bogus["data"] is None and "total" not in bogus

    clock.at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    sim.forum.like(community.carol, sim.forum.posts[community.welcome_post_id])  # revives her trashed like
    later = _bulk(sim, "mod", likes={**window, "end_date": "2026-12-01", "facets": ["prev_period"]}).json()
    again = later["reports"][0]
    assert again["data"] == [{"x": "2026-11-28", "y": 1}, {"x": "2026-11-30", "y": 1}, {"x": "2026-12-01", "y": 1}]
    assert "total" not in again and again["prev30Days"] is None and again["prev_period"] == 0


def test_reports_bulk_refusals(sim: Sim, community: Community) -> None:
    """The admin namespace is routed for staff only (StaffConstraint): anyone else meets Discourse's 404."""
    window = {"start_date": "2026-11-28", "end_date": "2026-11-30"}
    for username in ("bob", None):
        refused(_bulk(sim, username, posts=window), 404, "not_found")
    refused(_bulk(sim, "system", posts={"start_date": "the day after"}), 400, "invalid_parameters")
    refused(_bulk(sim, "system", posts={**window, "limit": 51}), 400, "invalid_parameters")
    refused(_bulk(sim, "system", signups=window), 400, "invalid_parameters")  # real, not simulated
    refused(sim.http().get(f"{sim.url}/admin/reports/bulk.json"), 400, "invalid_parameters")
    defaults = _bulk(sim, "system", topics={"start_date": "2026-11-28"}).json()["reports"][0]
    assert defaults["end_date"] == "2026-12-28T23:59:59Z"  # start + 30 days


# --------------------------------------------------------------------------------------------------
# The adapter, over HTTP, counting calls
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def adapter(sim: Sim, community: Community, redis_conn: redis.Redis) -> Iterator[Forum]:
    """The service's adapter; its bot a moderator, as install makes it."""
    bot = sim.user(BOT, trust_level=1)
    sim.forum.set_moderator(bot, True)
    with Forum(settings_for(sim), budget=budget_for(redis_conn)) as forum:
        yield forum


def test_topics_by_ids_reads_a_hundred_a_call(sim: Sim, community: Community, adapter: Forum) -> None:
    c = community
    system = sim.forum.users[-1]
    made = [_topic(sim.forum, c.alice, f"Numbered topic {n:03d} here", c.general_id, ["code-of-care"] if n % 2 else [])
            for n in range(150)]
    sim.forum.set_status(system, sim.forum.topics[made[7].topic_id], "closed", True)
    asked = [p.topic_id for p in made] + [c.pm_topic_id, c.deleted_topic_id, made[3].topic_id]
    before = adapter.calls_made
    topics = adapter.topics_by_ids(reversed(asked))
    assert adapter.calls_made - before == 2 == -(-len(set(asked)) // LATEST_TOPICS_PAGE)
    listable = {p.topic_id for p in made}
    assert [t.id for t in topics] == [i for i in dict.fromkeys(reversed(asked)) if i in listable]  # the order asked
    by_id = {t.id: t for t in topics}
    assert by_id[made[1].topic_id].tags == ("code-of-care",) and by_id[made[2].topic_id].tags == ()
    assert {t.category_id for t in topics} == {c.general_id}
    assert by_id[made[7].topic_id].closed and not by_id[made[8].topic_id].closed
    assert by_id[made[0].topic_id].created_at == iso(sim.forum.topics[made[0].topic_id].created_at)
    assert all(t.visible and not t.archived for t in topics)
    before = adapter.calls_made
    assert adapter.topics_by_ids([]) == [] and adapter.calls_made == before


def test_topics_by_ids_pages_a_forum_that_ignores_per_page(redis_conn: redis.Redis) -> None:
    """A forum older than `per_page` (Discourse before 2025.01) answers 30 a page: the adapter reads on."""
    app = Flask("old-discourse")
    seen: list[dict[str, str]] = []

    @app.get("/latest.json")
    def latest():  # type: ignore[no-untyped-def]
        seen.append(dict(request.args))
        ids = [int(i) for i in request.args["topic_ids"].split(",")]
        page = int(request.args.get("page", "0"))
        items = [{"id": i, "title": f"Topic {i}", "slug": f"topic-{i}", "archetype": "regular", "category_id": 1,
                  "created_at": "2026-11-30T10:00:00.000Z", "tags": [], "closed": False, "archived": False,
                  "visible": True} for i in ids[page * 30:(page + 1) * 30]]
        return jsonify(topic_list={"per_page": 30, "topics": items})

    with serving(app) as handle:
        settings = Settings.from_env({}, dotenv=False, discourse_url=handle.url, discourse_api_key="old-forum-key",
                                     discourse_webhook_secret=SECRET, bot_username=BOT)
        with Forum(settings, budget=budget_for(redis_conn)) as forum:
            topics = forum.topics_by_ids(range(1, 101))
            assert [t.id for t in topics] == list(range(1, 101))
            assert forum.calls_made == 4
    assert [s.get("page") for s in seen] == [None, "1", "2", "3"] and seen[0]["per_page"] == "100"


def test_likes_received_pages_newest_first_and_stops_at_since(sim: Sim, community: Community,
                                                              adapter: Forum) -> None:
    c = community
    f = sim.forum
    f.like(c.bob, f.first_post(f.topics[c.pm_topic_id]))
    for n in range(65):
        reply = f.create_post(c.alice, topic_id=c.welcome_topic_id, raw=f"Alice says thing number {n} here.")
        f.like(c.bob, reply)
        f.like(c.carol, reply)
    expected = sorted(((like.created_at, post.id, like.user_id) for post in f.posts.values()
                       if post.user_id == c.alice.id for like in post.likes), reverse=True)
    assert len(expected) == 132

    before = adapter.calls_made
    likes = adapter.likes_received("alice", None)
    assert adapter.calls_made - before == 2 == len(expected) // USER_ACTIONS_PAGE + 1
    assert [(like.post_id, like.liker_id) for like in likes] == [(p, u) for _, p, u in expected]
    newest = likes[0]
    assert newest == ReceivedLike(post_id=expected[0][1], topic_id=c.welcome_topic_id, liker_id=c.carol.id,
                                  liker_username="carol", created_at=str(iso(expected[0][0])),
                                  post_number=f.posts[expected[0][1]].post_number, category_id=c.general_id,
                                  post_type=1)
    assert not newest.private
    in_message = next(like for like in likes if like.topic_id == c.pm_topic_id)
    assert in_message.private and in_message.liker_username == "bob"

    since = str(iso(expected[39][0]))
    before = adapter.calls_made
    recent = adapter.likes_received("alice", since)
    assert adapter.calls_made - before == 1
    assert [(like.post_id, like.liker_id) for like in recent] == [(p, u) for _, p, u in expected[:40]]
    before = adapter.calls_made
    assert adapter.likes_received("alice", "2027-01-01T00:00:00Z") == []
    assert adapter.calls_made - before == 1


def test_daily_reports_in_one_call(sim: Sim, community: Community, clock: Clock, adapter: Forum) -> None:
    _figures_world(sim, community, clock)
    before = adapter.calls_made
    figures = adapter.daily_reports(date(2026, 11, 27), date(2026, 11, 30))
    assert adapter.calls_made - before == 1
    assert figures == {
        "posts": {"2026-11-27": 0, "2026-11-28": 3, "2026-11-29": 0, "2026-11-30": 2},
        "topics": {"2026-11-27": 0, "2026-11-28": 2, "2026-11-29": 0, "2026-11-30": 1},
        "likes": {"2026-11-27": 0, "2026-11-28": 1, "2026-11-29": 0, "2026-11-30": 2},
    }
    assert adapter.daily_reports(date(2026, 11, 30), date(2026, 11, 30), kinds=("likes",)) == {
        "likes": {"2026-11-30": 2}}
