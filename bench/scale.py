"""Benchmark: what the recovery paths cost as the forum grows — calls for a rebuild (through the API and through
Data Explorer) and for a reconcile pass, and Redis' memory after a year — against the window, not the history.

    make bench            (or: .venv/bin/python -m bench.scale [--forums small,large] [--memory-weeks 52])

Two forums are loaded straight into the simulator's state (the API would take days to fill them): `small`, 100,000
posts at 5,000 a week (20 weeks), and `large`, 2,000,000 posts at 20,000 a week (100 weeks) — members with
heavy-tailed activity, topics with tags, likes spread over the weeks, and the Code of Care (the living document, two
topics tagged `code-of-care` with proposals old and new). The service is installed on each, then:
- `rebuild` runs through the API (Data Explorer off, as Discourse ships) and again through Data Explorer, each on an
  emptied Redis: the forum calls each made (the simulator counts them), and the wall time they take at the default
  budget (COC_API_BUDGET_PER_MIN=30; here the budget is lifted so that the bench takes minutes, not days);
- a reconcile pass with nothing lost, then one after a delivery was dropped (the forum's delivery log shows it
  failed): its calls, and whether the lost post arrived.
"Today" is what the release before the window cost: one call per 50 posts, one per topic and one per liked post.
Last, a year at 20,000 posts a week goes through the engagement store as the workers would hand it over, the digest
freezing each week and compacting what left the window: Redis' memory at the end, and what a year of per-post
detail would hold without compaction (the detail of one week, measured, times 52).
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis

from plugin.adapters.engagement_store import Engagement
from plugin.adapters.keys import Keys
from plugin.domain.engagement import iso_week, parse_time, shift_week
from plugin.domain.events import Delivery, LikeEvent, Post, PostEvent
from plugin.ops.local_redis import ensure_redis, url_with_db

BENCH_DB = 14
"""The forums' database (the service's keys, emptied before and after): run one forum bench at a time, as
`make bench` does (the other benchmarks use it too)."""
MEMORY_DB = 12
"""The memory run's database: only its own prefix is touched, so it may share the server with anything."""
DEFAULT_BUDGET = 30
"""COC_API_BUDGET_PER_MIN's default: the calls a minute the service allows itself."""
WEEK_SECONDS = 7 * 24 * 3600
YEAR_START = parse_time("2025-12-01T00:00:00Z")  # a Monday
MEMORY_KEYS = Keys("coc-bench-scale:")


# ------------------------------------------------------------------------------------------------ memory


@dataclass
class Clock:
    now: float = YEAR_START

    def __call__(self) -> float:
        return self.now


def week_of_events(  # type: ignore[no-untyped-def]
    week: int, posts: int, members: int, rng: random.Random, state: dict[str, int]
):
    """One week's events in time order: 8% of the posts open a topic, the rest reply to a recent one; half as many
    likes as posts, on recent posts. Members' activity is heavy-tailed."""
    start = YEAR_START + week * WEEK_SECONDS
    recent: list[Post] = []
    for i in range(posts):
        at = start + WEEK_SECONDS * i / posts
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at))
        who = int(members * rng.random() ** 2.5)  # a few write a lot
        if rng.random() < 0.08 or "topic" not in state:
            state["topic"] = state.get("topic", 0) + 1
            topic, number = state["topic"], 1
            state[f"n{topic % 4096}"] = 1
        else:
            topic = max(1, state["topic"] - int(rng.expovariate(0.02)))
            number = state.get(f"n{topic % 4096}", 1) + 1
            state[f"n{topic % 4096}"] = number
        state["post"] = state.get("post", 0) + 1
        post = Post(id=state["post"], topic_id=topic, post_number=number, user_id=who + 1, username=f"m{who}",
                    post_type=1, created_at=stamp, updated_at=stamp, version=1, raw="Thank you for this.",
                    topic_title=f"Thread {topic}", category_id=1 + topic % 6)
        recent.append(post)
        yield at, PostEvent(Delivery(f"p{post.id}", "post_created", "post"), post=post)
        if i % 2 == 1:
            liked = recent[-1 - min(int(rng.expovariate(0.01)), len(recent) - 1)]
            liker = int(members * rng.random() ** 2.5)
            yield at + 30, LikeEvent(Delivery(f"l{post.id}", "post_liked", "like"), post=liked, liker_id=liker + 1,
                                     liker_username=f"m{liker}")
        if len(recent) > 2000:
            del recent[:1000]


def year_of_memory(weeks: int, posts_per_week: int, window: int, members: int, seed: int) -> dict[str, float]:
    """Ingest `weeks` weeks, freezing each week as its digest does and compacting the weeks that left the window;
    the memory the engagement keys take at the end, and what one week's detail took before its compaction."""
    runtime = ensure_redis()
    conn = redis.Redis.from_url(url_with_db(runtime.url, MEMORY_DB))
    forget(conn)
    try:
        clock = Clock()
        engagement = Engagement(conn, MEMORY_KEYS, bot_username="care-bot", clock=clock)
        rng, state = random.Random(seed), {}
        events, week_mib = 0, 0.0
        started = time.perf_counter()
        for week in range(weeks):
            before = keys_memory(conn) if week == weeks // 2 else 0
            for at, event in week_of_events(week, posts_per_week, members, rng, state):
                clock.now = at
                engagement.record(event)
                events += 1
            if week == weeks // 2:  # a week in the middle of the year: its detail before compaction
                week_mib = (keys_memory(conn) - before) / 2**20
            name = iso_week(YEAR_START + week * WEEK_SECONDS)
            clock.now = YEAR_START + (week + 1) * WEEK_SECONDS + 9 * 3600  # Monday 09:00: the digest
            engagement.freeze(name)
            engagement.compact(shift_week(name, 1 - window))
        gc.collect()
        return {
            "events": events,
            "seconds": time.perf_counter() - started,
            "end_mib": keys_memory(conn) / 2**20,
            "week_mib": week_mib,
        }
    finally:
        forget(conn)
        runtime.stop()


def keys_memory(conn: redis.Redis) -> int:
    """What the benchmark's keys take (MEMORY USAGE of each, summed): not the server's whole `used_memory`, which
    other databases share."""
    total = 0
    for key in conn.scan_iter(match=f"{MEMORY_KEYS.prefix}*", count=1000):
        total += int(conn.memory_usage(key, samples=0) or 0)
    return total


def forget(conn: redis.Redis) -> None:
    for key in conn.scan_iter(match=f"{MEMORY_KEYS.prefix}*", count=1000):
        conn.delete(key)


# ------------------------------------------------------------------------------------------------ forums


@dataclass(frozen=True)
class Shape:
    name: str
    posts: int
    per_week: int
    members: int


SHAPES = {
    "small": Shape("small", 100_000, 5_000, 3_000),
    "large": Shape("large", 2_000_000, 20_000, 20_000),
}

PROPOSAL = '[amend section="Consent"]\nWe ask before we share what someone told us, every time, without exception.\n[/amend]'


def load_forum(shape: Shape, seed: int, now: datetime):  # type: ignore[no-untyped-def]
    """A simulator forum holding `shape`'s history, ending an hour before `now`, loaded straight into its state
    (`Forum.load_bulk`). Returns it with its counts of topics, likes and liked posts."""
    from simulator.state import Category, Forum, Tag  # noqa: PLC0415

    rng = random.Random(seed)
    forum = Forum()
    weeks = shape.posts // shape.per_week
    start = now - timedelta(weeks=weeks, hours=1)
    span = (now - timedelta(hours=1) - start).total_seconds()
    users = [(100 + i, f"member{i}", start, {"trust_level": 2}) for i in range(shape.members)]
    for cid, name in enumerate(("General", "Support", "Ideas", "Events", "Stories", "Meta"), start=2):
        forum.categories[cid] = Category(id=cid, name=name, slug=name.lower())
    forum._ids["category"] = 7
    for tid, name in enumerate(("code-of-care", "welcome", "question", "story"), start=1):
        forum.tags[name] = Tag(id=tid, name=name)
    forum._ids["tag"] = 4
    care_at = {shape.posts // 3, shape.posts * 2 // 3}  # the two Code of Care topics open there
    topics: list[tuple] = []  # type: ignore[type-arg]
    posts: list[tuple] = []  # type: ignore[type-arg]
    likes: list[tuple] = []  # type: ignore[type-arg]
    authors: dict[int, int] = {}
    care_topics: list[int] = []
    liked: set[int] = set()
    for n in range(1, shape.posts + 1):
        at = start + timedelta(seconds=span * n / shape.posts)
        author = 100 + int(shape.members * rng.random() ** 2.5)
        if not topics or n in care_at or rng.random() < 0.08:
            tid = len(topics) + 1
            tags = ["code-of-care"] if n in care_at else ([rng.choice(("welcome", "question", "story"))]
                                                          if rng.random() < 0.3 else [])
            if n in care_at:
                care_topics.append(tid)
            topics.append((tid, author, f"A conversation about week {n // shape.per_week}, number {tid}", at,
                           {"category_id": 2 + tid % 6, "tags": tags}))
        elif care_topics and rng.random() < 30 / shape.per_week:
            tid = rng.choice(care_topics)  # the Code of Care's own talk, a few posts a week
        else:
            tid = len(topics) - min(int(rng.expovariate(0.01)), len(topics) - 1)
        proposal = tid in care_topics and rng.random() < 0.1
        raw = (f"I would like us to say it more plainly.\n\n{PROPOSAL}" if proposal
               else f"Thank you for writing this, it helped me today ({n}).")
        posts.append((n, tid, author, at, raw, {"cooked": f"<p>{raw}</p>"}))
        authors[n] = author
        if rng.random() < 0.5:  # about half the posts get a like, within days
            liker = 100 + int(shape.members * rng.random() ** 2.5)
            if liker != author:
                when = min(at + timedelta(hours=rng.expovariate(1 / 30)), now - timedelta(minutes=30))
                likes.append((n, liker, when))
                liked.add(n)
    forum.load_bulk(users=users, topics=topics, posts=posts, likes=likes)
    return forum, len(topics), len(likes), len(liked)


def measure_forum(shape: Shape, seed: int, ways: tuple[str, ...] = ("api", "data-explorer")) -> dict[str, object]:
    """Load the forum, install the service on it, and measure rebuild (both ways) and reconcile."""
    from tests.companion import start_companion  # noqa: PLC0415
    from tests.simulator_fixtures import start_sim  # noqa: PLC0415
    from worker.rebuild import rebuild  # noqa: PLC0415
    from worker.reconcile import reconcile  # noqa: PLC0415

    started = time.perf_counter()
    forum, topics, likes, liked = load_forum(shape, seed, datetime.now(UTC))
    loaded = time.perf_counter() - started
    forum.settings["max_admin_api_reqs_per_minute"] = 10**9  # the bench measures calls, it does not wait for them
    sim, handle = start_sim(forum)
    runtime = ensure_redis()
    conn = redis.Redis.from_url(url_with_db(runtime.url, BENCH_DB))
    conn.flushdb()
    running = start_companion(sim, url_with_db(runtime.url, BENCH_DB), conn, api_budget_per_min=10**9)
    c = next(running)
    out: dict[str, object] = {"shape": shape, "topics": topics, "likes": likes, "liked": liked, "loaded": loaded}
    try:
        for via in ways:
            if via == "data-explorer":
                forum.settings["data_explorer_enabled"] = True
                warm_data_explorer(forum)
            c.store.wipe()
            calls, seconds = c.services.forum.calls_made, time.perf_counter()
            report = rebuild(c.services)
            out[via] = (c.services.forum.calls_made - calls, time.perf_counter() - seconds, report)
            c.settle()
        reconcile(c.services)  # the first pass reads the posts back, and the log from then on
        reconcile(c.services)
        calls = c.services.forum.calls_made
        reconcile(c.services)
        out["quiet"] = c.services.forum.calls_made - calls
        c.sim.app.extensions["webhooks"].faults.drop = 1.0
        lost = c.member("member1").create_post("A reply whose webhook is lost on its way.", topic_id=1)
        c.settle()
        c.sim.app.extensions["webhooks"].faults.drop = 0.0
        calls = c.services.forum.calls_made
        found = reconcile(c.services)
        out["lost_pass"] = (c.services.forum.calls_made - calls, found.redelivered)
        c.settle()
        out["found"] = c.store.known_versions([lost["id"]])[lost["id"]] is not None
    finally:
        running.close()
        handle.shutdown()
        conn.flushdb()
        runtime.stop()
    return out


def warm_data_explorer(forum) -> None:  # type: ignore[no-untyped-def]
    """Build the simulator's SQLite copy of the forum now (the plugin's own database is always there; the copy of
    two million posts takes longer than a query may)."""
    from simulator.data_explorer import mirror  # noqa: PLC0415

    mirror(forum)


def hours_at_budget(calls: int) -> str:
    minutes = calls / DEFAULT_BUDGET
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--forums", default="small,large", help="which forums: small, large or both (comma)")
    parser.add_argument("--memory-weeks", type=int, default=52, help="weeks of the memory run (0: skip it)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--via", default="api,data-explorer", help="which rebuilds: api, data-explorer or both")
    args = parser.parse_args()
    ways = tuple(w.strip() for w in args.via.split(",") if w.strip())
    import logging  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    targets = {"small": (5_000, 50), "large": (20_000, 100)}
    for name in [n.strip() for n in args.forums.split(",") if n.strip()]:
        shape = SHAPES[name]
        m = measure_forum(shape, args.seed, ways)
        today = shape.posts // 50 + int(m["topics"]) + int(m["liked"])  # type: ignore[call-overload]
        api_calls, api_seconds, api_report = m.get("api", (0, 0.0, "not run"))  # type: ignore[misc]
        dx_calls, dx_seconds, dx_report = m.get("data-explorer", (0, 0.0, "not run"))  # type: ignore[misc]
        api_target, dx_target = targets[name]
        lost_calls, redelivered = m["lost_pass"]  # type: ignore[misc]
        print(f"\n{name}: {shape.posts:,} posts at {shape.per_week:,} a week, {m['topics']:,} topics, "
              f"{shape.members:,} members, {m['likes']:,} likes on {m['liked']:,} posts (loaded in "
              f"{m['loaded']:.0f} s); window 12 weeks")
        print(f"  rebuild, today (estimate)      {today:>9,} calls   {hours_at_budget(today):>8} at {DEFAULT_BUDGET}/min")
        print(f"  rebuild, through the API       {api_calls:>9,} calls   {hours_at_budget(api_calls):>8} at "
              f"{DEFAULT_BUDGET}/min   target <= {api_target:,}: {'met' if api_calls <= api_target else 'MISSED'}"
              f"   ({api_seconds:.0f} s here; {api_report})")
        print(f"  rebuild, through Data Explorer {dx_calls:>9,} calls   {hours_at_budget(dx_calls):>8} at "
              f"{DEFAULT_BUDGET}/min   target <= {dx_target}: {'met' if dx_calls <= dx_target else 'MISSED'}"
              f"   ({dx_seconds:.0f} s here; {dx_report})")
        print(f"  reconcile, nothing lost        {m['quiet']:>9,} calls   target <= 3: "
              f"{'met' if int(m['quiet']) <= 3 else 'MISSED'}")  # type: ignore[call-overload]
        print(f"  reconcile, one delivery lost   {lost_calls:>9,} calls   {redelivered} sent again by the forum; "
              f"the post arrived: {'yes' if m['found'] else 'NO'}")
    if args.memory_weeks:
        mem = year_of_memory(args.memory_weeks, 20_000, 12, 20_000, args.seed)
        print(f"\nmemory: {args.memory_weeks} weeks at 20,000 posts a week ({mem['events']:,.0f} events in "
              f"{mem['seconds']:.0f} s), window 12 weeks, compacted after each weekly digest")
        print(f"  Redis at the end               {mem['end_mib']:>9.1f} MiB")
        print(f"  without compaction (estimate)  {mem['week_mib'] * args.memory_weeks:>9.1f} MiB   "
              f"(one week's detail, {mem['week_mib']:.1f} MiB, times {args.memory_weeks})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
