"""What each `python -m plugin` command does, once its arguments are parsed (plugin/__main__.py parses them).

Each runner takes the parsed arguments and returns the exit code. The worker and the receiver are imported only
by the commands that run them.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import timedelta

import redis

from plugin import logs
from plugin.adapters.forum import ForumError, Throttled
from plugin.adapters.redis import describe
from plugin.config import Settings
from plugin.domain.engagement import iso_week as week_of
from plugin.domain.engagement import week_bounds
from plugin.text.care import care_table
from plugin.text.figures import check_table, figures_table


def demo(args: argparse.Namespace) -> int:
    """The whole product on embedded defaults (plugin/ops/demo.py)."""
    from plugin.ops.demo import run_demo  # noqa: PLC0415  (starts its own Redis and forum)

    return run_demo()


def uninstall(args: argparse.Namespace) -> int:
    """Remove the webhook install registered; the forum's content stays."""
    from plugin.ops.uninstall import run_uninstall  # noqa: PLC0415

    return run_uninstall(Settings.from_env(), dry_run=args.dry_run)


def doctor(args: argparse.Namespace) -> int:
    """Check everything, print each check with what to do; 1 if anything is wrong."""
    from plugin.ops.doctor import main as check  # noqa: PLC0415

    return check(Settings.from_env())


def install(args: argparse.Namespace) -> int:
    """Set the forum up, printing each step as it is done (`--dry-run`: only look); 1 if any step has a problem."""
    from plugin.ops.install import run_install  # noqa: PLC0415

    return run_install(Settings.from_env(), dry_run=args.dry_run)


def serve(args: argparse.Namespace) -> int:
    """The webhook receiver under gunicorn; refuses to start without a good webhook secret."""
    from webhooks.serve import ReceiverServer  # noqa: PLC0415

    logs.configure()
    ReceiverServer(
        Settings.from_env(), host=args.host, port=args.port, workers=args.workers, threads=args.threads
    ).run()
    return 0


def work(args: argparse.Namespace) -> int:
    """One RQ worker on every queue (worker/run.py)."""
    from worker.run import work as run_worker  # noqa: PLC0415

    logs.configure()
    run_worker(Settings.from_env(), burst=args.burst, simple=args.simple)
    return 0


def scheduler(args: argparse.Namespace) -> int:
    """The one cron scheduler (worker/run.py)."""
    from worker.run import run_scheduler  # noqa: PLC0415

    run_scheduler(Settings.from_env())
    return 0


def stats(args: argparse.Namespace) -> int:
    """Print a week's engagement figures as a table (from Redis alone: no forum call)."""
    from worker.services import services as worker_services  # noqa: PLC0415

    services = worker_services()
    settings, engagement = services.settings, services.engagement
    week = args.week or week_of(time.time())
    try:
        figures = engagement.figures(week, args.category)
        print(figures_table(figures, category_id=args.category, frozen=engagement.is_frozen(week)))
    except redis.ConnectionError as exc:
        print(f"Redis at {describe(settings)} is not reachable: {exc}", file=sys.stderr)
        return 1
    if not args.check:
        return 0
    if args.category is not None:
        print("--check compares the whole forum's figures: leave out --category", file=sys.stderr)
        return 2
    start, end = week_bounds(week)
    try:
        daily = services.forum.daily_reports(start.date(), (end - timedelta(days=1)).date())
    except ForumError as exc:
        print(f"the forum's reports could not be read: {exc}", file=sys.stderr)
        return 1
    print()
    print(check_table(figures, {kind: sum(days.values()) for kind, days in daily.items()}))
    return 0


def care(args: argparse.Namespace) -> int:
    """The care requests, oldest first: who asked, how long ago, who picked it up, whether it was escalated (from
    Redis alone: no forum call). Private: for the peer-support team."""
    from worker.services import services as worker_services  # noqa: PLC0415

    services = worker_services()
    try:
        requests = services.store.care_requests()
    except redis.ConnectionError as exc:
        print(f"Redis at {describe(services.settings)} is not reachable: {exc}", file=sys.stderr)
        return 1
    print(care_table(requests, now=time.time(), closed_too=args.all))
    return 0


def digest(args: argparse.Namespace) -> int:
    """Post a week's digest now, as the schedule would (once per week); `--dry-run` prints it instead."""
    from worker.digest import WeekNotOver, post_digest, preview_digest  # noqa: PLC0415
    from worker.services import services as worker_services  # noqa: PLC0415

    services = worker_services()
    try:
        if args.dry_run:
            draft = preview_digest(services, args.week)
            print(f"{draft.title}\n\n{draft.raw}", end="")
            print(
                f"(dry run: the chart is a {len(draft.chart)}-byte PNG; nothing was frozen, uploaded or posted)",
                file=sys.stderr,
            )
        else:
            print(post_digest(services, args.week))
    except (WeekNotOver, ForumError) as exc:
        print(f"digest: {exc}", file=sys.stderr)
        return 1
    return 0


def reconcile(args: argparse.Namespace) -> int:
    """One reconcile pass now, as the schedule runs it."""
    from worker.reconcile import AlreadyRunning  # noqa: PLC0415
    from worker.reconcile import reconcile as catch_up  # noqa: PLC0415
    from worker.services import services as worker_services  # noqa: PLC0415

    services = worker_services()
    return patiently("reconcile", lambda: catch_up(services, max_pages=args.pages), AlreadyRunning)


def rebuild(args: argparse.Namespace) -> int:
    """Rebuild the state from the forum, with a progress bar; an interrupted rebuild goes on where it stopped."""
    from worker.rebuild import print_progress  # noqa: PLC0415
    from worker.rebuild import rebuild as make_again  # noqa: PLC0415
    from worker.services import services as worker_services  # noqa: PLC0415

    services = worker_services()
    if args.fresh and not services.store.rebuild_cursor():
        print(f"deleted {services.store.wipe()} key(s) under {services.keys.prefix}", file=sys.stderr)
    return patiently("rebuild", lambda: make_again(services, progress=print_progress))


def patiently(name: str, run: Callable[[], object], *expected: type[Exception]) -> int:
    """Run a one-off command, waiting out the forum's (or the shared budget's) throttling and trying again;
    print its report, or the forum's refusal (exit 1)."""
    refusals: tuple[type[Exception], ...] = (ForumError, *expected)
    while True:
        try:
            print(run())
            return 0
        except Throttled as exc:
            print(f"\n{name}: {exc}; waiting", file=sys.stderr, flush=True)
            time.sleep(exc.retry_after)
        except refusals as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
