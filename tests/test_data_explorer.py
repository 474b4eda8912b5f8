"""Data Explorer: the service's saved queries (plugin/adapters/data_explorer.py) against the simulator's plugin
(simulator/data_explorer.py), over real HTTP and a real Redis budget.

The simulator must answer each query with exactly what the forum's own API shows the public — `GET /posts.json`
(as an anonymous visitor), `GET /post_action_users.json`, `GET /t/{id}.json` — for a small community with a
message, a whisper, a small action, a deleted and a hidden post, a read-restricted category, likes and a like taken
back; and refuse what the plugin refuses: a disabled plugin, a non-admin, a missing parameter, a write.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import requests
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from plugin.adapters.budget import ApiBudget
from plugin.adapters.data_explorer import (
    CORE_PREFIX,
    FIRST_POSTS,
    LEGACY_PREFIX,
    LIKES,
    NAME_PREFIX,
    NOT_ENABLED,
    PAGE_SIZE,
    POSTS,
    QUERIES,
    TOPICS,
    DataExplorer,
    post_from_row,
    topic_from_row,
)
from plugin.adapters.forum import Forum, ForumRefused
from plugin.adapters.keys import Keys
from plugin.config import Settings
from simulator.data_explorer import parse_params
from simulator.state import POST_SMALL_ACTION
from simulator.state import Forum as SimForum
from tests.simulator_fixtures import Community, Sim

KEYS = Keys("coc-test:")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
RUN_KEYS = ["success", "errors", "duration", "result_count", "params", "columns", "default_limit", "relations",
            "colrender", "rows"]


class TickingClock:
    """The forum's clock: every reading is one second after the last, so every record has its own time."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment


@pytest.fixture
def sim_forum() -> SimForum:
    forum = SimForum(clock=TickingClock())
    forum.settings["max_admin_api_reqs_per_minute"] = 10_000   # the budget is not what these tests are about
    return forum


@pytest.fixture
def adapter(sim: Sim, redis_conn: redis.Redis) -> Iterator[Forum]:
    settings = Settings.from_env({}, dotenv=False, discourse_url=sim.url, discourse_api_key=sim.api_key,
                                 discourse_webhook_secret="data-explorer-test-secret", bot_username="care-bot")
    budget = ApiBudget(redis_conn, key=KEYS.api_budget, pause_key=KEYS.api_pause, per_minute=10_000)
    with Forum(settings, budget=budget) as forum:
        yield forum


def enable(sim: Sim) -> None:
    """Turn the plugin on as an admin does: PUT /admin/site_settings/data_explorer_enabled."""
    answer = sim.http().put(f"{sim.url}/admin/site_settings/data_explorer_enabled.json",
                            data={"data_explorer_enabled": "true"})
    assert answer.status_code == 200, answer.text


@pytest.fixture
def explorer(sim: Sim, adapter: Forum) -> DataExplorer:
    enable(sim)
    return DataExplorer(adapter)


# --------------------------------------------------------------------------------------------------
# The community's history, beyond tests.simulator_fixtures.build_community
# --------------------------------------------------------------------------------------------------


def add_history(c: Community) -> dict[str, Any]:
    f = c.forum
    system = f.user_by_name("system")
    assert system is not None
    f.ensure_tags(["zeta", "alpha"], system)
    second = f.create_post(c.alice, title="A second topic about listening", category_id=c.general_id,
                           raw="Listening well is half of caring for each other.", tags=["zeta", "alpha"])
    carol_reply = f.create_post(c.carol, topic_id=second.topic_id, raw="I agree, and I would add patience.")
    deleted = f.create_post(c.carol, topic_id=second.topic_id, raw="A reply that the staff will delete soon.")
    f.delete_post(system, deleted)
    hidden = f.create_post(c.bob, topic_id=second.topic_id, raw="A reply that flags will hide from view.")
    hidden.hidden = True
    small_action = f.create_post(c.mod, topic_id=second.topic_id, raw="closed this topic for a moment, sorry")
    small_action.post_type = POST_SMALL_ACTION
    staff_post = f.first_post(f.topics[c.staff_topic_id])
    pm_post = f.first_post(f.topics[c.pm_topic_id])
    f.like(c.carol, f.posts[c.reply_post_id])
    f.like(c.bob, staff_post)                       # a like in a read-restricted category: never listed
    f.like(c.bob, pm_post)                          # a like in a message: never listed
    f.like(c.alice, f.posts[c.whisper_post_id])     # a like of a whisper: never listed
    f.like(c.alice, carol_reply)
    f.unlike(c.alice, carol_reply)                  # a like taken back: listed with its deleted_at
    return {"second_topic_id": second.topic_id, "carol_reply_id": carol_reply.id, "deleted_id": deleted.id,
            "hidden_id": hidden.id, "small_action_id": small_action.id}


def public_posts(sim: Sim) -> list[dict[str, Any]]:
    """Every post GET /posts.json shows an anonymous visitor, page after page (newest first)."""
    http = sim.http(None)
    posts: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        answer = http.get(f"{sim.url}/posts.json", params={"before": before} if before else {})
        assert answer.status_code == 200, answer.text
        page = answer.json()["latest_posts"]
        posts.extend(page)
        if len(page) < 50:
            return posts
        before = page[-1]["id"]


def run_http(sim: Sim, query_id: int, params: dict[str, Any] | None = None, *, username: str | None = "system",
             prefix: str = LEGACY_PREFIX, **fields: Any) -> requests.Response:
    data = {"params": json.dumps(params or {}), **fields}
    return sim.http(username).post(f"{sim.url}{prefix}/queries/{query_id}/run.json", data=data)


def create_http(sim: Sim, name: str, sql: str, *, username: str | None = "system") -> requests.Response:
    return sim.http(username).post(f"{sim.url}{LEGACY_PREFIX}/queries.json",
                                   json={"query": {"name": name, "description": "a test query", "sql": sql}})


# --------------------------------------------------------------------------------------------------
# The saved queries themselves
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.key)
def test_every_saved_query_is_postgresql_the_plugin_accepts(query: Any) -> None:
    tree = sqlglot.parse_one(query.sql, read="postgres", error_level=ErrorLevel.RAISE)
    assert isinstance(tree, exp.Select)                        # a query, not a statement sqlglot gave up on
    assert ";" not in query.sql                                # DataExplorer.run_query refuses any semicolon
    assert query.sql.startswith("-- [params]\n")
    declared = {p.identifier: p for p in parse_params(query.sql)}
    assert {"after", "page_size"} <= set(declared)
    assert declared["page_size"].default == str(PAGE_SIZE) and declared["after"].default == "0"
    markers = {m.this for m in tree.find_all(exp.Placeholder)}
    assert markers == set(declared), "every marker declared, every declaration used"
    assert query.cursor in tree.named_selects
    assert query.name.startswith(NAME_PREFIX) and query.fingerprint in query.description
    where = tree.args["where"].sql("postgres")
    if query is FIRST_POSTS:  # the rules sit in the per-member subquery
        where = tree.sql("postgres")
    if query in (POSTS, LIKES, FIRST_POSTS):
        for rule in ("p.post_type = 1", "p.deleted_at IS NULL", "NOT p.hidden", "t.deleted_at IS NULL",
                     "t.archetype <> 'private_message'", "NOT COALESCE(c.read_restricted, FALSE)"):
            assert rule in where, rule
    if query is TOPICS:
        for rule in ("t.deleted_at IS NULL", "t.archetype <> 'private_message'",
                     "NOT COALESCE(c.read_restricted, FALSE)"):
            assert rule in where, rule


# --------------------------------------------------------------------------------------------------
# What the queries answer, against what the forum's API shows
# --------------------------------------------------------------------------------------------------


def test_posts_are_exactly_the_public_listing(sim: Sim, community: Community, explorer: DataExplorer) -> None:
    made = add_history(community)
    listed = public_posts(sim)
    rows = explorer.run("posts", since=EPOCH)
    assert [r["id"] for r in rows] == sorted(p["id"] for p in listed)
    hidden_from_public = {community.whisper_post_id, made["deleted_id"], made["hidden_id"], made["small_action_id"],
                          sim.forum.first_post(sim.forum.topics[community.pm_topic_id]).id,
                          sim.forum.first_post(sim.forum.topics[community.staff_topic_id]).id,
                          sim.forum.first_post(sim.forum.topics[community.deleted_topic_id]).id}
    assert not hidden_from_public & {r["id"] for r in rows}
    by_id = {p["id"]: p for p in listed}
    for row in rows:
        shown = by_id[row["id"]]
        for key in ("topic_id", "post_number", "user_id", "username", "post_type", "created_at", "updated_at",
                    "version", "raw", "reply_to_post_number", "topic_slug", "topic_title", "category_id"):
            assert row[key] == shown[key], (key, row[key], shown[key])
    welcome = next(r for r in rows if r["id"] == community.welcome_post_id)
    assert (welcome["like_count"], welcome["staff"], welcome["trust_level"]) == (1, False, 2)
    reply = next(r for r in rows if r["id"] == community.reply_post_id)
    assert (reply["reply_to_username"], reply["like_count"]) == ("alice", 1)
    post = post_from_row(reply)
    assert (post.id, post.username, post.reply_to_username, post.like_count, post.private) == (
        community.reply_post_id, "bob", "alice", 1, False)
    later = datetime.fromisoformat(by_id[made["carol_reply_id"]]["created_at"].replace("Z", "+00:00"))
    assert [r["id"] for r in explorer.run("posts", since=later)] == sorted(p["id"] for p in listed
                                                                          if p["id"] >= made["carol_reply_id"])


def test_likes_are_the_forums_likers_and_the_likes_taken_back(sim: Sim, community: Community,
                                                               explorer: DataExplorer) -> None:
    made = add_history(community)
    listed = public_posts(sim)
    rows = explorer.run("likes", since=EPOCH)
    admin = sim.http()
    shown: set[tuple[int, int]] = set()
    for post in listed:
        answer = admin.get(f"{sim.url}/post_action_users.json", params={"id": post["id"], "post_action_type_id": 2})
        assert answer.status_code == 200, answer.text
        shown |= {(post["id"], u["id"]) for u in answer.json()["post_action_users"]}
    assert {(r["post_id"], r["user_id"]) for r in rows if r["deleted_at"] is None} == shown
    taken_back = [r for r in rows if r["deleted_at"] is not None]
    assert [(r["post_id"], r["username"]) for r in taken_back] == [(made["carol_reply_id"], "alice")]
    assert taken_back[0]["deleted_at"] > taken_back[0]["created_at"]
    assert len({r["id"] for r in rows}) == len(rows) == 3
    # since: only what was given or taken back at that time or after
    undone = datetime.fromisoformat(taken_back[0]["deleted_at"].replace("Z", "+00:00"))
    assert [(r["post_id"], r["user_id"]) for r in explorer.run("likes", since=undone)] == [
        (made["carol_reply_id"], community.alice.id)]
    # liking again revives the same row (PostActionCreator), given now
    sim.forum.like(community.alice, sim.forum.posts[made["carol_reply_id"]])
    again = explorer.run("likes", since=undone)
    assert [(r["id"], r["deleted_at"]) for r in again] == [(taken_back[0]["id"], None)]


def test_topics_are_the_public_ones_with_their_tags(sim: Sim, community: Community, explorer: DataExplorer) -> None:
    made = add_history(community)
    every_id = sorted(sim.forum.topics)
    rows = explorer.run("topics", topic_ids=every_id)
    anonymous = sim.http(None)
    public: dict[int, dict[str, Any]] = {}
    for topic_id in every_id:
        answer = anonymous.get(f"{sim.url}/t/{topic_id}.json")
        if answer.status_code == 200:
            public[topic_id] = answer.json()
    assert [r["id"] for r in rows] == sorted(public)
    assert community.pm_topic_id not in public and community.staff_topic_id not in public
    for row in rows:
        shown = public[row["id"]]
        names = sorted(t if isinstance(t, str) else t["name"] for t in shown.get("tags") or [])
        assert (row["tags"].split(",") if row["tags"] else []) == names
        for key in ("title", "slug", "category_id", "archetype", "closed", "archived", "visible", "created_at"):
            assert row[key] == shown[key], (key, row[key], shown[key])
    second = next(r for r in rows if r["id"] == made["second_topic_id"])
    assert second["tags"] == "alpha,zeta"                     # string_agg(… ORDER BY tg.name)
    topic = topic_from_row(second)
    assert (topic.tags, topic.category_id) == (("alpha", "zeta"), community.general_id)
    assert [t.id for t in explorer.topics([made["second_topic_id"], community.pm_topic_id])] == [
        made["second_topic_id"]]
    assert explorer.run("topics", topic_ids=[]) == []


def test_first_posts_are_each_members_earliest_public_post(sim: Sim, community: Community,
                                                           explorer: DataExplorer) -> None:
    add_history(community)
    first: dict[int, str] = {}
    for post in public_posts(sim):
        first[post["user_id"]] = min(first.get(post["user_id"], post["created_at"]), post["created_at"])
    rows = explorer.run("first_posts")
    assert {r["user_id"]: r["first_post_at"] for r in rows if r["first_post_at"] is not None} == {
        k: v for k, v in first.items() if k > 0}
    assert [r["user_id"] for r in rows] == sorted(r["user_id"] for r in rows)
    assert community.mod.id not in {r["user_id"] for r in rows if r["first_post_at"] is not None}  # a whisper, a
    # small action, the staff room: no public post, so no first post


def test_paging_by_after_returns_every_row_once(sim: Sim, community: Community, adapter: Forum) -> None:
    enable(sim)
    for n in range(9):
        sim.forum.create_post(community.bob, topic_id=community.welcome_topic_id,
                              raw=f"Another thought on caring, number {n} of nine.")
    explorer = DataExplorer(adapter, page_size=4)
    explorer.ensure_queries()
    expected = sorted(p["id"] for p in public_posts(sim))
    before = adapter.calls_made
    rows = explorer.run("posts", since=EPOCH)
    ids = [r["id"] for r in rows]
    assert ids == expected and len(set(ids)) == len(ids) == 11
    assert adapter.calls_made - before == math.ceil((len(expected) + 1) / 4)      # 4 + 4 + 3 rows: 3 calls
    sim.forum.create_post(community.carol, topic_id=community.welcome_topic_id,
                          raw="One more, so that the pages come out even.")
    before = adapter.calls_made
    assert len(explorer.run("posts", since=EPOCH)) == 12
    assert adapter.calls_made - before == 4                                         # 4 + 4 + 4 + an empty page


# --------------------------------------------------------------------------------------------------
# The saved queries in the forum, and the answers' shapes
# --------------------------------------------------------------------------------------------------


def test_queries_are_made_once_and_updated_when_their_sql_changed(sim: Sim, explorer: DataExplorer,
                                                                  adapter: Forum) -> None:
    before = adapter.calls_made
    ids = explorer.ensure_queries()
    assert adapter.calls_made - before == 1 + len(QUERIES)
    stored = sim.app.extensions["data_explorer"].queries
    assert sorted((q.name, q.sql) for q in stored.values()) == sorted((q.name, q.sql) for q in QUERIES)
    assert set(ids) == {q.key for q in QUERIES}
    before = adapter.calls_made
    assert DataExplorer(adapter).ensure_queries() == ids
    assert adapter.calls_made - before == 1
    stored[ids["posts"]].sql = "SELECT 1 AS id"
    stored[ids["posts"]].description = "edited in the forum"
    before = adapter.calls_made
    assert DataExplorer(adapter).ensure_queries() == ids
    assert adapter.calls_made - before == 2
    assert stored[ids["posts"]].sql == POSTS.sql
    assert explorer.available()


def test_list_create_and_run_answer_the_plugins_shapes(sim: Sim, community: Community, explorer: DataExplorer) -> None:
    ids = explorer.ensure_queries()
    admin = sim.http()
    listing = admin.get(f"{sim.url}{CORE_PREFIX}/queries.json", params={"filter": NAME_PREFIX})
    assert listing.status_code == 200
    body = listing.json()
    assert list(body) == ["queries", "total_rows_queries"] and body["total_rows_queries"] == len(QUERIES)
    assert list(body["queries"][0]) == ["id", "name", "description", "username", "group_ids", "last_run_at",
                                        "user_id"]
    created = create_http(sim, "a shape test", "-- [params]\n-- int :foo = 34\n-- null date :day\n\nSELECT :foo AS v")
    assert created.status_code == 200, created.text
    query = created.json()["query"]
    assert list(query) == ["id", "name", "description", "username", "group_ids", "last_run_at", "user_id", "sql",
                           "param_info", "created_at", "hidden"]
    assert query["param_info"] == [{"identifier": "foo", "type": "int", "default": "34", "nullable": False},
                                   {"identifier": "day", "type": "date", "default": None, "nullable": True}]
    assert (query["username"], query["hidden"]) == ("system", False)
    ran = run_http(sim, query["id"], {"foo": "23", "unknown": "ignored"})
    assert ran.status_code == 200, ran.text
    result = ran.json()
    assert list(result) == RUN_KEYS
    assert (result["columns"], result["rows"], result["result_count"]) == (["v"], [[23]], 1)
    assert (result["params"], result["default_limit"], result["errors"]) == ({"foo": "23", "unknown": "ignored"},
                                                                           1000, [])
    posts = run_http(sim, ids["posts"], {"since": "2000-01-01T00:00:00Z"}, prefix=CORE_PREFIX, limit="1")
    assert posts.status_code == 200, posts.text
    result = posts.json()
    assert result["result_count"] == 1 and len(result["rows"]) == 1
    assert list(result["relations"]) == ["topic", "user", "category"] and result["relations"]["category"] == []
    assert result["relations"]["user"][0] == {"id": community.alice.id, "username": "alice",
                                              "name": "Alice Liddell",
                                              "avatar_template": result["relations"]["user"][0]["avatar_template"]}
    columns = result["columns"]
    assert result["colrender"] == {str(columns.index("topic_id")): "topic", str(columns.index("user_id")): "user",
                                   str(columns.index("category_id")): "category"}
    assert result["rows"][0][columns.index("created_at")].endswith("Z")
    too_many = run_http(sim, ids["posts"], {"since": "2000-01-01"}, limit=str(PAGE_SIZE + 1))
    assert too_many.status_code == 400
    assert too_many.json()["errors"] == ["You supplied invalid parameters to the request: limit"]
    assert run_http(sim, ids["posts"], {"since": "2000-01-01"}, limit="ALL").status_code == 400
    moved = admin.get(f"{sim.url}{LEGACY_PREFIX}/queries.json", allow_redirects=False)
    assert moved.status_code == 301 and moved.headers["Location"].endswith(f"{CORE_PREFIX}/queries")


# --------------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------------


def test_a_disabled_plugin_answers_404_everywhere(sim: Sim, community: Community, adapter: Forum) -> None:
    admin = sim.http()
    assert sim.forum.settings["data_explorer_enabled"] is False
    for method, path in (("GET", f"{CORE_PREFIX}/queries.json"), ("POST", f"{LEGACY_PREFIX}/queries.json"),
                         ("PUT", f"{LEGACY_PREFIX}/queries/1.json"), ("POST", f"{LEGACY_PREFIX}/queries/1/run.json"),
                         ("POST", f"{CORE_PREFIX}/queries/1/run.json"), ("GET", f"{CORE_PREFIX}/queries/1.json")):
        answer = admin.request(method, f"{sim.url}{path}")
        assert answer.status_code == 404, (method, path)
        assert answer.json() == {"errors": ["The requested URL or resource could not be found."],
                                 "error_type": "not_found"}
    explorer = DataExplorer(adapter)
    assert explorer.available() is False
    with pytest.raises(ForumRefused) as refused:
        explorer.ensure_queries()
    assert refused.value.status == 404 and refused.value.errors == [NOT_ENABLED]
    assert sim.app.extensions["data_explorer"].queries == {}


def test_only_admins_may_use_it(sim: Sim, community: Community, explorer: DataExplorer) -> None:
    ids = explorer.ensure_queries()
    for username in ("mod", "bob", None):                     # a moderator, a member, an anonymous visitor
        http = sim.http(username)
        assert http.get(f"{sim.url}{CORE_PREFIX}/queries.json").status_code == 403
        assert create_http(sim, "not mine", "SELECT 1", username=username).status_code == 403
        answer = run_http(sim, ids["first_posts"], username=username)
        assert answer.status_code == 403
        assert answer.json()["error_type"] == "invalid_access"
    assert len(sim.app.extensions["data_explorer"].queries) == len(QUERIES)


def test_a_missing_or_malformed_parameter_is_refused(sim: Sim, community: Community, explorer: DataExplorer) -> None:
    ids = explorer.ensure_queries()
    answer = run_http(sim, ids["posts"], {})
    assert answer.status_code == 422
    assert answer.json() == {"success": False, "errors": [
        "DiscourseDataExplorer::ValidationError: Missing parameter since of type datetime"]}
    answer = run_http(sim, ids["topics"], {"topic_ids": ""})
    assert answer.json()["errors"] == [
        "DiscourseDataExplorer::ValidationError: Missing parameter topic_ids of type int_list"]
    answer = run_http(sim, ids["posts"], {"since": "2000-01-01", "after": "2.5"})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        "DiscourseDataExplorer::ValidationError: '2.5' is an invalid int - Not an integer"]
    answer = run_http(sim, ids["posts"], {"since": "yesterday-ish"})
    assert answer.json()["errors"] == [
        "DiscourseDataExplorer::ValidationError: 'yesterday-ish' is an invalid datetime - invalid date"]
    bad_json = sim.http().post(f"{sim.url}{LEGACY_PREFIX}/queries/{ids['posts']}/run.json", data={"params": "{nope"})
    assert (bad_json.status_code, bad_json.json()) == (422, {"success": False, "errors": ["Invalid JSON in params"]})
    undeclared = create_http(sim, "undeclared", "SELECT id FROM posts WHERE id > :after").json()["query"]
    answer = run_http(sim, undeclared["id"], {"after": "1"})                # a value for an undeclared marker
    assert answer.status_code == 422 and "syntax error" in answer.json()["errors"][0]


@pytest.mark.parametrize(("sql", "says"), [
    ("UPDATE posts SET raw = 'you may already be a winner' RETURNING id", "read-only transaction"),
    ("DELETE FROM posts RETURNING id", "read-only transaction"),
    ("SELECT id FROM posts FOR UPDATE", "read-only transaction"),
    ("UPDATE posts SET raw = 'you may already be a winner'", "does not have a RETURNING clause"),
    ("SELECT 1\n)\nSELECT * FROM query;\nUPDATE posts SET raw = 'winner';\nWITH query AS (\nSELECT 1", "semicolons"),
    ("CREATE TABLE mytable (id serial)", "syntax error"),
    ("COMMIT", "syntax error"),
])
def test_a_write_is_refused_and_changes_nothing(sim: Sim, community: Community, explorer: DataExplorer, sql: str,
                                                says: str) -> None:
    raws = {p.id: p.raw for p in sim.forum.posts.values()}
    created = create_http(sim, "a write", sql)
    assert created.status_code == 200, created.text
    answer = run_http(sim, created.json()["query"]["id"])
    assert answer.status_code == 422
    body = answer.json()
    assert body["success"] is False and len(body["errors"]) == 1 and says in body["errors"][0]
    assert {p.id: p.raw for p in sim.forum.posts.values()} == raws
