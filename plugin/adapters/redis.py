"""The one way every process gets its Redis client: `connect(settings, **options)`.

Without `REDIS_SENTINELS` that is `redis.Redis.from_url(REDIS_URL, **options)`. With them it is redis-py's
`Sentinel(...).master_for(REDIS_SENTINEL_SERVICE, ...)`: the client asks the Sentinels where the master is before
each new connection, and drops a connection whose server was demoted, so a failover needs no restart. The Sentinels
say only where the master is; the database number, user name, password and TLS (`rediss://`) of the data nodes
still come from `REDIS_URL`, whose host and port are then not used.

RQ takes such a client as it is: its worker forks the work horse with the client, and its scheduler rebuilds one
from the client's pool class and connection arguments, which carry the Sentinel lookup along. One redis-py 8.1
default had to change for it (see `SentinelConnection`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import redis
from redis.connection import parse_url
from redis.sentinel import Sentinel, SentinelManagedConnection, SentinelManagedSSLConnection
from redis.typing import EncodableT, FieldT, ZSetRangeResponse
from redis.utils import SENTINEL as UNSET

from plugin.config import ConfigError, Settings, redact

SENTINEL_TIMEOUT = 2.0
"""Seconds to connect to one Sentinel and to wait for its answer, unless the caller's socket options say otherwise:
a Sentinel that is down must not hold the process up for the OS's TCP timeout before the next one is asked."""

LOCATION_ARGUMENTS = ("host", "port", "path", "connection_class")
"""What `REDIS_URL` says that the Sentinels say instead: where the master is, and so how to reach it."""


class _DisconnectOnError(SentinelManagedConnection):
    """Drop the connection when a read is interrupted, as redis-py's plain `Connection` does.

    redis-py 8.1's `SentinelManagedConnection.read_response` defaults `disconnect_on_error` to False (redis-py pull
    request 4292, open), so a read cut short by an exception — RQ's SIGTERM handler during the worker's BLPOP, its
    job timeout (SIGALRM) in a job — puts a connection with an unread reply back in the pool: the next command
    reads the previous one's answer, or waits for a BLPOP that blocks for minutes (a worker that never stops).
    PubSub passes the flag explicitly and is not affected.
    """

    def read_response(
        self,
        disable_decoding: bool = False,
        *,
        timeout: float | object = UNSET,
        disconnect_on_error: bool | None = True,
        push_request: bool | None = False,
    ) -> Any:
        return super().read_response(
            disable_decoding,
            timeout=timeout,
            disconnect_on_error=disconnect_on_error,
            push_request=push_request,
        )


class SentinelConnection(_DisconnectOnError, SentinelManagedConnection):
    """A connection to the Sentinels' current master that is dropped when a read is interrupted."""


class SentinelSSLConnection(_DisconnectOnError, SentinelManagedSSLConnection):
    """The same over TLS (`rediss://`)."""


def connect(settings: Settings, **options: Any) -> redis.Redis:
    """A client on the service's Redis: `REDIS_URL`'s server, or the Sentinels' current master.

    `options` are redis-py connection arguments (timeouts, `health_check_interval`, `retry`, ...) for the data
    connections, as `Redis.from_url` takes them; the socket ones and `retry` also bound each question to a Sentinel
    (a receiver that fails fast must not wait out redis-py's default retries against a Sentinel that is down).
    """
    try:
        node = parse_url(settings.redis_url)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL: {exc} (e.g. redis://127.0.0.1:6379/0)") from None
    sentinels = settings.sentinels
    if not sentinels:
        return redis.Redis.from_url(settings.redis_url, **options)
    node = {name: value for name, value in node.items() if name not in LOCATION_ARGUMENTS}
    tls = urlsplit(settings.redis_url).scheme == "rediss"
    node["connection_class"] = SentinelSSLConnection if tls else SentinelConnection
    asking = {
        "socket_connect_timeout": SENTINEL_TIMEOUT,
        "socket_timeout": SENTINEL_TIMEOUT,
        **{name: value for name, value in options.items() if name.startswith("socket_") or name == "retry"},
    }
    if settings.redis_sentinel_password:
        asking["password"] = settings.redis_sentinel_password
    # As in from_url, what the URL says wins over the caller's options.
    return Sentinel(sentinels, sentinel_kwargs=asking).master_for(
        settings.redis_sentinel_service, **{**options, **node}
    )


def describe(settings: Settings) -> str:
    """Where the service's Redis is, for messages: `REDIS_URL` without its password, or the Sentinels' service."""
    if not settings.sentinels:
        return redact(settings.redis_url)
    db = parse_url(settings.redis_url).get("db", 0) if settings.redis_url else 0
    via = ", ".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in settings.sentinels)
    return f"the master {settings.redis_sentinel_service!r} (db {db}) of the Sentinels {via}"


def config_hint(settings: Settings) -> str:
    """The settings to check when Redis does not answer."""
    return "REDIS_SENTINELS, REDIS_SENTINEL_SERVICE and REDIS_URL" if settings.sentinels else "REDIS_URL"


def as_text(reply: bytes | str) -> str:
    """A reply as text.

    The service's clients answer bytes (none sets `decode_responses`), which redis-py's types cannot tell: they say
    `bytes | str` for every reply. These helpers say it in one place: `as_text` and `as_bytes` for one reply,
    `as_byte_list` for a list too long to look at item by item.
    """
    return reply.decode() if isinstance(reply, bytes) else reply


def as_bytes(reply: bytes | str) -> bytes:
    """A reply as bytes (see `as_text`)."""
    return reply if isinstance(reply, bytes) else reply.encode()


def as_byte_list(replies: list[bytes | str] | ZSetRangeResponse) -> list[bytes]:
    """A list of replies as bytes, not checked one by one (a week's hash holds tens of thousands of values): what
    the service's clients answer (see `as_text`) to HVALS, HKEYS or LRANGE, or to a sorted set's range read without
    scores (redis-py types a range as the members or as (member, score) pairs, whichever `withscores` asks for)."""
    return cast("list[bytes]", replies)


def as_fields(mapping: Mapping[str, EncodableT]) -> dict[FieldT, EncodableT]:
    """A copy of `mapping` as redis-py's types want HSET's: their key type is invariant, so that a `dict[str, int]`
    is refused as it is."""
    return {name: value for name, value in mapping.items()}
