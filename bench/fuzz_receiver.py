"""A long fuzz run of the webhook receiver: the suite's property (tests/test_receiver_fuzz.py), many more times.

    make bench        (or: .venv/bin/python -m bench.fuzz_receiver [--examples 5000] [--seed 1])

Hypothesis draws deliveries — reference samples with their payload replaced by random JSON, random JSON, random
bytes, the right JSON in other encodings (UTF-16/32, Latin-1, a byte order mark), bodies around and far over the size
limit, random header values — each signed right, signed with another secret, with a garbage signature or none, and
posts them over HTTP to the receiver (Redis up). Every answer must be 200, 202, 400, 401 or 413 with a JSON error,
and nothing unsigned may be stored. Prints how many inputs were tried and the answers by status.
"""
from __future__ import annotations

import argparse
import time
from collections import Counter

import redis
from hypothesis import HealthCheck, given, seed, settings

from bench._companion import BENCH_DB
from plugin.ops.local_redis import ensure_redis, url_with_db
from tests.servers import serving
from tests.test_receiver import settings_for
from tests.test_receiver_fuzz import check_delivery, deliveries
from webhooks.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    runtime = ensure_redis()
    url = url_with_db(runtime.url, BENCH_DB)
    conn = redis.Redis.from_url(url)
    answers: Counter[int] = Counter()
    began = time.perf_counter()
    try:
        with serving(create_app(settings_for(url, max_body_bytes=4096))) as served:
            @seed(args.seed)
            @settings(max_examples=args.examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(delivery=deliveries())
            def fuzz(delivery: tuple[dict[str, str], bytes, bool]) -> None:
                answers[check_delivery(served.url, conn, delivery)] += 1
            fuzz()
    finally:
        conn.flushdb()
        runtime.stop()
    seconds = time.perf_counter() - began
    print(f"receiver fuzz: {sum(answers.values())} deliveries in {seconds:.0f} s, no 5xx, nothing unsigned stored")
    print("| answer | deliveries |\n|---|---|")
    for status, count in sorted(answers.items()):
        print(f"| {status} | {count} |")


if __name__ == "__main__":
    main()
