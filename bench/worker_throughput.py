"""Benchmark: how many ordinary forum events one worker handles per second, and what a second worker adds.

    make bench            (or: .venv/bin/python -m bench.worker_throughput [--events 5000] [--fork-events 400])

The service is installed on the simulator (`bench._companion`, Redis database 14). For each run, ordinary events —
replies in the Code of Care document topic (some quoting a section), in topics tagged `code-of-care` and in
everyday topics, new topics with their first post, likes and edits; nothing that asks for direct support or
proposes an amendment — are built as typed events and put on the `events` queue by the receiver's own
`Intake.accept` before any worker runs: the receiver is measured by `bench/receiver.py`, this measures the worker
alone. Then K worker processes are started and timed from their start until they have exited, every queue is empty,
no job is running and every event's job has finished. The runs:

- 1 and 2 × `python -m plugin worker --burst`: RQ's Worker, which forks a work horse for every job (the job module
  is imported before the first fork, so a horse does not import it afresh);
- 1 and 2 × `python -m plugin worker --burst --simple`: RQ's SimpleWorker, every job in the worker process.

The forking runs get `--fork-events` events (fewer: they are an order of magnitude slower), the others `--events`.
Printed per run: events/s, jobs failed or waiting for a retry (must be 0) and the forum API calls the workers made
(counted by the simulator's admin API bucket; ordinary events need none), with the machine's 1-minute load average
when the run started: other processes on the same cores lower the figures.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import redis
from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from bench._companion import running_companion
from plugin.ops.demo import REPO_ROOT
from plugin.domain.document import parse_document
from plugin.domain.events import Delivery, Event, LikeEvent, Post, PostEvent, Topic, TopicEvent
from plugin.adapters.intake import ACCEPTED
from plugin.queues import QUEUE_EVENTS, QUEUES
from plugin.ops.processes import stop_process, wait_until
from tests.companion import Companion

RUNS = ((1, "Worker", True), (2, "Worker", True), (1, "SimpleWorker", False), (2, "SimpleWorker", False))
"""(processes, RQ worker class, whether the run is a forking one that gets `--fork-events`), in the order they run."""

COMMAND = {"Worker": ["-m", "plugin", "worker", "--burst"],
           "SimpleWorker": ["-m", "plugin", "worker", "--burst", "--simple"]}
CODE_OF_CARE = "code-of-care"
ID_SPACING = 1_000_000
"""Each run's new posts and topics get ids from (run + 1) * ID_SPACING: no run repeats another's events (the
intake would drop them as duplicates), and none clashes with what the simulator made."""

REPLIES = ("Thank you for writing this; it helped me to read it today.",
           "I agree with this, and I would add that asking first matters most when someone is new here.",
           "Same here. It took me a while to feel safe posting, and threads like this one are why I stayed.",
           "Could we keep this part as it is? It says what it means without making anyone feel accused.")


@dataclass
class Place:
    """A topic events can happen in: one that exists in the simulator, or one a run's `topic_created` makes."""

    id: int
    title: str
    category_id: int | None
    posts: int


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000, help="events per SimpleWorker run (default 5,000)")
    parser.add_argument("--fork-events", type=int, default=400,
                        help="events per run of RQ's forking Worker (default 400: it is much slower)")
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=300, help="seconds a run may take before it is a failure")
    args = parser.parse_args()
    started = time.monotonic()
    rows = []
    with running_companion() as (c, url):
        forum = setup_forum(c, args.members)
        for run, (processes, worker_class, forking) in enumerate(RUNS):
            count = args.fork_events if forking else args.events
            events = ordinary_events(count, forum, first_id=(run + 1) * ID_SPACING, seed=args.seed + run)
            rows.append(measure(c, url, events, processes, worker_class, args.timeout))
    print("worker throughput: ordinary events queued through the receiver's Intake before the workers start; "
          "time from starting the worker processes until every job has finished\n")
    print("| workers | worker class | events | seconds | events/s | failed | forum API calls | load avg (1 min) |")
    print("|---|---|---|---|---|---|---|---|")
    problems = 0
    for row in rows:
        print(f"| {row['processes']} | {row['worker_class']} | {row['events']:,} | {row['seconds']:.1f} | "
              f"{row['events'] / row['seconds']:,.0f} | {row['failed']} | {row['api_calls']} | {row['load']:.2f} |")
        problems += row["failed"] + (row["finished"] != row["events"]) + (not row["exited"])
        if row["finished"] != row["events"] or not row["exited"]:
            print(f"  !! {row['finished']:,} of {row['events']:,} jobs finished; workers exited: {row['exited']}")
    print(f"\nwhole benchmark: {time.monotonic() - started:.0f} s on {os.cpu_count()} cores")
    return 1 if problems else 0


# ------------------------------------------------------------------------------------------------ the forum


@dataclass
class Setting:
    """Who and where: members and topics that exist in the simulator, and the Code of Care document."""

    members: list[tuple[int, str]]
    document: Place
    care_topics: list[Place]
    everyday: list[Place]
    quotes: list[str]


def setup_forum(c: Companion, members: int) -> Setting:
    """Members and topics made in the simulator (their webhooks handled, so the service knows the topics' tags)."""
    sim = c.sim.forum
    users = [sim.create_user(username=f"member{i}", trust_level=1) for i in range(members)]
    titles = {CODE_OF_CARE: ["Consent before sharing someone's story", "How do we repair harm, in practice?"],
              "weekly": ["The weekly check-in thread for everyone", "Small good things from this week",
                         "Books and films that helped", "Introductions: say hello here"]}
    sim.ensure_tags(list(titles), sim.user_by_name("system"))   # members below trust level 3 apply tags, not create
    made = {tag: [sim.create_post(users[n % members], raw="Opening a thread for this; all thoughts welcome here.",
                                  title=title, tags=[tag]) for n, title in enumerate(names)]
            for tag, names in titles.items()}
    c.settle(timeout=120)

    def place(topic_id: int) -> Place:
        topic = sim.topics[topic_id]
        return Place(topic_id, topic.title, topic.category_id, len([p for p in sim.posts.values()
                                                                    if p.topic_id == topic_id]))
    document = c.store.document()
    sections = parse_document(document["raw"]).sections
    quotes = [s.body.strip().split("\n")[0].split(". ")[0] + "." for s in sections
              if "direct support" not in s.body.lower()]
    return Setting(members=[(u.id, u.username) for u in users], document=place(document["topic_id"]),
                   care_topics=[place(p.topic_id) for p in made[CODE_OF_CARE]],
                   everyday=[place(p.topic_id) for p in made["weekly"]], quotes=quotes)


def ordinary_events(count: int, forum: Setting, *, first_id: int, seed: int) -> list[Event]:
    """`count` events in the proportions of an ordinary day: 5% new topics (each followed by its first post, one in
    four tagged `code-of-care`), 55% replies (a fifth in the document topic, a quarter of those quoting a section,
    a quarter in `code-of-care` topics), 28% likes, 12% edits of a recent post."""
    rng = random.Random(seed)
    clock = datetime.now(timezone.utc) - timedelta(hours=1)
    everyday = list(forum.everyday)
    care = list(forum.care_topics)
    posts: list[Post] = []
    likes: set[tuple[int, int]] = set()
    out: list[Event] = []
    next_id = first_id

    def stamp() -> str:
        return (clock + timedelta(milliseconds=500 * len(out))).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def new_post(topic: Place, raw: str, user: tuple[int, str], reply_to: Post | None = None) -> Post:
        nonlocal next_id
        topic.posts += 1
        next_id += 1
        at = stamp()
        post = Post(id=next_id, topic_id=topic.id, post_number=topic.posts, user_id=user[0], username=user[1],
                    post_type=1, created_at=at, updated_at=at, version=1, raw=raw, topic_title=topic.title,
                    category_id=topic.category_id, trust_level=1, topic_posts_count=topic.posts,
                    reply_to_post_number=reply_to.post_number if reply_to else None,
                    reply_to_username=reply_to.username if reply_to else None)
        posts.append(post)
        return post

    while len(out) < count:
        who = rng.choice(forum.members)
        roll = rng.random()
        if roll < 0.05 and len(out) + 2 <= count:
            tagged = rng.random() < 0.25
            topic = Place(next_id + 1, f"A new thread from {who[1]}, number {len(out)}", everyday[0].category_id, 0)
            next_id += 1
            out.append(TopicEvent(Delivery(f"bench-{next_id}-t", "topic_created", "topic"), topic=Topic(
                id=topic.id, title=topic.title, slug=f"thread-{topic.id}", archetype="regular",
                category_id=topic.category_id, user_id=who[0], created_at=stamp(),
                tags=(CODE_OF_CARE,) if tagged else ("weekly",), posts_count=1)))
            post = new_post(topic, "Opening a thread for this; all thoughts welcome here.", who)
            (care if tagged else everyday).append(topic)
            out.append(PostEvent(Delivery(f"bench-{post.id}", "post_created", "post"), post=post))
        elif roll < 0.60 or len(posts) < 10:
            where = rng.random()
            topic = (forum.document if where < 0.2 else rng.choice(care) if where < 0.45 else rng.choice(everyday))
            raw = rng.choice(REPLIES)
            if topic is forum.document and rng.random() < 0.25:
                raw = (f'[quote="{forum.members[0][1]}, post:1, topic:{topic.id}"]\n{rng.choice(forum.quotes)}\n'
                       f"[/quote]\n\n{raw}")
            earlier = [p for p in posts[-100:] if p.topic_id == topic.id]
            post = new_post(topic, raw, who, rng.choice(earlier) if earlier and rng.random() < 0.5 else None)
            out.append(PostEvent(Delivery(f"bench-{post.id}", "post_created", "post"), post=post))
        elif roll < 0.88:
            liked = rng.choice(posts[-300:])
            if liked.user_id == who[0] or (liked.id, who[0]) in likes:
                continue
            likes.add((liked.id, who[0]))
            out.append(LikeEvent(Delivery(f"bench-like-{liked.id}-{who[0]}", "post_liked", "like"), post=liked,
                                 liker_id=who[0], liker_username=who[1]))
        else:
            index = len(posts) - 1 - rng.randrange(min(len(posts), 300))
            old = posts[index]
            edited = replace(old, version=old.version + 1, updated_at=stamp(),
                             raw=old.raw + "\n\n(edited to add: thank you all for the kind replies)")
            posts[index] = edited
            out.append(PostEvent(Delivery(f"bench-{edited.id}-v{edited.version}", "post_edited", "post"),
                                 post=edited))
    return out


# ------------------------------------------------------------------------------------------------ a run


def measure(c: Companion, url: str, events: list[Event], processes: int, worker_class: str,
            timeout: float) -> dict:
    """Queue `events`, start the workers, wait for every job to finish; the figures of the run."""
    conn = c.conn
    intake = c.services.intake
    for event in events:
        outcome = intake.accept(event)
        assert outcome.status == ACCEPTED and outcome.queue == QUEUE_EVENTS, (event, outcome)
    queues = [Queue(name, connection=conn, serializer=JSONSerializer) for name in QUEUES]
    assert len(queues[QUEUES.index(QUEUE_EVENTS)]) == len(events), "the events are not all on the queue"
    finished = FinishedJobRegistry(QUEUE_EVENTS, connection=conn, serializer=JSONSerializer)
    finished_before, failed_before = finished.count, failed_count(conn)
    bucket = c.sim.app.extensions["admin_api_bucket"]
    calls_before = bucket.performed
    s = c.settings
    env = {**os.environ, "DISCOURSE_URL": s.discourse_url, "DISCOURSE_API_KEY": s.discourse_api_key,
           "DISCOURSE_WEBHOOK_SECRET": s.discourse_webhook_secret, "REDIS_URL": url,
           "COC_REDIS_PREFIX": s.redis_prefix, "COC_API_BUDGET_PER_MIN": str(s.api_budget_per_min)}
    started = [StartedJobRegistry(name, connection=conn, serializer=JSONSerializer) for name in QUEUES]
    load = os.getloadavg()[0]
    logs = [tempfile.TemporaryFile() for _ in range(processes)]
    start = time.monotonic()
    workers = [subprocess.Popen([sys.executable, *COMMAND[worker_class]], cwd=REPO_ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=log) for log in logs]
    try:
        def done() -> bool:
            return (all(w.poll() is not None for w in workers) and not any(len(q) for q in queues)
                    and not any(registry.count for registry in started))
        exited = wait_until(done, timeout=timeout, interval=0.01)
        seconds = time.monotonic() - start
    finally:
        for worker in workers:
            stop_process(worker)
    for worker, log in zip(workers, logs):
        if worker.returncode != 0:
            log.seek(0)
            print(f"a {worker_class} exited with {worker.returncode}:\n"
                  + log.read().decode(errors="replace")[-3000:], file=sys.stderr)
        log.close()
    return {"processes": processes, "worker_class": worker_class, "events": len(events), "seconds": seconds,
            "failed": failed_count(conn) - failed_before, "finished": finished.count - finished_before,
            "exited": exited and all(w.returncode == 0 for w in workers), "api_calls": bucket.performed - calls_before,
            "load": load}


def failed_count(conn: redis.Redis) -> int:
    """Jobs that failed for good, plus those waiting for a retry (a failing job is rescheduled first)."""
    return sum(FailedJobRegistry(name, connection=conn, serializer=JSONSerializer).count
               + ScheduledJobRegistry(name, connection=conn, serializer=JSONSerializer).count for name in QUEUES)


if __name__ == "__main__":
    sys.exit(main())
