"""The intake's job hash is what RQ itself would write, and dedupe + enqueue is one atomic step."""
from __future__ import annotations

import zlib

import redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from plugin.domain.events import event_from_job, parse_delivery
from plugin.adapters.intake import Intake
from plugin.queues import FAILURE_TTL, JOB_FOR_QUEUE, QUEUE_EVENTS, RETRY_FOR_QUEUE
from plugin.adapters.keys import Keys
from tests.test_events import SAMPLE_SECRET, sample

VARYING = {b"created_at", b"enqueued_at"}


def intake(conn: redis.Redis) -> Intake:
    return Intake(conn, keys=Keys("coc-test:"), dedupe_ttl=60, job_timeout=90, bot_username="care-bot")


def test_job_hash_equals_rqs_own(redis_conn: redis.Redis) -> None:
    event = parse_delivery(*sample("post_created"), secret=SAMPLE_SECRET)
    outcome = intake(redis_conn).accept(event)
    ours = redis_conn.hgetall(Job.key_for(outcome.job_id))
    queue = Queue(QUEUE_EVENTS, connection=redis_conn, serializer=JSONSerializer)
    job = Job.create(JOB_FOR_QUEUE[QUEUE_EVENTS], args=(event.to_job(),), connection=redis_conn,
                     serializer=JSONSerializer, timeout=90, retry=RETRY_FOR_QUEUE[QUEUE_EVENTS],
                     failure_ttl=FAILURE_TTL, description=f"post_created {event.delivery.event_id}")
    queue._prepare_for_queue(job)
    rqs = {k.encode(): redis_conn.get_encoder().encode(v) for k, v in job.to_dict().items() if v is not None}
    rqs[b"data"] = zlib.decompress(rqs[b"data"])          # ours is stored uncompressed, which RQ reads as is
    assert set(ours) == set(rqs)
    assert {k: v for k, v in ours.items() if k not in VARYING} == {k: v for k, v in rqs.items() if k not in VARYING}


def test_accepted_job_reads_back_through_rq(redis_conn: redis.Redis) -> None:
    event = parse_delivery(*sample("topic_created"), secret=SAMPLE_SECRET)
    outcome = intake(redis_conn).accept(event)
    job = Job.fetch(outcome.job_id, connection=redis_conn, serializer=JSONSerializer)
    (data,) = job.args
    assert event_from_job(data) == event and job.func_name == JOB_FOR_QUEUE[QUEUE_EVENTS]
    assert job.timeout == 90 and job.failure_ttl == FAILURE_TTL and job.origin == QUEUE_EVENTS
    assert Queue(QUEUE_EVENTS, connection=redis_conn).job_ids == [outcome.job_id]


def test_nothing_is_half_written_when_the_fact_is_known(redis_conn: redis.Redis) -> None:
    first = parse_delivery(*sample("post_created"), secret=SAMPLE_SECRET)
    it = intake(redis_conn)
    it.accept(first)
    before = set(redis_conn.keys("*"))
    again = it.accept(first)
    assert again.status == "duplicate"
    assert set(redis_conn.keys("*")) == before           # no stray job hash, no extra queue entry
    assert redis_conn.llen("rq:queue:events") == 1
