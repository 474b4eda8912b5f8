"""The cron schedule: RQ's own `rq.cron` enqueues the weekly digest every Monday at COC_DIGEST_TIME in COC_TIMEZONE
(and, beside it on the care queue, the care group's private summary of the same week: worker/care_summary.py),
and a reconcile pass (worker/reconcile.py) every COC_RECONCILE_MINUTES.

`python -m plugin scheduler` runs it. Run exactly one: `rq.cron` has no leader election, so two schedulers would
both enqueue. That stays harmless — the job id is per week (`coc-digest-<week>`, enqueued with `unique=True`) and
the job itself posts once per week — but one is all it takes.

`DigestCron` is rq's `CronJob` with three changes, each because the stock one does not fit this service:
- the cron expression is read in COC_TIMEZONE (rq reads it in UTC), daylight saving time included;
- the job goes through RQ's JSON serializer with the digest queue's `Retry` policy (rq's CronJob uses the default
  pickle serializer, which the service's JSON workers cannot read);
- the job carries the week it is for, named when it is enqueued, and waits (RQ's `enqueue_at`) until that week
  is over in UTC, when a zone far east of UTC reaches Monday morning before UTC does.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from croniter import croniter
from redis import Redis
from rq import Queue, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.exceptions import DuplicateJobError
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.utils import now as utcnow

from plugin.config import Settings, digest_clock, digest_zone
from plugin.domain.engagement import last_completed_week, week_bounds
from plugin.domain.names import CRON_DIGEST, CRON_RECONCILE, care_summary_id, digest_external_id, reconcile_job_id
from plugin.queues import JOB_CARE_SUMMARY, JOB_POST_DIGEST, JOB_RECONCILE, QUEUE_CARE, QUEUE_DIGEST, RETRY_FOR_QUEUE

log = logging.getLogger("worker.schedule")

MONDAY = 1
"""Monday in a cron expression's day-of-week field."""
GRACE = timedelta(hours=1)
"""After a week ends in UTC, how long late webhooks are waited for before its figures are frozen, when the
schedule fires before that (COC_DIGEST_TIME on Monday is normally hours later)."""


def digest_cron_expression(settings: Settings) -> str:
    """ "MM HH * * 1" from COC_DIGEST_TIME; ConfigError if it is not a time of day."""
    hour, minute = digest_clock(settings.digest_time)
    return f"{minute} {hour} * * {MONDAY}"


class DigestCron(CronJob):
    """The weekly digest as an `rq.cron` job: see the module's docstring for how it differs from rq's CronJob."""

    def __init__(self, settings: Settings):
        self.zone = digest_zone(settings.timezone)
        super().__init__(
            queue_name=QUEUE_DIGEST,
            func_name=JOB_POST_DIGEST,
            cron=digest_cron_expression(settings),
            job_timeout=settings.job_timeout,
            name=CRON_DIGEST,
        )
        self.next_enqueue_time = self.get_next_enqueue_time()

    def get_next_enqueue_time(self) -> datetime:
        """The first Monday at COC_DIGEST_TIME in COC_TIMEZONE after the latest run (or now), in UTC."""
        assert self.cron is not None
        after = (self.latest_enqueue_time or utcnow()).astimezone(self.zone)
        return croniter(self.cron, after).get_next(datetime).astimezone(UTC)

    def enqueue(self, connection: Redis, *, at: datetime | None = None) -> Job:
        """Enqueue the digest of the week completed at `at` (default: now), once per week, and record it in RQ's
        cron history as rq's own CronJob does."""
        moment = at or utcnow()
        week = last_completed_week(moment, self.zone)
        job = self.enqueue_week(connection, self.queue_name, self.func_name, digest_external_id(week), week, moment)
        # the care group's private summary of the same week: its own job on the care queue, so that it neither
        # waits for the public digest nor fails with it
        self.enqueue_week(connection, QUEUE_CARE, JOB_CARE_SUMMARY, care_summary_id(week), week, moment)
        record_in_history(connection, self, job, moment)
        log.info("enqueued the digest of %s on %s and its care summary on %s", week, self.queue_name, QUEUE_CARE)
        return job

    def enqueue_week(
        self, connection: Redis, queue_name: str, func_name: str, job_id: str, week: str, moment: datetime
    ) -> Job:
        """Enqueue the job of `week` once (`job_id` names the week); before the week is over in UTC (and GRACE),
        schedule it for then."""
        queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
        options = dict(job_id=job_id, retry=RETRY_FOR_QUEUE[queue_name], **self.job_options)
        earliest = week_bounds(week)[1] + GRACE
        try:
            if moment < earliest:
                job = queue.create_job(func_name, args=(week,), timeout=options.pop("job_timeout", None), **options)
                queue.schedule_job(job, earliest, unique=True)
            else:
                job = queue.enqueue(func_name, week, unique=True, **options)
        except DuplicateJobError:
            log.info("%s already enqueued (another scheduler, or this one restarted)", job_id)
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        return job


class ReconcileCron(CronJob):
    """A reconcile pass every COC_RECONCILE_MINUTES, through RQ's JSON serializer, once per interval: the job id
    names the interval, so a second scheduler (or a restarted one) adds nothing."""

    def __init__(self, settings: Settings):
        super().__init__(
            queue_name=QUEUE_DIGEST,
            func_name=JOB_RECONCILE,
            interval=settings.reconcile_minutes * 60,
            job_timeout=settings.job_timeout,
            name=CRON_RECONCILE,
        )

    def enqueue(self, connection: Redis, *, at: datetime | None = None) -> Job:
        moment = at or utcnow()
        assert self.interval
        job_id = reconcile_job_id(int(moment.timestamp()) // self.interval)
        queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
        try:
            job = queue.enqueue(
                self.func_name, job_id=job_id, unique=True, retry=RETRY_FOR_QUEUE[QUEUE_DIGEST], **self.job_options
            )
        except DuplicateJobError:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        record_in_history(connection, self, job, moment)
        return job


def record_in_history(connection: Redis, cron_job: CronJob, job: Job, moment: datetime) -> None:
    """What rq's own CronJob.enqueue records: the job in the cron job's history, the cron job in the registry."""
    with connection.pipeline() as pipe:
        pipe.zadd(cron_job.job_history_key, {job.id: moment.timestamp()})
        pipe.zremrangebyrank(cron_job.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
        pipe.expire(cron_job.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
        cron_job_registry.add(cron_job.name, pipe, enqueue_timestamp=moment.timestamp())
        pipe.execute()


class Scheduler(CronScheduler):
    """RQ's cron scheduler holding the service's cron jobs."""

    def add(self, cron_job: CronJob) -> CronJob:
        """Register a ready-made CronJob (rq's `register` builds a plain one from a function)."""
        self._cron_jobs.append(cron_job)
        return cron_job


def build_scheduler(connection: Redis, settings: Settings) -> Scheduler:
    """The scheduler `python -m plugin scheduler` runs: the weekly digest and, unless COC_RECONCILE_MINUTES is 0,
    a reconcile pass every COC_RECONCILE_MINUTES."""
    scheduler = Scheduler(connection=connection)
    scheduler.add(DigestCron(settings))
    if settings.reconcile_minutes:
        scheduler.add(ReconcileCron(settings))
    return scheduler


def other_schedulers(connection: Redis, scheduler: CronScheduler) -> list[CronScheduler]:
    """Live cron schedulers other than `scheduler` that run the digest (there should be none)."""
    return [
        other
        for other in CronScheduler.all(connection)
        if other.name != scheduler.name and any(job.name == CRON_DIGEST for job in other.get_jobs())
    ]
