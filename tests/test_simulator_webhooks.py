"""The simulator's outgoing webhooks: bodies, headers and signatures as Discourse sends them, the admin API,
the delivery log, redelivery, retries and the test-only faults — all over real HTTP to a real receiver."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from simulator.payloads import SETTING_TAGS_AS_OBJECTS
from simulator.server import ServerHandle, serve_in_thread
from simulator.webhooks import (
    DROPPED_ERROR,
    EVENT_TYPE_GROUPS,
    EVENT_TYPE_IDS,
    SETTING_RETRY,
    SETTING_RETRY_SCALE,
    USER_AGENT,
    Dispatcher,
    sign,
)
from tests.reference import reference_dir
from tests.simulator_fixtures import Sim

SECRET = "coc-test-webhook-secret"
WAIT = 15.0
"""Seconds a test waits for deliveries before failing."""

FAR_AWAY = 3600.0
"""A delay or hold no test waits out: only a later delivery or a clock move can end it."""

SAMPLE_EVENTS = ["post_created", "post_edited", "post_liked", "topic_created", "topic_edited",
                 "topic_edited.tags_as_objects", "ping"]


# ------------------------------------------------------------------------------------------- receiver


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> str:
        return self.headers["X-Discourse-Event"]

    @property
    def event_id(self) -> int:
        return int(self.headers["X-Discourse-Event-Id"])

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """A little webhook endpoint that records every raw body and header, answering 200 unless told otherwise."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: deque[int] = deque()
        self._cond = threading.Condition()
        self.handle: ServerHandle | None = None

    @property
    def url(self) -> str:
        assert self.handle is not None
        return self.handle.url + "/hooks/discourse"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._cond:
            self.received.append(Received(headers=dict(request.headers), body=request.get_data()))
            status = self.answers.popleft() if self.answers else 200
            self._cond.notify_all()
        return Response("received", status=status)(environ, start_response)

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Received]:
        with self._cond:
            arrived = self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            assert arrived, f"expected {count} deliveries, got {len(self.received)}: " \
                            f"{[r.event for r in self.received]}"
            return list(self.received)

    def events(self) -> list[str]:
        with self._cond:
            return [r.event for r in self.received]

    def clear(self) -> None:
        with self._cond:
            self.received.clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recorder = Receiver()
    recorder.handle = serve_in_thread(recorder)
    yield recorder
    recorder.handle.shutdown()


@pytest.fixture
def dispatcher(sim: Sim) -> Dispatcher:
    return sim.app.extensions["webhooks"]


def register_hook(sim: Sim, url: str, **fields: Any) -> dict[str, Any]:
    """Create a hook as a forum admin would through the admin API (form-encoded, with pydiscourse)."""
    params = {"web_hook[payload_url]": url, "web_hook[secret]": SECRET, "web_hook[content_type]": "1",
              "web_hook[wildcard_web_hook]": "true", "web_hook[active]": "true",
              "web_hook[verify_certificate]": "true"}
    params.update({f"web_hook[{k}]" if not k.startswith("web_hook[") else k: v for k, v in fields.items()})
    return sim.client("system")._post("/admin/api/web_hooks.json", **params)["web_hook"]


@pytest.fixture
def hook(sim: Sim, receiver: Receiver) -> dict[str, Any]:
    return register_hook(sim, receiver.url)


def settle(dispatcher: Dispatcher) -> None:
    assert dispatcher.wait_idle(WAIT), f"deliveries still pending: {dispatcher.pending()}"


def make_members(sim: Sim) -> None:
    sim.user("alice", name="Alice Example", trust_level=2)
    sim.user("bob", name="Bob Builder")
    mod = sim.user("mod", name="Moderator Mo", trust_level=3)
    sim.forum.set_moderator(mod, True)
    # The tags the members use exist: below trust level 3 a member applies tags but cannot create them.
    sim.forum.ensure_tags(["python", "rq", "redis", "code-of-care", "consent"], sim.forum.user_by_name("system"))


def new_topic(sim: Sim, username: str = "alice", **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("title", "How we look after each other")
    return sim.client(username).create_post("The first post of a topic about caring for each other.", **kwargs)


def reply(sim: Sim, topic_id: int, username: str = "bob", raw: str = "A reply that is long enough to count.",
          **kwargs: Any) -> dict[str, Any]:
    return sim.client(username).create_post(raw, topic_id=topic_id, **kwargs)


def verify(received: Received, secret: str = SECRET) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(received.headers.get("X-Discourse-Event-Signature", ""), expected)


# ------------------------------------------------------------------------------------------- reference


def load_sample(name: str) -> tuple[dict[str, str], bytes]:
    folder = reference_dir() / "webhook_samples"
    headers = json.loads((folder / f"{name}.headers.json").read_text())
    return headers, (folder / f"{name}.body.json").read_bytes()


def missing_keys(sample: Any, ours: Any, path: str = "") -> list[str]:
    """Keys of `sample` (recursively, through objects and the first element of lists) absent from `ours`."""
    missing: list[str] = []
    if isinstance(sample, dict):
        if not isinstance(ours, dict):
            return [path or "<root>"]
        for key, value in sample.items():
            if key not in ours:
                missing.append(f"{path}{key}")
            elif value is not None and ours[key] is not None:
                missing += missing_keys(value, ours[key], f"{path}{key}.")
    elif isinstance(sample, list) and sample and isinstance(sample[0], dict):
        if not isinstance(ours, list) or not ours:
            return [path.rstrip(".") + "[]"]
        missing += missing_keys(sample[0], ours[0], path.rstrip(".") + "[].")
    return missing


def test_event_type_constant_agrees_with_the_reference() -> None:
    reference = json.loads((reference_dir() / "webhook_event_types.json").read_text())
    core = {e["subscribe_name"]: e["type"] for e in reference["events"]
            if "plugin" not in e and e.get("x_discourse_event") != "ping"}
    assert set(core) == set(EVENT_TYPE_IDS)
    for name, event_type in core.items():
        assert EVENT_TYPE_GROUPS[name] == event_type, name
    assert len(set(EVENT_TYPE_IDS.values())) == len(EVENT_TYPE_IDS)


def test_signature_test_vector() -> None:
    vector = json.loads((reference_dir() / "webhook_samples" / "signature_test_vector.json").read_text())
    body = vector["body"].encode()
    assert len(body) == vector["content_length"]
    assert sign(vector["secret"], body) == vector["expected_signature_header"]


def test_reference_samples_verify_with_their_secret() -> None:
    for name in SAMPLE_EVENTS:
        headers, body = load_sample(name)
        assert sign("test-webhook-secret-0123", body) == headers["X-Discourse-Event-Signature"], name


def test_sample_keys_are_a_subset_of_what_the_simulator_sends(sim: Sim, receiver: Receiver, hook: dict[str, Any],
                                                              dispatcher: Dispatcher) -> None:
    make_members(sim)
    category = sim.forum.create_category(name="Support")
    topic = new_topic(sim, category_id=category.id, tags=["python", "rq"])
    answer = reply(sim, topic["topic_id"], reply_to_post_number=1)
    sim.client("bob").update_post(answer["id"], "A reply that is long enough, edited to add detail.",
                                  edit_reason="add detail")
    sim.client("alice")._post("/post_actions.json", id=answer["id"], post_action_type_id=2)
    settle(dispatcher)
    sim.http("alice").put(f"{sim.url}/t/-/{topic['topic_id']}.json", data={"tags[]": ["python", "redis"]})
    settle(dispatcher)
    sim.forum.settings[SETTING_TAGS_AS_OBJECTS] = True
    sim.http("alice").put(f"{sim.url}/t/-/{topic['topic_id']}.json", data={"tags[]": ["python", "redis", "rq"]})
    sim.http("system").post(f"{sim.url}/admin/api/web_hooks/{hook['id']}/ping.json")
    settle(dispatcher)

    ours: dict[str, list[Received]] = {}
    for item in receiver.received:
        ours.setdefault(item.event, []).append(item)
    replies = [r for r in ours["post_created"] if r.payload["post"]["post_number"] == 2]
    chosen = {
        "post_created": replies[0],
        "post_edited": ours["post_edited"][0],
        "post_liked": ours["post_liked"][0],
        "topic_created": ours["topic_created"][0],
        "topic_edited": ours["topic_edited"][0],
        "topic_edited.tags_as_objects": ours["topic_edited"][1],
        "ping": ours["ping"][0],
    }
    for name, item in chosen.items():
        sample_headers, sample_body = load_sample(name)
        sample = json.loads(sample_body)
        assert list(item.payload) == list(sample), name
        assert missing_keys(sample, item.payload) == [], name
        assert set(item.headers) == set(sample_headers), name
        assert item.headers["X-Discourse-Event-Type"] == sample_headers["X-Discourse-Event-Type"], name
    assert chosen["topic_edited"].payload["topic"]["tags"] == ["python", "redis"]
    assert [t["name"] for t in chosen["topic_edited.tags_as_objects"].payload["topic"]["tags"]] == \
        ["python", "redis", "rq"]
    assert chosen["ping"].body == b'{"ping":"OK"}'
    assert chosen["post_created"].payload["post"]["reply_to_user"]["username"] == "alice"


# ------------------------------------------------------------------------------------------- delivery


def test_new_topic_delivers_signed_topic_created_and_post_created(sim: Sim, receiver: Receiver,
                                                                  hook: dict[str, Any],
                                                                  dispatcher: Dispatcher) -> None:
    make_members(sim)
    created = new_topic(sim, tags=["code-of-care"])
    received = receiver.wait_for(2)
    settle(dispatcher)
    assert sorted(r.event for r in received) == ["post_created", "topic_created"]
    expected_headers = set(load_sample("post_created")[0])
    for item in received:
        assert verify(item), item.event
        assert set(item.headers) == expected_headers
        assert item.headers["Content-Length"] == str(len(item.body))
        assert item.headers["Content-Type"] == "application/json"
        assert item.headers["User-Agent"] == USER_AGENT == "Discourse/3.5.0"
        assert item.headers["Accept"] == "*/*"
        assert item.headers["Connection"] == "close"
        assert item.headers["Host"] == "127.0.0.1"
        assert item.headers["X-Discourse-Instance"] == sim.url
        assert item.headers["X-Discourse-Event-Type"] == next(iter(item.payload))
        assert json.dumps(item.payload, separators=(",", ":"), ensure_ascii=False).encode() == item.body
    by_event = {r.event: r for r in received}
    assert by_event["topic_created"].payload["topic"]["id"] == created["topic_id"]
    assert by_event["topic_created"].payload["topic"]["tags"] == ["code-of-care"]
    assert by_event["post_created"].payload["post"]["id"] == created["id"]
    assert by_event["post_created"].payload["post"]["raw"] == created["raw"]

    log = sim.http("system").get(f"{sim.url}/admin/api/web_hooks/{hook['id']}/events.json").json()
    rows = log["web_hook_events"]
    assert [row["id"] for row in rows] == sorted((r.event_id for r in received), reverse=True)
    assert all(row["status"] == 200 and row["response_body"] == "received" for row in rows)
    assert {row["event_name"] for row in rows} == {"topic_created", "post_created"}
    for row in rows:
        match = next(r for r in received if r.event_id == row["id"])
        assert row["payload"].encode() == match.body
        assert json.loads(row["headers"]) == {k: v for k, v in match.headers.items()}


def test_subscription_by_event_type_and_json_registration(sim: Sim, receiver: Receiver,
                                                          dispatcher: Dispatcher) -> None:
    make_members(sim)
    answer = sim.http("system").post(f"{sim.url}/admin/api/web_hooks.json", json={"web_hook": {
        "payload_url": receiver.url, "content_type": 2, "wildcard_web_hook": False, "active": True,
        "web_hook_event_type_ids": [EVENT_TYPE_IDS["post_created"]]}})
    assert answer.status_code == 200, answer.text
    hook = answer.json()["web_hook"]
    assert [t["name"] for t in hook["web_hook_event_types"]] == ["post_created"]
    new_topic(sim)
    settle(dispatcher)
    received = receiver.wait_for(1)
    assert [r.event for r in received] == ["post_created"]
    assert received[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "X-Discourse-Event-Signature" not in received[0].headers       # a hook without a secret
    assert received[0].payload["post"]["post_number"] == 1                # the body is JSON text all the same


def test_topic_edited_on_a_tags_change_and_no_post_edited(sim: Sim, receiver: Receiver, hook: dict[str, Any],
                                                          dispatcher: Dispatcher) -> None:
    make_members(sim)
    created = new_topic(sim, tags=["consent"])
    settle(dispatcher)
    receiver.clear()
    answer = sim.http("alice").put(f"{sim.url}/t/-/{created['topic_id']}.json",
                                   data={"tags[]": ["consent", "code-of-care"]})
    assert answer.status_code == 200, answer.text
    settle(dispatcher)
    assert receiver.events() == ["topic_edited"]
    assert receiver.received[0].payload["topic"]["tags"] == ["consent", "code-of-care"]


def test_pm_and_whisper_events_are_delivered_as_an_admin_sees_them(sim: Sim, receiver: Receiver,
                                                                   hook: dict[str, Any],
                                                                   dispatcher: Dispatcher) -> None:
    make_members(sim)
    pm = sim.client("alice").create_post("Could we talk privately about this?", title="A private word about care",
                                         archetype="private_message", target_recipients="bob")
    topic = new_topic(sim)
    whisper = sim.http("mod").post(f"{sim.url}/posts.json", data={
        "topic_id": topic["topic_id"], "raw": "Staff only: keep an eye on this thread.", "whisper": "true"})
    assert whisper.status_code == 200, whisper.text
    settle(dispatcher)
    posts = {r.payload["post"]["id"]: r.payload["post"] for r in receiver.received if r.event == "post_created"}
    topics = {r.payload["topic"]["id"]: r.payload["topic"] for r in receiver.received if r.event == "topic_created"}
    assert posts[pm["id"]]["topic_archetype"] == "private_message"
    assert posts[pm["id"]]["raw"] == "Could we talk privately about this?"
    assert "category_slug" not in posts[pm["id"]]
    assert topics[pm["topic_id"]]["archetype"] == "private_message"
    assert posts[whisper.json()["id"]]["post_type"] == 4
    assert posts[whisper.json()["id"]]["raw"] == "Staff only: keep an eye on this thread."


def test_the_payload_is_a_snapshot_taken_when_the_event_fires(sim: Sim, receiver: Receiver, hook: dict[str, Any],
                                                              dispatcher: Dispatcher) -> None:
    make_members(sim)
    topic = new_topic(sim)
    settle(dispatcher)
    receiver.clear()
    dispatcher.configure_faults({"delay": 1.0, "delay_seconds": [FAR_AWAY, FAR_AWAY]})
    answer = reply(sim, topic["topic_id"], raw="The words as they were first written.")
    dispatcher.configure_faults({"delay": 0.0})
    sim.client("bob").update_post(answer["id"], "The words as they read after an edit.")
    edited = receiver.wait_for(1)
    assert [r.event for r in edited] == ["post_edited"]
    assert dispatcher.pending()["scheduled"] == 1
    sim.http(None).post(f"{sim.url}/_sim/clock", json={"advance_seconds": FAR_AWAY})
    settle(dispatcher)
    late = receiver.received[1]
    assert late.event == "post_created"
    assert late.payload["post"]["raw"] == "The words as they were first written."
    assert late.payload["post"]["version"] == 1
    assert late.event_id < edited[0].event_id


# ------------------------------------------------------------------------------------------- admin API


def test_admin_api_crud_ping_and_validation(sim: Sim, receiver: Receiver, dispatcher: Dispatcher) -> None:
    make_members(sim)
    admin = sim.http("system")
    base = f"{sim.url}/admin/api/web_hooks"
    assert sim.http("alice").get(f"{base}.json").status_code == 403
    bad = admin.post(f"{base}.json", data={"web_hook[payload_url]": "not a url", "web_hook[secret]": "short"})
    assert bad.status_code == 422
    assert bad.json()["error_type"] == "record_invalid"
    assert "Payload url is invalid" in bad.json()["errors"]
    assert "Secret is too short (minimum is 12 characters)" in bad.json()["errors"]
    assert "Web hook event types can't be blank" in bad.json()["errors"]

    inactive = admin.post(f"{base}.json", data={"web_hook[payload_url]": receiver.url,
                                                 "web_hook[wildcard_web_hook]": "true"}).json()["web_hook"]
    assert inactive["active"] is False                      # Discourse's column default: send active=true
    listed = admin.get(f"{base}.json").json()
    assert [h["id"] for h in listed["web_hooks"]] == [inactive["id"]]
    assert {"event_types", "content_types", "delivery_statuses"} <= set(listed["extras"])
    new_topic(sim)
    settle(dispatcher)
    assert receiver.received == []

    updated = admin.put(f"{base}/{inactive['id']}.json", data={"web_hook[active]": "true",
                                                                 "web_hook[secret]": SECRET})
    assert updated.status_code == 200 and updated.json()["web_hook"]["active"] is True
    assert admin.post(f"{base}/{inactive['id']}/ping.json").json() == {"success": "OK"}
    ping = receiver.wait_for(1)[0]
    assert (ping.event, ping.headers["X-Discourse-Event-Type"], ping.body) == ("ping", "ping", b'{"ping":"OK"}')
    assert verify(ping)
    settle(dispatcher)
    assert admin.get(f"{base}/{inactive['id']}.json").json()["web_hook"]["last_delivery_status"] == 3

    assert admin.delete(f"{base}/{inactive['id']}.json").json() == {"success": "OK"}
    assert admin.get(f"{base}/{inactive['id']}.json").status_code == 404
    assert admin.get(f"{base}.json").json()["web_hooks"] == []


# ------------------------------------------------------------------------------------------- redelivery, retries


def test_redelivery_sends_the_same_headers_body_and_event_id(sim: Sim, receiver: Receiver, hook: dict[str, Any],
                                                             dispatcher: Dispatcher) -> None:
    make_members(sim)
    topic = new_topic(sim)
    settle(dispatcher)
    receiver.clear()
    reply(sim, topic["topic_id"])
    first = receiver.wait_for(1)[0]
    settle(dispatcher)
    answer = sim.http("system").post(
        f"{sim.url}/admin/api/web_hooks/{hook['id']}/events/{first.event_id}/redeliver.json")
    assert answer.status_code == 200, answer.text
    assert answer.json()["web_hook_event"]["id"] == first.event_id
    second = receiver.wait_for(2)[1]
    assert second.headers == first.headers
    assert second.body == first.body
    assert verify(second)


def test_no_retry_by_default(sim: Sim, receiver: Receiver, hook: dict[str, Any], dispatcher: Dispatcher) -> None:
    make_members(sim)
    sim.forum.settings[SETTING_RETRY_SCALE] = 0.001
    receiver.answers.extend([500, 500])
    new_topic(sim)
    settle(dispatcher)
    assert sorted(receiver.events()) == ["post_created", "topic_created"]
    assert dispatcher.retries_scheduled == 0


def test_retry_when_enabled_carries_a_new_event_id(sim: Sim, receiver: Receiver, hook: dict[str, Any],
                                                   dispatcher: Dispatcher) -> None:
    make_members(sim)
    topic = new_topic(sim)
    settle(dispatcher)
    receiver.clear()
    enabled = sim.http("system").put(f"{sim.url}/admin/site_settings/{SETTING_RETRY}.json",
                                     data={SETTING_RETRY: "true"})      # as an admin turns it on
    assert enabled.status_code == 200, enabled.text
    assert sim.forum.settings[SETTING_RETRY] is True
    sim.forum.settings[SETTING_RETRY_SCALE] = 0.001          # 1, 5, 25, 125 "minutes" of a millisecond each
    receiver.answers.extend([500, 502])
    reply(sim, topic["topic_id"])
    settle(dispatcher)
    received = receiver.wait_for(3)
    assert len(received) == 3
    assert len({r.event_id for r in received}) == 3
    assert len({r.body for r in received}) == 1
    assert all(verify(r) for r in received)
    log = sim.http("system").get(f"{sim.url}/admin/api/web_hooks/{hook['id']}/events.json").json()
    statuses = {row["id"]: row["status"] for row in log["web_hook_events"]}
    assert [statuses[r.event_id] for r in received] == [500, 502, 200]


def test_404_is_not_retried_even_when_retries_are_on(sim: Sim, receiver: Receiver, hook: dict[str, Any],
                                                     dispatcher: Dispatcher) -> None:
    make_members(sim)
    sim.forum.settings[SETTING_RETRY] = True
    sim.forum.settings[SETTING_RETRY_SCALE] = 0.001
    receiver.answers.extend([404, 410])
    new_topic(sim)
    settle(dispatcher)
    assert len(receiver.received) == 2
    assert dispatcher.retries_scheduled == 0


# ------------------------------------------------------------------------------------------- faults


def test_faults_are_off_by_default_and_validated(sim: Sim) -> None:
    anonymous = sim.http(None)
    faults = anonymous.get(f"{sim.url}/_sim/faults").json()
    assert [faults[k] for k in ("delay", "reorder", "duplicate", "drop")] == [0.0, 0.0, 0.0, 0.0]
    bad = anonymous.put(f"{sim.url}/_sim/faults", json={"drop": 1.5})
    assert bad.status_code == 400
    assert anonymous.put(f"{sim.url}/_sim/faults", json={"colour": 1}).status_code == 400
    assert anonymous.get(f"{sim.url}/_sim/faults").json()["drop"] == 0.0


def test_drop_is_logged_and_never_sent(sim: Sim, receiver: Receiver, hook: dict[str, Any],
                                       dispatcher: Dispatcher) -> None:
    make_members(sim)
    topic = new_topic(sim)
    settle(dispatcher)
    receiver.clear()
    assert sim.http(None).put(f"{sim.url}/_sim/faults", json={"drop": 1.0}).status_code == 200
    dropped = reply(sim, topic["topic_id"], raw="This reply's delivery is lost on the way.")
    settle(dispatcher)
    sim.http(None).put(f"{sim.url}/_sim/faults", json={"drop": 0.0})
    kept = reply(sim, topic["topic_id"], raw="This reply's delivery arrives as usual.")
    settle(dispatcher)
    assert [r.payload["post"]["id"] for r in receiver.received] == [kept["id"]]
    rows = sim.http("system").get(f"{sim.url}/admin/api/web_hooks/{hook['id']}/events.json").json()
    lost = [row for row in rows["web_hook_events"]
            if json.loads(row["payload"]).get("post", {}).get("id") == dropped["id"]]
    assert len(lost) == 1 and lost[0]["status"] == -1
    assert json.loads(lost[0]["response_headers"]) == {"error": DROPPED_ERROR}
    stats = sim.http(None).get(f"{sim.url}/_sim/stats").json()
    assert stats["deliveries"]["by_status"]["dropped"] == 1
    assert stats["deliveries"]["faults_applied"]["drop"] == 1


def test_duplicate_sends_the_same_event_id_twice(sim: Sim, receiver: Receiver, hook: dict[str, Any],
                                                 dispatcher: Dispatcher) -> None:
    make_members(sim)
    topic = new_topic(sim)
    settle(dispatcher)
    receiver.clear()
    sim.http(None).put(f"{sim.url}/_sim/faults", json={"duplicate": 1.0})
    reply(sim, topic["topic_id"])
    settle(dispatcher)
    first, second = receiver.wait_for(2)
    assert first.event_id == second.event_id
    assert first.body == second.body and first.headers == second.headers
    assert len(receiver.received) == 2


def test_delay_holds_a_delivery_until_its_time(sim: Sim, receiver: Receiver, hook: dict[str, Any],
                                               dispatcher: Dispatcher) -> None:
    make_members(sim)
    topic = new_topic(sim)
    settle(dispatcher)
    receiver.clear()
    sim.http(None).put(f"{sim.url}/_sim/faults", json={"delay": 1.0, "delay_seconds": [FAR_AWAY, FAR_AWAY]})
    reply(sim, topic["topic_id"])
    assert dispatcher.pending()["scheduled"] == 1
    assert not dispatcher.wait_idle(0.2)
    assert receiver.received == []
    sim.http(None).post(f"{sim.url}/_sim/clock", json={"advance_seconds": FAR_AWAY})
    assert [r.event for r in receiver.wait_for(1)] == ["post_created"]
    settle(dispatcher)


def test_reorder_sends_a_held_delivery_after_a_later_one(sim: Sim, receiver: Receiver, hook: dict[str, Any],
                                                         dispatcher: Dispatcher) -> None:
    make_members(sim)
    topic = new_topic(sim)
    settle(dispatcher)
    receiver.clear()
    dispatcher.configure_faults({"reorder": 1.0, "reorder_hold_seconds": FAR_AWAY})
    earlier = reply(sim, topic["topic_id"], raw="The earlier reply, held back on its way.")
    dispatcher.configure_faults({"reorder": 0.0})
    later = reply(sim, topic["topic_id"], raw="The later reply, which overtakes the first.")
    settle(dispatcher)
    received = receiver.wait_for(2)
    assert [r.payload["post"]["id"] for r in received] == [later["id"], earlier["id"]]
    assert received[0].event_id > received[1].event_id


def test_publishing_a_shared_draft_sends_topic_edited(sim: Sim, receiver: Receiver, hook: dict[str, Any],
                                                      dispatcher: Dispatcher) -> None:
    make_members(sim)
    drafts = sim.forum.create_category(name="Staff drafts", permissions={"staff": 1})
    destination = sim.forum.create_category(name="Amendments")
    sim.forum.settings["shared_drafts_category"] = drafts.id
    draft = sim.client("mod").create_post("The proposed new wording of the consent section.",
                                          title="Amendment: consent, first draft", category_id=destination.id,
                                          shared_draft="true")
    settle(dispatcher)
    created = next(r.payload["topic"] for r in receiver.received if r.event == "topic_created")
    assert created["category_id"] == drafts.id
    assert (created["is_shared_draft"], created["destination_category_id"]) == (True, destination.id)
    receiver.clear()
    answer = sim.http("mod").put(f"{sim.url}/t/{draft['topic_id']}/publish.json",
                                 data={"destination_category_id": destination.id})
    assert answer.status_code == 200, answer.text
    settle(dispatcher)
    assert receiver.events() == ["topic_edited"]
    published = receiver.received[0].payload["topic"]
    assert published["category_id"] == destination.id
    assert "is_shared_draft" not in published
