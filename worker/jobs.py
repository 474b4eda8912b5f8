"""RQ job functions. Thin: read the typed event back, hand it to the domain, write effects through the adapter.

The receiver enqueues these by import path (`plugin.intake.JOB_FOR_QUEUE`), with RQ's JSON serializer, so a job's
only argument is the event as plain data (`Event.to_job()`).
"""
from __future__ import annotations

import logging
from typing import Any

from plugin.events import event_from_job

log = logging.getLogger("worker.jobs")


def handle_event(data: dict[str, Any]) -> str:
    """An ordinary forum event (`events` queue)."""
    event = event_from_job(data)
    log.info("event", extra={"event": event.name, "event_id": event.delivery.event_id})
    return event.identity()


def handle_care(data: dict[str, Any]) -> str:
    """A member asking for direct support (`care` queue, highest priority)."""
    event = event_from_job(data)
    log.info("care", extra={"event": event.name, "event_id": event.delivery.event_id})
    return event.identity()
