"""Configuration from the environment (a `.env` file may hold it): the five Discourse/Redis names, and `COC_*`.

Every setting has a default except the forum's address, key and webhook secret. `Settings.from_env()` reads and
checks them; a wrong value raises ConfigError with a message that names the variable and what it must be.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from plugin.events import MIN_SECRET_LENGTH


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    discourse_url: str = ""
    discourse_api_key: str = field(default="", repr=False)
    discourse_api_username: str = "system"
    discourse_webhook_secret: str = field(default="", repr=False)
    redis_url: str = "redis://127.0.0.1:6379/0"

    bot_username: str = "care-bot"
    redis_prefix: str = "coc:"
    webhook_path: str = "/webhooks/discourse"
    max_body_bytes: int = 2 * 1024 * 1024
    dedupe_ttl: int = 7 * 24 * 3600
    api_budget_per_min: int = 30
    job_timeout: int = 180
    care_group: str = "peer-support"
    consent_group: str = "coc-credit"
    moderators_group: str = ""
    support_threshold: int = 3
    support_quorum: float = 0.0     # optional: also this share of the section's discussants (0 = off)
    min_trust_level: int = 1
    # install and the forum adapter (plugin/install.py, plugin/forum.py)
    drafts_category: str = "Code of Care drafts"   # name (or id) of the category that holds amendment drafts
    document_category: str = ""                     # where install puts the living document; "" = drafts category
    document_topic_id: int = 0                      # adopt this existing topic as the living document; 0 = none
    public_url: str = ""                            # the receiver's public base URL, for the forum's webhook
    bot_email: str = ""                             # the bot account's email; "" = <bot username>@<forum host>
    # the weekly digest (plugin/digest.py, worker/digest.py, worker/schedule.py)
    digest_category: str = ""                       # name (or id) of the digest's category; "" = drafts category
    digest_time: str = "09:00"                      # when on Monday the digest is posted, "HH:MM" in `timezone`
    timezone: str = "UTC"                           # an IANA time zone name, e.g. "Europe/Berlin"
    # engagement (plugin/engagement_store.py)
    seed_pages: int = 20                            # pages of 50 latest posts install reads to seed who posted before

    # environment name → field name, for the ones without the COC_ prefix
    PLAIN = {"DISCOURSE_URL": "discourse_url", "DISCOURSE_API_KEY": "discourse_api_key",
             "DISCOURSE_API_USERNAME": "discourse_api_username",
             "DISCOURSE_WEBHOOK_SECRET": "discourse_webhook_secret", "REDIS_URL": "redis_url"}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: bool = True, **overrides: Any) -> Settings:
        """Defaults, then `.env` (if `dotenv`), then the environment, then `overrides`."""
        values: dict[str, str] = {}
        if dotenv and env is None:
            from dotenv import dotenv_values   # noqa: PLC0415

            values.update({k: v for k, v in dotenv_values(".env").items() if v is not None})
        values.update(os.environ if env is None else env)
        kwargs: dict[str, Any] = {}
        names = {f.name: f for f in fields(cls)}
        for env_name, field_name in cls.PLAIN.items():
            if values.get(env_name):
                kwargs[field_name] = values[env_name]
        for name, f in names.items():
            env_name = "COC_" + name.upper()
            if name in cls.PLAIN.values() or env_name not in values:
                continue
            kwargs[name] = _convert(env_name, values[env_name], type(getattr(cls(), name)))
        settings = cls(**kwargs)
        return replace(settings, **overrides) if overrides else settings

    def require_webhook_secret(self) -> str:
        """The webhook secret, or ConfigError saying why the receiver cannot start without a good one."""
        secret = self.discourse_webhook_secret
        if not secret:
            raise ConfigError("DISCOURSE_WEBHOOK_SECRET is not set: the receiver refuses to run without it, since "
                              "it could not tell the forum's deliveries from anyone else's. Set it to the secret "
                              "of the forum's webhook (Admin → API → Webhooks).")
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(f"DISCOURSE_WEBHOOK_SECRET is {len(secret)} characters long; Discourse requires at "
                              f"least {MIN_SECRET_LENGTH}. Use a long random string, the same in the forum's webhook.")
        return secret


def _convert(name: str, raw: str, kind: type) -> Any:
    if kind is int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if value < 0:
            raise ConfigError(f"{name} must not be negative, got {value}")
        return value
    if kind is float:
        try:
            number = float(raw.strip())
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not 0 <= number <= 1:
            raise ConfigError(f"{name} must be between 0 and 1, got {number}")
        return number
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"{name} must be true or false, got {raw!r}")
        return lowered in ("1", "true", "yes", "on")
    return raw
