"""The command line: `python -m plugin <command>`."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

COMMANDS: dict[str, str] = {
    "serve": "run the webhook receiver",
    "worker": "run an RQ worker on the service's queues",
    "scheduler": "run the cron scheduler (the weekly digest); run exactly one",
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

NOT_IMPLEMENTED_EXIT = 2


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
    commands["install"].add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    commands["uninstall"].add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    digest = commands["digest"]
    digest.add_argument("--week", type=iso_week, help="the ISO week, e.g. 2026-W47 (default: the last completed "
                                                      "week in COC_TIMEZONE)")
    digest.add_argument("--dry-run", action="store_true", help="print the digest; freeze, upload and post nothing")
    stats = commands["stats"]
    stats.add_argument("--week", type=iso_week, help="the ISO week, e.g. 2026-W47 (default: this week, in UTC)")
    stats.add_argument("--category", type=int, metavar="ID", help="only this category's activity")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code."""
    args = build_parser().parse_args(argv)
    from plugin.config import ConfigError  # noqa: PLC0415  (keeps `--help` fast)

    try:
        if args.command == "demo":
            from plugin.demo import run_demo  # noqa: PLC0415

            return run_demo()
        if args.command == "serve":
            return serve(args)
        if args.command == "worker":
            return work(args)
        if args.command == "uninstall":
            from plugin.config import Settings  # noqa: PLC0415
            from plugin.uninstall import run_uninstall  # noqa: PLC0415

            return run_uninstall(Settings.from_env(), dry_run=args.dry_run)
        if args.command == "doctor":
            from plugin.config import Settings  # noqa: PLC0415
            from plugin.doctor import main as doctor  # noqa: PLC0415

            return doctor(Settings.from_env())
        if args.command == "install":
            return install(args)
        if args.command == "stats":
            return stats(args)
        if args.command == "digest":
            return post_digest(args)
        if args.command == "scheduler":
            return run_scheduler()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    print(f"not implemented yet: {args.command}", file=sys.stderr)
    return NOT_IMPLEMENTED_EXIT


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
    import redis  # noqa: PLC0415
    from rq import Worker  # noqa: PLC0415
    from rq.serializers import JSONSerializer  # noqa: PLC0415

    from plugin import logs  # noqa: PLC0415
    from plugin.config import Settings  # noqa: PLC0415
    from plugin.intake import QUEUES  # noqa: PLC0415

    logs.configure()
    settings = Settings.from_env()
    connection = redis.Redis.from_url(settings.redis_url, health_check_interval=30)
    worker = Worker(list(QUEUES), connection=connection, serializer=JSONSerializer)
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

    from plugin.config import Settings  # noqa: PLC0415
    from plugin.engagement import figures_table, iso_week as week_of  # noqa: PLC0415
    from plugin.engagement_store import Engagement  # noqa: PLC0415
    from plugin.keys import Keys  # noqa: PLC0415

    settings = Settings.from_env()
    engagement = Engagement(redis.Redis.from_url(settings.redis_url), Keys(settings.redis_prefix),
                            bot_username=settings.bot_username)
    week = args.week or week_of(time.time())
    try:
        print(figures_table(engagement.figures(week, args.category), category_id=args.category,
                            frozen=engagement.is_frozen(week)))
    except redis.ConnectionError as exc:
        print(f"Redis at {settings.redis_url} is not reachable: {exc}", file=sys.stderr)
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
    import redis  # noqa: PLC0415

    from plugin.config import Settings  # noqa: PLC0415
    from plugin.forum import ForumError  # noqa: PLC0415
    from worker.digest import WeekNotOver, post_digest as post, preview_digest  # noqa: PLC0415
    from worker.services import Services  # noqa: PLC0415

    settings = Settings.from_env()
    services = Services(settings, redis.Redis.from_url(settings.redis_url))
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


def run_scheduler() -> int:
    """RQ's cron scheduler with the weekly digest, until stopped (SIGINT or SIGTERM). Run exactly one."""
    import redis  # noqa: PLC0415

    from plugin.config import Settings  # noqa: PLC0415
    from worker.schedule import build_scheduler, other_schedulers  # noqa: PLC0415

    settings = Settings.from_env()
    connection = redis.Redis.from_url(settings.redis_url, health_check_interval=30)
    scheduler = build_scheduler(connection, settings)
    for other in other_schedulers(connection, scheduler):
        print(f"warning: another scheduler runs the digest ({other.name}); run exactly one — the digest is still "
              "posted once per week", file=sys.stderr)
    for job in scheduler.get_jobs():
        print(f"{job.name}: next at {job.next_enqueue_time:%Y-%m-%d %H:%M} UTC "
              f"({settings.digest_time} on Mondays, {settings.timezone})", flush=True)
    scheduler.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
