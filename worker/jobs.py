"""RQ job functions: thin. Read the job's plain arguments, hand them to `worker.feedback` or `worker.amendments`.

The receiver enqueues `handle_event` and `handle_care` by import path (`plugin.adapters.intake.JOB_FOR_QUEUE`) with RQ's
JSON serializer: their one argument is the typed event as plain data (`Event.to_job()`). The forum may throttle
any call: a job then returns RQ's `Retry` to be run again after the forum's wait, instead of sleeping in the
worker (FACTS.md: pydiscourse would sleep).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any

from rq import Retry

from plugin.adapters.forum import ForumUnavailable, Throttled
from plugin.domain.events import Event, LikeEvent, PostEvent, TopicEvent, event_from_job
from worker import amendments, care, feedback
from worker import care_summary as care_week
from worker import digest as weekly_digest
from worker import reconcile as catch_up
from worker.services import services

log = logging.getLogger("worker.jobs")

DEFERRALS = 40
"""How many times a job is deferred (the forum throttled it, or was unavailable) before it counts as failed."""
UNAVAILABLE_WAITS = [5, 15, 30, 60, 120, 300]
"""Seconds before trying again after the forum was unavailable (5xx, a timeout), growing: 40 deferrals outlast
about three hours of outage."""


def deferring(job: Callable[..., str]) -> Callable[..., str | Retry]:
    """Turn the forum's "wait N seconds" into RQ's Retry(interval=N), and an unavailable forum (5xx, timeouts,
    connection errors) into a Retry with a growing wait: the worker moves on to other jobs meanwhile, and a long
    outage does not use up the few retries that RQ gives a job that failed."""

    @functools.wraps(job)
    def run(*args: Any) -> str | Retry:
        try:
            return job(*args)
        except Throttled as exc:
            # only this job waits: a per-user limit (scope "account") pauses nobody else, and the forum-wide
            # admin bucket's 429 has already paused the shared budget for every worker (plugin.adapters.forum)
            log.info("throttled", extra={"job": job.__name__, "retry_after": exc.retry_after, "scope": exc.scope})
            return Retry(max=DEFERRALS, interval=max(1, math.ceil(exc.retry_after)))
        except ForumUnavailable as exc:
            log.warning("forum unavailable", extra={"job": job.__name__, "error": str(exc)})
            return Retry(max=DEFERRALS, interval=UNAVAILABLE_WAITS)

    return run


def logged(event: Event, outcome: str) -> str:
    """One structured log line per event handled: what happened, with the delivery's event id (and the job id), and
    the post (and liker) it was about, so that one post's story can be read from the logs."""
    about: dict[str, int | str] = {}
    if isinstance(event, (PostEvent, LikeEvent)):
        about["post_id"] = event.post.id
    if isinstance(event, LikeEvent):
        about["liker"] = event.liker_username
    log.info(outcome, extra={"event": event.name, "event_id": event.delivery.event_id, **about})
    return outcome


@deferring
def handle_event(data: dict[str, Any]) -> str:
    """An ordinary forum event (`events` queue): update the Code of Care state.

    Events about a post that asked for direct support (a like, a later edit) are dropped here: a care post is
    never feedback, never counted.
    """
    s, event = services(), event_from_job(data)
    if isinstance(event, (PostEvent, LikeEvent)) and s.store.is_care_post(event.post.id):
        return logged(event, "care post: not counted")
    return logged(event, feedback.on_event(s, event))


@deferring
def handle_care(data: dict[str, Any]) -> str:
    """A member asking for direct support, or a post or status change in a care conversation (`care` queue).
    Such a post never feeds a draft or a digest."""
    event = event_from_job(data)
    assert isinstance(event, (PostEvent, TopicEvent)), "the receiver sends posts and topics to care (Intake.route)"
    return logged(event, care.handle(services(), event))


@deferring
def care_timer(request_id: int, timer: str) -> str:
    """A care request's reminder or alert (`care` queue, scheduled when the request was made)."""
    outcome = care.on_timer(services(), request_id, timer)
    log.info(outcome, extra={"care_request": request_id, "timer": timer})
    return outcome


@deferring
def care_summary(week: str | None = None) -> str:
    """The care group's private summary of a week (`care` queue, enqueued by worker.schedule beside the digest):
    once per week. `week` like "2026-W47"; None = the last completed ISO week in COC_TIMEZONE."""
    outcome = care_week.send_summary(services(), week)
    log.info(outcome, extra={"week": week})
    return outcome


@deferring
def draft(amendment_id: str) -> str:
    return amendments.draft(services(), amendment_id)


@deferring
def decide(amendment_id: str, post: dict[str, Any]) -> str:
    return amendments.decide_command(services(), amendment_id, post)


@deferring
def answer_problems(post_id: int, topic_id: int, post_number: int, messages: list[str]) -> str:
    return amendments.answer_problems(services(), post_id, topic_id, post_number, messages)


@deferring
def post_digest(week: str | None = None) -> str:
    """The weekly digest (`digest` queue, enqueued by the cron schedule in worker.schedule): once per week.
    `week` like "2026-W47"; None = the last completed ISO week in COC_TIMEZONE."""
    return weekly_digest.post_digest(services(), week)


@deferring
def reconcile() -> str:
    """A reconcile pass (`digest` queue, every COC_RECONCILE_MINUTES by worker.schedule): what no webhook told."""
    try:
        return str(catch_up.reconcile(services()))
    except catch_up.AlreadyRunning as exc:
        return str(exc)
