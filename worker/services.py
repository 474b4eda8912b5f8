"""What a job needs, built once per worker process from the environment: settings, Redis, the store, the forum."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import redis
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer

from plugin.adapters.budget import ApiBudget
from plugin.adapters.engagement_store import Engagement
from plugin.adapters.forum import Forum
from plugin.adapters.intake import Intake
from plugin.adapters.keys import Keys
from plugin.adapters.redis import connect
from plugin.adapters.store import Store
from plugin.config import Settings
from plugin.queues import RETRY_FOR_QUEUE


@dataclass
class Services:
    settings: Settings
    connection: redis.Redis
    keys: Keys = field(init=False)
    store: Store = field(init=False)

    def __post_init__(self) -> None:
        self.keys = Keys(self.settings.redis_prefix)
        self.store = Store(self.connection, self.keys)

    @cached_property
    def engagement(self) -> Engagement:
        return Engagement(self.connection, self.keys, bot_username=self.settings.bot_username)

    @cached_property
    def forum(self) -> Forum:
        return Forum(self.settings, budget=ApiBudget.for_settings(self.connection, self.settings))

    @cached_property
    def intake(self) -> Intake:
        """The receiver's own intake: `reconcile` feeds what it finds through it, as a webhook would be."""
        return Intake(
            self.connection,
            keys=self.keys,
            dedupe_ttl=self.settings.dedupe_ttl,
            job_timeout=self.settings.job_timeout,
            bot_username=self.settings.bot_username,
        )

    def queue(self, name: str) -> Queue:
        return Queue(name, connection=self.connection, serializer=JSONSerializer)

    def enqueue(self, queue: str, func: str, *args: Any, job_id: str) -> None:
        """Enqueue once per `job_id` while that job is known to RQ (duplicates are dropped, not errors), with the
        queue's retry policy: a job whose worker died is retried by RQ's maintenance only while it has retries."""
        with contextlib.suppress(DuplicateJobError):
            self.queue(queue).enqueue(
                func,
                *args,
                job_id=job_id,
                unique=True,
                retry=RETRY_FOR_QUEUE[queue],
                job_timeout=self.settings.job_timeout,
            )

    def schedule(self, queue: str, func: str, *args: Any, at: datetime, job_id: str) -> None:
        """Run a job at `at` (RQ's scheduled jobs live in Redis: they survive every worker's restart), with the
        queue's retry policy. Scheduling the same `job_id` again only moves it."""
        self.queue(queue).enqueue_at(
            at, func, *args, job_id=job_id, retry=RETRY_FOR_QUEUE[queue], job_timeout=self.settings.job_timeout
        )


_current: Services | None = None


def services() -> Services:
    """The process's services, built from the environment on first use."""
    global _current
    if _current is None:
        settings = Settings.from_env()
        _current = Services(settings, connect(settings, health_check_interval=30))
    return _current


def reset() -> None:
    """Forget the process's services (tests that change the environment between in-process workers)."""
    global _current
    _current = None
