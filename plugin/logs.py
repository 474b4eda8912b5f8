"""Structured logs: one JSON object per line, with the delivery's event id and the RQ job id where there is one.

`configure()` is called by `serve`, `worker` and `scheduler`. Every log record's extra fields (`event`, `event_id`,
`job_id`, `queue`, `status`, `reason`, …) become keys of the line; inside an RQ job the current job's id is added.
RQ's own records ("Worker … started", "Job OK", the scheduler's) are lines like any other: RQ adds its own (plain
text) handler only to a logger that has none up its hierarchy, and the `rq` logger has this one. Secrets are never
logged: nothing here reads the settings.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in STANDARD and not k.startswith("_")})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class CurrentJob(logging.Filter):
    """Adds `job_id` (and the job's queue) to records logged while an RQ job runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "job_id"):
            from rq import get_current_job  # noqa: PLC0415

            job = get_current_job()
            if job is not None:
                record.job_id = job.id
                record.queue = getattr(record, "queue", job.origin)
        return True


LOGGERS = ("webhooks", "worker", "plugin", "rq")
"""The loggers `configure` writes at `level`: the service's, and RQ's."""


def configure(level: int = logging.INFO, stream: TextIO = sys.stderr, *, everything: bool = False) -> None:
    """One JSON line per record of the service's and RQ's loggers on `stream`; with `everything` (the processes
    themselves, not tests) the root logger's too, so that no other library's warning comes out as plain text."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    handler.addFilter(CurrentJob())
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    if everything:
        logging.getLogger().handlers[:] = [handler]


def reset() -> None:
    """Undo `configure` for the loggers it set (tests that configure it in-process)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def os_reason(exc: BaseException) -> str:
    """Why a connection failed, in the operating system's words ("Connection refused", "timed out", "Name or service
    not known"): the innermost socket or TLS error behind `exc`, or "" when there is none."""
    reason = ""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and type(cause).__module__ in ("builtins", "socket", "ssl"):
            reason = cause.strerror or str(cause) or type(cause).__name__
        cause = cause.__cause__ or cause.__context__
    return one_line(reason)


def one_line(text: str) -> str:
    """`text` on one line (a message from elsewhere may hold line breaks)."""
    return " ".join(text.split())
