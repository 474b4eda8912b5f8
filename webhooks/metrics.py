"""Prometheus metrics of one receiver process, at `/metrics`; queue depths are read from Redis at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from flask import Blueprint, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from plugin.adapters.intake import Intake
from plugin.domain.events import USED_EVENTS
from plugin.queues import QUEUES
from webhooks.context import receiver

METRIC_EVENTS = USED_EVENTS | {"ping"}
"""Event names that get their own metric label; anything else (unsigned junk included) counts as "other"."""

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def metrics_endpoint() -> Response:
    return Response(generate_latest(receiver().metrics.registry), mimetype="text/plain; version=0.0.4; charset=utf-8")


class Metrics:
    """Deliveries by event and answer, dedupe hits, answer latency, and the queues' depths."""

    def __init__(self, intake: Intake):
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "coc_webhook_deliveries",
            "Webhook deliveries by event and HTTP answer",
            ["event", "status"],
            registry=self.registry,
        )
        self.dedupe_hits = Counter(
            "coc_webhook_dedupe_hits", "Deliveries recognised as already accepted", registry=self.registry
        )
        self.latency = Histogram(
            "coc_webhook_request_seconds",
            "Time to answer a webhook delivery",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.registry.register(_QueueDepths(intake))
        self._children: dict[tuple[str, int], Any] = {}

    def delivered(self, event: str, status: int, seconds: float) -> None:
        child = self._children.get((event, status))
        if child is None:
            child = self._children.setdefault((event, status), self.deliveries.labels(event, str(status)))
        child.inc()
        self.latency.observe(seconds)


class _QueueDepths:
    def __init__(self, intake: Intake):
        self.intake = intake

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting = GaugeMetricFamily("coc_queue_depth", "Jobs waiting per RQ queue", labels=["queue"])
        failed = GaugeMetricFamily(
            "coc_failed_jobs", "Jobs in RQ's failed registry per queue (alert on care)", labels=["queue"]
        )
        try:
            with self.intake.connection.pipeline(transaction=False) as pipe:
                for name in QUEUES:
                    queue = self.intake.queues[name]
                    pipe.llen(queue.key)
                    pipe.zcard(queue.failed_job_registry.key)
                counts = pipe.execute()
        except redis.RedisError:
            return
        for n, name in enumerate(QUEUES):
            waiting.add_metric([name], counts[2 * n])
            failed.add_metric([name], counts[2 * n + 1])
        yield waiting
        yield failed
