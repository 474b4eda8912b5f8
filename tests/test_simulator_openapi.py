"""Every simulator route that Discourse's official OpenAPI description covers, validated against it.

Responses are checked with openapi-core against the description's response schema, over real HTTP. Where the
description is wrong about what Discourse really sends, the ERRATA table below corrects it in memory — each entry
names the operation, the JSON pointer inside the response schema, the correction and why — and nothing else is
loosened. Error responses, which the description leaves out, are checked against Discourse's error shape
(FACTS.md: `{"errors": [...], "error_type": "...", "extras"?}`).
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from tests.reference import reference_dir
from tests.simulator_fixtures import Community, Sim, png

# --------------------------------------------------------------------------------------------------
# Errata: where the description disagrees with Discourse. (operation, pointer in the 200 schema, fix, why)
# --------------------------------------------------------------------------------------------------

INT_OR_NULL = {"type": ["integer", "null"]}
STRING_OR_NULL = {"type": ["string", "null"]}
# PostSerializer#actions_summary adds `count` when non-zero and `acted`/`can_undo` for the viewer's own action.
ACTION_SUMMARY_EXTRAS = {"count": {"type": "integer"}, "acted": {"type": "boolean"},
                         "can_undo": {"type": "boolean"}}


@dataclass(frozen=True)
class Erratum:
    path: str
    method: str
    pointer: str            # JSON pointer inside the response schema ("" is the schema itself)
    fix: str                # "replace": the node becomes `value`; "add_properties": merged into properties;
    #                         "unrequire": names in `value` leave `required`
    value: Any
    why: str


def _reply_to(path: str, method: str, pointer: str) -> Erratum:
    return Erratum(path, method, pointer, "replace", INT_OR_NULL,
                   "reply_to_post_number is a post number: Discourse sends an integer or null "
                   "(PostSerializer; FACTS.md webhook post fields), the description says string")


def _actions(path: str, method: str, pointer: str) -> tuple[Erratum, Erratum]:
    return (Erratum(path, method, pointer, "add_properties", ACTION_SUMMARY_EXTRAS,
                    "PostSerializer#actions_summary: a liked post's entry id 2 carries `count` (FACTS.md: "
                    "entry id 2 is likes), the viewer's own like `acted` and `can_undo`"),
            Erratum(path, method, pointer, "unrequire", ["can_act"],
                    "PostSerializer#actions_summary sets can_act only when the viewer may act; an entry kept "
                    "for its count alone (the author's own post, an anonymous viewer) has no can_act"))


def _reply_to_user(path: str, method: str, pointer: str) -> Erratum:
    return Erratum(path, method, pointer, "add_properties", {"reply_to_user": {"type": "object"}},
                   "PostSerializer has_one :reply_to_user (BasicUserSerializer) when the post answers another "
                   "member's post (include_reply_to_user?), as in the webhook's post payload (FACTS.md)")


_TOPIC_POST = "/properties/post_stream/properties/posts/items"
_POSTER_EXTRAS = ("TopicPosterSerializer#extras is \"latest\"/\"latest single\" for the last poster and null "
                  "for the others")

ERRATA: tuple[Erratum, ...] = (
    _reply_to("/posts.json", "post", "/properties/reply_to_post_number"),
    _reply_to("/posts/{id}.json", "get", "/properties/reply_to_post_number"),
    _reply_to("/posts/{id}.json", "put", "/properties/post/properties/reply_to_post_number"),
    _reply_to("/posts.json", "get", "/properties/latest_posts/items/properties/reply_to_post_number"),
    _reply_to("/post_actions.json", "post", "/properties/reply_to_post_number"),
    _reply_to("/t/{id}.json", "get", f"{_TOPIC_POST}/properties/reply_to_post_number"),
    _reply_to("/t/{id}/posts.json", "get",
              "/properties/post_stream/properties/posts/items/properties/reply_to_post_number"),
    _reply_to_user("/posts.json", "post", ""),
    _reply_to_user("/posts/{id}.json", "get", ""),
    _reply_to_user("/posts/{id}.json", "put", "/properties/post"),
    _reply_to_user("/posts.json", "get", "/properties/latest_posts/items"),
    _reply_to_user("/post_actions.json", "post", ""),
    _reply_to_user("/t/{id}.json", "get", _TOPIC_POST),
    _reply_to_user("/t/{id}/posts.json", "get", "/properties/post_stream/properties/posts/items"),
    *_actions("/posts.json", "get", "/properties/latest_posts/items/properties/actions_summary/items"),
    *_actions("/posts/{id}.json", "put", "/properties/post/properties/actions_summary/items"),
    *_actions("/t/{id}.json", "get", f"{_TOPIC_POST}/properties/actions_summary/items"),
    Erratum("/t/{id}.json", "get", f"{_TOPIC_POST}/properties/reviewable_id", "replace", INT_OR_NULL,
            "PostSerializer#reviewable_id is null for a post nobody flagged (getPost says integer|null)"),
    Erratum("/t/{id}/posts.json", "get", f"{_TOPIC_POST}/properties/reviewable_id", "replace", INT_OR_NULL,
            "PostSerializer#reviewable_id is null for a post nobody flagged (getPost says integer|null)"),
    Erratum("/t/{id}.json", "get", _TOPIC_POST, "unrequire", ["link_counts"],
            "PostSerializer#include_link_counts? is false for a post without links: the key is absent"),
    Erratum("/t/{id}.json", "get", "/properties/deleted_by", "replace", {"type": ["object", "null"]},
            "TopicViewSerializer has_one :deleted_by (BasicUserSerializer): a deleted topic names who deleted it"),
    Erratum("/t/{id}.json", "get", "/properties/category_id", "replace", INT_OR_NULL,
            "a personal message has no category: TopicViewSerializer sends category_id null"),
    Erratum("/t/{id}.json", "get", "/properties/details", "unrequire",
            ["can_edit", "can_move_posts", "can_delete", "can_remove_allowed_users", "can_create_post",
             "can_reply_as_new_topic", "can_convert_topic", "can_review_topic", "can_close_topic",
             "can_archive_topic", "can_split_merge_topic", "can_edit_staff_notes",
             "can_toggle_topic_visibility", "can_pin_unpin_topic", "can_moderate_category",
             "can_remove_self_id"],
            "TopicViewDetailsSerializer includes each can_* flag only when it is true (include_can_*?), and "
            "can_remove_self_id only in a message the viewer may leave"),
    Erratum("/t/{id}.json", "get", "/properties/details", "add_properties",
            {"allowed_users": {"type": "array"}, "allowed_groups": {"type": "array"}},
            "TopicViewDetailsSerializer adds allowed_users and allowed_groups to a personal message"),
    Erratum("/t/{id}.json", "get", "/properties/details", "add_properties", {"can_recover": {"type": "boolean"}},
            "TopicViewDetailsSerializer.can_attributes lists can_recover (a deleted topic, to staff)"),
    Erratum("/t/{id}.json", "get", "", "add_properties",
            {"external_id": {"type": "string"}, "is_shared_draft": {"type": "boolean"},
             "destination_category_id": {"type": "integer"}},
            "TopicViewSerializer includes external_id when the topic has one (FACTS.md: readable back) and "
            "the shared-draft fields for a shared draft"),
    Erratum("/t/{id}.json", "get", "/properties/suggested_topics/items/properties/posters/items/properties/extras",
            "replace", STRING_OR_NULL, _POSTER_EXTRAS),
    Erratum("/u/{username}.json", "get", "/properties/user/properties/featured_topic", "replace",
            {"type": ["object", "null"]}, "UserSerializer#featured_topic is null until the user features one"),
    Erratum("/u/{username}.json", "get", "/properties/user", "add_properties",
            {"suspended_till": {"type": "string"}, "suspend_reason": {"type": "string"}},
            "UserSerializer includes suspended_till (and suspend_reason for staff) while the user is suspended"),
    Erratum("/groups/{name}/members.json", "get", "/properties/members/items/properties/last_posted_at",
            "replace", STRING_OR_NULL, "a member who never posted has last_posted_at null"),
    Erratum("/groups/{name}/members.json", "get", "/properties/members/items/properties/last_seen_at",
            "replace", STRING_OR_NULL, "a member never seen (made through the API) has last_seen_at null"),
    Erratum("/groups/{name}/members.json", "get", "/properties/members/items/properties/timezone",
            "replace", STRING_OR_NULL, "user_option.timezone is null until the user's browser sets it"),
    Erratum("/groups/{name}/members.json", "get", "/properties/owners/items/properties/last_posted_at",
            "replace", STRING_OR_NULL, "an owner who never posted has last_posted_at null"),
    Erratum("/groups/{name}/members.json", "get", "/properties/owners/items/properties/last_seen_at",
            "replace", STRING_OR_NULL, "an owner never seen has last_seen_at null"),
    Erratum("/groups/{name}/members.json", "get", "/properties/owners/items/properties/timezone",
            "replace", STRING_OR_NULL, "user_option.timezone is null until the user's browser sets it"),
    Erratum("/latest.json", "get", "/properties/topic_list/properties/topics/items/properties/image_url",
            "replace", STRING_OR_NULL, "TopicListItemSerializer#image_url is null for a topic without images"),
    Erratum("/latest.json", "get",
            "/properties/topic_list/properties/topics/items/properties/posters/items/properties/extras",
            "replace", STRING_OR_NULL, _POSTER_EXTRAS),
    Erratum("/tag/{name}.json", "get",
            "/properties/topic_list/properties/topics/items/properties/posters/items/properties/extras",
            "replace", STRING_OR_NULL, _POSTER_EXTRAS),
    Erratum("/topics/private-messages/{username}.json", "get",
            "/properties/topic_list/properties/topics/items/properties/posters/items/properties/extras",
            "replace", STRING_OR_NULL, _POSTER_EXTRAS),
    Erratum("/topics/private-messages/{username}.json", "get",
            "/properties/topic_list/properties/topics/items/properties/participants/items/properties/extras",
            "replace", STRING_OR_NULL, _POSTER_EXTRAS),
    Erratum("/search.json", "get", "", "add_properties", {"topics": {"type": "array"}},
            "SearchPostSerializer has_one :topic, which ApplicationSerializer (embed :ids, include: true) "
            "sideloads as a root `topics` array whenever there are posts"),
)


def _resolve(node: Any, pointer: str) -> Any:
    for part in filter(None, pointer.split("/")):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def apply_errata(spec: dict[str, Any], errata: tuple[Erratum, ...]) -> dict[str, Any]:
    """A copy of `spec` with the errata applied; an erratum that no longer matches the description fails."""
    spec = copy.deepcopy(spec)
    for erratum in errata:
        schema = spec["paths"][erratum.path][erratum.method]["responses"]["200"]["content"]["application/json"][
            "schema"]
        if erratum.fix == "replace":
            parent_pointer, _, key = erratum.pointer.rpartition("/")
            parent = _resolve(schema, parent_pointer)
            assert key in parent, f"erratum target missing: {erratum}"
            parent[key] = copy.deepcopy(erratum.value)
        elif erratum.fix == "add_properties":
            node = _resolve(schema, erratum.pointer)
            node.setdefault("properties", {}).update(copy.deepcopy(erratum.value))
        elif erratum.fix == "unrequire":
            node = _resolve(schema, erratum.pointer)
            assert set(erratum.value) <= set(node.get("required", [])), f"not required: {erratum}"
            node["required"] = [name for name in node["required"] if name not in erratum.value]
        else:
            raise AssertionError(f"unknown fix {erratum.fix!r}")
    return spec


@lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    """The description with the errata applied, and a server entry that matches any loopback port."""
    spec = json.loads((reference_dir() / "openapi.json").read_text(encoding="utf-8"))
    spec = apply_errata(spec, ERRATA)
    spec["servers"] = [{"url": "http://127.0.0.1:{port}", "variables": {"port": {"default": "80"}}}]
    return OpenAPI.from_dict(spec)


ERROR_SHAPE = Draft202012Validator({
    "type": "object",
    "required": ["errors", "error_type"],
    "properties": {
        "errors": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "error_type": {"enum": ["not_found", "invalid_access", "invalid_parameters", "record_invalid",
                                "rate_limit", "read_only"]},
        "extras": {"type": "object"},
    },
})


POST_REFUSAL_SHAPE = Draft202012Validator({
    "type": "object",
    "required": ["action", "errors"],
    "not": {"anyOf": [{"required": ["error_type"]}, {"required": ["success"]}]},
    "properties": {
        "action": {"enum": ["create_post", "created_post", "enqueued"]},
        "errors": {"type": "array", "minItems": 1, "items": {"type": "string"}},
    },
})
"""PostsController#create's 422: a failed NewPostResult (NewPostResultSerializer), not the exception shape."""


def conforms(response: requests.Response) -> requests.Response:
    """Validate a 2xx/3xx response against the description (as corrected), a 4xx against the error shape."""
    if response.status_code >= 400:
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        refusal = (response.status_code == 422 and response.request.method == "POST"
                   and (response.request.path_url or "").split("?")[0] in ("/posts.json", "/posts"))
        errors = sorted((POST_REFUSAL_SHAPE if refusal else ERROR_SHAPE).iter_errors(response.json()), key=str)
        assert not errors, f"{response.request.method} {response.url}: {[e.message for e in errors]}"
        return response
    if response.content and response.status_code < 300:      # a redirect's body is a small HTML page
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    errors = list(openapi().iter_response_errors(RequestsOpenAPIRequest(response.request),
                                                 RequestsOpenAPIResponse(response)))
    assert not errors, f"{response.request.method} {response.url}: " + "; ".join(
        _explain(e) for e in errors)
    return response


def _explain(error: Exception) -> str:
    causes = []
    cause = error.__cause__
    while cause is not None:
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            causes.extend(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in schema_errors)
        cause = cause.__cause__
    return f"{type(error).__name__}: {causes or error}"


def ok(response: requests.Response, status: int = 200) -> requests.Response:
    assert response.status_code == status, f"{response.request.method} {response.url}: " \
        f"{response.status_code} {response.text[:500]}"
    return conforms(response)


# --------------------------------------------------------------------------------------------------
# The errata machinery itself
# --------------------------------------------------------------------------------------------------


def test_every_erratum_still_applies_to_the_description() -> None:
    spec = json.loads((reference_dir() / "openapi.json").read_text(encoding="utf-8"))
    patched = apply_errata(spec, ERRATA)
    assert patched != spec
    for erratum in ERRATA:
        assert erratum.why


def test_without_the_errata_the_description_rejects_an_integer_reply_number(sim: Sim,
                                                                            community: Community) -> None:
    """The errata are needed: the uncorrected description refuses what Discourse really sends."""
    spec = json.loads((reference_dir() / "openapi.json").read_text(encoding="utf-8"))
    spec["servers"] = [{"url": "http://127.0.0.1:{port}", "variables": {"port": {"default": "80"}}}]
    response = sim.http().get(f"{sim.url}/posts/{community.reply_post_id}.json")
    assert response.json()["reply_to_post_number"] == 1
    errors = list(OpenAPI.from_dict(spec).iter_response_errors(RequestsOpenAPIRequest(response.request),
                                                               RequestsOpenAPIResponse(response)))
    assert errors


# --------------------------------------------------------------------------------------------------
# Users and groups
# --------------------------------------------------------------------------------------------------


def test_users(sim: Sim, community: Community) -> None:
    admin = sim.http()
    created = ok(admin.post(f"{sim.url}/users.json", data={"name": "Dee", "username": "dee",
                                                           "email": "dee@example.org", "password": "s3cret-pass!",
                                                           "active": "true"})).json()
    assert created["success"] is True and created["active"] is True
    user = ok(admin.get(f"{sim.url}/u/alice.json")).json()["user"]
    assert (user["username"], user["admin"], user["moderator"], user["trust_level"]) == ("alice", False, False, 2)
    ok(sim.http(None).get(f"{sim.url}/u/mod.json"))
    ok(sim.http("bob").get(f"{sim.url}/u/system.json"))
    suspension = ok(admin.put(f"{sim.url}/admin/users/{community.bob.id}/suspend.json",
                              data={"suspend_until": "2121-02-22", "reason": "cooling off"})).json()["suspension"]
    assert suspension["suspend_reason"] == "cooling off"
    assert ok(admin.get(f"{sim.url}/u/bob.json")).json()["user"]["suspended_till"].startswith("2121-02-22")


def test_groups(sim: Sim, community: Community) -> None:
    admin = sim.http()
    group = ok(admin.post(f"{sim.url}/admin/groups.json",
                          json={"group": {"name": "coc-credit", "visibility_level": 0}})).json()["basic_group"]
    added = ok(admin.put(f"{sim.url}/groups/{group['id']}/members.json", json={"usernames": "alice,bob"})).json()
    assert added["usernames"] == ["alice", "bob"]
    shown = ok(admin.get(f"{sim.url}/groups/coc-credit.json")).json()
    assert shown["group"]["user_count"] == 2
    ok(sim.http(None).get(f"{sim.url}/groups/peer-support.json"))
    members = ok(admin.get(f"{sim.url}/groups/coc-credit/members.json")).json()
    assert [m["username"] for m in members["members"]] == ["alice", "bob"] and members["meta"]["total"] == 2
    conforms(admin.get(f"{sim.url}/groups/nobody-here.json"))


# --------------------------------------------------------------------------------------------------
# Site, categories, tags
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["system", "bob", None])
def test_site(sim: Sim, community: Community, username: str | None) -> None:
    site = ok(sim.http(username).get(f"{sim.url}/site.json")).json()
    names = {c["name"] for c in site["categories"]}
    assert ("Staff room" in names) == (username == "system")


def test_categories(sim: Sim, community: Community) -> None:
    admin = sim.http()
    created = ok(admin.post(f"{sim.url}/categories.json",
                            data={"name": "Care team", "color": "AB9364", "text_color": "FFFFFF",
                                  "permissions[peer-support]": "1"})).json()["category"]
    assert created["read_restricted"] is True
    assert created["group_permissions"] == [{"permission_type": 1, "group_name": "peer-support",
                                             "group_id": sim.forum.group_by_name("peer-support").id}]
    listed = ok(admin.get(f"{sim.url}/categories.json")).json()["category_list"]["categories"]
    assert "Care team" in {c["name"] for c in listed}
    public = ok(sim.http(None).get(f"{sim.url}/categories.json")).json()["category_list"]["categories"]
    assert "Care team" not in {c["name"] for c in public}


def test_tags(sim: Sim, community: Community) -> None:
    tags = ok(sim.http().get(f"{sim.url}/tags.json")).json()["tags"]
    assert {"name": "code-of-care", "count": 1}.items() <= next(t for t in tags if t["name"] == "code-of-care").items()
    listed = ok(sim.http("bob").get(f"{sim.url}/tag/code-of-care.json")).json()["topic_list"]["topics"]
    assert [t["id"] for t in listed] == [community.welcome_topic_id]
    conforms(sim.http().get(f"{sim.url}/tag/no-such-tag.json"))


# --------------------------------------------------------------------------------------------------
# Posts and topics
# --------------------------------------------------------------------------------------------------


def test_create_topic_reply_and_message(sim: Sim, community: Community) -> None:
    alice = sim.http("alice")
    topic = ok(alice.post(f"{sim.url}/posts.json", data={
        "title": "Proposal: a section on consent", "raw": "I propose we add a section about consent.",
        "category": str(community.general_id), "tags[]": ["code-of-care", "proposal"],
        "external_id": "proposal-1"})).json()
    assert topic["post_number"] == 1 and topic["reply_to_post_number"] is None
    reply = ok(sim.http("bob").post(f"{sim.url}/posts.json", json={
        "topic_id": topic["topic_id"], "raw": "Yes, and consent should come first.",
        "reply_to_post_number": 1})).json()
    assert reply["reply_to_post_number"] == 1
    message = ok(alice.post(f"{sim.url}/posts.json", data={
        "title": "Support needed for a member", "raw": "Direct support please, someone is hurting.",
        "archetype": "private_message", "target_recipients": "peer-support"})).json()
    assert sim.forum.topics[message["topic_id"]].is_pm
    conforms(alice.post(f"{sim.url}/posts.json", data={"title": "Too short", "raw": "tiny"}))
    conforms(alice.post(f"{sim.url}/posts.json", data={"title": "No body at all here"}))


@pytest.mark.parametrize("username", ["system", "mod", "alice", "bob", None])
def test_topic_view(sim: Sim, community: Community, username: str | None) -> None:
    session = sim.http(username)
    topic = ok(session.get(f"{sim.url}/t/{community.welcome_topic_id}.json")).json()
    stream = topic["post_stream"]["stream"]
    assert (community.whisper_post_id in stream) == (username in ("system", "mod"))
    assert topic["tags"][0]["name"] == "code-of-care"
    by_slug = session.get(f"{sim.url}/t/{topic['slug']}/{topic['id']}.json")   # not in the description
    assert by_slug.status_code == 200 and by_slug.json() == topic
    ok(session.get(f"{sim.url}/t/{community.welcome_topic_id}/posts.json",
                   params={"post_ids[]": [community.reply_post_id]}))
    if username in ("system", "alice", "bob"):
        ok(session.get(f"{sim.url}/t/{community.pm_topic_id}.json"))
    else:
        conforms(session.get(f"{sim.url}/t/{community.pm_topic_id}.json"))
    conforms(session.get(f"{sim.url}/t/{community.deleted_topic_id}.json"))


def test_topic_by_external_id_redirects(sim: Sim, community: Community) -> None:
    response = ok(sim.http().get(f"{sim.url}/t/external_id/coc-document.json", allow_redirects=False), 301)
    topic = sim.forum.topics[community.welcome_topic_id]
    assert response.headers["Location"].endswith(f"/t/{topic.slug}/{topic.id}.json")
    conforms(sim.http().get(f"{sim.url}/t/external_id/nothing-here.json", allow_redirects=False))


@pytest.mark.parametrize("username", ["system", "bob", None])
def test_posts(sim: Sim, community: Community, username: str | None) -> None:
    session = sim.http(username)
    post = ok(session.get(f"{sim.url}/posts/{community.welcome_post_id}.json")).json()
    assert {"id": 2, "count": 1}.items() <= post["actions_summary"][0].items()
    latest = ok(session.get(f"{sim.url}/posts.json")).json()["latest_posts"]
    assert community.whisper_post_id not in [p["id"] for p in latest]
    ok(session.get(f"{sim.url}/posts.json", params={"before": community.reply_post_id}))


def test_edit_delete_and_recover(sim: Sim, community: Community) -> None:
    alice = sim.http("alice")
    edited = ok(alice.put(f"{sim.url}/posts/{community.welcome_post_id}.json",
                          data={"post[raw]": "This is the living document, revised with care.",
                                "post[edit_reason]": "wording"})).json()["post"]
    assert edited["version"] == 2 and edited["edit_reason"] == "wording"
    admin = sim.http()
    ok(admin.delete(f"{sim.url}/posts/{community.reply_post_id}.json"))
    ok(admin.delete(f"{sim.url}/t/{community.staff_topic_id}.json"))
    conforms(sim.http("bob").delete(f"{sim.url}/t/{community.welcome_topic_id}.json"))


def test_update_topic_and_status(sim: Sim, community: Community) -> None:
    admin = sim.http()
    updated = ok(admin.put(f"{sim.url}/t/-/{community.welcome_topic_id}.json",
                           data={"title": "Welcome to our Code of Care", "tags[]": ["code-of-care", "living"]}))
    assert updated.json()["basic_topic"]["title"] == "Welcome to our Code of Care"
    status = ok(admin.put(f"{sim.url}/t/{community.welcome_topic_id}/status.json",
                          data={"status": "closed", "enabled": "true"})).json()
    assert status == {"success": "OK", "topic_status_update": None}
    conforms(admin.put(f"{sim.url}/t/{community.welcome_topic_id}/status.json", data={"enabled": "true"}))


def test_like(sim: Sim, community: Community) -> None:
    liked = ok(sim.http("carol").post(f"{sim.url}/post_actions.json",
                                      data={"id": community.welcome_post_id, "post_action_type_id": 2})).json()
    assert {"id": 2, "count": 2, "acted": True}.items() <= liked["actions_summary"][0].items()
    conforms(sim.http("carol").post(f"{sim.url}/post_actions.json",
                                    data={"id": community.welcome_post_id, "post_action_type_id": 2}))


# --------------------------------------------------------------------------------------------------
# Lists, search, uploads
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["system", "bob", None])
def test_latest(sim: Sim, community: Community, username: str | None) -> None:
    topics = ok(sim.http(username).get(f"{sim.url}/latest.json")).json()["topic_list"]["topics"]
    ids = [t["id"] for t in topics]
    assert community.welcome_topic_id in ids and community.pm_topic_id not in ids
    assert (community.staff_topic_id in ids) == (username == "system")


def test_private_messages(sim: Sim, community: Community) -> None:
    """TopicQuery#list_private_messages: a named participant's messages that someone else wrote in; a group's
    message is in the group's inbox, not its members' personal list."""

    def listed(username: str) -> list[int]:
        answer = ok(sim.http(username).get(f"{sim.url}/topics/private-messages/{username}.json")).json()
        return [t["id"] for t in answer["topic_list"]["topics"]]

    assert listed("carol") == []  # in the peer-support group only
    assert listed("bob") == [community.pm_topic_id]  # alice wrote to him
    assert listed("alice") == []  # nobody else has written in it yet
    ok(sim.http("bob").post(f"{sim.url}/posts.json", data={"topic_id": community.pm_topic_id, "raw": "Thank you, Alice."}))
    assert listed("alice") == [community.pm_topic_id]
    conforms(sim.http("bob").get(f"{sim.url}/topics/private-messages/carol.json"))


@pytest.mark.parametrize("q", ["consent", "tags:code-of-care", "#general care", "in:title welcome", "nothing-at-all"])
def test_search(sim: Sim, community: Community, q: str) -> None:
    found = ok(sim.http("bob").get(f"{sim.url}/search.json", params={"q": q})).json()
    topic_ids = {p["topic_id"] for p in found["posts"]}
    assert topic_ids == (set() if q == "nothing-at-all" else {community.welcome_topic_id})


def test_upload(sim: Sim, community: Community) -> None:
    upload = ok(sim.http("alice").post(f"{sim.url}/uploads.json", data={"type": "composer", "synchronous": "true"},
                                       files={"file": ("diagram.png", png(800, 600), "image/png")})).json()
    assert upload["short_url"].startswith("upload://") and (upload["width"], upload["height"]) == (800, 600)
    assert (upload["thumbnail_width"], upload["thumbnail_height"]) == (666, 500)
    conforms(sim.http("alice").post(f"{sim.url}/uploads.json", data={"type": "composer"},
                                    files={"file": ("notes.txt", b"plain text", "text/plain")}))

