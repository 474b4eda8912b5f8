"""`python -m plugin doctor`: is the service healthy, and if not, what to do about it.

Each check prints `ok`, `warning` or `problem` with what to do; the command exits 1 if any check has a problem. It
reads only: the settings (every bad one is named, not just the first; unknown or misspelt names are warned about),
a handful of forum calls from the shared API budget, and Redis. It says how many forum calls it spent, the Data
Explorer line how many of them were its own (it runs one saved query where the plugin is on).
"""

from __future__ import annotations

import hmac
import os
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from plugin import config as settings_file
from plugin.adapters.budget import ApiBudget
from plugin.adapters.data_explorer import PAGE_SIZE, QUERIES, TOPICS, DataExplorer
from plugin.adapters.forum import Forum, ForumError, ForumRefused, ForumUnavailable, Throttled, WebHook
from plugin.adapters.keys import Keys
from plugin.adapters.redis import config_hint, connect, describe
from plugin.adapters.store import Store
from plugin.config import ConfigError, Settings, as_env, dotenv_file, problems, unknown_names
from plugin.domain.wording import template_problems
from plugin.logs import one_line, os_reason
from plugin.queues import QUEUE_CARE, QUEUES
from plugin.text.care_wording import MESSAGES as CARE_MESSAGES
from plugin.text.care_wording import UNKNOWN as UNKNOWN_WORDING
from plugin.text.care_wording import describe as describe_problem
from plugin.text.care_wording import refusal as wording_refusal
from plugin.text.care_wording import status as wording_status

OK, WARNING, PROBLEM = "ok", "warning", "problem"
MAX_QUEUE_DEPTH = 500
"""More waiting jobs than this means the workers are not keeping up."""
SYSTEM = "system"
"""The account every Discourse has (id -1): what a key for all users can always act as."""
OLDEST_REDIS = (6, 2)
"""The workers take jobs with LMOVE (worker/reliable.py), which Redis has since 6.2."""
SETTINGS_FOR_REDIS = ("REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_SERVICE", "REDIS_SENTINEL_PASSWORD")
SETTINGS_FOR_FORUM = ("DISCOURSE_URL", "COC_API_BUDGET_PER_MIN")
"""Bad values of these stop doctor's Redis (forum) checks: it would check another server than the service uses."""


@dataclass(frozen=True)
class Check:
    subject: str
    outcome: str
    detail: str

    def line(self) -> str:
        return f"{self.outcome:<8}  {self.subject}: {self.detail}"


def run_doctor(
    settings: Settings | None = None,
    *,
    out: Callable[[str], None] = print,
    env: Mapping[str, str] | None = None,
    env_file: Mapping[str, str] | None = None,
) -> int:
    """Run every check. The settings come from `env` (default: `.env`, then the process's environment, as
    `Settings.from_env` reads them; `env_file` is what `.env` set, to say where a name is), every bad value named
    and left at its default for the rest; or, given `settings` and no `env`, from those (tests)."""
    checks: list[Check] = []

    def report(check: Check) -> None:
        checks.append(check)
        out(check.line())

    if settings is None and env is None:
        env_file = dotenv_file()
        env = {**env_file, **os.environ}
    if env is None:
        assert settings is not None
        bad = config_values(as_env(settings), report)
    else:
        bad = config_values(env, report)
        config_names(env, env_file or {}, report)
        settings = settings or Settings.from_env({k: v for k, v in env.items() if k not in bad}, dotenv=False)
    config(settings, report, bad)
    if blocked := [name for name in SETTINGS_FOR_REDIS if name in bad]:
        report(Check("Redis", PROBLEM, f"not checked: fix {' and '.join(blocked)} first"))
        return 1
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
    if blocked := [name for name in SETTINGS_FOR_FORUM if name in bad]:
        report(Check("forum", PROBLEM, f"not checked: fix {' and '.join(blocked)} first"))
    elif settings.discourse_url and settings.discourse_api_key:
        budget = ApiBudget.for_settings(connection, settings)
        report(
            Check(
                "API budget",
                OK if budget.remaining() else PROBLEM,
                f"{budget.remaining()} of {settings.api_budget_per_min} calls left this minute"
                + ("" if budget.remaining() else f"; paused {budget.paused_for():.0f} s (the forum said 429?)"),
            )
        )
        spending = Spending()
        with Forum(settings, budget=budget) as forum:
            spending.forums.append(forum)
            try:
                forum_checks(settings, forum, report, spending)
            except Throttled as exc:
                report(Check("forum", PROBLEM, throttled(exc, settings)))
            except ForumError as exc:
                report(Check("forum", PROBLEM, f"stopped answering doctor's calls ({exc}): run doctor again"))
            report(Check("forum calls", OK, f"doctor spent {spending.calls()} of the shared API budget"))
    return 1 if any(c.outcome == PROBLEM for c in checks) else 0


def redis_too_old(version: str) -> str | None:
    """What to do when a Redis server of this version cannot run the workers, else None."""
    parts = tuple(int(p) if p.isdigit() else 0 for p in version.split(".")[:2])
    if parts >= OLDEST_REDIS:
        return None
    return "the workers need Redis 6.2 or newer (they take jobs with LMOVE): upgrade it"


@dataclass
class Spending:
    """The forum adapters doctor used, for the number of calls it spent of the shared budget."""

    forums: list[Forum] = field(default_factory=list)

    def calls(self) -> str:
        calls = sum(forum.calls_made for forum in self.forums)
        return f"{calls} call{'' if calls == 1 else 's'}"


def throttled(exc: Throttled, settings: Settings) -> str:
    """Why a forum check could not run now: never "not reachable" when it was a limit that said no."""
    wait = f"run doctor again in {exc.retry_after:.0f} s"
    if exc.scope == Throttled.BUDGET:
        return (
            "not checked: doctor shares the API budget with the workers, and this minute's "
            f"{settings.api_budget_per_min} calls (COC_API_BUDGET_PER_MIN) are spent; {wait}"
        )
    if exc.scope == Throttled.FORUM:
        return f"not checked: the forum answered 429 (its API limit for all integrations); workers pause too; {wait}"
    return f"not checked: the forum's per-user limit for {exc.account} said no; {wait}"


def config_values(values: Mapping[str, str], report: Callable[[Check], None]) -> set[str]:
    """Every setting another command would refuse, each on its own line; returns their names."""
    found = problems(values)
    for name, message in found.items():
        report(Check(name, PROBLEM, message.removeprefix(f"{name}: ")))
    return set(found)


def config_names(env: Mapping[str, str], env_file: Mapping[str, str], report: Callable[[Check], None]) -> None:
    """A warning for each name that looks meant for the service but is not one of its settings."""
    for name, close in unknown_names(env).items():
        where = settings_file.ENV_FILE if name in env_file and env.get(name) == env_file[name] else "the environment"
        if close:
            report(
                Check(
                    name,
                    WARNING,
                    f"set in {where}, but the service reads no such setting: did you mean {close}? "
                    "(the names are in .env.example)",
                )
            )
        else:
            report(
                Check(
                    name,
                    WARNING,
                    f"set in {where}, but the service reads no such setting: remove it, or see .env.example for "
                    "the names",
                )
            )


def config(settings: Settings, report: Callable[[Check], None], bad: Collection[str] = ()) -> None:
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
        if name not in bad:
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


def forum_checks(
    settings: Settings, forum: Forum, report: Callable[[Check], None], spending: Spending | None = None
) -> None:
    """The forum's checks; a limit that says no (Throttled) is the caller's to report."""
    name = settings.discourse_api_username
    try:
        user = forum.admin_user(name)
    except ForumRefused as exc:
        report(Check("forum", PROBLEM, credentials(settings, forum, exc, spending or Spending())))
        return
    except ForumUnavailable as exc:
        why = os_reason(exc) or one_line(str(exc))  # the system's words ("Connection refused"), not the client's
        report(Check("forum", PROBLEM, f"{settings.discourse_url} is not reachable ({why}): check DISCOURSE_URL"))
        return
    if not user or not user.admin:
        report(
            Check(
                "forum",
                PROBLEM,
                f"{name} is not an admin: set DISCOURSE_API_USERNAME to an admin's username (install and doctor "
                "need admin rights)",
            )
        )
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
    if settings.discourse_webhook_secret:
        report(webhook_secret(hook, settings.discourse_webhook_secret))


def credentials(settings: Settings, forum: Forum, refused: ForumRefused, spending: Spending) -> str:
    """Which variable to fix when the forum refused doctor's first call. Discourse answers a wrong key and an
    Api-Username it will not act as (no such user, or not the user a single-user key is for) alike: 403
    `invalid_access`, "The API username or key is invalid." (lib/auth/default_current_user_provider.rb,
    `lookup_api_user`); a suspended or deactivated user gets a plain 403 `invalid_access`. So the key is tried once
    more as `system`, the account every Discourse has: taken then, the key is good and the username is not."""
    name = settings.discourse_api_username
    if refused.status != 403:
        return f"refused doctor's first call ({refused}): check DISCOURSE_URL is the forum's address"
    if name.lower() != SYSTEM:
        with Forum(replace(settings, discourse_api_username=SYSTEM), budget=forum.budget) as probe:
            spending.forums.append(probe)
            try:
                probe.admin_user(SYSTEM)
            except ForumRefused:
                pass
            else:
                return (
                    f"the forum takes DISCOURSE_API_KEY but will not act as {name}: there is no active, unsuspended "
                    "account by that name (or the key is for another single user); set DISCOURSE_API_USERNAME to "
                    "an admin's username"
                )
    return (
        "refused DISCOURSE_API_KEY (403): it is wrong or revoked; make one in Admin → API → Keys (All users, "
        "Global) — or, for a key that is for a single user, set DISCOURSE_API_USERNAME to that user"
    )


def webhook_secret(hook: WebHook, secret: str) -> Check:
    """The forum webhook's secret against DISCOURSE_WEBHOOK_SECRET. Discourse shows it to admins: its
    AdminWebHookSerializer (app/serializers/admin_web_hook_serializer.rb) lists `secret`, for the webhook list and
    for GET /admin/api/web_hooks/{id}.json alike; a forum that leaves it out cannot be compared."""
    subject = "webhook secret"
    if hook.secret is None:
        return Check(
            subject,
            WARNING,
            "the forum does not show the webhook's secret, so doctor cannot compare it with DISCOURSE_WEBHOOK_SECRET: "
            f"compare them in Admin → API → Webhooks → {hook.payload_url}",
        )
    if not hmac.compare_digest(hook.secret.encode(), secret.encode()):
        return Check(
            subject,
            PROBLEM,
            "the forum signs deliveries with another secret than DISCOURSE_WEBHOOK_SECRET, so the receiver refuses "
            "them: run `python -m plugin install` (it gives the webhook DISCOURSE_WEBHOOK_SECRET) or set "
            "DISCOURSE_WEBHOOK_SECRET to the forum's",
        )
    return Check(subject, OK, "the forum's webhook signs with DISCOURSE_WEBHOOK_SECRET")


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
        return Check(subject, PROBLEM, throttled(exc, forum.settings))
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


def main(settings: Settings | None = None) -> int:
    """The command. Without `settings` it reads them itself, so that every bad one is named, not just the first."""
    try:
        return run_doctor(settings)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
