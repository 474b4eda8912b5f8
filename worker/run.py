"""The bodies of the two long-running worker processes: an RQ worker, and the one cron scheduler."""

from __future__ import annotations

import sys

from rq.serializers import JSONSerializer

from plugin.adapters.redis import connect
from plugin.config import Settings
from plugin.queues import QUEUES
from worker.reliable import ReliableSimpleWorker, ReliableWorker
from worker.schedule import build_scheduler, other_schedulers


def work(settings: Settings, *, burst: bool = False, simple: bool = False) -> None:
    """One RQ worker on every queue, highest priority first, with RQ's scheduler for retries and deferrals."""
    import worker.jobs  # noqa: F401, PLC0415  (imported once here, not again in every forked work horse)

    connection = connect(settings, health_check_interval=30)
    # RQ finds a job whose worker died (its heartbeat expired: job monitoring interval + 60 s) in a worker's
    # maintenance pass, every 10 minutes by default, and that pass also takes over the scheduler (retries!) of a
    # worker that died. An idle worker only gets to it when its wait for a job ends (worker_ttl - 15 s, 405 s by
    # default): both follow COC_WORKER_MAINTENANCE_SECONDS, so that recovery takes minutes, not an hour.
    every = settings.worker_maintenance_seconds
    worker_class = ReliableSimpleWorker if simple else ReliableWorker
    rq_worker = worker_class(
        list(QUEUES),
        connection=connection,
        serializer=JSONSerializer,
        maintenance_interval=every,
        worker_ttl=every + 15,
    )
    rq_worker.work(with_scheduler=True, burst=burst)


def run_scheduler(settings: Settings) -> None:
    """RQ's cron scheduler with the weekly digest and reconcile passes, until stopped (SIGINT or SIGTERM)."""
    connection = connect(settings, health_check_interval=30)
    scheduler = build_scheduler(connection, settings)
    for other in other_schedulers(connection, scheduler):
        print(
            f"warning: another scheduler runs the digest ({other.name}); run exactly one — the digest is still "
            "posted once per week",
            file=sys.stderr,
        )
    for job in scheduler.get_jobs():
        if job.interval:
            print(f"{job.name}: every {job.interval // 60} minutes, the first now", flush=True)
        else:
            print(
                f"{job.name}: next at {job.next_enqueue_time:%Y-%m-%d %H:%M} UTC "
                f"({settings.digest_time} on Mondays, {settings.timezone})",
                flush=True,
            )
    scheduler.start()
