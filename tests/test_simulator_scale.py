"""The simulator's indexed read routes on a large forum loaded with `Forum.load_bulk`: each answer equals what a
brute-force pass over the whole state gives (the way those routes used to compute it), for sample queries and
viewers — and still does after every kind of write. No timing here: the indexes must change speed only."""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator import serializers as ser
from simulator.api import _action_visible
from simulator.app import create_app
from simulator.state import (POST_REGULAR, POST_WHISPER, Forum, ForumError, Post, Topic, User, WebHookEvent,
                             anonymous_user, iso)

API_KEY = "scale-test-key"
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
VIEWERS = ("admin1", "bot", "insider", "outsider", None)        # None: an anonymous visitor


# --------------------------------------------------------------------------------------------------
# A synthetic forum: a few prolific authors and many occasional ones, restricted categories, messages,
# whispers, deleted, hidden and unlisted things, a shared draft, likes over a year and a half.
# --------------------------------------------------------------------------------------------------


@dataclass
class Loaded:
    forum: Forum
    n_users: int
    staff_category: int
    insiders_category: int
    drafts_category: int


def build_forum(n_posts: int, seed: int) -> Loaded:
    rng = random.Random(seed)
    f = Forum()
    f.settings["max_admin_api_reqs_per_minute"] = 10**9
    staff_room = f.create_category(name="Staff room", permissions={"staff": 1})
    insiders = f.create_group(name="insiders")
    insiders_room = f.create_category(name="Insiders", permissions={"insiders": 1})
    drafts = f.create_category(name="Drafts", permissions={"staff": 1})
    f.settings["shared_drafts_category"] = drafts.id
    n_users = max(50, n_posts // 100)
    n_topics = max(20, n_posts // 20)
    span = timedelta(days=540).total_seconds()
    users: list[tuple[Any, ...]] = [(i, f"user{i}", START, {"trust_level": 1 + i % 2}) for i in range(1, n_users + 1)]
    admin_id, bot_id, insider_id, outsider_id = range(n_users + 1, n_users + 5)
    users += [(admin_id, "admin1", START, {"admin": True, "trust_level": 4}),
              (bot_id, "Bot", START, {"moderator": True, "trust_level": 4}),
              (insider_id, "insider", START, {"trust_level": 2}),
              (outsider_id, "outsider", START, {"trust_level": 1})]
    weights = [1 / i ** 0.8 for i in range(1, n_users + 1)]
    people = list(range(1, n_users + 1)) + [insider_id, outsider_id]
    weights += [weights[10], weights[10]]
    authors = rng.choices(people, weights=weights, k=n_posts)
    times = sorted(START + timedelta(seconds=rng.random() * span) for _ in range(n_posts))
    if n_posts > 10:
        times[5] = times[4]                               # two topics bumped at the same moment
    topics: list[tuple[Any, ...]] = []
    posts: list[tuple[Any, ...]] = []
    likes: list[tuple[int, int, datetime]] = []
    sizes: dict[int, int] = {}
    for k in range(n_posts):
        post_id = k + 1
        if k < n_topics:
            topic_id = k + 1
            extra: dict[str, Any] = {}
            if topic_id % 37 == 0:
                extra = {"archetype": "private_message", "allowed_user_ids": [authors[k], insider_id]}
            elif topic_id % 29 == 0:
                extra = {"category_id": staff_room.id}
            elif topic_id % 23 == 0:
                extra = {"category_id": insiders_room.id}
            elif topic_id % 31 == 0:
                extra = {"visible": False}
            elif topic_id % 41 == 0:
                extra = {"deleted_at": times[k] + timedelta(days=1), "deleted_by_id": admin_id}
            elif topic_id % 43 == 0:
                extra = {"category_id": drafts.id, "shared_draft_category_id": 1}
            if topic_id % 7 == 0:
                extra["tags"] = ["care"]
            topics.append((topic_id, authors[k], f"A topic about thing number {topic_id}", times[k], extra))
        else:
            topic_id = rng.randint(1, n_topics) if rng.random() < 0.7 else rng.randint(1, max(1, n_topics // 50))
        sizes[topic_id] = sizes.get(topic_id, 0) + 1
        post_extra: dict[str, Any] = {}
        roll = rng.random()
        if k >= n_topics and roll < 0.02:
            post_extra["deleted_at"] = times[k] + timedelta(hours=2)
        elif k >= n_topics and roll < 0.03:
            post_extra["post_type"] = POST_WHISPER
        elif roll < 0.035:
            post_extra["hidden"] = True
        elif k >= n_topics and roll < 0.3:
            post_extra["reply_to_post_number"] = rng.randint(1, sizes[topic_id])
        if topic_id % 41 == 0 and sizes[topic_id] == 1:
            post_extra["deleted_at"] = times[k] + timedelta(days=1)      # a deleted topic's first post
        posts.append((post_id, topic_id, authors[k], times[k], f"Post {post_id} says something worth reading.",
                      post_extra))
        shared = rng.random() < 0.05                     # likes made at one same moment: ties to order
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            liker = rng.choice(people + [admin_id, bot_id])
            if liker != authors[k]:
                at = START + timedelta(days=600) if shared else times[k] + timedelta(minutes=rng.randint(0, 3000))
                likes.append((post_id, liker, at))
    likes = list({(p, u): (p, u, t) for p, u, t in likes}.values())   # one like per (post, user)
    f.load_bulk(users=users, topics=topics, posts=posts, likes=likes)
    f.add_members(insiders, [f.users[insider_id]])
    return Loaded(f, n_users, staff_room.id, insiders_room.id, drafts.id)


def app_for(f: Forum) -> Flask:
    return create_app(f, api_key=API_KEY)


def headers(username: str | None) -> dict[str, str]:
    return {} if username is None else {"Api-Key": API_KEY, "Api-Username": username}


def who_is(f: Forum, username: str | None) -> User:
    if username is None:
        return anonymous_user()
    user = f.user_by_name(username)
    assert user is not None
    return user


def get(client: FlaskClient, path: str, username: str | None) -> Any:
    response = client.get(path, headers=headers(username))
    assert response.status_code == 200, (path, username, response.status_code, response.get_data(as_text=True)[:300])
    return response.get_json()


# --------------------------------------------------------------------------------------------------
# Brute force: the routes' answers computed over everything, as they were before the indexes.
# --------------------------------------------------------------------------------------------------


def brute_user_by_name(f: Forum, username: str) -> User | None:
    return next((u for u in f.users.values() if u.username.lower() == username.lower()), None)


def brute_public_posts(f: Forum, who: User) -> list[int]:
    """Every post `GET /posts.json` may list to `who`, newest first."""
    def public(p: Post) -> bool:
        t = f.topics[p.topic_id]
        return (not t.is_pm and t.deleted_at is None and t.visible and f.can_see_topic(who, t)
                and f.can_see_post(who, p))
    chosen = [p for p in f.posts.values() if p.post_type == POST_REGULAR and not p.hidden and p.deleted_at is None
              and public(p)]
    chosen.sort(key=lambda p: p.id, reverse=True)
    return [p.id for p in chosen]


def brute_latest_posts(public_ids: list[int], before: int | None) -> list[int]:
    return [i for i in public_ids if before is None or i < before][:50]


def brute_listable(f: Forum, who: User) -> list[Topic]:
    topics = [t for t in f.topics.values() if not t.is_pm and t.deleted_at is None and (t.visible or who.staff)
              and t.shared_draft_category_id is None and f.can_see_topic(who, t)]
    return sorted(topics, key=lambda t: (t.bumped_at or t.created_at, t.id), reverse=True)


def brute_suggested(f: Forum, who: User, topic: Topic) -> list[int]:
    if topic.is_pm:
        return []
    others = [t for t in f.topics.values() if t.id != topic.id and not t.is_pm and t.deleted_at is None
              and t.visible and f.can_see_topic(who, t)]
    return [t.id for t in sorted(others, key=lambda t: t.bumped_at or t.created_at, reverse=True)[:5]]


def brute_likes_received(f: Forum, who: User, user: User) -> list[tuple[int, int, str | None]]:
    rows = []
    for post in f.posts.values():
        if post.deleted_at is not None or post.user_id != user.id:
            continue
        for like in post.likes:
            if like.user_id in f.users and _action_visible(f, who, user, post):
                rows.append((like.created_at, post.id, like.user_id))
    rows.sort(key=lambda r: (r[0], r[1], r[2]), reverse=True)
    return [(post_id, liker_id, iso(at)) for at, post_id, liker_id in rows]


def brute_event_ids(f: Forum, hook_id: int) -> list[int]:
    return sorted((e.id for e in f.web_hook_events.values() if e.web_hook_id == hook_id), reverse=True)


# --------------------------------------------------------------------------------------------------
# The comparison, route by route.
# --------------------------------------------------------------------------------------------------


def check_user_lookup(f: Forum, names: list[str]) -> None:
    for name in names:
        for variant in (name, name.upper(), name.lower()):
            assert f.user_by_name(variant) is brute_user_by_name(f, variant), variant


def check_latest_posts(client: FlaskClient, f: Forum, rng: random.Random) -> None:
    top = max(f.posts)
    befores = [None, top + 1000, top, top // 2, 100, 51, 2, 1, 0, -3] + [rng.randint(1, top) for _ in range(3)]
    for username in VIEWERS:
        public_ids = brute_public_posts(f, who_is(f, username))
        for before in befores:
            path = "/posts.json" if before is None else f"/posts.json?before={before}"
            answer = get(client, path, username)["latest_posts"]
            expected = brute_latest_posts(public_ids, before if before and before > 0 else None)
            assert [p["id"] for p in answer] == expected, (username, before)


def check_latest_topics(client: FlaskClient, f: Forum, rng: random.Random) -> None:
    every = list(f.topics)
    samples = [rng.sample(every, min(100, len(every))), rng.sample(every, min(7, len(every))) + [0, -1, 10**9],
               every[:40] + every[:40], []]
    for username in VIEWERS:
        who = who_is(f, username)
        listable = brute_listable(f, who)
        for ids in samples:
            wanted = set(ids)
            expected = [t.id for t in listable if t.id in wanted]
            for per_page, page in ((None, 0), (100, 0), (5, 0), (5, 1), (3, 2)):
                query = "topic_ids=" + ",".join(str(i) for i in ids)
                if per_page is not None:
                    query += f"&per_page={per_page}&page={page}"
                body = get(client, f"/latest.json?{query}", username)["topic_list"]
                size = per_page or 30
                assert [t["id"] for t in body["topics"]] == expected[page * size:(page + 1) * size], (username, ids)
                assert ("more_topics_url" in body) == (len(expected) > (page + 1) * size)
        # The unfiltered list (not indexed) stays what it was.
        body = get(client, "/latest.json?per_page=100", username)["topic_list"]
        assert [t["id"] for t in body["topics"]] == [t.id for t in listable[:100]]


def check_user_actions(client: FlaskClient, f: Forum, usernames: list[str]) -> None:
    for name in usernames:
        user = who_is(f, name)
        for viewer in ("admin1", name):
            with client.application.app_context():            # _action_visible reads the app's forum
                expected = brute_likes_received(f, who_is(f, viewer), user)
            for offset, limit in ((0, 100), (0, 30), (100, 100), (37, 5), (len(expected), 10), (0, 0)):
                rows = get(client, f"/user_actions.json?username={name}&filter=2&offset={offset}&limit={limit}",
                           viewer)["user_actions"]
                assert [(r["post_id"], r["acting_user_id"], r["created_at"]) for r in rows] == \
                    expected[offset:offset + limit], (name, viewer, offset, limit)
                assert all(r["action_type"] == 2 and r["target_user_id"] == user.id for r in rows)
        # A moderator or another member may not read someone's likes received: still a 404.
        for viewer in ("bot", "outsider", None):
            if viewer != name:
                response = client.get(f"/user_actions.json?username={name}&filter=2", headers=headers(viewer))
                assert response.status_code == 404, (name, viewer)


def check_topics(client: FlaskClient, f: Forum, topic_ids: list[int]) -> None:
    for username in VIEWERS:
        who = who_is(f, username)
        for topic_id in topic_ids:
            topic = f.topics[topic_id]
            response = client.get(f"/t/{topic_id}.json", headers=headers(username))
            try:
                f.require_topic(topic_id, who)
            except ForumError as exc:
                assert response.status_code == exc.status, (topic_id, username)
                continue
            assert response.status_code == 200, (topic_id, username, response.status_code)
            view = response.get_json()
            visible = [p.id for p in f.topic_posts(topic, who)]
            assert view["post_stream"]["stream"] == visible
            assert [s["id"] for s in view["suggested_topics"]] == brute_suggested(f, who, topic), (topic_id, username)
            wanted = visible[-20:] + [max(f.posts) + 1]
            query = "&".join(f"post_ids[]={i}" for i in wanted)
            listed = get(client, f"/t/{topic_id}/posts.json?{query}", username)["post_stream"]["posts"]
            assert [p["id"] for p in listed] == visible[-20:]


def check_events(client: FlaskClient, f: Forum, hook_ids: list[int]) -> None:
    for hook_id in hook_ids:
        expected = brute_event_ids(f, hook_id)
        for offset in (0, 50, 73, len(expected) - 1, len(expected), len(expected) + 50):
            body = get(client, f"/admin/api/web_hooks/{hook_id}/events.json?offset={offset}", "admin1")
            assert [e["id"] for e in body["web_hook_events"]] == expected[max(0, offset):max(0, offset) + 50]
            assert body["total_rows_web_hook_events"] == len(expected)


def add_events(f: Forum, hook_ids: list[int], count: int, rng: random.Random, *, directly: bool = False) -> None:
    for _ in range(count):
        event_id = f.next_id("web_hook_event")
        row = WebHookEvent(id=event_id, web_hook_id=rng.choice(hook_ids), event_name="post_created",
                           event_type="post", payload="{}", headers={}, created_at=START, status=200)
        if directly:
            f.web_hook_events[event_id] = row         # as a test may: the index notices and rebuilds
        else:
            f.add_web_hook_event(row)


def sample_topics(f: Forum, rng: random.Random) -> list[int]:
    every = list(f.topics)
    special = [i for i in every if i % 37 == 0][:2] + [i for i in every if i % 41 == 0][:1] + \
        [i for i in every if i % 29 == 0][:1] + [i for i in every if i % 31 == 0][:1] + \
        [i for i in every if i % 43 == 0][:1] + [max(f.topics, key=lambda i: len(f.topics[i].post_ids))]
    return special + rng.sample(every, 4) + every[-3:]


def prolific(f: Forum, count: int) -> list[str]:
    by_posts: dict[int, int] = {}
    for post in f.posts.values():
        by_posts[post.user_id] = by_posts.get(post.user_id, 0) + 1
    ranked = sorted(by_posts, key=lambda i: -by_posts[i])
    return [f.users[i].username for i in ranked[:count]] + [f.users[ranked[len(ranked) // 2]].username, "insider"]


@pytest.fixture(scope="module")
def large() -> Iterator[tuple[Loaded, FlaskClient]]:
    loaded = build_forum(200_000, seed=11)
    app = app_for(loaded.forum)
    try:
        yield loaded, app.test_client()
    finally:
        app.extensions["webhooks"].stop()


# --------------------------------------------------------------------------------------------------
# A forum of 200,000 posts, read only.
# --------------------------------------------------------------------------------------------------


def test_bulk_load_makes_a_consistent_forum(large: tuple[Loaded, FlaskClient]) -> None:
    loaded, _ = large
    f = loaded.forum
    assert len(f.posts) == 200_000
    for topic in list(f.topics.values())[:500]:
        assert [f.posts[i].post_number for i in topic.post_ids] == list(range(1, len(topic.post_ids) + 1))
        assert topic.highest_post_number == len(topic.post_ids)
        regular = [f.posts[i] for i in topic.post_ids if f.posts[i].post_type == POST_REGULAR]
        assert topic.bumped_at == regular[-1].created_at
    assert f.next_id("post") == 200_001                       # counters moved past what was loaded
    like_ids = [like.id for post in f.posts.values() for like in post.likes]
    assert len(set(like_ids)) == len(like_ids) and min(like_ids) >= 1
    check_user_lookup(f, ["user1", "Bot", "insider", "nobody-here", "system"])


def test_latest_posts_walk_down_from_before(large: tuple[Loaded, FlaskClient]) -> None:
    loaded, client = large
    check_latest_posts(client, loaded.forum, random.Random(1))
    # Whole answers, not only ids: one page in full.
    f = loaded.forum
    body = get(client, f"/posts.json?before={max(f.posts) // 3}", "bot")["latest_posts"]
    who = who_is(f, "bot")
    expected = [ser.post(f, who, f.posts[i], raw=True, with_title=True, excerpt=True)
                for i in brute_latest_posts(brute_public_posts(f, who), max(f.posts) // 3)]
    assert body == expected


def test_latest_with_topic_ids_looks_at_those_topics_only(large: tuple[Loaded, FlaskClient]) -> None:
    loaded, client = large
    check_latest_topics(client, loaded.forum, random.Random(2))


def test_likes_received_read_from_the_authors_posts(large: tuple[Loaded, FlaskClient]) -> None:
    loaded, client = large
    check_user_actions(client, loaded.forum, prolific(loaded.forum, 2))


def test_topic_views_and_suggestions(large: tuple[Loaded, FlaskClient]) -> None:
    loaded, client = large
    check_topics(client, loaded.forum, sample_topics(loaded.forum, random.Random(3)))


def test_web_hook_event_pages(large: tuple[Loaded, FlaskClient]) -> None:
    loaded, client = large
    f = loaded.forum
    hooks = [f.create_web_hook(payload_url=f"http://127.0.0.1:9/{n}", active=False).id for n in range(3)]
    rng = random.Random(4)
    add_events(f, hooks[:2], 3000, rng)
    check_events(client, f, hooks)
    add_events(f, hooks, 40, rng, directly=True)
    check_events(client, f, hooks)


# --------------------------------------------------------------------------------------------------
# Every write path keeps the indexes right (a smaller forum: what is checked is the bookkeeping).
# --------------------------------------------------------------------------------------------------


def assert_indexes_current(f: Forum) -> None:
    """The indexes as the write paths left them equal the ones rebuilt from the records — and cover every record,
    so no read would have rebuilt them on its own (which would hide a write path that forgot one)."""
    kept = (list(f._post_ids_sorted), {k: list(v) for k, v in f._post_ids_by_user.items()}, f._posts_indexed,
            {k: list(v) for k, v in f._likes_received.items() if v},
            list(f._bump_order), dict(f._bump_entry), f._next_topic_position, dict(f._user_id_by_name),
            {k: list(v) for k, v in f._hook_event_ids.items() if v}, f._hook_events_indexed)
    f._reindex()
    rebuilt = (f._post_ids_sorted, f._post_ids_by_user, f._posts_indexed, f._likes_received, f._bump_order,
               f._bump_entry, f._next_topic_position, f._user_id_by_name, f._hook_event_ids, f._hook_events_indexed)
    for name, before, after in zip(("post ids", "posts by author", "posts indexed", "likes received", "bump order",
                                    "bump entries", "topic positions", "usernames", "hook events",
                                    "hook events indexed"), kept, rebuilt, strict=True):
        assert before == after, name


def test_answers_stay_exact_after_every_kind_of_write() -> None:
    loaded = build_forum(6_000, seed=5)
    f = loaded.forum
    app = app_for(f)
    client = app.test_client()
    rng = random.Random(6)
    try:
        def check_all() -> None:
            check_latest_posts(client, f, rng)
            check_latest_topics(client, f, rng)
            check_user_actions(client, f, prolific(f, 2) + (["newcomer"] if f.user_by_name("newcomer") else []))
            check_topics(client, f, sample_topics(f, rng) + list(f.topics)[-8:])
            check_user_lookup(f, ["user1", "newcomer", "sneaky", "Bot"])

        assert_indexes_current(f)
        check_all()
        admin, bot, insider = who_is(f, "admin1"), who_is(f, "Bot"), who_is(f, "insider")
        author = who_is(f, prolific(f, 1)[0])
        old_topic = f.topics[3]

        # 1. Nothing new, only changes: replies that bump (one backdated: it bumps back in time), a whisper (no bump),
        # likes and unlikes, deletions and recoveries of posts and topics, a category change, unlisting, closing.
        f.create_post(insider, raw="A reply that bumps an old topic up.", topic_id=old_topic.id)
        f.create_post(author, raw="A reply written a while ago, it seems.", topic_id=8,
                      created_at=START + timedelta(days=3))
        f.create_post(bot, raw="A whisper among staff only, nobody else.", topic_id=old_topic.id, whisper=True)
        for post_id in rng.sample(f.post_ids_by(author.id), 8):
            post = f.posts[post_id]
            liker = rng.choice([insider, admin, bot])
            if post.deleted_at is None and liker.id not in post.liker_ids() and liker.id != post.user_id:
                f.like(liker, post)
        liked = next(f.posts[i] for i in reversed(f.post_ids_by(author.id)) if f.posts[i].likes)
        f.unlike(f.users[liked.likes[0].user_id], liked)
        reply = next(f.posts[i] for i in reversed(list(f.posts)) if f.posts[i].post_number > 1
                     and f.posts[i].deleted_at is None and f.posts[i].user_id == author.id)
        f.delete_post(admin, reply)
        other = next(f.posts[i] for i in f.posts if f.posts[i].post_number > 1 and f.posts[i].deleted_at is not None)
        f.recover_post(admin, other)
        f.delete_topic(admin, f.topics[10])
        f.recover_topic(admin, f.topics[41])
        f.update_topic(admin, f.topics[12], category_id=loaded.staff_category)
        f.set_status(admin, f.topics[13], "visible", False)
        f.set_status(admin, f.topics[14], "closed", True)
        assert_indexes_current(f)
        check_all()

        # 2. New records: a user, topics (two bumped at the same moment, the newest of all), a restricted topic, a
        # message, a shared draft, likes on the new topic, delivery rows.
        newcomer = f.create_user(username="newcomer", trust_level=2)
        made = f.create_post(newcomer, raw="A brand new topic from a newcomer here.", title="Newcomer says hello there")
        tie = f.now() + timedelta(days=30)
        f.create_post(author, raw="The first of two topics made at one moment.", title="Twins at one moment, first",
                      created_at=tie)
        f.create_post(author, raw="The second of two topics made at one moment.", title="Twins at one moment, second",
                      created_at=tie)
        f.create_post(insider, raw="A topic in the insiders room, restricted.", title="Insiders only discussion",
                      category_id=loaded.insiders_category)
        f.create_post(author, raw="A private word for the insider.", title="Between the two of us only",
                      archetype="private_message", target_recipients=["insider"])
        draft = f.create_post(admin, raw="A shared draft waiting to be published.", title="The draft of the day here",
                              category_id=loaded.insiders_category, shared_draft=True)
        f.like(insider, made)
        f.like(admin, made)
        f.unlike(insider, made)
        hooks = [f.create_web_hook(payload_url=f"http://127.0.0.1:9/{n}", active=False).id for n in range(2)]
        add_events(f, hooks, 120, rng)
        assert_indexes_current(f)
        check_all()
        check_events(client, f, hooks)

        # 3. A shared draft published (its times change), then a reply to one of the twins.
        f.publish_shared_draft(admin, f.topics[draft.topic_id])
        f.create_post(newcomer, raw="A reply to the first twin, bumping it.", topic_id=f.posts[made.id].topic_id + 1)
        assert_indexes_current(f)
        check_all()

        # 4. Records added behind the forum's back are still found: the indexes notice and rebuild.
        f.users[99_999] = User(id=99_999, username="Sneaky")
        check_user_lookup(f, ["sneaky", "SNEAKY"])
        add_events(f, hooks, 30, rng, directly=True)
        check_events(client, f, hooks)
        for event_id in [e.id for e in f.web_hook_events.values() if e.web_hook_id == hooks[0]]:
            del f.web_hook_events[event_id]                  # as destroying the hook does
        check_events(client, f, hooks)
        f.web_hook_events.clear()                            # as a test may
        check_events(client, f, hooks)

        # 5. A snapshot restored into another forum is indexed anew.
        again = Forum()
        again.restore(f.snapshot())
        assert_indexes_current(again)
        assert list(again.post_ids_before(None)) == sorted(again.posts, reverse=True)
        assert [t.id for t in again.topics_by_bump()] == [t.id for t in f.topics_by_bump()]
        assert again.post_ids_by(author.id) == [i for i in again.posts if again.posts[i].user_id == author.id]
        check_user_lookup(again, ["user1", "newcomer", "sneaky"])
    finally:
        app.extensions["webhooks"].stop()


def test_bulk_load_refuses_what_it_cannot_place() -> None:
    f = Forum()
    f.load_bulk(users=[(5, "someone", START)], topics=[(1, 5, "A first topic here", START)],
                posts=[(1, 1, 5, START, "The first post of the topic.")])
    with pytest.raises(ValueError):
        f.load_bulk(users=[(6, "SOMEONE", START)])                          # the username is taken
    with pytest.raises(ValueError):
        f.load_bulk(posts=[(1, 1, 5, START, "This id is taken already.")])
    with pytest.raises(ValueError):
        f.load_bulk(posts=[(2, 7, 5, START, "There is no topic 7 at all.")])
    with pytest.raises(ValueError):
        f.load_bulk(likes=[(1, 5, START)])                                  # the author's own post
    with pytest.raises(ValueError):
        f.load_bulk(topics=[(2, 5, "A topic left without posts", START)])
    made = f.create_post(f.users[5], raw="Made through the API after the load.", title="Made after the bulk load")
    assert made.id == 2 and made.topic_id == 3 and [t.id for t in f.topics_by_bump()][0] == 3
