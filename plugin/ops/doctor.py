"""`python -m plugin doctor`: is the service healthy, and if not, what to do about it.

Each check prints `ok` or `problem` with what to do; the command exits 1 if any check has a problem. It reads
only: a handful of forum calls from the shared API budget, and Redis. The Data Explorer line says how many calls
it spent (it runs one saved query where the plugin is on).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from plugin.adapters.budget import ApiBudget
from plugin.adapters.data_explorer import PAGE_SIZE, QUERIES, TOPICS, DataExplorer
from plugin.adapters.forum import Forum, ForumError, ForumRefused, Throttled
from plugin.adapters.keys import Keys
from plugin.adapters.redis import config_hint, connect, describe
from plugin.adapters.store import Store
from plugin.config import ConfigError, Settings
from plugin.domain.wording import template_problems
from plugin.queues import QUEUE_CARE, QUEUES
from plugin.text.care_wording import MESSAGES as CARE_MESSAGES
from plugin.text.care_wording import UNKNOWN as UNKNOWN_WORDING
from plugin.text.care_wording import describe as describe_problem
from plugin.text.care_wording import refusal as wording_refusal
from plugin.text.care_wording import status as wording_status

OK, PROBLEM = "ok", "problem"
MAX_QUEUE_DEPTH = 500
"""More waiting jobs than this means the workers are not keeping up."""
OLDEST_REDIS = (6, 2)
"""The workers take jobs with LMOVE (worker/reliable.py), which Redis has since 6.2."""


@dataclass(frozen=True)
class Check:
    subject: str
    outcome: str
    detail: str

    def line(self) -> str:
        return f"{self.outcome:<8}  {self.subject}: {self.detail}"


def run_doctor(settings: Settings, *, out: Callable[[str], None] = print) -> int:
    checks: list[Check] = []

    def report(check: Check) -> None:
        checks.append(check)
        out(check.line())

    config(settings, report)
    connection = connect(settings, socket_connect_timeout=2, socket_timeout=5)
    try:
        connection.ping()
    except redis.RedisError as exc:
        report(
            Check(
                "Redis",
                PROBLEM,
                f"{describe(settings)} does not answer ({exc}): start Redis or fix {config_hint(settings)}",
            )
        )
        return 1
    version = str(connection.info("server").get("redis_version", "0"))
    too_old = redis_too_old(version)
    report(
        Check("Redis", PROBLEM, f"{describe(settings)} runs Redis {version}: {too_old}")
        if too_old
        else Check("Redis", OK, f"{describe(settings)} answers (Redis {version})")
    )
    queues(connection, report)
    keys = Keys(settings.redis_prefix)
    care_wording(Store(connection, keys), report)
    document = Store(connection, keys).document()
    report(
        Check("living document", OK, f"topic {document['topic_id']}, version {document['version']}")
        if document
        else Check("living document", PROBLEM, "not known to the workers: run `python -m plugin install`")
    )
    if settings.discourse_url and settings.discourse_api_key:
        budget = ApiBudget.for_settings(connection, settings)
        report(
            Check(
                "API budget",
                OK if budget.remaining() else PROBLEM,
                f"{budget.remaining()} of {settings.api_budget_per_min} calls left this minute"
                + ("" if budget.remaining() else f"; paused {budget.paused_for():.0f} s (the forum said 429?)"),
            )
        )
        with Forum(settings, budget=budget) as forum:
            forum_checks(settings, forum, report)
    return 1 if any(c.outcome == PROBLEM for c in checks) else 0


def redis_too_old(version: str) -> str | None:
    """What to do when a Redis server of this version cannot run the workers, else None."""
    parts = tuple(int(p) if p.isdigit() else 0 for p in version.split(".")[:2])
    if parts >= OLDEST_REDIS:
        return None
    return "the workers need Redis 6.2 or newer (they take jobs with LMOVE): upgrade it"


def config(settings: Settings, report: Callable[[Check], None]) -> None:
    try:
        settings.require_webhook_secret()
        report(Check("DISCOURSE_WEBHOOK_SECRET", OK, "set, long enough"))
    except ConfigError as exc:
        report(Check("DISCOURSE_WEBHOOK_SECRET", PROBLEM, str(exc)))
    for name, value in (
        ("DISCOURSE_URL", settings.discourse_url),
        ("DISCOURSE_API_KEY", settings.discourse_api_key),
        ("COC_PUBLIC_URL", settings.public_url),
    ):
        report(Check(name, OK, "set") if value else Check(name, PROBLEM, "not set: see the README's Configuration"))


def care_wording(store: Store, report: Callable[[Check], None]) -> None:
    """Which words each care message uses (the default, or the team's since when), and every reply of the team's
    whose words could not be used (the message keeps the words it had: nothing is silenced, but the team's
    change did not happen)."""
    topic_id = store.care_wording_topic()
    report(
        Check("care wording conversation", OK, f"topic {topic_id}: the care group changes the messages' words there")
        if topic_id
        else Check(
            "care wording conversation",
            PROBLEM,
            "not known to the workers, so the team's changes to the care messages' words are not read: "
            "run `python -m plugin install`",
        )
    )
    records = store.care_wording_records()
    refusals = store.care_wording_refusals()
    for message in CARE_MESSAGES:
        key, subject = message.spec.key, f"care message “{message.spec.heading}”"
        report(Check(subject, OK, wording_status(key, records.get(key))))
        text = records.get(key, {}).get("text")
        if isinstance(text, str) and (problems := template_problems(text, message.spec)):
            reasons = "; ".join(describe_problem(p, message.spec) for p in problems).replace("`", "")
            report(
                Check(
                    subject,
                    PROBLEM,
                    f"the team's words no longer fit ({reasons}): reply in the conversation with corrected words "
                    "(a message whose words cannot be filled in goes out in its default words)",
                )
            )
        if key in refusals:
            report(Check(subject, PROBLEM, wording_refusal(key, refusals[key])))
    if UNKNOWN_WORDING in refusals:
        report(Check("care wording conversation", PROBLEM, wording_refusal(UNKNOWN_WORDING, refusals[UNKNOWN_WORDING])))


def queues(connection: redis.Redis, report: Callable[[Check], None]) -> None:
    for name in QUEUES:
        queue = Queue(name, connection=connection, serializer=JSONSerializer)
        failed, waiting = queue.failed_job_registry.count, queue.count
        if failed:
            what = "people who asked for direct support may not have been reached: " if name == QUEUE_CARE else ""
            report(
                Check(
                    f"queue {name}",
                    PROBLEM,
                    f"{what}{failed} failed job(s); inspect with `rq info` and "
                    f"requeue with `rq requeue --queue {name} --all`",
                )
            )
        elif waiting > MAX_QUEUE_DEPTH:
            report(Check(f"queue {name}", PROBLEM, f"{waiting} jobs waiting: start more workers"))
        else:
            report(Check(f"queue {name}", OK, f"{waiting} waiting, 0 failed"))


def forum_checks(settings: Settings, forum: Forum, report: Callable[[Check], None]) -> None:
    try:
        user = forum.admin_user(settings.discourse_api_username)
    except ForumRefused as exc:
        report(Check("forum", PROBLEM, f"refused the key ({exc.status}): check DISCOURSE_API_KEY"))
        return
    except ForumError as exc:
        report(Check("forum", PROBLEM, f"{settings.discourse_url} is not reachable: {exc}"))
        return
    if not user or not user.admin:
        report(Check("forum", PROBLEM, f"{settings.discourse_api_username} is not an admin"))
        return
    report(Check("forum", OK, f"{settings.discourse_url} answers; {settings.discourse_api_username} is an admin"))
    report(bot_account(settings, forum))
    report(data_explorer(forum))
    hooks, _ = forum.web_hooks()
    url = settings.webhook_url
    hook = next((h for h in hooks if h.payload_url.rstrip("/") == url), None)
    if hook is None:
        report(Check("webhook", PROBLEM, f"none registered for {url}: run `python -m plugin install`"))
        return
    if not hook.active:
        report(Check("webhook", PROBLEM, f"{url} is registered but inactive: activate it in Admin → API → Webhooks"))
        return
    last = forum.web_hook_events(hook.id)[:10]
    bad = [e for e in last if not (200 <= (e.status or 0) < 300)]
    if bad:
        report(
            Check(
                "webhook",
                PROBLEM,
                f"{len(bad)} of the last {len(last)} deliveries failed (last status "
                f"{bad[0].status}): check the receiver, then press Redeliver",
            )
        )
    else:
        report(Check("webhook", OK, f"{url} active; last {len(last)} deliveries succeeded"))


def bot_account(settings: Settings, forum: Forum) -> Check:
    """The account the service posts as: there, not suspended, and staff, so that Discourse's per-user limits and
    refusals (FACTS.md, "Third check") never hold care back."""
    name = settings.bot_username
    member = forum.admin_user(name)
    if member is None:
        return Check("bot account", PROBLEM, f"there is no account {name}: run `python -m plugin install`")
    if member.suspended:
        return Check(
            "bot account",
            PROBLEM,
            f"{name} is suspended until {member.suspended_till}: the forum "
            f"refuses every call it makes; unsuspend it (Admin → Users → {name})",
        )
    if not member.staff:
        return Check(
            "bot account",
            PROBLEM,
            f"{name} is not staff, so the forum's per-user limits hold it back: "
            f"{account_limits(forum.site_settings())}. Run `python -m plugin install` (it makes the bot a "
            "moderator) or grant moderation in Admin → Users",
        )
    return Check(
        "bot account",
        OK,
        f"{name} is {'an admin' if member.admin else 'a moderator'}: the forum's "
        "per-user limits and refusals do not apply to it",
    )


def data_explorer(forum: Forum) -> Check:
    """The forum's Data Explorer plugin, which rebuilds read the history through in pages of 10,000 rows: off or not
    installed (fine: rebuilds read through the API), on without the service's saved queries (install makes them),
    or on with them there and one run. Reads only — it never creates or updates a query — and names the calls it
    spent: the listing (1; 2 where the plugin is off or mounted at the standalone plugin's path) and one run of the
    cheapest query, the topics among none (a primary-key lookup that answers no row), as the adapter's
    `available()` runs it."""
    subject = "Data Explorer"
    explorer = DataExplorer(forum, page_size=1)
    before = forum.calls_made

    def spent() -> str:
        calls = forum.calls_made - before
        return f"{calls} call{'' if calls == 1 else 's'} of the shared API budget"

    def refused(exc: ForumRefused) -> Check:
        return Check(
            subject,
            PROBLEM,
            f"the forum refused the service's saved queries ({exc.status}: {'; '.join(exc.errors)}): rebuild "
            f"reads through the API until this is fixed; `python -m plugin install` makes them again ({spent()})",
        )

    try:
        try:
            listed = explorer._list()
        except ForumRefused as exc:
            if exc.status != 404:
                return refused(exc)
            return Check(
                subject,
                OK,
                "the plugin is off (or not installed): fine, rebuild reads through the API; turn on "
                f"data_explorer_enabled in Admin → Settings for rebuilds in pages of {PAGE_SIZE:,} ({spent()})",
            )
        first: dict[str, Mapping[str, Any]] = {}
        for row in sorted(listed, key=lambda row: int(row["id"])):  # the lowest id wins, as in the adapter
            first.setdefault(str(row.get("name")), row)
        missing = [q.key for q in QUERIES if q.name not in first]
        stale = [q.key for q in QUERIES if q.name in first and first[q.name].get("description") != q.description]
        if missing or stale:
            what = [f"{', '.join(missing)} missing"] if missing else []
            what += [f"{', '.join(stale)} out of date"] if stale else []
            return Check(
                subject,
                PROBLEM,
                f"the plugin is on but the service's saved queries are not all there ({'; '.join(what)}): run "
                f"`python -m plugin install` ({spent()})",
            )
        query_id = int(first[TOPICS.name]["id"])
        try:
            rows = explorer._page(query_id, {"topic_ids": "-1", "after": "0", "page_size": "1"}, limit=1)
        except ForumRefused as exc:
            return refused(exc)
    except Throttled as exc:
        return Check(
            subject, PROBLEM, f"not checked: the API budget is spent; run doctor again in {exc.retry_after:.0f} s"
        )
    except ForumError as exc:
        return Check(subject, PROBLEM, f"not checked: {exc} ({spent()})")
    return Check(
        subject,
        OK,
        f"on; the service's {len(QUERIES)} saved queries are there and “{TOPICS.name}” ran (query {query_id}, "
        f"{len(rows)} rows for no topic): rebuilds read in pages of {PAGE_SIZE:,} ({spent()})",
    )


def account_limits(values: dict[str, str]) -> str:
    """What Discourse's per-user limits mean for a non-staff account, from the forum's site settings."""

    def value(name: str, default: str) -> str:
        return values.get(name) or default

    return (
        f"one new topic or message every {value('rate_limit_create_topic', '15')} s, "
        f"{value('max_personal_messages_per_day', '20')} messages and {value('max_topics_per_day', '20')} "
        f"topics a day, one reply every {value('rate_limit_create_post', '5')} s; it may send messages only if "
        f"it is in personal_message_enabled_groups ({value('personal_message_enabled_groups', '11')})"
    )


def main(settings: Settings) -> int:
    try:
        return run_doctor(settings)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
