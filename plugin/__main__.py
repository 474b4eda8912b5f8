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
    "uninstall": "remove what install set up",
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
        if args.command == "doctor":
            from plugin.config import Settings  # noqa: PLC0415
            from plugin.doctor import main as doctor  # noqa: PLC0415

            return doctor(Settings.from_env())
        if args.command == "install":
            return install(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    print(f"not implemented yet: {args.command}", file=sys.stderr)
    return NOT_IMPLEMENTED_EXIT


def serve(args: argparse.Namespace) -> int:
    """The webhook receiver under gunicorn; refuses to start without a good webhook secret."""
    from plugin.config import Settings  # noqa: PLC0415
    from webhooks.serve import ReceiverServer  # noqa: PLC0415

    ReceiverServer(Settings.from_env(), host=args.host, port=args.port, workers=args.workers,
                   threads=args.threads).run()
    return 0


def work(args: argparse.Namespace) -> int:
    """One RQ worker on every queue, highest priority first, with RQ's scheduler for retries and deferrals."""
    import redis  # noqa: PLC0415
    from rq import Worker  # noqa: PLC0415
    from rq.serializers import JSONSerializer  # noqa: PLC0415

    from plugin.config import Settings  # noqa: PLC0415
    from plugin.intake import QUEUES  # noqa: PLC0415

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


if __name__ == "__main__":
    sys.exit(main())
