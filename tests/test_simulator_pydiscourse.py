"""pydiscourse 1.7.0, unchanged, drives the simulator over real HTTP: the calls the service makes, read back.

Where pydiscourse has no helper (likes, tags-only updates, revisions, topic by external_id) the test reaches the
route with pydiscourse's own `_get/_put/_post/_delete`, as FACTS.md says the service does.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import requests
from pydiscourse import DiscourseClient
from pydiscourse.exceptions import DiscourseClientError, DiscourseError

from simulator.auth import AdminApiBucket
from tests.simulator_fixtures import CLIENT_TIMEOUT, Community, Sim, png

BODY = "I propose we write the section on consent together, with care."


def test_create_topic_with_tags_and_external_id_then_reply(sim: Sim, community: Community) -> None:
    alice = sim.client("alice")
    sim.forum.ensure_tags(["proposal"], sim.forum.user_by_name("system"))   # alice (trust level 2) cannot create it
    created = alice.create_post(BODY, category_id=community.general_id, title="Proposal: a consent section",
                                tags=["code-of-care", "proposal"], external_id="coc-amendment-1-1")
    topic = alice.topic(created["topic_slug"], created["topic_id"])
    assert [t["name"] for t in topic["tags"]] == ["code-of-care", "proposal"]
    assert topic["external_id"] == "coc-amendment-1-1" and topic["category_id"] == community.general_id

    reply = sim.client("bob").create_post("Yes, and consent must come first for all of us.",
                                          topic_id=created["topic_id"], reply_to_post_number=1)
    assert (reply["post_number"], reply["reply_to_post_number"]) == (2, 1)
    stream = alice.topic_posts(created["topic_id"])["post_stream"]["posts"]
    assert [(p["username"], p["post_number"]) for p in stream] == [("alice", 1), ("bob", 2)]
    only_reply = alice.posts(created["topic_id"], post_ids=[reply["id"]])["post_stream"]["posts"]
    assert [p["id"] for p in only_reply] == [reply["id"]]
    assert alice.post(created["topic_id"], 2)["id"] == created["topic_id"]

    # The external id is the idempotency key: a second create fails, and the topic is found by it.
    with pytest.raises(DiscourseClientError) as again:
        alice.create_post(BODY, category_id=community.general_id, title="Proposal: a consent section",
                          external_id="coc-amendment-1-1")
    assert again.value.response.status_code == 422
    redirect = requests.get(f"{sim.url}/t/external_id/coc-amendment-1-1.json", allow_redirects=False,
                            headers={"Api-Key": sim.api_key, "Api-Username": "alice"}, timeout=CLIENT_TIMEOUT)
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == f"/t/{created['topic_slug']}/{created['topic_id']}.json"


def test_message_to_a_group_reaches_its_members_only(sim: Sim, community: Community) -> None:
    sent = sim.client("alice").create_post("Direct support please: someone here is hurting.",
                                           title="Support needed for a member", archetype="private_message",
                                           target_recipients="peer-support")
    carol = sim.client("carol")
    inbox = carol.private_messages("carol")["topic_list"]["topics"]
    assert sent["topic_id"] not in [t["id"] for t in inbox]  # a group's message is in the group's inbox, not hers
    assert carol.topic(sent["topic_slug"], sent["topic_id"])["archetype"] == "private_message"
    with pytest.raises(DiscourseClientError) as denied:
        sim.client("bob").topic(sent["topic_slug"], sent["topic_id"])
    assert denied.value.response.status_code == 403


def test_edit_keeps_a_revision(sim: Sim, community: Community) -> None:
    alice = sim.client("alice")
    new_raw = "This is the living document of how we care for one another."
    edited = alice.update_post(community.welcome_post_id, new_raw, edit_reason="clearer wording")["post"]
    assert (edited["version"], edited["raw"]) == (2, new_raw)
    assert alice.post_by_id(community.welcome_post_id)["raw"] == new_raw
    revision = alice._get(f"/posts/{community.welcome_post_id}/revisions/latest.json")
    assert (revision["current_revision"], revision["edit_reason"]) == (2, "clearer wording")
    assert "how we care for one another" in revision["body_changes"]["side_by_side_markdown"]
    assert alice._get(f"/posts/{community.welcome_post_id}/revisions/2.json") == revision


def test_tagging_through_put_and_reading_back(sim: Sim, community: Community) -> None:
    admin = sim.client()
    answer = admin._put(f"/t/-/{community.welcome_topic_id}.json", **{"tags[]": ["code-of-care", "coc-approved"]})
    assert [t["name"] for t in answer["tags"]] == ["code-of-care", "coc-approved"]
    topic = admin.topic(answer["basic_topic"]["slug"], community.welcome_topic_id)
    assert [t["name"] for t in topic["tags"]] == ["code-of-care", "coc-approved"]
    assert community.welcome_topic_id in [t["id"] for t in admin._get("/tag/coc-approved.json")["topic_list"]["topics"]]
    found = admin.search("tags:coc-approved")
    assert [p["topic_id"] for p in found["posts"]] == [community.welcome_topic_id]
    renamed = admin.update_topic(f"/t/-/{community.welcome_topic_id}.json", "Our Code of Care, welcome")
    assert renamed["basic_topic"]["title"] == "Our Code of Care, welcome"


def test_like_shows_in_actions_summary(sim: Sim, community: Community) -> None:
    carol = sim.client("carol")
    liked = carol._post("/post_actions.json", id=community.welcome_post_id, post_action_type_id=2)
    assert liked["actions_summary"][0] == {"id": 2, "count": 2, "acted": True, "can_undo": True}
    seen_by_alice = sim.client("alice").post_by_id(community.welcome_post_id)["actions_summary"]
    assert {"id": 2, "count": 2}.items() <= seen_by_alice[0].items()
    carol._delete(f"/post_actions/{community.welcome_post_id}", post_action_type_id=2)
    assert sim.client("alice").post_by_id(community.welcome_post_id)["actions_summary"][0]["count"] == 1


def test_users_groups_and_categories(sim: Sim, community: Community) -> None:
    admin = sim.client()
    made = admin.create_user("Dee Member", "dee", "dee@example.org", "a-long-passphrase", active="true")
    assert made["success"] is True and made["active"] is True
    user = admin.user("mod")
    assert (user["moderator"], user["admin"], user["trust_level"]) == (True, False, 3)
    assert "peer-support" in [g["name"] for g in admin.user("carol")["groups"]]

    group = admin.create_group("coc-credit")["basic_group"]
    admin.add_group_members(group["id"], ["alice", "dee"])
    assert [m["username"] for m in admin.group_members("coc-credit")] == ["alice", "dee"]
    assert admin.group("coc-credit")["group"]["user_count"] == 2

    category = admin.create_category("Care team", "AB9364", permissions={"peer-support": 1})["category"]
    assert category["read_restricted"] is True
    assert "Care team" in [c["name"] for c in admin.categories()]
    assert "Care team" not in [c["name"] for c in sim.client("bob").categories()]

    admin.suspend(community.bob.id, 2, "cooling off")
    assert admin.user("bob")["suspended_till"]


@pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning")   # pydiscourse's upload_image never closes it
def test_lists_status_upload_and_delete(sim: Sim, community: Community, tmp_path: Path) -> None:
    admin = sim.client()
    assert community.welcome_topic_id in [t["id"] for t in admin.latest_topics()["topic_list"]["topics"]]
    latest = admin.latest_posts()["latest_posts"]
    assert [p["id"] for p in latest] == sorted((p["id"] for p in latest), reverse=True)
    assert admin.update_topic_status(community.welcome_topic_id, "closed", True)["success"] == "OK"
    assert sim.forum.topics[community.welcome_topic_id].closed

    image = tmp_path / "diagram.png"
    image.write_bytes(png(40, 30))
    upload = sim.client("alice").upload_image(str(image), "composer", True)
    assert upload["short_url"].startswith("upload://") and upload["original_filename"] == "diagram.png"

    assert admin.delete_topic(community.staff_topic_id) is None
    assert sim.forum.topics[community.staff_topic_id].deleted_at is not None


def test_errors_raise_pydiscourse_exceptions(sim: Sim, community: Community) -> None:
    wrong_key = DiscourseClient(sim.url, api_username="system", api_key="not-the-key", timeout=CLIENT_TIMEOUT)
    with pytest.raises(DiscourseClientError) as forbidden:
        wrong_key.latest_topics()
    assert forbidden.value.response.status_code == 403

    admin = sim.client()
    with pytest.raises(DiscourseClientError) as missing:
        admin.topic("nothing", 9999)
    assert missing.value.response.status_code == 404
    assert missing.value.response.json()["error_type"] == "not_found"

    with pytest.raises(DiscourseClientError) as invalid:
        admin.create_post("too short", title="A title long enough", category_id=community.general_id)
    assert invalid.value.response.status_code == 422
    assert "Body is too short" in str(invalid.value)

    with pytest.raises(DiscourseClientError) as gone:
        sim.client("bob").topic_posts(community.deleted_topic_id)
    assert gone.value.response.status_code == 410

    with pytest.raises(DiscourseError):                   # a 200 with `errors`: a refused sign-up
        admin.create_user("Alice Again", "alice", "alice2@example.org", "a-long-passphrase")


def test_pydiscourse_waits_out_a_429_and_retries(sim: Sim, community: Community) -> None:
    """With one request a second allowed, pydiscourse reads `extras.wait_seconds`, sleeps, and succeeds."""
    api_bucket = AdminApiBucket(limit=1, window=1.0)
    sim.app.extensions["admin_api_bucket"] = api_bucket
    admin = sim.client()
    admin.latest_topics()
    assert admin.latest_topics()["topic_list"]["topics"]
    assert (api_bucket.performed, api_bucket.refused) == (2, 1)
