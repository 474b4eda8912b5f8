"""The command line: `python -m plugin <command>`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
    "care": "list the care requests still open or picked up (for the peer-support team; private)",
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
    worker.add_argument(
        "--simple",
        action="store_true",
        help="run every job in the worker process (RQ's SimpleWorker): several times faster, but a "
        "job that crashes the interpreter takes the worker with it (run it under a supervisor)",
    )
    commands["install"].add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    commands["uninstall"].add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    digest = commands["digest"]
    digest.add_argument(
        "--week", type=iso_week, help="the ISO week, e.g. 2026-W47 (default: the last completed week in COC_TIMEZONE)"
    )
    digest.add_argument("--dry-run", action="store_true", help="print the digest; freeze, upload and post nothing")
    commands["reconcile"].add_argument(
        "--pages", type=int, metavar="N", help="read at most N pages of 50 posts (default COC_RECONCILE_PAGES)"
    )
    commands["rebuild"].add_argument(
        "--fresh", action="store_true", help="first delete every key under COC_REDIS_PREFIX (not RQ's queues)"
    )
    commands["care"].add_argument("--all", action="store_true", help="the closed requests too")
    stats = commands["stats"]
    stats.add_argument("--week", type=iso_week, help="the ISO week, e.g. 2026-W47 (default: this week, in UTC)")
    stats.add_argument("--category", type=int, metavar="ID", help="only this category's activity")
    stats.add_argument(
        "--check",
        action="store_true",
        help="compare the week's topics, posts and likes with the forum's own reports (1 forum call)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code."""
    args = build_parser().parse_args(argv)
    from plugin.config import ConfigError  # noqa: PLC0415  (keeps `--help` fast)
    from plugin.ops import commands  # noqa: PLC0415

    runners = {
        "demo": commands.demo,
        "serve": commands.serve,
        "worker": commands.work,
        "uninstall": commands.uninstall,
        "doctor": commands.doctor,
        "install": commands.install,
        "stats": commands.stats,
        "digest": commands.digest,
        "scheduler": commands.scheduler,
        "reconcile": commands.reconcile,
        "care": commands.care,
        "rebuild": commands.rebuild,
    }
    try:
        return runners[args.command](args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT


def iso_week(text: str) -> str:
    """An argparse type: "2026-W47", or a usage error saying what is expected."""
    from plugin.domain.engagement import check_week  # noqa: PLC0415

    try:
        return check_week(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


if __name__ == "__main__":
    sys.exit(main())
