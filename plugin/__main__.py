"""The command line: `python -m plugin <command>`."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from plugin.logs import one_line, os_reason

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
"""Bad configuration, Redis not reachable, the forum not answering or refusing the key: one line on stderr, then 2."""

INTERRUPTED_EXIT = 130
"""Ctrl-C: the shell's code for SIGINT, without a traceback."""

ACCESS_REFUSED = frozenset({401, 403})
"""The forum's answers that refuse the API key or its user, whatever was asked."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per entry of COMMANDS."""
    parser = argparse.ArgumentParser(prog="python -m plugin", description="Code of Care companion for Discourse.")
    parser.add_argument(
        "--env-file",
        metavar="FILE",
        help="read the settings from FILE instead of .env; they win over the environment's (e.g. the demo's demo.env)",
    )
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
    digest.add_argument(
        "--dry-run",
        action="store_true",
        help="print the digest, and say if the week is posted already; freeze, upload and post nothing",
    )
    digest.add_argument("--chart", metavar="FILE", help="also save the chart (PNG) in FILE")
    commands["reconcile"].add_argument(
        "--pages", type=int, metavar="N", help="read at most N pages of 50 posts (default COC_RECONCILE_PAGES)"
    )
    commands["rebuild"].add_argument(
        "--fresh", action="store_true", help="first delete every key under COC_REDIS_PREFIX (not RQ's queues)"
    )
    commands["care"].add_argument("--all", action="store_true", help="the closed requests too")
    stats = commands["stats"]
    stats.add_argument("--week", type=iso_week, help="the ISO week, e.g. 2026-W47 (default: this week, in UTC)")
    stats.add_argument(
        "--category",
        metavar="CATEGORY",
        help="only this category's activity: its id, or its slug or name in any case (1 forum call)",
    )
    stats.add_argument(
        "--check",
        action="store_true",
        help="compare the week's topics, posts and likes with the forum's own reports (1 forum call)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code.

    The one place an operator's problem ends: bad configuration, Redis not reachable, or the forum not answering or
    refusing the key, whatever the command and wherever it is met, is one line on stderr that names the setting to
    check, and exit code 2 (`explain`). Ctrl-C ends quietly with 130. Anything else is a bug and keeps its traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        if args.env_file:
            from plugin.config import use_env_file  # noqa: PLC0415

            use_env_file(args.env_file)
        from plugin.ops import commands  # noqa: PLC0415  (keeps `--help` fast)

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
        return runners[args.command](args)
    except KeyboardInterrupt:
        return INTERRUPTED_EXIT
    except Exception as exc:
        line = explain(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return CONFIG_ERROR_EXIT


def explain(exc: BaseException) -> str | None:
    """The one line that tells an operator what is wrong and which setting to check, for bad configuration, Redis
    not reachable, and the forum not reachable or refusing; None for anything else."""
    import redis  # noqa: PLC0415
    import requests  # noqa: PLC0415

    from plugin.adapters.forum import ForumError, ForumRefused, ForumUnavailable, Throttled  # noqa: PLC0415
    from plugin.adapters.redis import config_hint, describe  # noqa: PLC0415
    from plugin.config import ConfigError, Settings, redact  # noqa: PLC0415

    if isinstance(exc, ConfigError):
        return one_line(f"configuration error: {exc}")
    redis_down = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.InvalidResponse)
    if not isinstance(exc, (*redis_down, ForumError, requests.RequestException)):
        return None
    try:
        settings = Settings.from_env()
    except ConfigError as bad:
        return one_line(f"configuration error: {bad}")
    if isinstance(exc, redis_down):
        where, check = describe(settings), config_hint(settings)
        # redis-py's own words, without the client's repr that some of them carry (MasterNotFoundError)
        why = os_reason(exc) or one_line(str(exc)).partition(" : <")[0].rstrip(". ") or type(exc).__name__
        if isinstance(exc, redis.exceptions.InvalidResponse):
            return one_line(
                f"the server at {where} does not answer as Redis does ({why}): check {check}, which must name "
                "a Redis server"
            )
        if isinstance(exc, (redis.exceptions.AuthenticationError, redis.exceptions.AuthorizationError)):
            return one_line(
                f"Redis at {where} refused the service ({why}): check the user name and password in {check}"
            )
        return one_line(f"Redis at {where} is not reachable ({why}): check {check}, or start Redis")
    forum = redact(settings.discourse_url.rstrip("/")) or "DISCOURSE_URL"
    if isinstance(exc, Throttled):
        fix = {
            Throttled.BUDGET: "raise COC_API_BUDGET_PER_MIN if the forum allows more",
            Throttled.FORUM: "COC_API_BUDGET_PER_MIN keeps the service under the forum's limit",
            Throttled.ACCOUNT: "COC_BOT_USERNAME should be a moderator (install makes it one): staff are exempt",
        }[exc.scope]
        return one_line(f"{exc}: run it again then; {fix}")
    if isinstance(exc, ForumRefused):
        said = " ".join(str(part) for part in (exc.status, exc.error_type) if part)
        if exc.status in ACCESS_REFUSED:
            return one_line(
                f"the forum refused the API key or the user it acts as ({said}): check DISCOURSE_API_KEY, "
                "DISCOURSE_API_USERNAME (an admin) and COC_BOT_USERNAME (install creates it)"
            )
        if exc.status < 400:
            target = re.search(r"redirect to (\S+)", " ".join(exc.errors))
            to = f" to {target.group(1)}" if target else ""
            return one_line(
                f"the forum at {forum} answered with a redirect{to} ({said}): check DISCOURSE_URL, the "
                "forum's own address (e.g. https://forum.example.com)"
            )
        words = "; ".join(exc.errors)[:160]
        return one_line(
            f"the forum at {forum} refused a request ({said}: {words}): check DISCOURSE_URL, and that "
            "DISCOURSE_API_USERNAME is an admin"
        )
    if isinstance(exc, ForumUnavailable):
        if exc.status is not None and exc.status >= 500:
            return one_line(
                f"the forum at {forum} answered {exc.status}: check DISCOURSE_URL, or run it again when the forum "
                "is back"
            )
        detail = os_reason(exc) or re.sub(r"^[A-Z]+ \S+: ", "", str(exc))
        return one_line(f"the forum at {forum} did not answer ({detail}): check DISCOURSE_URL")
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return one_line(f"the forum at {forum} did not answer ({os_reason(exc) or exc}): check DISCOURSE_URL")
    if isinstance(exc, requests.RequestException):  # MissingSchema, InvalidURL, ...: not an address
        return one_line(
            f"the forum's address {forum} cannot be used ({exc}): check DISCOURSE_URL (e.g. https://forum.example.com)"
        )
    if isinstance(exc, ForumError):
        return one_line(f"the forum at {forum}: {exc}: check DISCOURSE_URL")
    return None


def iso_week(text: str) -> str:
    """An argparse type: "2026-W47", or a usage error saying what is expected."""
    from plugin.domain.engagement import check_week  # noqa: PLC0415

    try:
        return check_week(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


if __name__ == "__main__":
    sys.exit(main())
