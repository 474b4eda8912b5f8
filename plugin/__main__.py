"""The command line: `python -m plugin <command>`."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

COMMANDS: dict[str, str] = {
    "serve": "run the webhook receiver",
    "worker": "run an RQ worker on the service's queues",
    "scheduler": "run the cron scheduler (the weekly digest, reconcile passes); run exactly one",
    "install": "set up the forum: bot user, groups, tags, categories, webhook",
    "uninstall": "remove the webhook install registered; the forum's content stays",
    "doctor": "check configuration, Redis and the forum connection",
    "reconcile": "catch up on forum activity that no webhook delivered",
    "rebuild": "rebuild Redis state from the forum",
    "stats": "print engagement figures",
    "digest": "post the weekly digest now",
    "demo": "run the whole service against the forum simulator",
}
"""Every subcommand, with its one-line help (the list in DESIGN.md)."""

CONFIG_ERROR_EXIT = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per entry of COMMANDS."""
    parser = argparse.ArgumentParser(prog="python -m plugin", description="Code of Care companion for Discourse.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands = {name: subparsers.add_parser(name, help=text, description=text) for name, text in COMMANDS.items()}
    serve = commands["serve"]
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    serve.add_argument("--threads", type=int, default=4, help="threads per worker process (default 4)")
    worker = commands["worker"]
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.add_argument("--simple", action="store_true",
                        help="run every job in the worker process (RQ's SimpleWorker): several times faster, but a "
                             "job that crashes the interpreter takes the worker with it (run it under a supervisor)")
    commands["install"].add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    commands["uninstall"].add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    digest = commands["digest"]
    digest.add_argument("--week", type=iso_week, help="the ISO week, e.g. 2026-W47 (default: the last completed "
                                                      "week in COC_TIMEZONE)")
    digest.add_argument("--dry-run", action="store_true", help="print the digest; freeze, upload and post nothing")
    commands["reconcile"].add_argument("--pages", type=int, metavar="N",
                                       help="read at most N pages of 50 posts (default COC_RECONCILE_PAGES)")
    commands["rebuild"].add_argument("--fresh", action="store_true",
                                     help="first delete every key under COC_REDIS_PREFIX (not RQ's queues)")
    stats = commands["stats"]
    stats.add_argument("--week", type=iso_week, help="the ISO week, e.g. 2026-W47 (default: this week, in UTC)")
    stats.add_argument("--category", type=int, metavar="ID", help="only this category's activity")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code."""
    args = build_parser().parse_args(argv)
    from plugin.config import ConfigError  # noqa: PLC0415  (keeps `--help` fast)

    runners = {"demo": demo, "serve": serve, "worker": work, "uninstall": uninstall, "doctor": doctor,
               "install": install, "stats": stats, "digest": post_digest, "scheduler": run_scheduler,
               "reconcile": reconcile, "rebuild": rebuild}
    try:
        return runners[args.command](args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT


def demo(args: argparse.Namespace) -> int:
    """The whole product on embedded defaults (plugin/demo.py)."""
    from plugin.demo import run_demo  # noqa: PLC0415

    return run_demo()


def uninstall(args: argparse.Namespace) -> int:
    """Remove the webhook install registered; the forum's content stays."""
    from plugin.config import Settings  # noqa: PLC0415
    from plugin.uninstall import run_uninstall  # noqa: PLC0415

    return run_uninstall(Settings.from_env(), dry_run=args.dry_run)


def doctor(args: argparse.Namespace) -> int:
    """Check everything, print each check with what to do; 1 if anything is wrong."""
    from plugin.config import Settings  # noqa: PLC0415
    from plugin.doctor import main as check  # noqa: PLC0415

    return check(Settings.from_env())


def serve(args: argparse.Namespace) -> int:
    """The webhook receiver under gunicorn; refuses to start without a good webhook secret."""
    from plugin import logs  # noqa: PLC0415
    from plugin.config import Settings  # noqa: PLC0415
    from webhooks.serve import ReceiverServer  # noqa: PLC0415

    logs.configure()
    ReceiverServer(Settings.from_env(), host=args.host, port=args.port, workers=args.workers,
                   threads=args.threads).run()
    return 0


def work(args: argparse.Namespace) -> int:
    """One RQ worker on every queue, highest priority first, with RQ's scheduler for retries and deferrals."""
    from rq.serializers import JSONSerializer  # noqa: PLC0415

    from plugin import logs  # noqa: PLC0415
    from plugin.config import Settings  # noqa: PLC0415
    from plugin.connection import connect  # noqa: PLC0415
    from plugin.intake import QUEUES  # noqa: PLC0415
    import worker.jobs  # noqa: F401, PLC0415  (imported once here, not again in every forked work horse)
    from worker.reliable import ReliableSimpleWorker, ReliableWorker  # noqa: PLC0415

    logs.configure()
    settings = Settings.from_env()
    connection = connect(settings, health_check_interval=30)
    # RQ finds a job whose worker died (its heartbeat expired: job monitoring interval + 60 s) in a worker's
    # maintenance pass, every 10 minutes by default, and that pass also takes over the scheduler (retries!) of a
    # worker that died. An idle worker only gets to it when its wait for a job ends (worker_ttl - 15 s, 405 s by
    # default): both follow COC_WORKER_MAINTENANCE_SECONDS, so that recovery takes minutes, not an hour.
    every = settings.worker_maintenance_seconds
    worker_class = ReliableSimpleWorker if args.simple else ReliableWorker
    worker = worker_class(list(QUEUES), connection=connection, serializer=JSONSerializer,
                          maintenance_interval=every, worker_ttl=every + 15)
    worker.work(with_scheduler=True, burst=args.burst)
    return 0


def install(args: argparse.Namespace) -> int:
    """Set the forum up, printing each step as it is done (`--dry-run`: only look); 1 if any step has a problem."""
    from plugin.config import Settings  # noqa: PLC0415
    from plugin.install import run_install  # noqa: PLC0415

    return run_install(Settings.from_env(), dry_run=args.dry_run)


def stats(args: argparse.Namespace) -> int:
    """Print a week's engagement figures as a table (from Redis alone: no forum call)."""
    import time  # noqa: PLC0415

    import redis  # noqa: PLC0415

    from plugin.connection import describe  # noqa: PLC0415
    from plugin.engagement import figures_table, iso_week as week_of  # noqa: PLC0415
    from worker.services import services as worker_services  # noqa: PLC0415

    services = worker_services()
    settings, engagement = services.settings, services.engagement
    week = args.week or week_of(time.time())
    try:
        print(figures_table(engagement.figures(week, args.category), category_id=args.category,
                            frozen=engagement.is_frozen(week)))
    except redis.ConnectionError as exc:
        print(f"Redis at {describe(settings)} is not reachable: {exc}", file=sys.stderr)
        return 1
    return 0


def iso_week(text: str) -> str:
    """An argparse type: "2026-W47", or a usage error saying what is expected."""
    from plugin.engagement import check_week  # noqa: PLC0415

    try:
        return check_week(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def post_digest(args: argparse.Namespace) -> int:
    """Post a week's digest now, as the schedule would (once per week); `--dry-run` prints it instead."""
    from plugin.forum import ForumError  # noqa: PLC0415
    from worker.digest import WeekNotOver, post_digest as post, preview_digest  # noqa: PLC0415
    from worker.services import services as worker_services  # noqa: PLC0415

    services = worker_services()
    try:
        if args.dry_run:
            draft = preview_digest(services, args.week)
            print(f"{draft.title}\n\n{draft.raw}", end="")
            print(f"(dry run: the chart is a {len(draft.chart)}-byte PNG; nothing was frozen, uploaded or posted)",
                  file=sys.stderr)
        else:
            print(post(services, args.week))
    except (WeekNotOver, ForumError) as exc:
        print(f"digest: {exc}", file=sys.stderr)
        return 1
    return 0


def reconcile(args: argparse.Namespace) -> int:
    """One reconcile pass now, as the schedule runs it."""
    from worker.reconcile import AlreadyRunning, reconcile as catch_up  # noqa: PLC0415
    from worker.services import services as worker_services  # noqa: PLC0415

    services = worker_services()
    return patiently("reconcile", lambda: catch_up(services, max_pages=args.pages), AlreadyRunning)


def rebuild(args: argparse.Namespace) -> int:
    """Rebuild the state from the forum, with a progress bar; an interrupted rebuild goes on where it stopped."""
    from worker.rebuild import print_progress, rebuild as make_again  # noqa: PLC0415
    from worker.services import services as worker_services  # noqa: PLC0415

    services = worker_services()
    if args.fresh and not services.connection.exists(services.keys.rebuild_cursor):
        print(f"deleted {services.store.wipe()} key(s) under {services.keys.prefix}", file=sys.stderr)
    return patiently("rebuild", lambda: make_again(services, progress=print_progress))


def patiently(name: str, run, *expected: type[Exception]) -> int:  # type: ignore[no-untyped-def]
    """Run a one-off command, waiting out the forum's (or the shared budget's) throttling and trying again;
    print its report, or the forum's refusal (exit 1)."""
    import time  # noqa: PLC0415

    from plugin.forum import ForumError, Throttled  # noqa: PLC0415

    while True:
        try:
            print(run())
            return 0
        except Throttled as exc:
            print(f"\n{name}: {exc}; waiting", file=sys.stderr, flush=True)
            time.sleep(exc.retry_after)
        except (ForumError, *expected) as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1


def run_scheduler(args: argparse.Namespace) -> int:
    """RQ's cron scheduler with the weekly digest, until stopped (SIGINT or SIGTERM). Run exactly one."""
    from plugin.config import Settings  # noqa: PLC0415
    from plugin.connection import connect  # noqa: PLC0415
    from worker.schedule import build_scheduler, other_schedulers  # noqa: PLC0415

    settings = Settings.from_env()
    connection = connect(settings, health_check_interval=30)
    scheduler = build_scheduler(connection, settings)
    for other in other_schedulers(connection, scheduler):
        print(f"warning: another scheduler runs the digest ({other.name}); run exactly one — the digest is still "
              "posted once per week", file=sys.stderr)
    for job in scheduler.get_jobs():
        if job.interval:
            print(f"{job.name}: every {job.interval // 60} minutes, the first now", flush=True)
        else:
            print(f"{job.name}: next at {job.next_enqueue_time:%Y-%m-%d %H:%M} UTC "
                  f"({settings.digest_time} on Mondays, {settings.timezone})", flush=True)
    scheduler.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
