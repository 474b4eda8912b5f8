"""Property: whatever arrives, the receiver answers without a 5xx (Redis is up) and stores nothing unsigned."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.domain.events import sign
from plugin.queues import QUEUES
from tests.servers import serving
from tests.test_events import SAMPLE_SECRET, sample
from tests.test_receiver import PATH, settings_for
from webhooks.app import create_app

HEADER_TEXT = st.from_regex(r"[!-~]([ -~]{0,78}[!-~])?", fullmatch=True)   # what an HTTP client can send
EVENTS = st.sampled_from(["post_created", "post_edited", "post_liked", "topic_created", "topic_edited", "ping",
                          "user_created", "post_destroyed", "", "bogus"])
TYPES = st.sampled_from(["post", "topic", "like", "ping", "user", "", "POST"])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=12)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[dict[str, str], bytes, bool]:
    """Headers, a body, and whether it is correctly signed."""
    kind = draw(st.sampled_from(["sample", "json", "bytes", "encoded", "sized"]))
    if kind == "sample":
        headers, body = sample(draw(st.sampled_from(["post_created", "post_liked", "topic_edited", "ping"])))
        if draw(st.booleans()):
            payload = json.loads(body)
            root = next(iter(payload))
            payload[root] = draw(JSON_VALUES) if draw(st.booleans()) else payload[root]
            body = json.dumps(payload).encode()
    elif kind == "json":
        headers, body = {}, json.dumps({draw(TYPES): draw(JSON_VALUES)}).encode()
    elif kind == "encoded":                  # the right JSON in another encoding, or with a byte order mark
        headers, body = sample(draw(st.sampled_from(["post_created", "post_liked"])))
        encoding = draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "utf-8-sig", "cp1252"]))
        body = body.decode().encode(encoding, errors="replace")
    elif kind == "sized":                    # around the receiver's limit (4,096 bytes here) and far over it
        headers, _ = sample("post_created")
        size = draw(st.sampled_from([4095, 4096, 4097, 65_536, 1_000_000]))
        body = json.dumps({"post": {"raw": "x" * max(0, size - 20)}}).encode()[:size]
    else:
        headers, body = {}, draw(st.binary(max_size=300))
    headers = {**headers}
    for name, strategy in (("X-Discourse-Event", EVENTS), ("X-Discourse-Event-Type", TYPES),
                           ("X-Discourse-Event-Id", HEADER_TEXT), ("Content-Type", HEADER_TEXT)):
        if draw(st.booleans()):
            headers[name] = draw(strategy)
    signing = draw(st.sampled_from(["right", "wrong", "garbage", "none"]))
    headers.pop("X-Discourse-Event-Signature", None)
    headers.pop("Content-Length", None)
    if signing == "right":
        headers["X-Discourse-Event-Signature"] = sign(body, SAMPLE_SECRET)
    elif signing == "wrong":
        headers["X-Discourse-Event-Signature"] = sign(body, "some-other-secret-value")
    elif signing == "garbage":
        headers["X-Discourse-Event-Signature"] = draw(HEADER_TEXT)
    return headers, body, signing == "right"


@pytest.fixture(scope="module")
def receiver_url(redis_url: str) -> Iterator[str]:
    with serving(create_app(settings_for(redis_url, max_body_bytes=4096))) as served:
        yield served.url


def check_delivery(url: str, conn: redis.Redis, delivery: tuple[dict[str, str], bytes, bool]) -> int:
    """The property, for one delivery (bench/fuzz_receiver.py runs it many more times): returns the status."""
    headers, body, signed = delivery
    conn.flushdb()
    response = requests.post(url + PATH, data=body, headers=headers, timeout=10)
    assert response.status_code in (200, 202, 400, 401, 413), (response.status_code, response.text)
    assert "error" in response.json() or response.status_code in (200, 202)
    stored = sum(conn.llen(f"rq:queue:{q}") for q in QUEUES)
    if not signed and len(body) <= 4096:
        assert response.status_code == 401 and stored == 0
    if response.status_code != 202:
        assert stored == 0
    return response.status_code


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(delivery=deliveries())
def test_any_delivery_gets_a_clear_answer_and_unsigned_ones_store_nothing(
        receiver_url: str, redis_conn: redis.Redis, delivery: tuple[dict[str, str], bytes, bool]) -> None:
    check_delivery(receiver_url, redis_conn, delivery)
