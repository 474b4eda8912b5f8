"""Accepting an event: dedupe and enqueue in ONE atomic Redis step.

One Lua script (modelled on RQ's own `save_unique_job`) checks both dedupe keys — the delivery's Event-Id and the
payload's identity — and, only if neither is known, marks both with an expiry, saves the RQ job hash, pushes the job
on its queue and counts the delivery. A crash before the script leaves nothing; after it, everything. It costs one
round trip, the same as `Queue.enqueue`.

Routing: a post that asks for "direct support" goes to the `care` queue (highest priority), everything else to
`events`. Jobs carry the typed event as JSON (RQ's JSON serializer), never the raw request.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.utils import now, utcformat

from plugin.adapters.keys import Keys
from plugin.domain.events import Event, PostEvent, TopicEvent
from plugin.domain.safety import asks_for_care
from plugin.queues import FAILURE_TTL, JOB_FOR_QUEUE, QUEUE_CARE, QUEUE_EVENTS, QUEUES, RETRY_FOR_QUEUE

PER_JOB_FIELDS = frozenset({"data", "created_at", "enqueued_at", "description"})
"""RQ job hash fields that differ from one job to the next; the rest come from the queue's template."""

ACCEPTED, DUPLICATE = "accepted", "duplicate"

_ACCEPT_SCRIPT = """
-- KEYS[1] seen-delivery key, KEYS[2] seen-fact key, KEYS[3] job key, KEYS[4] queue key,
-- KEYS[5] the rq:queues set, KEYS[6] receiver stats hash
-- ARGV[1] dedupe TTL seconds, ARGV[2] job id, ARGV[3] stats field prefix,
-- ARGV[4] the queue's job template (JSON object of RQ job hash fields), ARGV[5..] the per-job field/value pairs
local earlier = redis.call("GET", KEYS[1]) or redis.call("GET", KEYS[2])
if earlier then
    redis.call("HINCRBY", KEYS[6], ARGV[3] .. "duplicate", 1)
    return {0, earlier}
end
local ttl = tonumber(ARGV[1])
redis.call("SET", KEYS[1], ARGV[2], "EX", ttl)
redis.call("SET", KEYS[2], ARGV[2], "EX", ttl)
local fields = {}
for name, value in pairs(cjson.decode(ARGV[4])) do
    fields[#fields + 1] = name
    fields[#fields + 1] = value
end
redis.call("HSET", KEYS[3], unpack(fields))
redis.call("HSET", KEYS[3], unpack(ARGV, 5))
redis.call("RPUSH", KEYS[4], ARGV[2])
redis.call("SADD", KEYS[5], KEYS[4])
redis.call("HINCRBY", KEYS[6], ARGV[3] .. "accepted", 1)
return {1, ARGV[2]}
"""


@dataclass(frozen=True)
class Outcome:
    status: str  # ACCEPTED or DUPLICATE
    queue: str
    job_id: str  # the job that carries the event (the earlier one, for a duplicate)


class Intake:
    """Turns typed events into RQ jobs, exactly once per delivery and per fact."""

    def __init__(self, connection: Redis, *, keys: Keys, dedupe_ttl: int, job_timeout: int, bot_username: str):
        self.connection = connection
        self.keys = keys
        self.dedupe_ttl = dedupe_ttl
        self.bot_username = bot_username.lower()
        self.job_timeout = job_timeout
        self.queues = {name: Queue(name, connection=connection, serializer=JSONSerializer) for name in QUEUES}
        self._templates: dict[str, str] = {}  # per queue, built on its first event (they read Redis's version)
        self._script = connection.register_script(_ACCEPT_SCRIPT)  # only hashes the script: no Redis call

    def route(self, event: Event) -> str:
        """The queue for an event: `care` for a member's "direct support" post and for anything in a care
        conversation (one Redis read, for private messages only), else `events`."""
        if asks_for_care(event, self.bot_username) or self.in_care_conversation(event):
            return QUEUE_CARE
        return QUEUE_EVENTS

    def knows(self, event: Event) -> bool:
        """Whether this fact was already accepted (by webhook or by reconcile), whatever its delivery."""
        return bool(self.connection.exists(self.keys.seen_fact(event.identity())))

    def in_care_conversation(self, event: Event) -> bool:
        """A post or status change in a care request's conversation (the member's or the team's), or in the
        conversation where the team changes the care messages' words (one round trip)."""
        if isinstance(event, PostEvent) and event.post.is_pm:
            topic_id = event.post.topic_id
        elif isinstance(event, TopicEvent) and event.topic.private:
            topic_id = event.topic.id
        else:
            return False
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.hexists(self.keys.care_conversations, str(topic_id))
            pipe.get(self.keys.care_wording_topic)
            of_a_request, wording_topic = pipe.execute()
        return bool(of_a_request) or wording_topic == str(topic_id).encode()

    def accept(self, event: Event) -> Outcome:
        """Dedupe and enqueue `event` atomically. Raises redis errors when Redis cannot take it."""
        queue = self.queues[self.route(event)]
        job_id, fields = self.job_fields(queue.name, event)
        accepted, kept_id = self._script(
            keys=[
                self.keys.seen_delivery(event.delivery.event_id),
                self.keys.seen_fact(event.identity()),
                Job.key_for(job_id),
                queue.key,
                Queue.redis_queues_keys,
                self.keys.receiver_stats,
            ],
            args=[self.dedupe_ttl, job_id, f"{event.name}:", self._template(queue.name), *fields],
        )
        return Outcome(ACCEPTED if accepted else DUPLICATE, queue.name, kept_id.decode())

    def job_fields(self, queue: str, event: Event) -> tuple[str, list[str | bytes]]:
        """A new job id and the fields of its RQ job hash that differ from the queue's template.

        The template — RQ's own `Job.create(...).to_dict()` with this queue's function, timeout and retry policy —
        is built once, on the queue's first event (not at start-up: the receiver starts while Redis is down), and
        handed to the script as one JSON string; per event only the serialized call, the description and the
        timestamps are new. `data` is stored uncompressed, which RQ reads as such
        (`Job.restore` falls back to the raw bytes). A test checks the result against RQ's own job hash.
        """
        stamp = utcformat(now())
        call = JSONSerializer.dumps((JOB_FOR_QUEUE[queue], None, (event.to_job(),), {}))
        return uuid.uuid4().hex, [
            "data",
            call,
            "created_at",
            stamp,
            "enqueued_at",
            stamp,
            "description",
            f"{event.name} {event.delivery.event_id}",
        ]

    def _template(self, queue: str) -> str:
        """The queue's job template, built on first use and kept (RedisError while Redis cannot be asked)."""
        template = self._templates.get(queue)
        if template is None:
            template = self._templates[queue] = self._job_template(queue, self.job_timeout)
        return template

    def _job_template(self, queue: str, job_timeout: int) -> str:
        job = Job.create(
            JOB_FOR_QUEUE[queue],
            connection=self.connection,
            serializer=JSONSerializer,
            timeout=job_timeout,
            retry=RETRY_FOR_QUEUE[queue],
            failure_ttl=FAILURE_TTL,
        )
        self.queues[queue]._prepare_for_queue(job)  # RQ 2.12: origin, timeout, status (and one INFO, cached)
        fixed = {
            name: value if isinstance(value, str) else str(value)
            for name, value in job.to_dict().items()
            if value is not None and name not in PER_JOB_FIELDS
        }
        return json.dumps(fixed)
