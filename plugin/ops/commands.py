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

from plugin import logs
from plugin.adapters.forum import ForumError, ForumRefused, ForumUnavailable, Throttled
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
    from plugin.ops.doctor import main as check  # noqa: PLC0415  (reads the settings itself, naming every bad one)

    return check()


def install(args: argparse.Namespace) -> int:
    """Set the forum up, printing each step as it is done (`--dry-run`: only look); 1 if any step has a problem."""
    from plugin.ops.install import run_install  # noqa: PLC0415

    return run_install(Settings.from_env(), dry_run=args.dry_run)


def serve(args: argparse.Namespace) -> int:
    """The webhook receiver under gunicorn; refuses to start without a good webhook secret."""
    from webhooks.serve import ReceiverServer  # noqa: PLC0415

    logs.configure(everything=True)
    ReceiverServer(
        Settings.from_env(), host=args.host, port=args.port, workers=args.workers, threads=args.threads
    ).run()
    return 0


def work(args: argparse.Namespace) -> int:
    """One RQ worker on every queue (worker/run.py)."""
    from worker.run import work as run_worker  # noqa: PLC0415

    logs.configure(everything=True)
    run_worker(Settings.from_env(), burst=args.burst, simple=args.simple)
    return 0


def scheduler(args: argparse.Namespace) -> int:
    """The one cron scheduler (worker/run.py)."""
    from worker.run import run_scheduler  # noqa: PLC0415

    logs.configure(everything=True)
    run_scheduler(Settings.from_env())
    return 0


def stats(args: argparse.Namespace) -> int:
    """Print a week's engagement figures as a table (from Redis alone: no forum call, but 1 to find a category
    given by slug or name)."""
    from worker.services import services as worker_services  # noqa: PLC0415

    services = worker_services()
    engagement = services.engagement
    week = args.week or week_of(time.time())
    wanted = None if args.category is None else args.category.strip()
    category_id: int | None = None
    category_name: str | None = None
    if wanted is not None and wanted.isdigit():
        category_id = int(wanted)
    elif wanted is not None:
        try:
            categories = services.forum.categories()
        except ForumError as exc:
            if for_the_handler(exc):
                raise
            print(f"stats: the forum's categories could not be read ({exc}); give the category's id", file=sys.stderr)
            return 1
        found = [c for c in categories if wanted.lower() in (c.name.lower(), c.slug.lower())]
        if not found:
            known = ", ".join(c.name for c in categories) or "none"
            print(
                f"stats: the forum has no category {wanted!r}; give the id, slug or name of one of: {known}",
                file=sys.stderr,
            )
            return 2
        category_id, category_name = found[0].id, found[0].name
    figures = engagement.figures(week, category_id)  # Redis not reachable: plugin/__main__.py says so (exit 2)
    print(
        figures_table(figures, category_id=category_id, category_name=category_name, frozen=engagement.is_frozen(week))
    )
    if not args.check:
        return 0
    if category_id is not None:
        print("--check compares the whole forum's figures: leave out --category", file=sys.stderr)
        return 2
    start, end = week_bounds(week)
    try:
        daily = services.forum.daily_reports(start.date(), (end - timedelta(days=1)).date())
    except ForumError as exc:
        if for_the_handler(exc):
            raise
        print(f"the forum's reports could not be read: {exc}", file=sys.stderr)
        return 1
    print()
    print(check_table(figures, {kind: sum(days.values()) for kind, days in daily.items()}))
    return 0


def care(args: argparse.Namespace) -> int:
    """The care requests, oldest first: who asked, how long ago, who picked it up, whether it was escalated (from
    Redis alone: no forum call). Private: for the peer-support team."""
    from worker.services import services as worker_services  # noqa: PLC0415

    requests = worker_services().store.care_requests()  # Redis not reachable: plugin/__main__.py says so (exit 2)
    print(care_table(requests, now=time.time(), closed_too=args.all))
    return 0


def digest(args: argparse.Namespace) -> int:
    """Post a week's digest now, as the schedule would (once per week); `--dry-run` prints it instead, and says
    when the week is posted already. `--chart FILE` saves the chart's PNG in FILE (checked before anything is done)."""
    import os  # noqa: PLC0415  (only `digest --chart` looks at the file system)
    from pathlib import Path  # noqa: PLC0415

    from worker.digest import WeekNotOver, post_digest, posted_digest, preview_digest  # noqa: PLC0415
    from worker.services import services as worker_services  # noqa: PLC0415

    chart_file = None if args.chart is None else Path(args.chart)
    chart_fix = "name a file in an existing directory you may write in"
    if chart_file is not None:
        problem = None
        if chart_file.is_dir():
            problem = "is a directory"
        elif not chart_file.parent.is_dir():
            problem = f"there is no directory {chart_file.parent}"
        elif not os.access(chart_file if chart_file.exists() else chart_file.parent, os.W_OK):
            problem = "permission denied"
        if problem is not None:
            print(f"digest: --chart {args.chart}: {problem}; {chart_fix}", file=sys.stderr)
            return 2
    services = worker_services()
    charts: list[bytes] = []
    try:
        if args.dry_run:
            draft = preview_digest(services, args.week)
            posted = posted_digest(services, draft.week)
            print(f"{draft.title}\n\n{draft.raw}", end="")
            if posted is not None:
                print(
                    f"digest: {draft.week} was already posted, as topic {posted}: {services.forum.topic_url(posted)} "
                    "(read the posted digest there; `digest` will not post this week again)",
                    file=sys.stderr,
                )
            charts.append(draft.chart)
        else:
            print(post_digest(services, args.week, keep_chart=charts.append))
    except (WeekNotOver, ForumError) as exc:
        if for_the_handler(exc):
            raise
        print(f"digest: {exc}", file=sys.stderr)
        return 1
    if chart_file is not None and charts:
        try:
            chart_file.write_bytes(charts[-1])
        except OSError as exc:
            print(f"digest: --chart {args.chart}: {exc.strerror or exc}; {chart_fix}", file=sys.stderr)
            return 2
    size = len(charts[-1]) if charts else 0
    if args.dry_run:
        chart = (
            f"the chart is a {size}-byte PNG"
            if chart_file is None
            else f"the chart, a {size}-byte PNG, is in {chart_file}"
        )
        print(f"(dry run: {chart}; nothing was frozen, uploaded or posted)", file=sys.stderr)
    elif chart_file is not None:
        print(f"the chart, a {size}-byte PNG, is in {chart_file}")
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
    print its report, or the forum's refusal of one of its requests (exit 1).

    The forum not answering, redirecting elsewhere or refusing the key (401, 403) is not this command's to tell:
    it goes on to plugin/__main__.py, which names the setting to check (exit 2), as for every command."""
    refusals: tuple[type[Exception], ...] = (ForumError, *expected)
    while True:
        try:
            print(run())
            return 0
        except Throttled as exc:
            print(f"\n{name}: {exc}; waiting", file=sys.stderr, flush=True)
            time.sleep(exc.retry_after)
        except refusals as exc:
            if for_the_handler(exc):
                raise
            print(f"{name}: {exc}", file=sys.stderr)
            return 1


def for_the_handler(exc: Exception) -> bool:
    """Whether a command leaves `exc` to plugin/__main__.py, which names the setting to check (exit 2), as for every
    command: the forum not answering, redirecting elsewhere, or refusing the key (401, 403). A refusal of one of the
    command's own requests is the command's to tell (exit 1)."""
    return isinstance(exc, ForumUnavailable) or (
        isinstance(exc, ForumRefused) and (exc.status < 400 or exc.status in (401, 403))
    )
