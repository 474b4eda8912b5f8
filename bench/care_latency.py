"""Benchmark: how fast a "direct support" post reaches the peer-support team and the member, under load.

    make bench            (or: .venv/bin/python -m bench.care_latency [--care-posts 40] [--rate 50])

The whole service as deployed, on this machine: the simulator (its webhooks signed and delivered asynchronously),
the receiver, Redis and two `python -m plugin worker` processes. A background thread makes ordinary forum activity
at `--rate` events per second; every half second a member writes a post asking for direct support. Latency runs
from the moment the post is made in the forum until BOTH private messages exist (target: p99 under 2 s).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time

from bench._companion import running_companion
from plugin.care import MEMBER_TITLE, TEAM_TITLE
from plugin.demo import REPO_ROOT
from plugin.processes import stop_process, wait_until

WORDS = "Tonight is hard and I don't want to be alone with it. I would like direct support, please."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--care-posts", type=int, default=40)
    parser.add_argument("--rate", type=float, default=50.0, help="background events per second")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    workers: list[subprocess.Popen] = []
    with running_companion() as (c, url):
        try:
            s = c.settings
            env = {**os.environ, "DISCOURSE_URL": s.discourse_url, "DISCOURSE_API_KEY": s.discourse_api_key,
                   "DISCOURSE_WEBHOOK_SECRET": s.discourse_webhook_secret, "REDIS_URL": url,
                   "COC_REDIS_PREFIX": s.redis_prefix, "COC_API_BUDGET_PER_MIN": str(s.api_budget_per_min)}
            workers = [subprocess.Popen([sys.executable, "-m", "plugin", "worker"], cwd=REPO_ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                       for _ in range(args.workers)]
            latencies, background = measure(c, args)
        finally:
            for process in workers:
                stop_process(process)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(f"care latency, post made -> both private messages exist, {args.workers} workers, "
          f"{background} background events at {args.rate:g}/s")
    print("| care posts | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|")
    print(f"| {len(latencies)} | {statistics.median(latencies) * 1000:.0f} | {p99 * 1000:.0f} | "
          f"{latencies[-1] * 1000:.0f} |")


def measure(c, args: argparse.Namespace) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    forum = c.sim.forum
    members = [forum.create_user(username=f"member{i}", trust_level=1) for i in range(20)]
    asking = [forum.create_user(username=f"asking{i}", trust_level=1) for i in range(args.care_posts)]
    topic = forum.create_post(members[0], raw="A thread for the week, for anyone who wants to talk.",
                              title="The weekly check-in thread for everyone")
    stop = threading.Event()
    made = [0]

    def background() -> None:
        rng = random.Random(3)
        interval = 1 / args.rate
        next_at = time.monotonic()
        while not stop.is_set():
            who = rng.choice(members)
            forum.create_post(who, raw="Sharing a small good thing from today, thank you all.",
                              topic_id=topic.topic_id)
            made[0] += 1
            next_at += interval
            stop.wait(max(0.0, next_at - time.monotonic()))

    thread = threading.Thread(target=background, daemon=True)
    thread.start()
    latencies = []
    try:
        for member in asking:
            started = time.monotonic()
            post = forum.create_post(member, raw=WORDS, topic_id=topic.topic_id)
            titles = {TEAM_TITLE.format(post_id=post.id), MEMBER_TITLE.format(post_id=post.id)}

            def both_sent() -> bool:
                with forum.lock:
                    return titles <= {t.title for t in forum.topics.values() if t.is_pm}
            assert wait_until(both_sent, timeout=30, interval=0.002), f"no care messages for post {post.id}"
            latencies.append(time.monotonic() - started)
            stop.wait(0.5)
    finally:
        stop.set()
        thread.join(timeout=10)
    return latencies, made[0]


if __name__ == "__main__":
    main()
