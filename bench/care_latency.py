"""Benchmark: how fast a "direct support" post reaches the peer-support team and the member.

    make bench   (or: .venv/bin/python -m bench.care_latency [--care-posts 40] [--rate 50] [--burst 12]
                                                             [--bot member])

The whole service as deployed, on this machine: the simulator (its webhooks signed and delivered asynchronously),
the receiver, Redis and two `python -m plugin worker` processes. Two measurements:

- under load: a background thread makes ordinary forum activity at `--rate` events per second; every half second
  a member writes a post asking for direct support (target: p99 under 2 s);
- a burst under the forum's real limits: Discourse's admin API bucket of 60 calls a minute, the service's default
  budget of 30, and the simulator's per-user limits at Discourse's defaults; `--burst` members ask for direct
  support within one minute while a proposal gets its third supporter (target: every message within 2 minutes,
  exactly once each; the draft within a minute). `--bot member` takes the bot's moderation away first, to show
  what Discourse's per-user limits do to a non-staff account.

Latency runs from the moment the post is made in the forum until BOTH private messages exist. Under load, once the
service knows the member's conversation, the member also writes back in it: the relay latency runs from that reply
until the companion's post carrying it exists in the team's conversation.
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
from collections import Counter

from bench._companion import running_companion
from plugin.domain.names import amendment_id, care_message_ids
from plugin.adapters.budget import ApiBudget
from plugin.text.care import relay_marker
from plugin.ops.demo import REPO_ROOT
from plugin.ops.processes import stop_process, wait_until

WORDS = "Tonight is hard and I don't want to be alone with it. I would like direct support, please."
REPLY = "Thank you for writing back. Evenings are the hardest part for me ({token})."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--care-posts", type=int, default=40)
    parser.add_argument("--rate", type=float, default=50.0, help="background events per second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--burst", type=int, default=12, help="care requests in the burst (0: no burst)")
    parser.add_argument("--burst-seconds", type=float, default=55.0, help="the burst spreads over this long")
    parser.add_argument("--bot", choices=("staff", "member"), default="staff",
                        help="the bot as install makes it (a moderator), or a non-staff member")
    parser.add_argument("--skip-load", action="store_true", help="only the burst")
    parser.add_argument("--logs", help="keep each worker's log in this folder")
    args = parser.parse_args()
    if not args.skip_load:
        under_load(args)
    if args.burst:
        print()
        under_real_limits(args)


def start_workers(c, url: str, count: int, logs: str | None = None) -> list[subprocess.Popen]:  # type: ignore[no-untyped-def]
    s = c.settings
    env = {**os.environ, "DISCOURSE_URL": s.discourse_url, "DISCOURSE_API_KEY": s.discourse_api_key,
           "DISCOURSE_WEBHOOK_SECRET": s.discourse_webhook_secret, "REDIS_URL": url,
           "COC_REDIS_PREFIX": s.redis_prefix, "COC_API_BUDGET_PER_MIN": str(s.api_budget_per_min)}
    if logs:
        os.makedirs(logs, exist_ok=True)
    return [subprocess.Popen([sys.executable, "-m", "plugin", "worker"], cwd=REPO_ROOT, env=env,
                             stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(logs, f"worker-{i}.log"), "w") if logs else subprocess.DEVNULL)
            for i in range(count)]


def percentiles(latencies: list[float]) -> tuple[float, float, float]:
    """(p50, p99, max) in seconds."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def under_load(args: argparse.Namespace) -> None:
    workers: list[subprocess.Popen] = []
    with running_companion() as (c, url):
        try:
            workers = start_workers(c, url, args.workers)
            latencies, relays, background = measure(c, args)
        finally:
            for process in workers:
                stop_process(process)
    p50, p99, worst = percentiles(latencies)
    r50, r99, rworst = percentiles(relays)
    print(f"care latency, {args.workers} workers, {background} background events at {args.rate:g}/s: first messages "
          "(post made -> both private messages exist) and relays (the member's reply in their conversation -> the "
          "companion's post carrying it in the team's)")
    print("| care posts | p50 ms | p99 ms | max ms | relays | relay p50 ms | relay p99 ms | relay max ms |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {len(latencies)} | {p50 * 1000:.0f} | {p99 * 1000:.0f} | {worst * 1000:.0f} "
          f"| {len(relays)} | {r50 * 1000:.0f} | {r99 * 1000:.0f} | {rworst * 1000:.0f} |")


def measure(c, args: argparse.Namespace) -> tuple[list[float], list[float], int]:  # type: ignore[no-untyped-def]
    """The first-message latencies, the relay latencies and how many background events were made."""
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
    latencies, relays = [], []
    try:
        for n, member in enumerate(asking):
            started = time.monotonic()
            post = forum.create_post(member, raw=WORDS, topic_id=topic.topic_id)
            wanted = set(care_message_ids(post.id))

            def both_sent() -> bool:
                with forum.lock:
                    return wanted <= {t.external_id for t in forum.topics.values() if t.is_pm}
            assert wait_until(both_sent, timeout=30, interval=0.002), f"no care messages for post {post.id}"
            latencies.append(time.monotonic() - started)
            relays.append(relay_latency(c, post.id, member, token=f"reply {n + 1}"))
            stop.wait(0.5)
    finally:
        stop.set()
        thread.join(timeout=10)
    return latencies, relays, made[0]


def relay_latency(c, request_id: int, member, *, token: str) -> float:  # type: ignore[no-untyped-def]
    """Seconds from the member's reply in their conversation until the companion's relay of it exists in the team's.
    The member writes once the service knows their conversation (the request saved with it), as a person would,
    seconds after the message arrived: a reply in a conversation the service does not know yet is not care's."""
    forum = c.sim.forum
    assert wait_until(lambda: (r := c.store.care_request(request_id)) is not None and r.member_topic_id is not None
                      and r.team_topic_id is not None, timeout=30, interval=0.002), f"request {request_id} not saved"
    with forum.lock:
        team, conversation = (forum.topic_by_external_id(i) for i in care_message_ids(request_id))
    words = REPLY.format(token=token)
    bot = forum.user_by_name(c.settings.bot_username)

    def relayed() -> bool:
        with forum.lock:
            return any(p.user_id == bot.id and words in p.raw and relay_marker(1) in p.raw
                       for p in (forum.posts[i] for i in team.post_ids))
    started = time.monotonic()
    forum.create_post(member, raw=words, topic_id=conversation.id)
    assert wait_until(relayed, timeout=30, interval=0.002), f"the reply to request {request_id} was not relayed"
    return time.monotonic() - started


PROPOSAL = ('I would like us to say it more plainly:\n\n[amend section="Consent"]\nWe ask before we share '
            "anything about another member, and we ask again if time has passed.\n[/amend]")
BURST_TIMEOUT = 600.0
"""Seconds the burst waits for every message before it reports what is missing."""


def under_real_limits(args: argparse.Namespace) -> None:
    """`args.burst` care requests within `args.burst_seconds`, under Discourse's default limits, while a proposal
    reaches its support threshold: when does each message arrive, is any sent twice, when does the draft open?"""
    workers: list[subprocess.Popen] = []
    with running_companion(admin_limit=60, api_budget_per_min=30) as (c, url):
        forum = c.sim.forum
        bot = forum.user_by_name(c.settings.bot_username)
        forum.set_moderator(bot, args.bot == "staff")
        budget = ApiBudget.for_settings(c.conn, c.settings)
        assert wait_until(lambda: budget.remaining() == budget.per_minute, timeout=120, interval=0.5), \
            "the budget did not refill after install"
        try:
            workers = start_workers(c, url, args.workers, args.logs)
            care, draft, doubled, missing = burst(c, args)
        finally:
            for process in workers:
                stop_process(process)
        refused = c.sim.app.extensions["admin_api_bucket"].refused
    print(f"care burst under Discourse's limits: {args.burst} requests in {args.burst_seconds:g} s, the bot "
          f"{'a moderator (as install makes it)' if args.bot == 'staff' else 'a non-staff member (trust level 1)'}, "
          f"admin API bucket 60/min, service budget 30/min, {args.workers} workers")
    print("| messages | arrived | p50 s | p99 s | max s | sent twice | draft opened after, s | 429s of the admin bucket |")
    print("|---|---|---|---|---|---|---|---|")
    p50, p99, worst = percentiles(care) if care else (float("nan"),) * 3
    opened = f"{draft:.1f}" if draft is not None else "not within the wait"
    print(f"| {2 * args.burst} | {len(care) * 2}/{2 * args.burst} | {p50:.1f} | {p99:.1f} | {worst:.1f} | {doubled} "
          f"| {opened} | {refused} |")
    if missing:
        print(f"missing after {BURST_TIMEOUT:.0f} s: {', '.join(missing)}")


def burst(c, args: argparse.Namespace) -> tuple[list[float], float | None, int, list[str]]:  # type: ignore[no-untyped-def]
    """Returns the care latencies (post made -> both messages exist), the draft's latency (third like -> draft
    topic exists), how many messages were sent more than once, and what never arrived."""
    forum = c.sim.forum
    document = c.store.document()
    alice, bob, dave = (forum.create_user(username=n, trust_level=2) for n in ("alice", "bob", "dave"))
    proposal = forum.create_post(alice, topic_id=document["topic_id"], raw=PROPOSAL)
    forum.like(bob, proposal)                                 # the proposer and bob: two supporters of three
    key = amendment_id(proposal.id, 1)
    assert wait_until(lambda: c.store.amendment(key) is not None, timeout=60, interval=0.05), "proposal not seen"
    asking = [forum.create_user(username=f"asking{i}", trust_level=1) for i in range(args.burst)]
    topic = forum.create_post(asking[0], title="A hard evening: checking in with each other",
                              raw="A thread for tonight, for anyone who needs company.")
    made: dict[int, float] = {}
    arrived: dict[int, float] = {}
    liked_at: list[float] = []
    drafted: list[float] = []
    lock = threading.Lock()

    def titles() -> Counter[str]:
        """The bot's messages, by external id (the forum keeps those unique, so a doubled send would be refused)."""
        with forum.lock:
            return Counter(t.external_id for t in forum.topics.values() if t.is_pm and t.external_id)

    def done() -> bool:
        """Note the moment each pair of messages (and the draft) is first seen; True once all are there."""
        seen = titles()
        now = time.monotonic()
        with lock:
            for post_id in made:
                if post_id not in arrived and all(seen[i] for i in care_message_ids(post_id)):
                    arrived[post_id] = now
            if not drafted and c.topic_by_external_id(key) is not None:
                drafted.append(now)
            return len(made) == len(asking) and len(arrived) == len(made) and bool(drafted)

    monitor = threading.Thread(target=wait_until, args=(done,), kwargs={"timeout": BURST_TIMEOUT, "interval": 0.02},
                               daemon=True)
    monitor.start()
    gap = args.burst_seconds / max(1, args.burst - 1)
    started = time.monotonic()
    for i, member in enumerate(asking):
        stop_at = started + i * gap
        time.sleep(max(0.0, stop_at - time.monotonic()))     # pacing the members, not synchronization
        at = time.monotonic()
        post = forum.create_post(member, raw=WORDS, topic_id=topic.topic_id)
        with lock:
            made[post.id] = at
        if not liked_at and time.monotonic() - started >= 10:
            forum.like(dave, proposal)                        # the third supporter (COC_SUPPORT_THRESHOLD), now
            liked_at.append(time.monotonic())
    if not liked_at:
        forum.like(dave, proposal)
        liked_at.append(time.monotonic())
    monitor.join()
    seen = titles()
    wanted = [i for p in made for i in care_message_ids(p)]
    doubled = sum(1 for title in wanted if seen[title] > 1)
    missing = [title for title in wanted if not seen[title]] + ([] if drafted else ["the draft"])
    care = [arrived[p] - made[p] for p in made if p in arrived]
    return care, (drafted[0] - liked_at[0]) if drafted else None, doubled, missing


if __name__ == "__main__":
    main()
