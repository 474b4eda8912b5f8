"""Benchmark: a week of 100,000 events through the engagement store, then the reads a digest makes.

    make bench            (or: .venv/bin/python -m bench.digest_scale [--events 100000] [--members 2000])

Synthetic, reproducible activity in one ISO week goes through `Engagement.record` as the worker would hand it the
typed events (real Redis, no HTTP): new topics, replies (to a post or to the topic), likes, edits (duplicates that
must change nothing) and deletions. Then `figures(week)`, `history(week, 12)` and `top_topics(week)` are timed —
the target is under 2 s in all — and Redis' memory (INFO memory, before and after, on the benchmark's own database
flushed first) is reported per 100,000 events. Last, the week is frozen and compacted (`Engagement.compact`) as
the window moves past it: once it has just left the window (what the window's figures still read of it is kept),
and once it is past every look-back; the memory then left is reported, and the time each compaction took.
"""
from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from dataclasses import dataclass, replace

import redis

from plugin.domain.engagement import INACTIVE_DAYS, RECIPROCITY_WEEKS, parse_time, shift_week, week_bounds
from plugin.text.figures import figures_table
from plugin.adapters.engagement_store import Engagement
from plugin.domain.events import Delivery, LikeEvent, Post, PostEvent
from plugin.adapters.keys import Keys
from plugin.ops.local_redis import ensure_redis, url_with_db

BENCH_DB = 15
WEEK = "2026-W47"
MONDAY = parse_time("2026-11-16T00:00:00Z")
WEEK_SECONDS = 7 * 24 * 3600
TARGET_SECONDS = 2.0
KEYS = Keys("coc-bench:")


@dataclass
class Clock:
    now: float = MONDAY

    def __call__(self) -> float:
        return self.now


def synthetic_week(events: int, members: int, seed: int) -> list[PostEvent | LikeEvent]:
    """`events` events spread over the week, in time order: 8% new topics, 62% replies, 25% likes, 3% edits,
    2% deletions. Members' activity is heavy-tailed (a few write a lot), as on real forums."""
    rng = random.Random(seed)
    names = [f"member{i}" for i in range(members)]
    ids = {name: i + 1 for i, name in enumerate(names)}
    weights = [1 / (rank + 1) ** 0.8 for rank in range(members)]
    topics: list[tuple[int, str]] = []          # (topic id, author)
    posts: list[Post] = []
    out: list[PostEvent | LikeEvent] = []
    next_post, next_topic = 1, 1
    for i in range(events):
        at = MONDAY + WEEK_SECONDS * i / events
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at))
        who = rng.choices(names, weights)[0]
        roll = rng.random()
        if roll < 0.08 or not topics:
            topic_id, next_topic = next_topic, next_topic + 1
            topics.append((topic_id, who))
            post = Post(id=next_post, topic_id=topic_id, post_number=1, user_id=ids[who],
                        username=who, post_type=1, created_at=stamp, updated_at=stamp, version=1,
                        raw="A new thread for everyone.", topic_title=f"Thread {topic_id}",
                        category_id=1 + topic_id % 6)
        elif roll < 0.70:
            topic_id, author = topics[-1 - min(int(rng.expovariate(0.05)), len(topics) - 1)]   # recent topics
            earlier = [p for p in posts[-200:] if p.topic_id == topic_id]
            target = rng.choice(earlier).username if earlier and rng.random() < 0.5 else None
            post = Post(id=next_post, topic_id=topic_id, post_number=len(earlier) + 2,
                        user_id=ids[who], username=who, post_type=1, created_at=stamp,
                        updated_at=stamp, version=1, raw="Thank you for this.", topic_title=f"Thread {topic_id}",
                        category_id=1 + topic_id % 6, reply_to_post_number=1 if target else None,
                        reply_to_username=target)
        elif roll < 0.95 and posts:
            liked = rng.choice(posts[-500:])
            out.append(LikeEvent(Delivery(str(i), "post_liked", "like"), post=liked,
                                 liker_id=ids[who], liker_username=who))
            continue
        elif roll < 0.98 and posts:
            edited = rng.choice(posts[-500:])
            out.append(PostEvent(Delivery(str(i), "post_edited", "post"),
                                 post=replace(edited, version=2, raw="Edited for clarity.", updated_at=stamp)))
            continue
        elif posts:
            gone = rng.choice(posts[-500:])
            out.append(PostEvent(Delivery(str(i), "post_destroyed", "post"), post=replace(gone, deleted_at=stamp)))
            continue
        else:
            continue
        next_post += 1
        posts.append(post)
        out.append(PostEvent(Delivery(str(i), "post_created", "post"), post=post))
    return out


def used_memory(conn: redis.Redis) -> int:
    return int(conn.info("memory")["used_memory"])


def timed(action):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    runtime = ensure_redis()
    conn = redis.Redis.from_url(url_with_db(runtime.url, BENCH_DB))
    try:
        conn.flushdb()
        events = synthetic_week(args.events, args.members, args.seed)
        clock = Clock(MONDAY + WEEK_SECONDS + 9 * 3600)
        engagement = Engagement(conn, KEYS, bot_username="care-bot", clock=clock)
        memory_before = used_memory(conn)
        start = time.perf_counter()
        for event in events:
            if isinstance(event, LikeEvent):            # a like counts when it is recorded: during the week
                clock.now = parse_time(event.post.created_at) + 60
            engagement.record(event)
        ingest = time.perf_counter() - start
        count = len(events)
        del events                                        # the digest runs in a worker, not beside the ingest
        gc.collect()
        clock.now = MONDAY + WEEK_SECONDS + 9 * 3600      # Monday 09:00 after the week: digest time
        memory_after = used_memory(conn)
        with engagement.reading():                         # as the digest reads them: one read of each key
            figures, t_figures = timed(lambda: engagement.figures(WEEK))
            _, t_history = timed(lambda: engagement.history(WEEK, 12))
            _, t_top = timed(lambda: engagement.top_topics(WEEK, 5))
        _, t_alone = timed(lambda: engagement.history(WEEK, 12))
        total = t_figures + t_history + t_top
        per_100k = (memory_after - memory_before) * 100_000 / count
        engagement.freeze(WEEK)
        compactions = []
        for weeks_later in (1, RECIPROCITY_WEEKS + INACTIVE_DAYS // 7 + 1):   # just left the window; past it all
            window_start = shift_week(WEEK, weeks_later)
            clock.now = week_bounds(window_start)[0].timestamp() + 9 * 3600
            report, t_compact = timed(lambda: engagement.compact(window_start))
            gc.collect()
            compactions.append((weeks_later, t_compact, used_memory(conn) - memory_before, report))
        rows = [
            ("events ingested", f"{count:,}", f"{ingest:.1f} s, {count / ingest:,.0f} events/s"),
            ("figures(week)", f"{t_figures:.3f} s", "inside one Engagement.reading(), as the digest reads"),
            ("history(week, 12)", f"{t_history:.3f} s", "the week's own reads already made"),
            ("top_topics(week, 5)", f"{t_top:.3f} s", ""),
            ("the three, together", f"{total:.3f} s", f"target < {TARGET_SECONDS:.0f} s: "
                                                      + ("met" if total < TARGET_SECONDS else "MISSED")),
            ("history(week, 12)", f"{t_alone:.3f} s", "alone, outside reading(): reads everything again"),
            ("Redis memory", f"{(memory_after - memory_before) / 2**20:.1f} MiB",
             f"{per_100k / 2**20:.1f} MiB per 100,000 events"),
        ]
        for weeks_later, t_compact, left, report in compactions:
            rows.append((f"compact, window +{weeks_later} wk", f"{t_compact:.3f} s",
                         f"{left / 2**20:.2f} MiB left ({report.keys_deleted:,} keys, "
                         f"{report.entries_removed:,} entries deleted)"))
        print(f"engagement store, one week of {count:,} synthetic events, {args.members:,} members "
              f"(Redis: {runtime.source})\n")
        for label, value, note in rows:
            print(f"{label:<22} {value:>12}   {note}")
        print()
        print(figures_table(figures))
        return 0 if total < TARGET_SECONDS else 1
    finally:
        conn.flushdb()
        conn.close()
        runtime.stop()


if __name__ == "__main__":
    sys.exit(main())
