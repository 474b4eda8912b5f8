"""The simulator's REST rules over real HTTP: visibility, shared drafts, bad input, search, uploads,
moderation, and the one admin API rate bucket."""
from __future__ import annotations

import re

import pytest
import requests

from simulator.state import Forum, avatar_template
from tests.simulator_fixtures import Community, Sim, png, start_sim
from tests.test_simulator_openapi import ok

ERROR_JSON = "application/json; charset=utf-8"


def get(sim: Sim, username: str | None, path: str, **kwargs: object) -> requests.Response:
    return sim.http(username).get(f"{sim.url}{path}", **kwargs)  # type: ignore[arg-type]


def error(response: requests.Response, status: int, error_type: str) -> list[str]:
    """Assert Discourse's error answer and return its messages."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"] == ERROR_JSON
    body = response.json()
    assert body["error_type"] == error_type and body["errors"]
    return body["errors"]


def post_refused(response: requests.Response, action: str = "create_post") -> list[str]:
    """Assert PostsController#create's refusal (NewPostResultSerializer, no error_type) and return its messages."""
    assert response.status_code == 422, response.text[:300]
    assert response.headers["Content-Type"] == ERROR_JSON
    body = response.json()
    assert body["action"] == action and body["errors"] and "error_type" not in body and "success" not in body
    return body["errors"]


# --------------------------------------------------------------------------------------------------
# Visibility
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("username", "sees"), [("alice", True), ("bob", True), ("carol", True),
                                                ("system", True), ("mod", False), (None, False)])
def test_a_message_is_seen_by_its_participants_group_members_and_admins_only(
        sim: Sim, community: Community, username: str | None, sees: bool) -> None:
    topic = get(sim, username, f"/t/{community.pm_topic_id}.json")
    first_post_id = sim.forum.topics[community.pm_topic_id].post_ids[0]
    post = get(sim, username, f"/posts/{first_post_id}.json")
    if sees:
        assert topic.status_code == 200 and post.status_code == 200
        assert topic.json()["details"]["allowed_groups"][0]["name"] == "peer-support"
    else:
        error(topic, 403, "invalid_access")
        error(post, 403, "invalid_access")
    assert community.pm_topic_id not in [t["id"] for t in get(sim, username, "/latest.json").json()["topic_list"]
                                         ["topics"]]
    assert first_post_id not in [p["id"] for p in get(sim, username, "/posts.json").json()["latest_posts"]]
    assert get(sim, username, "/search.json", params={"q": "privately"}).json()["posts"] == []


def test_messages_are_searched_only_in_personal(sim: Sim, community: Community) -> None:
    found = get(sim, "bob", "/search.json", params={"q": "privately in:personal"}).json()
    assert [p["topic_id"] for p in found["posts"]] == [community.pm_topic_id]
    assert get(sim, "mod", "/search.json", params={"q": "privately in:personal"}).json()["posts"] == []


@pytest.mark.parametrize(("username", "sees"), [("mod", True), ("system", True), ("bob", False), (None, False)])
def test_a_restricted_category_is_seen_by_its_groups_and_staff_only(
        sim: Sim, community: Community, username: str | None, sees: bool) -> None:
    topic = get(sim, username, f"/t/{community.staff_topic_id}.json")
    if sees:
        assert topic.status_code == 200
    else:
        error(topic, 403, "invalid_access")
    listed = [t["id"] for t in get(sim, username, "/latest.json").json()["topic_list"]["topics"]]
    assert (community.staff_topic_id in listed) == sees
    categories = [c["name"] for c in get(sim, username, "/categories.json").json()["category_list"]["categories"]]
    assert ("Staff room" in categories) == sees
    searched = get(sim, username, "/search.json", params={"q": "only the staff"}).json()["posts"]
    assert bool(searched) == sees


@pytest.mark.parametrize(("username", "sees"), [("mod", True), ("system", True), ("alice", False), (None, False)])
def test_whispers_are_for_staff_only(sim: Sim, community: Community, username: str | None, sees: bool) -> None:
    stream = get(sim, username, f"/t/{community.welcome_topic_id}.json").json()["post_stream"]["stream"]
    assert (community.whisper_post_id in stream) == sees
    post = get(sim, username, f"/posts/{community.whisper_post_id}.json")
    if sees:
        assert post.json()["post_type"] == 4
    else:
        error(post, 403, "invalid_access")
    found = get(sim, username, "/search.json", params={"q": "keep an eye"}).json()["posts"]
    assert bool(found) == sees
    # GET /posts.json lists regular posts only, for staff too (LatestPostsQuery#public_posts).
    assert community.whisper_post_id not in [p["id"] for p in get(sim, username, "/posts.json").json()
                                             ["latest_posts"]]


def test_a_deleted_topic_is_gone_for_members_and_visible_to_staff(sim: Sim, community: Community) -> None:
    error(get(sim, "alice", f"/t/{community.deleted_topic_id}.json"), 410, "not_found")
    error(get(sim, None, f"/t/{community.deleted_topic_id}.json"), 410, "not_found")
    first_post = sim.forum.topics[community.deleted_topic_id].post_ids[0]
    error(get(sim, "alice", f"/posts/{first_post}.json"), 404, "not_found")
    staff_view = get(sim, "mod", f"/t/{community.deleted_topic_id}.json").json()
    assert staff_view["deleted_at"] and staff_view["deleted_by"]["username"] == "system"
    assert community.deleted_topic_id not in [t["id"] for t in get(sim, "system", "/latest.json").json()
                                              ["topic_list"]["topics"]]
    assert sim.http("mod").put(f"{sim.url}/t/{community.deleted_topic_id}/recover.json").status_code == 200
    assert get(sim, "alice", f"/t/{community.deleted_topic_id}.json").status_code == 200


def test_a_deleted_reply_leaves_the_stream_except_for_staff_until_recovered(sim: Sim, community: Community) -> None:
    assert sim.http("bob").delete(f"{sim.url}/posts/{community.reply_post_id}.json").status_code == 200
    assert community.reply_post_id not in get(sim, "alice", f"/t/{community.welcome_topic_id}.json").json()[
        "post_stream"]["stream"]
    staff = get(sim, "mod", f"/posts/{community.reply_post_id}.json").json()
    assert staff["deleted_at"] and staff["can_recover"] is True
    recovered = sim.http("mod").put(f"{sim.url}/posts/{community.reply_post_id}/recover.json").json()
    assert recovered["deleted_at"] is None
    assert community.reply_post_id in get(sim, "alice", f"/t/{community.welcome_topic_id}.json").json()[
        "post_stream"]["stream"]


def test_latest_posts_pages_newest_first_50_at_a_time(sim: Sim, community: Community) -> None:
    topic = sim.forum.topics[community.welcome_topic_id]
    for n in range(52):
        sim.forum.create_post(community.bob, topic_id=topic.id, raw=f"Reply number {n} in a long thread of care.")
    first = get(sim, None, "/posts.json").json()["latest_posts"]
    assert len(first) == 50 and [p["id"] for p in first] == sorted((p["id"] for p in first), reverse=True)
    rest = get(sim, None, "/posts.json", params={"before": first[-1]["id"]}).json()["latest_posts"]
    assert rest and all(p["id"] < first[-1]["id"] for p in rest)
    ids = {p["id"] for p in first + rest}
    assert community.whisper_post_id not in ids and community.welcome_post_id in ids
    assert {"topic_title", "raw", "excerpt"} <= first[0].keys()


# --------------------------------------------------------------------------------------------------
# Shared drafts
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def drafts_category(sim: Sim, community: Community) -> int:
    admin = sim.http()
    category = admin.post(f"{sim.url}/categories.json",
                          data={"name": "Shared drafts", "permissions[staff]": "1"}).json()["category"]
    answer = admin.put(f"{sim.url}/admin/site_settings/shared_drafts_category",
                       data={"shared_drafts_category": str(category["id"])})
    assert answer.status_code == 200 and sim.forum.settings["shared_drafts_category"] == category["id"]
    return int(category["id"])


DRAFT = {"title": "Amendment draft: consent section", "raw": "Proposed wording for the consent section."}


def test_shared_draft_as_the_string_true_lands_in_the_drafts_category(
        sim: Sim, community: Community, drafts_category: int) -> None:
    created = sim.http().post(f"{sim.url}/posts.json",
                              data={**DRAFT, "category": community.general_id, "shared_draft": "true"}).json()
    topic = get(sim, "system", f"/t/{created['topic_id']}.json").json()
    assert topic["category_id"] == drafts_category
    assert (topic["is_shared_draft"], topic["destination_category_id"]) == (True, community.general_id)
    error(get(sim, "bob", f"/t/{created['topic_id']}.json"), 403, "invalid_access")

    published = sim.http().put(f"{sim.url}/t/{created['topic_id']}/publish.json",
                               data={"destination_category_id": community.general_id})
    assert published.json()["basic_topic"]["id"] == created["topic_id"]
    assert get(sim, "bob", f"/t/{created['topic_id']}.json").json()["category_id"] == community.general_id


def test_shared_draft_as_a_json_boolean_is_ignored_and_makes_a_public_topic(
        sim: Sim, community: Community, drafts_category: int) -> None:
    created = sim.http().post(f"{sim.url}/posts.json",
                              json={**DRAFT, "category": community.general_id, "shared_draft": True}).json()
    topic = get(sim, "bob", f"/t/{created['topic_id']}.json").json()
    assert topic["category_id"] == community.general_id and "is_shared_draft" not in topic


def test_publishing_destroys_the_first_posts_revisions(sim: Sim, community: Community, drafts_category: int) -> None:
    admin = sim.http()
    created = admin.post(f"{sim.url}/posts.json",
                         data={**DRAFT, "category": community.general_id, "shared_draft": "true"}).json()
    admin.put(f"{sim.url}/posts/{created['id']}.json", data={"post[raw]": "Revised wording for consent, v2."})
    assert get(sim, "system", f"/posts/{created['id']}/revisions/latest.json").status_code == 200
    admin.put(f"{sim.url}/t/{created['topic_id']}/shared-draft.json", data={"category_id": community.general_id})
    admin.put(f"{sim.url}/t/{created['topic_id']}/publish.json", data={"destination_category_id": community.general_id})
    error(get(sim, "system", f"/posts/{created['id']}/revisions/latest.json"), 404, "not_found")


def test_shared_drafts_need_the_setting_and_staff(sim: Sim, community: Community) -> None:
    body = {**DRAFT, "category": community.general_id, "shared_draft": "true"}
    error(sim.http().post(f"{sim.url}/posts.json", data=body), 400, "invalid_parameters")
    assert error(sim.http().put(f"{sim.url}/admin/site_settings/max_admin_api_reqs_per_minute",
                                data={"max_admin_api_reqs_per_minute": "1000"}), 422, "invalid_parameters")
    assert sim.forum.settings["max_admin_api_reqs_per_minute"] == 60
    error(sim.http("bob").put(f"{sim.url}/admin/site_settings/shared_drafts_category",
                              data={"shared_drafts_category": "1"}), 403, "invalid_access")


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------


def test_bad_input_gets_discourses_answers(sim: Sim, community: Community) -> None:
    admin = sim.http()
    assert error(admin.post(f"{sim.url}/posts.json", data={"title": "A title that is long enough"}), 400,
                 "invalid_parameters") == ["param is missing or the value is empty: raw"]
    # POST /posts.json refusals are a failed NewPostResult: 422 {"action": "create_post", "errors": [...]}.
    assert "Title is too short" in post_refused(admin.post(f"{sim.url}/posts.json",
                                                           data={"title": "Short", "raw": DRAFT["raw"]}))[0]
    error(admin.post(f"{sim.url}/posts.json", data={**DRAFT, "category": "999"}), 422, "record_invalid")
    post_refused(admin.post(f"{sim.url}/posts.json", data={**DRAFT, "archetype": "private_message",
                                                           "target_recipients": "nobody-known"}))
    error(admin.post(f"{sim.url}/posts.json", data=b"{not json", headers={"Content-Type": "application/json"}),
          400, "invalid_parameters")
    error(admin.get(f"{sim.url}/no/such/route.json"), 404, "not_found")
    error(admin.patch(f"{sim.url}/latest.json"), 404, "not_found")
    error(admin.get(f"{sim.url}/t/9999.json"), 404, "not_found")
    error(admin.put(f"{sim.url}/t/{community.welcome_topic_id}/status.json", data={"status": "closed"}), 400,
          "invalid_parameters")
    error(admin.get(f"{sim.url}/posts/{community.reply_post_id}/revisions/1.json"), 400, "invalid_parameters")
    error(admin.get(f"{sim.url}/posts/{community.reply_post_id}/revisions/latest.json"), 404, "not_found")


def test_keys_and_anonymous_writes(sim: Sim, community: Community) -> None:
    wrong = requests.get(f"{sim.url}/latest.json", headers={"Api-Key": "wrong", "Api-Username": "system"},
                         timeout=10)
    error(wrong, 403, "invalid_access")
    error(sim.http("no-such-user").get(f"{sim.url}/latest.json"), 403, "invalid_access")
    error(sim.http(None).post(f"{sim.url}/posts.json", data={**DRAFT}), 403, "invalid_access")
    assert get(sim, None, f"/t/{community.welcome_topic_id}.json").status_code == 200


def test_edit_bodies_form_json_and_wrapped(sim: Sim, community: Community) -> None:
    alice = sim.http("alice")
    url = f"{sim.url}/posts/{community.welcome_post_id}.json"
    assert alice.put(url, data={"post[raw]": "First revision of the living document, v2."}).json()["post"][
        "version"] == 2
    assert alice.put(url, json={"post": {"raw": "Second revision of the living document, v3."}}).json()["post"][
        "version"] == 3
    assert alice.put(url, json={"raw": "Third revision of the living document, v4."}).json()["post"]["version"] == 4
    error(alice.put(url, data={"raw": "A form without the post wrapper is refused."}), 400, "invalid_parameters")
    error(sim.http("bob").put(url, data={"post[raw]": "Bob may not edit Alice's post at all."}), 403,
          "invalid_access")


def test_tags_update_accepts_form_arrays_json_names_and_objects(sim: Sim, community: Community) -> None:
    admin = sim.http()
    url = f"{sim.url}/t/-/{community.welcome_topic_id}.json"
    assert [t["name"] for t in admin.put(url, data={"tags[]": ["a-tag", "b-tag"]}).json()["tags"]] == ["a-tag",
                                                                                                       "b-tag"]
    assert [t["name"] for t in admin.put(url, json={"tags": ["c-tag"]}).json()["tags"]] == ["c-tag"]
    tag_id = sim.forum.tags["a-tag"].id
    assert [t["name"] for t in admin.put(url, json={"tags": [{"id": tag_id}, {"name": "d-tag"}]}).json()["tags"]] \
        == ["a-tag", "d-tag"]
    assert admin.put(url, data={"title": "Welcome to the Code of Care again"}).json()["basic_topic"]["title"] \
        == "Welcome to the Code of Care again"
    assert sim.forum.topics[community.welcome_topic_id].tags == ["a-tag", "d-tag"]      # untouched without tags


def test_likes_refused_on_own_post_and_twice(sim: Sim, community: Community) -> None:
    like = {"id": community.welcome_post_id, "post_action_type_id": 2}
    error(sim.http("alice").post(f"{sim.url}/post_actions.json", data=like), 403, "invalid_access")
    error(sim.http("bob").post(f"{sim.url}/post_actions.json", data=like), 403, "invalid_access")
    error(sim.http("bob").post(f"{sim.url}/post_actions.json", data={"id": community.welcome_post_id}), 400,
          "invalid_parameters")


def likers(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text[:300]
    return [row["username"] for row in response.json()["post_action_users"]]


def who_liked(sim: Sim, username: str | None, post_id: int, **extra: object) -> requests.Response:
    return get(sim, username, "/post_action_users.json", params={"id": post_id, "post_action_type_id": 2, **extra})


def test_who_liked_a_post_oldest_first_as_discourse_serializes_them(sim: Sim, community: Community) -> None:
    sim.forum.like(community.carol, sim.forum.posts[community.welcome_post_id])
    response = who_liked(sim, None, community.welcome_post_id)
    assert likers(response) == ["bob", "carol"]
    body = response.json()
    assert body["post_action_users"][0] == {
        "id": community.bob.id, "username": "bob", "name": "Bob", "avatar_template": avatar_template("bob"),
        "post_url": None, "username_lower": "bob"}
    assert "total_rows_post_action_users" not in body            # sent only when there is more than one page
    sim.forum.unlike(community.bob, sim.forum.posts[community.welcome_post_id])
    assert likers(who_liked(sim, "alice", community.welcome_post_id)) == ["carol"]


def test_who_liked_pages_from_zero(sim: Sim, community: Community) -> None:
    post = sim.forum.posts[community.welcome_post_id]
    sim.forum.like(community.carol, post)
    sim.forum.like(community.mod, post)
    first = who_liked(sim, "system", post.id, limit=2)
    second = who_liked(sim, "system", post.id, limit=2, page=1)
    assert likers(first) == ["bob", "carol"] and likers(second) == ["mod"]
    assert first.json()["total_rows_post_action_users"] == second.json()["total_rows_post_action_users"] == 3


@pytest.mark.parametrize(("username", "sees"), [("alice", True), ("bob", True), ("carol", True),
                                                ("system", True), ("mod", False), (None, False)])
def test_a_messages_likes_are_seen_by_its_participants_only(sim: Sim, community: Community, username: str | None,
                                                             sees: bool) -> None:
    first_post = sim.forum.posts[sim.forum.topics[community.pm_topic_id].post_ids[0]]
    sim.forum.like(community.bob, first_post)
    response = who_liked(sim, username, first_post.id)
    if sees:
        assert likers(response) == ["bob"]
    else:
        error(response, 403, "invalid_access")


@pytest.mark.parametrize(("username", "sees"), [("mod", True), ("system", True), ("alice", False), (None, False)])
def test_a_whispers_likes_are_for_staff_only(sim: Sim, community: Community, username: str | None,
                                             sees: bool) -> None:
    sim.forum.like(community.alice, sim.forum.posts[community.whisper_post_id])
    response = who_liked(sim, username, community.whisper_post_id)
    if sees:
        assert likers(response) == ["alice"]
    else:
        error(response, 403, "invalid_access")


def test_who_liked_needs_its_parameters_and_a_visible_post(sim: Sim, community: Community) -> None:
    error(get(sim, "bob", "/post_action_users.json", params={"id": community.welcome_post_id}), 400,
          "invalid_parameters")
    error(get(sim, "bob", "/post_action_users.json", params={"post_action_type_id": 2}), 400, "invalid_parameters")
    error(who_liked(sim, "bob", 99999), 403, "invalid_access")
    sim.forum.delete_post(community.mod, sim.forum.posts[community.reply_post_id])
    error(who_liked(sim, "bob", community.reply_post_id), 403, "invalid_access")
    assert likers(who_liked(sim, "mod", community.reply_post_id)) == []      # staff see a deleted post's


# --------------------------------------------------------------------------------------------------
# Tag groups and trust levels (what `python -m plugin install` uses)
# --------------------------------------------------------------------------------------------------


def test_a_tag_group_creates_its_missing_tags(sim: Sim, community: Community) -> None:
    admin = sim.http()
    known = sim.forum.tags["code-of-care"].id
    created = ok(admin.post(f"{sim.url}/tag_groups.json",
                            json={"name": "Code of Care", "tag_names": ["code-of-care", "coc-amendment"]}))
    group = created.json()["tag_group"]
    assert [t["name"] for t in group["tags"]] == ["code-of-care", "coc-amendment"]
    assert group["permissions"] == {"everyone": 1} and group["one_per_topic"] is False
    assert sim.forum.tags["code-of-care"].id == known and "coc-amendment" in sim.forum.tags
    ok(admin.post(f"{sim.url}/tag_groups.json", data={"name": "Moods", "tag_names[]": ["calm", "tense"]}))
    listed = ok(admin.get(f"{sim.url}/tag_groups.json")).json()["tag_groups"]
    assert [g["name"] for g in listed] == ["Code of Care", "Moods"]
    assert "tense" in {t["name"] for t in get(sim, "system", "/tags.json").json()["tags"]}
    error(admin.post(f"{sim.url}/tag_groups.json", json={"name": "code of care", "tag_names": ["x-tag"]}), 422,
          "record_invalid")
    error(sim.http("alice").post(f"{sim.url}/tag_groups.json", json={"name": "Mine", "tag_names": ["mine"]}), 403,
          "invalid_access")
    error(get(sim, "alice", "/tag_groups.json"), 403, "invalid_access")


def test_changing_a_trust_level(sim: Sim, community: Community) -> None:
    url = f"{sim.url}/admin/users/{community.bob.id}/trust_level.json"
    answer = sim.http().put(url, data={"level": "3"}).json()["admin_user"]
    assert answer["trust_level"] == 3 and get(sim, None, "/u/bob.json").json()["user"]["trust_level"] == 3
    error(sim.http().put(url, data={"level": "7"}), 400, "invalid_parameters")
    error(sim.http().put(url), 400, "invalid_parameters")
    error(sim.http("alice").put(url, data={"level": "0"}), 403, "invalid_access")


# --------------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def library(sim: Sim, community: Community) -> dict[str, int]:
    """Topics to search: one per category and tag mix, written by different members."""
    f = sim.forum
    ideas = f.create_category(name="Ideas", slug="ideas")
    f.ensure_tags(["repair", "listening"], f.users[-1])   # tags exist before members (below trust level 3) use them
    made = {
        "boundaries": f.create_post(community.alice, title="Boundaries and repair", category_id=ideas.id,
                                    raw="How do we repair trust after harm is done?", tags=["code-of-care", "repair"]),
        "listening": f.create_post(community.bob, title="Listening before answering", category_id=community.general_id,
                                   raw="Listening well is a form of care for the person speaking.", tags=["listening"]),
        "repair": f.create_post(community.carol, title="Notes from the repair circle", category_id=ideas.id,
                                raw="We met and talked about boundaries, listening and trust.", tags=["repair"]),
    }
    return {name: post.topic_id for name, post in made.items()}


@pytest.mark.parametrize(("q", "expected"), [
    ("tags:repair", {"boundaries", "repair"}),
    ("tags:code-of-care+repair", {"boundaries"}),
    ("tags:listening,code-of-care", {"listening", "boundaries", "welcome"}),
    ("#ideas", {"boundaries", "repair"}),
    ("#ideas listening", {"repair"}),
    ("in:title repair", {"boundaries", "repair"}),
    ("listening", {"listening", "repair"}),
    ("trust harm", {"boundaries"}),
    ("@carol", {"repair"}),
])
def test_search_operators(sim: Sim, community: Community, library: dict[str, int], q: str,
                          expected: set[str]) -> None:
    topic_names = {**{v: k for k, v in library.items()}, community.welcome_topic_id: "welcome"}
    found = get(sim, "bob", "/search.json", params={"q": q}).json()
    assert {topic_names[p["topic_id"]] for p in found["posts"]} == expected
    assert found["grouped_search_result"]["post_ids"] == [p["id"] for p in found["posts"]]
    assert {t["id"] for t in found.get("topics", [])} == {p["topic_id"] for p in found["posts"]}


def test_search_blurb_shows_the_matching_words(sim: Sim, community: Community, library: dict[str, int]) -> None:
    found = get(sim, None, "/search.json", params={"q": "harm"}).json()["posts"]
    assert "harm" in found[0]["blurb"]


# --------------------------------------------------------------------------------------------------
# Uploads
# --------------------------------------------------------------------------------------------------


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + width.to_bytes(2, "little") + height.to_bytes(2, "little") + b"\x00\x00\x00;"


def jpeg(width: int, height: int) -> bytes:
    sof = b"\xff\xc0\x00\x11\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big") + b"\x03" + b"\x00" * 9
    return b"\xff\xd8" + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof + b"\xff\xd9"


@pytest.mark.parametrize(("name", "data", "size"), [("a.png", png(12, 7), (12, 7)),
                                                    ("b.gif", gif(300, 200), (300, 200)),
                                                    ("c.jpg", jpeg(1380, 1000), (1380, 1000))])
def test_uploads_answer_a_short_url_and_the_image_size(sim: Sim, community: Community, name: str, data: bytes,
                                                       size: tuple[int, int]) -> None:
    alice = sim.http("alice")
    upload = alice.post(f"{sim.url}/uploads.json", data={"type": "composer", "synchronous": "true"},
                        files={"file": (name, data)}).json()
    assert re.fullmatch(r"upload://[0-9A-Za-z]+\.(png|gif|jpg)", upload["short_url"])
    assert (upload["width"], upload["height"]) == size
    assert upload["thumbnail_width"] <= 690 and upload["thumbnail_height"] <= 500
    again = alice.post(f"{sim.url}/uploads.json", data={"type": "composer"}, files={"file": (name, data)}).json()
    assert again["id"] == upload["id"]                    # same bytes, same upload (by sha1)


def test_uploads_refuse_what_discourse_refuses(sim: Sim, community: Community) -> None:
    alice = sim.http("alice")
    url = f"{sim.url}/uploads.json"
    assert "not authorized" in error(alice.post(url, data={"type": "composer"},
                                                files={"file": ("notes.txt", b"plain text")}), 422, "record_invalid")[0]
    error(alice.post(url, data={"type": "composer"}, files={"file": ("broken.png", b"\x89PNG\r\n")}), 422,
          "record_invalid")
    error(alice.post(url, files={"file": ("a.png", png(2, 2))}), 400, "invalid_parameters")
    error(alice.post(url, data={"type": "composer"}), 400, "invalid_parameters")
    error(sim.http(None).post(url, data={"type": "composer"}, files={"file": ("a.png", png(2, 2))}), 403,
          "invalid_access")


# --------------------------------------------------------------------------------------------------
# Moderation and suspension
# --------------------------------------------------------------------------------------------------


def test_granting_and_revoking_moderation(sim: Sim, community: Community) -> None:
    admin = sim.http()
    error(get(sim, "bob", f"/t/{community.staff_topic_id}.json"), 403, "invalid_access")
    granted = admin.put(f"{sim.url}/admin/users/{community.bob.id}/grant_moderation.json").json()["admin_user"]
    assert granted["moderator"] is True and get(sim, None, "/u/bob.json").json()["user"]["moderator"] is True
    assert get(sim, "bob", f"/t/{community.staff_topic_id}.json").status_code == 200
    assert admin.put(f"{sim.url}/admin/users/{community.bob.id}/revoke_moderation.json").status_code == 200
    error(get(sim, "bob", f"/t/{community.staff_topic_id}.json"), 403, "invalid_access")
    error(sim.http("mod").put(f"{sim.url}/admin/users/{community.carol.id}/grant_moderation.json"), 403,
          "invalid_access")


def test_suspending_a_member(sim: Sim, community: Community) -> None:
    staff = sim.http("mod")
    url = f"{sim.url}/admin/users/{community.carol.id}/suspend.json"
    error(staff.put(url, data={"suspend_until": "2121-02-22"}), 400, "invalid_parameters")
    answer = staff.put(url, data={"suspend_until": "2121-02-22T00:00:00Z", "reason": "needs a break"}).json()
    assert answer["suspension"]["suspended_by"]["username"] == "mod"
    # carol has no posts: below trust level 2 (anonymous too) her profile is hidden; alice (trust level 2) sees it
    public = get(sim, "alice", "/u/carol.json").json()["user"]
    assert public["suspended_till"].startswith("2121-02-22") and "suspend_reason" not in public
    assert get(sim, "mod", "/u/carol.json").json()["user"]["suspend_reason"] == "needs a break"
    error(staff.put(f"{sim.url}/admin/users/-1/suspend.json", data={"suspend_until": "2121-02-22", "reason": "x"}),
          403, "invalid_access")
    error(sim.http("bob").put(url, data={"suspend_until": "2121-02-22", "reason": "x"}), 403, "invalid_access")
    staff.put(f"{sim.url}/admin/users/{community.carol.id}/unsuspend.json")
    assert "suspended_till" not in get(sim, "alice", "/u/carol.json").json()["user"]


# --------------------------------------------------------------------------------------------------
# The one admin API bucket
# --------------------------------------------------------------------------------------------------


def test_the_admin_bucket_allows_exactly_the_limit_then_answers_429() -> None:
    forum = Forum()
    forum.settings["max_admin_api_reqs_per_minute"] = 3
    forum.create_user(username="alice")
    small, handle = start_sim(forum)
    try:
        statuses = [small.http(name).get(f"{small.url}/latest.json").status_code
                    for name in ("system", "alice", "system")]
        assert statuses == [200, 200, 200]                          # one bucket, whoever the key acts as
        refused = small.http("alice").get(f"{small.url}/latest.json")
        errors = error(refused, 429, "rate_limit")
        wait = refused.json()["extras"]["wait_seconds"]
        assert isinstance(wait, int) and 1 <= wait <= 60
        # RateLimiter.time_left: seconds below a minute ("a few seconds" up to 3), then whole minutes
        time_left = "1 minute" if wait == 60 else "a few seconds" if wait <= 3 else f"{wait} seconds"
        assert refused.json()["extras"]["time_left"] == time_left
        assert refused.headers["Retry-After"] == str(wait)
        assert refused.headers["Discourse-Rate-Limit-Error-Code"] == "admin_api_key_rate_limit"
        assert errors[0] == f"You’ve performed this action too many times. Please wait {time_left} before trying again."
        assert small.http(None).get(f"{small.url}/latest.json").status_code == 200   # anonymous: not this bucket
        error(requests.get(f"{small.url}/latest.json", headers={"Api-Key": "wrong"}, timeout=10), 403,
              "invalid_access")
    finally:
        small.close()
        handle.shutdown()
