"""Care at `/metrics`, over real HTTP with a real Redis: the requests saved through the Store, read at scrape time."""

from __future__ import annotations

import time

import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from plugin.adapters.keys import Keys
from plugin.adapters.store import Store
from plugin.domain.care import CLOSED, PICKED_UP, CareRequest
from tests.test_receiver import receiver, settings_for  # noqa: F401  (fixture)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every care sample at `/metrics`: (name, labels) → value."""
    text = requests.get(url + "/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("coc_care_")
        for sample in family.samples
    }


def bucket(le: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return "coc_care_pickup_seconds_bucket", (("le", le),)


def test_nothing_asked_yet_is_all_zeros(receiver: str) -> None:  # noqa: F811
    samples = scrape(receiver)
    assert samples[("coc_care_requests_open", (("status", "open"),))] == 0
    assert samples[("coc_care_requests_open", (("status", "picked_up"),))] == 0
    assert samples[("coc_care_oldest_waiting_seconds", ())] == 0
    assert samples[("coc_care_pickup_seconds_count", ())] == 0
    assert samples[bucket("+Inf")] == 0


def test_open_requests_the_oldest_waiting_and_the_time_to_pickup(
    receiver: str,  # noqa: F811
    redis_conn: redis.Redis,
    redis_url: str,
) -> None:
    store = Store(redis_conn, Keys(settings_for(redis_url).redis_prefix))
    now = float(int(time.time()))  # whole seconds: every wait below is exact
    for request in (
        CareRequest(1, "bob", asked_at=now - 600),  # waiting 10 minutes: the oldest waiting
        CareRequest(2, "erin", asked_at=now - 120),  # waiting 2 minutes
        CareRequest(3, "dave", asked_at=now - 3600, status=PICKED_UP, picked_by="pat", picked_at=now - 3600 + 90),
        CareRequest(4, "frank", asked_at=now - 86400, status=CLOSED, picked_by="sam", picked_at=now - 86400 + 1800),
        CareRequest(5, "gail", asked_at=now - 7200, status=CLOSED, closed_by="pat", closed_at=now - 7000),
        CareRequest(6, "hana", asked_at=now - 90000, status=CLOSED, picked_by="pat", picked_at=now - 90000 + 2 * 86400),
    ):
        store.save_care_request(request)
    samples = scrape(receiver)
    assert samples[("coc_care_requests_open", (("status", "open"),))] == 2
    assert samples[("coc_care_requests_open", (("status", "picked_up"),))] == 1
    assert 600 <= samples[("coc_care_oldest_waiting_seconds", ())] < 660
    # picked up after 90 s, 30 min and 2 days (closed without a pickup: not counted)
    assert [samples[bucket(le)] for le in ("60.0", "300.0", "1800.0", "3600.0", "86400.0", "+Inf")] == [
        0, 1, 2, 2, 2, 3
    ]
    assert samples[("coc_care_pickup_seconds_count", ())] == 3
    assert samples[("coc_care_pickup_seconds_sum", ())] == 90 + 1800 + 2 * 86400

    store.save_care_request(CareRequest(1, "bob", asked_at=now - 600, status=PICKED_UP, picked_by="pat",
                                        picked_at=now))  # read at each scrape: a pickup shows at once
    samples = scrape(receiver)
    assert samples[("coc_care_requests_open", (("status", "open"),))] == 1
    assert samples[("coc_care_requests_open", (("status", "picked_up"),))] == 2
    assert 120 <= samples[("coc_care_oldest_waiting_seconds", ())] < 180
    assert samples[("coc_care_pickup_seconds_count", ())] == 4 and samples[bucket("900.0")] == 2
