"""A small HTTP load generator on loopback (`python -m bench._load`), meant to run pinned to its own core.

Two modes, both over keep-alive connections, one thread per connection:
- `closed`: every connection sends its next request as soon as the last answer came (throughput);
- `rate`: requests are sent on a fixed schedule (open loop) at `--rate` per second in all; latency is measured
  from the scheduled send time, so a stalled server is not hidden (no coordinated omission).
It prints one JSON object: requests, errors, duration, requests/s, p50 and p99 in milliseconds, statuses.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests-file", required=True, help="JSON lines: {headers, body}")
    parser.add_argument("--mode", choices=["closed", "rate"], default="closed")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one core")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    with open(args.requests_file) as f:
        prepared = [json.loads(line) for line in f]
    for item in prepared:
        item["body"] = item["body"].encode()
    split = urlsplit(args.url)
    lock = threading.Lock()
    cursor = iter(range(len(prepared)))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    start = time.perf_counter() + 0.2
    stop_at = start + args.duration
    interval = args.connections / args.rate if args.mode == "rate" else 0.0

    def take() -> dict | None:
        with lock:
            index = next(cursor, None)
        return None if index is None else prepared[index]

    def run(n: int) -> None:
        nonlocal errors
        conn = http.client.HTTPConnection(split.hostname, split.port, timeout=10)
        mine: list[float] = []
        seen: Counter[int] = Counter()
        failed = 0
        scheduled = start + n * (interval / args.connections if interval else 0)
        while True:
            if interval:
                now = time.perf_counter()
                if scheduled > now:
                    time.sleep(scheduled - now)
                began = scheduled
                scheduled += interval
            else:
                began = time.perf_counter()
            if began >= stop_at:
                break
            item = take()
            if item is None:
                break
            try:
                conn.request("POST", split.path, body=item["body"], headers=item["headers"])
                response = conn.getresponse()
                response.read()
                seen[response.status] += 1
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection(split.hostname, split.port, timeout=10)
                continue
            mine.append(time.perf_counter() - began)
        conn.close()
        with lock:
            latencies.extend(mine)
            statuses.update(seen)
            errors += failed

    now = time.perf_counter()
    if start > now:
        time.sleep(start - now)
    threads = [threading.Thread(target=run, args=(n,)) for n in range(args.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = min(time.perf_counter(), stop_at) - start if args.mode == "closed" else args.duration
    print(json.dumps({
        "requests": len(latencies), "errors": errors, "duration_s": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2), "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }))


if __name__ == "__main__":
    main()
