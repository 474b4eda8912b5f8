"""Configuration from the environment (a `.env` file may hold it): the Discourse and Redis names, and `COC_*`.

Every setting has a default except the forum's address, key and webhook secret. `Settings.from_env()` reads and
checks them; a wrong value raises ConfigError with a message that names the variable and what it must be.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
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
    document_category: str = ""  # where install puts the living document; "" = drafts category
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
        values: dict[str, str] = {}
        if dotenv and env is None:
            from dotenv import dotenv_values  # noqa: PLC0415

            values.update({k: v for k, v in dotenv_values(".env").items() if v is not None})
        values.update(os.environ if env is None else env)
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
        parse_sentinels(settings.redis_sentinels)  # a malformed list stops every command at start, not at first use
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
