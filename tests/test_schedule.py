"""The weekly digest's schedule on RQ's own cron: when it fires (without waiting for Monday), what it enqueues,
that two schedulers enqueue one job, and the `scheduler` command."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
import redis
from rq import Queue
from rq.cron import CronScheduler
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from plugin.config import ConfigError, Settings
from plugin.ops.demo import REPO_ROOT
from plugin.queues import JOB_POST_DIGEST, QUEUE_DIGEST, RETRY_FOR_QUEUE
from plugin.ops.processes import stop_process, wait_until
from plugin.domain.names import CRON_DIGEST as CRON_NAME, CRON_RECONCILE as RECONCILE_CRON_NAME
from worker.schedule import (GRACE, DigestCron, build_scheduler,
                             digest_cron_expression)

UTC = timezone.utc


def settings(**values: str) -> Settings:
    return Settings.from_env({f"COC_{k.upper()}": v for k, v in values.items()}, dotenv=False)


def next_after(cron: DigestCron, moment: datetime) -> datetime:
    """When the schedule fires next after a run at `moment` (as rq computes it after each enqueue)."""
    cron.set_enqueue_time(moment)
    assert cron.next_enqueue_time is not None
    return cron.next_enqueue_time


def test_the_cron_expression_is_mondays_at_the_digest_time() -> None:
    assert digest_cron_expression(settings()) == "0 9 * * 1"
    assert digest_cron_expression(settings(digest_time="7:45")) == "45 7 * * 1"
    with pytest.raises(ConfigError, match="COC_DIGEST_TIME"):
        DigestCron(settings(digest_time="nine"))
    with pytest.raises(ConfigError, match="COC_TIMEZONE"):
        DigestCron(settings(timezone="Europe/Atlantis"))


def test_next_run_in_utc_is_the_coming_monday_at_nine() -> None:
    cron = DigestCron(settings())
    wednesday = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
    assert next_after(cron, wednesday) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    # fired on Monday at nine: the next one is a week later, not the same minute again
    assert next_after(cron, datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC)) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    # early on Monday: later that day
    assert next_after(cron, datetime(2026, 11, 23, 8, 59, tzinfo=UTC)) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_next_run_follows_the_local_clock_across_daylight_saving_time() -> None:
    cron = DigestCron(settings(timezone="Europe/Berlin", digest_time="09:30"))
    # Berlin is UTC+1 in winter: 09:30 local is 08:30 UTC
    assert next_after(cron, datetime(2026, 3, 18, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 23, 8, 30, tzinfo=UTC)
    # clocks go forward on Sunday 29 March 2026: the next Monday's 09:30 is 07:30 UTC
    assert next_after(cron, datetime(2026, 3, 23, 8, 31, tzinfo=UTC)) == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    # and back on Sunday 25 October 2026
    assert next_after(cron, datetime(2026, 10, 20, 0, 0, tzinfo=UTC)) == datetime(2026, 10, 26, 8, 30, tzinfo=UTC)


def test_next_run_in_a_zone_ahead_of_utc_comes_on_sunday_utc() -> None:
    cron = DigestCron(settings(timezone="Pacific/Auckland"))
    # Auckland is UTC+13 in November: Monday 09:00 there is Sunday 20:00 UTC
    assert next_after(cron, datetime(2026, 11, 18, 0, 0, tzinfo=UTC)) == datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


def test_a_new_scheduler_fires_at_the_next_monday_not_at_once() -> None:
    cron = DigestCron(settings())
    assert cron.latest_enqueue_time is None and not cron.should_run()
    first = cron.next_enqueue_time
    assert first is not None and first.weekday() == 0 and (first.hour, first.minute) == (9, 0)
    assert timedelta(0) < first - datetime.now(UTC) <= timedelta(days=7)


def test_the_job_is_the_digest_of_the_week_just_completed_through_the_json_serializer(redis_conn: redis.Redis) -> None:
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    job = DigestCron(settings()).enqueue(redis_conn, at=monday)
    queue = Queue(QUEUE_DIGEST, connection=redis_conn, serializer=JSONSerializer)
    assert queue.job_ids == ["coc-digest-2026-W47"] == [job.id]
    stored = queue.fetch_job(job.id)
    assert stored is not None
    assert stored.func_name == JOB_POST_DIGEST and stored.args == ["2026-W47"]
    assert stored.retries_left == RETRY_FOR_QUEUE[QUEUE_DIGEST].max
    assert redis_conn.zscore("rq:cron_jobs", CRON_NAME) == monday.timestamp()
    assert redis_conn.zrange(f"rq:cron_job:{CRON_NAME}:jobs", 0, -1) == [b"coc-digest-2026-W47"]


def test_two_schedulers_enqueue_one_job(redis_conn: redis.Redis) -> None:
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    first = DigestCron(settings()).enqueue(redis_conn, at=monday)
    second = DigestCron(settings()).enqueue(redis_conn, at=monday + timedelta(seconds=2))
    assert first.id == second.id
    assert Queue(QUEUE_DIGEST, connection=redis_conn, serializer=JSONSerializer).job_ids == [first.id]


def test_before_the_week_is_over_in_utc_the_job_waits_for_it(redis_conn: redis.Redis) -> None:
    """Monday 09:00 in Auckland is Sunday 20:00 UTC: the job is scheduled for the end of the UTC week + grace."""
    sunday_evening = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    job = DigestCron(settings(timezone="Pacific/Auckland")).enqueue(redis_conn, at=sunday_evening)
    assert job.id == "coc-digest-2026-W47"
    assert Queue(QUEUE_DIGEST, connection=redis_conn, serializer=JSONSerializer).job_ids == []
    registry = ScheduledJobRegistry(QUEUE_DIGEST, connection=redis_conn, serializer=JSONSerializer)
    assert registry.get_job_ids() == [job.id]
    assert registry.get_scheduled_time(job.id) == datetime(2026, 11, 23, tzinfo=UTC) + GRACE
    again = DigestCron(settings(timezone="Pacific/Auckland")).enqueue(redis_conn, at=sunday_evening)
    assert again.id == job.id and registry.get_job_ids() == [job.id]


def test_rq_cron_enqueues_the_digest_when_it_is_due(redis_conn: redis.Redis) -> None:
    scheduler = build_scheduler(redis_conn, settings(reconcile_minutes="0"))
    [cron] = scheduler.get_jobs()
    assert isinstance(cron, DigestCron) and cron.name == CRON_NAME and cron.queue_name == QUEUE_DIGEST
    assert scheduler.enqueue_jobs() == []                       # not Monday 09:00 yet (it is in the future)
    cron.next_enqueue_time = datetime.now(UTC) - timedelta(seconds=1)
    assert scheduler.enqueue_jobs() == [cron]                   # what rq's loop does when the time has come
    ids = Queue(QUEUE_DIGEST, connection=redis_conn, serializer=JSONSerializer).job_ids
    scheduled = ScheduledJobRegistry(QUEUE_DIGEST, connection=redis_conn, serializer=JSONSerializer).get_job_ids()
    assert len(ids + scheduled) == 1 and (ids + scheduled)[0].startswith("coc-digest-")
    assert cron.next_enqueue_time is not None and cron.next_enqueue_time > datetime.now(UTC)


def test_the_scheduler_command_runs_rq_cron_until_stopped(redis_url: str, redis_conn: redis.Redis) -> None:
    other = build_scheduler(redis_conn, settings())
    other.register_birth()                                      # a scheduler already running elsewhere
    env = {**os.environ, "REDIS_URL": redis_url, "COC_TIMEZONE": "Europe/Berlin", "COC_DIGEST_TIME": "08:15"}
    with subprocess.Popen([sys.executable, "-m", "plugin", "scheduler"], cwd=REPO_ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith(f"{CRON_NAME}: next at ") and line.rstrip().endswith(
                "UTC (08:15 on Mondays, Europe/Berlin)"), line

            def registered() -> bool:
                return any(s.name != other.name and {j.name for j in s.get_jobs()} == {CRON_NAME, RECONCILE_CRON_NAME}
                           for s in CronScheduler.all(redis_conn))
            assert wait_until(registered, timeout=30)
        finally:
            code = stop_process(process)
        stderr = process.stderr.read() if process.stderr else ""
    assert code == 0, stderr
    assert f"another scheduler runs the digest ({other.name}); run exactly one" in stderr, (line, stderr)
    assert [s.name for s in CronScheduler.all(redis_conn)] == [other.name]     # it left the registry on SIGTERM
