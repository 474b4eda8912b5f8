"""The sans-I/O core: Discourse's deliveries (the reference samples) in, typed events or specific errors out."""
from __future__ import annotations

import json
from dataclasses import fields

import pytest

from plugin.domain.safety import asks_for_care, mentions_direct_support
from plugin.domain.events import (POST_API_ONLY, BadDelivery, InvalidSignature, LikeEvent, PingEvent, Post, PostEvent,
                           TopicEvent, event_from_job, parse_delivery, sign, verify_signature)
from tests.reference import reference_dir

SAMPLE_SECRET = "test-webhook-secret-0123"   # the secret the reference samples are signed with (FACTS.md)


def sample(name: str) -> tuple[dict[str, str], bytes]:
    folder = reference_dir() / "webhook_samples"
    headers = json.loads((folder / f"{name}.headers.json").read_text())
    return headers, (folder / f"{name}.body.json").read_bytes()


def resigned(headers: dict[str, str], body: bytes, secret: str = SAMPLE_SECRET) -> dict[str, str]:
    return {**headers, "X-Discourse-Event-Signature": sign(body, secret), "Content-Length": str(len(body))}


def test_discourse_signature_test_vector() -> None:
    vector = json.loads((reference_dir() / "webhook_samples" / "signature_test_vector.json").read_text())
    body = vector["body"].encode()
    assert len(body) == vector["content_length"]
    assert sign(body, vector["secret"]) == vector["expected_signature_header"]
    verify_signature(body, signature=vector["expected_signature_header"], secret=vector["secret"])
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(body + b" ", signature=vector["expected_signature_header"], secret=vector["secret"])


def test_post_created_sample_is_typed() -> None:
    event = parse_delivery(*sample("post_created"), secret=SAMPLE_SECRET)
    body = json.loads(sample("post_created")[1])["post"]
    assert isinstance(event, PostEvent)
    assert (event.delivery.event_id, event.name, event.delivery.event_type) == ("31001", "post_created", "post")
    assert event.delivery.instance == "https://forum.example.com"
    assert (event.post.id, event.post.topic_id, event.post.post_number) == (body["id"], body["topic_id"], 3)
    assert event.post.raw == body["raw"] and event.post.username == "bob" and event.post.user_id == 42
    assert event.post.reply_to_post_number == 2 and event.post.reply_to_username == "alice"
    assert not event.private and not asks_for_care(event, "coc-bot")


def test_post_edited_and_liked_samples() -> None:
    edited = parse_delivery(*sample("post_edited"), secret=SAMPLE_SECRET)
    assert isinstance(edited, PostEvent) and edited.post.version == 2 and edited.post.edit_reason == "add RQ version"
    liked = parse_delivery(*sample("post_liked"), secret=SAMPLE_SECRET)
    assert isinstance(liked, LikeEvent)
    assert (liked.post.id, liked.liker_id, liked.liker_username) == (98765, 7, "alice")


@pytest.mark.parametrize("name", ["topic_edited", "topic_edited.tags_as_objects"])
def test_topic_tags_read_in_both_shapes(name: str) -> None:
    event = parse_delivery(*sample(name), secret=SAMPLE_SECRET)
    assert isinstance(event, TopicEvent)
    assert event.topic.tags == ("python", "redis", "rq")
    assert event.topic.category_id == 9 and event.topic.id == 1234


def test_both_tag_shapes_are_the_same_fact() -> None:
    names = parse_delivery(*sample("topic_edited"), secret=SAMPLE_SECRET)
    objects = parse_delivery(*sample("topic_edited.tags_as_objects"), secret=SAMPLE_SECRET)
    assert names.identity() == objects.identity()


def test_topic_created_and_ping() -> None:
    created = parse_delivery(*sample("topic_created"), secret=SAMPLE_SECRET)
    assert isinstance(created, TopicEvent) and created.topic.tags == ("python", "rq") and created.topic.user_id == 7
    assert isinstance(parse_delivery(*sample("ping"), secret=SAMPLE_SECRET), PingEvent)


@pytest.mark.parametrize("name", ["post_created", "post_edited", "post_liked", "topic_created", "topic_edited"])
def test_job_round_trip_through_json(name: str) -> None:
    event = parse_delivery(*sample(name), secret=SAMPLE_SECRET)
    assert event_from_job(json.loads(json.dumps(event.to_job()))) == event


def test_a_job_carries_the_post_fields_a_worker_one_release_older_reads() -> None:
    """Post's API-only fields stay out of jobs, so that new receivers and old workers can run side by side."""
    event = parse_delivery(*sample("post_created"), secret=SAMPLE_SECRET)
    assert isinstance(event, PostEvent)
    job_post = event.to_job()["post"]
    assert not set(POST_API_ONLY) & set(job_post)
    assert set(job_post) == {f.name for f in fields(Post)} - set(POST_API_ONLY)


def test_identity_survives_a_retry_with_a_new_event_id() -> None:
    headers, body = sample("post_created")
    first = parse_delivery(headers, body, secret=SAMPLE_SECRET)
    retry = parse_delivery({**headers, "X-Discourse-Event-Id": "99999"}, body, secret=SAMPLE_SECRET)
    assert first.identity() == retry.identity()
    assert first.delivery.event_id != retry.delivery.event_id


def test_edit_is_a_new_fact() -> None:
    created = parse_delivery(*sample("post_created"), secret=SAMPLE_SECRET)
    edited = parse_delivery(*sample("post_edited"), secret=SAMPLE_SECRET)
    assert created.identity() != edited.identity()


def test_whisper_and_pm_are_marked_private() -> None:
    headers, body = sample("post_created")
    for change in ({"post_type": 4}, {"topic_archetype": "private_message"}):
        payload = json.loads(body)
        payload["post"].update(change)
        raw = json.dumps(payload, separators=(",", ":")).encode()
        event = parse_delivery(resigned(headers, raw), raw, secret=SAMPLE_SECRET)
        assert event.private, change


@pytest.mark.parametrize("text, expected", [
    ("I need DIRECT SUPPORT please", True), ("direct\nsupport", True), ("Direct  Support.", True),
    ("indirect supporters", False), ("direct supportive", False), ("support, direct", False), ("", False),
    ('[quote="mod, post:1, topic:3"]\nWrite "direct support" to reach the team.\n[/quote]\nThanks!', False),
    ("> write direct support\nthat is kind", False), ("`direct support`", False),
    ('[quote="a, post:1, topic:3"]x[/quote] I need direct support', True),
])
def test_direct_support_is_a_phrase(text: str, expected: bool) -> None:
    assert mentions_direct_support(text) is expected


# ---------------------------------------------------------------------------------------------- bad input


def test_missing_malformed_and_wrong_signatures() -> None:
    headers, body = sample("post_created")
    no_sig = {k: v for k, v in headers.items() if k != "X-Discourse-Event-Signature"}
    with pytest.raises(InvalidSignature, match="missing"):
        parse_delivery(no_sig, body, secret=SAMPLE_SECRET)
    with pytest.raises(InvalidSignature, match="malformed"):
        parse_delivery({**headers, "X-Discourse-Event-Signature": "sha1=abc"}, body, secret=SAMPLE_SECRET)
    with pytest.raises(InvalidSignature, match="does not match"):
        parse_delivery(headers, body, secret="another-secret-of-length")
    with pytest.raises(InvalidSignature, match="does not match"):
        parse_delivery(headers, body.replace(b"bob", b"eve"), secret=SAMPLE_SECRET)


def test_no_secret_fails_closed() -> None:
    headers, body = sample("ping")
    with pytest.raises(ValueError, match="no webhook secret"):
        parse_delivery(headers, body, secret="")


@pytest.mark.parametrize("body, message", [
    (b"not json", "not JSON"), (b"\xff\xfe", "not JSON"), (b"[1, 2]", "root key"),
    (b'{"topic": {}}', "root key"), (b'{"post": {}, "extra": 1}', "root key"),
    (b'{"post": {"id": "x"}}', "malformed"), (b'{"post": []}', "malformed"),
])
def test_malformed_bodies(body: bytes, message: str) -> None:
    headers = resigned(sample("post_created")[0], body)
    with pytest.raises(BadDelivery, match=message):
        parse_delivery(headers, body, secret=SAMPLE_SECRET)


def test_missing_event_headers() -> None:
    headers, body = sample("post_created")
    for missing in ("X-Discourse-Event", "X-Discourse-Event-Type", "X-Discourse-Event-Id"):
        partial = {k: v for k, v in headers.items() if k != missing}
        with pytest.raises(BadDelivery, match=missing):
            parse_delivery(partial, body, secret=SAMPLE_SECRET)


def test_event_of_the_wrong_type_group() -> None:
    headers, body = sample("post_created")
    wrong = {**headers, "X-Discourse-Event": "topic_created"}
    with pytest.raises(BadDelivery, match="does not belong"):
        parse_delivery(wrong, body, secret=SAMPLE_SECRET)
