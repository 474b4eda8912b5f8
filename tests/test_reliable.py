"""A worker on several queues loses no job it took, whenever it dies (worker.reliable)."""
from __future__ import annotations

import time

import pytest
import redis
from rq import Queue, Retry
from rq.exceptions import DequeueTimeout
from rq.intermediate_queue import IntermediateQueue
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from worker.reliable import ReliableQueue, ReliableSimpleWorker


def queues(conn: redis.Redis, *names: str) -> list[Queue]:
    return [ReliableQueue(name, connection=conn, serializer=JSONSerializer) for name in names]


def test_a_worker_takes_the_first_job_of_the_first_non_empty_queue(redis_conn: redis.Redis) -> None:
    care, events = queues(redis_conn, "care", "events")
    first = events.enqueue("tests.test_reliable.echo", "event")
    urgent = care.enqueue("tests.test_reliable.echo", "care")
    taken = [ReliableQueue.dequeue_any([care, events], None, connection=redis_conn, serializer=JSONSerializer)
             for _ in range(3)]
    assert [(job.id, queue.name) for job, queue in taken[:2]] == [(urgent.id, "care"), (first.id, "events")]
    assert taken[2] is None                     # nothing left, and no wait in burst mode


def test_a_job_run_leaves_nothing_in_the_intermediate_list(redis_conn: redis.Redis) -> None:
    care, events = queues(redis_conn, "care", "events")
    job = events.enqueue("tests.test_reliable.echo", "hello")
    ReliableSimpleWorker([care, events], connection=redis_conn, serializer=JSONSerializer).work(
        burst=True, logging_level="ERROR")
    assert job.get_status(refresh=True) == JobStatus.FINISHED and job.return_value() == "hello"
    assert redis_conn.llen(events.intermediate_queue_key) == 0     # taken off it when recorded as started
    assert job.id not in events.started_job_registry


def test_a_job_whose_worker_died_after_taking_it_is_run_again_by_maintenance(redis_conn: redis.Redis) -> None:
    """RQ's own BLPOP on several queues would have lost this job: popped, then never recorded as started."""
    care, events = queues(redis_conn, "care", "events")
    job = events.enqueue("tests.test_reliable.echo", "kept", retry=Retry(max=2))
    ReliableQueue.dequeue_any([care, events], None, connection=redis_conn, serializer=JSONSerializer)
    # the worker dies here: the job is in no queue and not started, only in the intermediate list
    assert events.count == 0 and job.id not in events.started_job_registry
    assert redis_conn.lrange(events.intermediate_queue_key, 0, -1) == [job.id.encode()]

    survivor = ReliableSimpleWorker([care, events], connection=redis_conn, serializer=JSONSerializer)
    stuck = IntermediateQueue(events.key, connection=redis_conn)
    stuck.cleanup(survivor, events)             # a maintenance pass first notes the job ...
    assert stuck.get_job_ids() == [job.id]
    redis_conn.set(stuck.get_first_seen_key(job.id), time.time() - 120)   # ... and a pass minutes later
    stuck.cleanup(survivor, events)             # gives it back to its queue (it has retries left)
    assert stuck.get_job_ids() == [] and events.get_job_ids() == [job.id]

    ReliableSimpleWorker([care, events], connection=redis_conn, serializer=JSONSerializer).work(
        burst=True, logging_level="ERROR")
    assert job.get_status(refresh=True) == JobStatus.FINISHED and job.return_value() == "kept"


def test_an_idle_worker_waits_for_the_timeout_then_says_so(redis_conn: redis.Redis) -> None:
    care, events = queues(redis_conn, "care", "events")
    with pytest.raises(DequeueTimeout):
        ReliableQueue.dequeue_any([care, events], 1, connection=redis_conn, serializer=JSONSerializer)


def echo(value: str) -> str:
    return value
