"""RQ workers that never lose a job they took off a queue, while listening on several queues in priority order.

RQ moves a job atomically from its queue to the queue's *intermediate* list (LMOVE) only when a worker listens on
ONE queue; listening on several, it pops the job (BLPOP) and records it as started a moment later, so a worker killed
in between loses the job for good (rq/rq#1716) — the fault harness lost a member's post and a like that way. Here a
worker on several queues takes a job with one Lua script: the first job of the first non-empty queue, moved to that
queue's intermediate list; and it takes the job off that list in the same step (MULTI) that records it as started.
A job left in an intermediate list by a worker that died is retried by RQ's own maintenance pass
(`IntermediateQueue.cleanup`, a minute after a pass first sees it), as for a single-queue worker.

Blocking on several lists without popping is not something Redis offers, so an idle worker asks again every
`POLL_SECONDS` (one cheap script call); a job waits at most that long more than with BLPOP.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.exceptions import DequeueTimeout, NoSuchJobError
from rq.executions import Execution
from rq.job import Job
from rq.worker import BaseWorker, WorkerStatus

POLL_SECONDS = 0.1
"""How often an idle worker looks for a job."""

_TAKE_FIRST = """
-- KEYS[1..n] the queues, highest priority first; KEYS[n+1..2n] their intermediate lists
local n = #KEYS / 2
for i = 1, n do
    local job_id = redis.call("LMOVE", KEYS[i], KEYS[n + i], "LEFT", "RIGHT")
    if job_id then return {i - 1, job_id} end
end
return false
"""


class ReliableQueue(Queue):
    @classmethod
    def dequeue_any(
        cls,
        queues: Iterable[Queue],
        timeout: int | None,
        connection: Redis,
        job_class: type[Job] | None = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
    ) -> tuple[Job, Queue] | None:
        """The first job of the first non-empty queue, moved to that queue's intermediate list in the same step.
        `timeout` None: do not wait (burst mode); else wait up to `timeout` seconds, then DequeueTimeout."""
        queues = list(queues)
        take = connection.register_script(_TAKE_FIRST)
        keys = [q.key for q in queues] + [q.intermediate_queue_key for q in queues]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            taken = take(keys=keys)
            if taken:
                index, job_id = int(taken[0]), taken[1].decode()
                queue = queues[index]
                try:
                    return (job_class or queue.job_class).fetch(
                        job_id, connection=connection, serializer=serializer
                    ), queue
                except NoSuchJobError:
                    continue  # gone meanwhile; RQ's cleanup drops its id from the intermediate list
            if deadline is None:
                return None
            if time.monotonic() >= deadline:
                raise DequeueTimeout(timeout, keys[: len(queues)])
            time.sleep(POLL_SECONDS)


class ReliableDequeue(BaseWorker):
    """Mixin for RQ's Worker and SimpleWorker: dequeue through ReliableQueue, and take the job off its intermediate
    list in the same MULTI that records it as started (RQ's `prepare_execution` plus one LREM)."""

    queue_class = ReliableQueue

    def prepare_execution(self, job: Job) -> Execution:
        with self.connection.pipeline() as pipeline:
            execution = self.execution = Execution.create(
                job,
                self.get_heartbeat_ttl(job),
                pipeline=pipeline,
                worker_name=self.name,
            )
            self.set_state(WorkerStatus.BUSY, pipeline=pipeline)
            pipeline.lrem(
                Queue(job.origin, connection=self.connection).intermediate_queue_key,
                1,
                job.id,
            )
            pipeline.execute()
        return execution


class ReliableWorker(ReliableDequeue, Worker):
    """RQ's forking Worker, losing no dequeued job."""


class ReliableSimpleWorker(ReliableDequeue, SimpleWorker):
    """RQ's SimpleWorker (every job in the worker process), losing no dequeued job."""
