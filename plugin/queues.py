"""The one home of the work queues: their names and priority, each job's import path, and the retry policy.

Jobs are named by import path (`worker.jobs.<name>`), so the receiver and the scheduler enqueue them without
importing the worker. Modelled on RQ's own `defaults.py`: plain names and numbers, no logic.
"""

from __future__ import annotations

from rq import Retry

QUEUE_CARE, QUEUE_EVENTS, QUEUE_DRAFTS, QUEUE_DIGEST = "care", "events", "drafts", "digest"
QUEUES = (QUEUE_CARE, QUEUE_EVENTS, QUEUE_DRAFTS, QUEUE_DIGEST)
"""Queue names, highest priority first: a worker listens on them in this order."""

JOBS = "worker.jobs"
JOB_HANDLE_EVENT = f"{JOBS}.handle_event"
JOB_HANDLE_CARE = f"{JOBS}.handle_care"
JOB_DRAFT = f"{JOBS}.draft"
JOB_DECIDE = f"{JOBS}.decide"
JOB_ANSWER_PROBLEMS = f"{JOBS}.answer_problems"
JOB_POST_DIGEST = f"{JOBS}.post_digest"
JOB_RECONCILE = f"{JOBS}.reconcile"
JOB_CARE_TIMER = f"{JOBS}.care_timer"
JOB_CARE_SUMMARY = f"{JOBS}.care_summary"

JOB_FOR_QUEUE = {QUEUE_CARE: JOB_HANDLE_CARE, QUEUE_EVENTS: JOB_HANDLE_EVENT}
"""The job function each intake queue runs."""

RETRY_FOR_QUEUE = {
    QUEUE_CARE: Retry(max=10, interval=[2, 5, 10, 30, 60]),
    QUEUE_EVENTS: Retry(max=5, interval=[5, 30, 60, 300]),
    QUEUE_DRAFTS: Retry(max=5, interval=[5, 30, 60, 300]),
    QUEUE_DIGEST: Retry(max=5, interval=[60, 300, 900]),
}
"""Care is retried first and soonest; a job whose worker died is retried only while it has retries left."""

FAILURE_TTL = 30 * 24 * 3600
"""How long a failed job stays in RQ's failed registry for an operator to see and requeue."""
