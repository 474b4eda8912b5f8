"""Prometheus metrics of one receiver process, at `/metrics`; queue depths and care requests are read from Redis at
scrape time."""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Iterator
from typing import Any

import redis
from flask import Blueprint, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from plugin.adapters.intake import Intake
from plugin.adapters.store import Store
from plugin.domain.care import OPEN, PICKED_UP, oldest_waiting_seconds
from plugin.domain.events import USED_EVENTS
from plugin.queues import QUEUES
from webhooks.context import receiver

METRIC_EVENTS = USED_EVENTS | {"ping"}
"""Event names that get their own metric label; anything else (unsigned junk included) counts as "other"."""
PICKUP_BUCKETS = (60, 300, 600, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 12 * 3600, 24 * 3600)
"""Upper bounds (seconds) of the time-to-pickup histogram: 1 minute to 1 day."""

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
        self.registry.register(_CareRequests(Store(intake.connection, intake.keys)))
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


class _CareRequests:
    """Care requests, read through the Store at scrape time: one Redis read (every stored request) per scrape.

    - `coc_care_requests_open{status}`: requests not closed, `open` (nobody has picked it up) or `picked_up`;
    - `coc_care_oldest_waiting_seconds`: how long the oldest request nobody has picked up has waited (0 when none
      waits): the alert to set, above COC_CARE_REMIND_MINUTES;
    - `coc_care_pickup_seconds`: a histogram of the time from a member's request to a team member picking it up,
      over every stored request ever picked up (cumulative, as a histogram is: `rate()` and
      `histogram_quantile()` work on it).
    """

    def __init__(self, store: Store):
        self.store = store

    def collect(self) -> Iterator[Metric]:
        try:
            requests = self.store.care_requests()
        except redis.RedisError:
            return
        by_status = GaugeMetricFamily(
            "coc_care_requests_open",
            "Care requests not closed, by status: open (nobody has picked it up yet) or picked_up",
            labels=["status"],
        )
        for status in (OPEN, PICKED_UP):
            by_status.add_metric([status], sum(1 for r in requests if r.status == status))
        yield by_status
        yield GaugeMetricFamily(
            "coc_care_oldest_waiting_seconds",
            "How long the oldest care request nobody has picked up has waited (0: none waits)",
            value=oldest_waiting_seconds(requests, now=time.time()),
        )
        waits = sorted(w for r in requests if (w := r.pickup_seconds()) is not None)
        buckets = [(floatToGoString(le), bisect_right(waits, le)) for le in PICKUP_BUCKETS]
        yield HistogramMetricFamily(
            "coc_care_pickup_seconds",
            "Time from a member asking for direct support to a team member picking the request up",
            buckets=[*buckets, ("+Inf", len(waits))],
            sum_value=sum(waits),
        )
