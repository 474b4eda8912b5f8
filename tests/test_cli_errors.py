"""An operator never sees a traceback: Redis not reachable, the forum not reachable or refusing the key, and bad
configuration each end `python -m plugin <command>` with one line on stderr that names the setting to check, and
exit code 2. Every test runs the real command as a subprocess, from an empty directory (no `.env` is read)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from plugin.__main__ import CONFIG_ERROR_EXIT, INTERRUPTED_EXIT, explain
from plugin.adapters.forum import ForumRefused, ForumUnavailable, Throttled
from plugin.ops.demo import REPO_ROOT
from plugin.ops.processes import free_port, stop_process
from tests.simulator_fixtures import Sim

SETTING_PREFIXES = ("DISCOURSE_", "REDIS_", "COC_")
"""The service's own variables: none is inherited from the environment the tests run in."""

SECRET = "cli-errors-webhook-secret"


def closed_url(scheme: str = "http") -> str:
    """An address on loopback where nothing listens."""
    return f"{scheme}://127.0.0.1:{free_port()}"


def plugin_env(redis_url: str, discourse_url: str, **changes: str) -> dict[str, str]:
    """A minimal valid configuration, and only it, with `changes` on top."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(SETTING_PREFIXES)}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        DISCOURSE_URL=discourse_url,
        DISCOURSE_API_KEY="cli-errors-api-key",
        DISCOURSE_API_USERNAME="system",
        DISCOURSE_WEBHOOK_SECRET=SECRET,
        REDIS_URL=redis_url,
        COC_REDIS_PREFIX="coc-test:",
        COC_PUBLIC_URL="http://127.0.0.1:9",
    )
    env.update(changes)
    return env


def run_plugin(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "plugin", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=90)


def assert_one_line_naming(result: subprocess.CompletedProcess[str], setting: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert setting in lines[0], lines[0]
    assert result.returncode == CONFIG_ERROR_EXIT, (result.returncode, result.stderr)
    return lines[0]


REDIS_COMMANDS = [
    pytest.param(["digest", "--dry-run"], id="digest"),
    pytest.param(["reconcile"], id="reconcile"),
    pytest.param(["worker", "--burst"], id="worker"),
    pytest.param(["scheduler"], id="scheduler"),
    pytest.param(["rebuild"], id="rebuild"),
    pytest.param(["uninstall", "--dry-run"], id="uninstall"),
    pytest.param(["stats"], id="stats"),
    pytest.param(["care"], id="care"),
    pytest.param(["install", "--dry-run"], id="install"),
]
"""Every command that needs Redis (doctor reports it among its checks: see below)."""

FORUM_COMMANDS = [
    pytest.param(["digest", "--dry-run"], id="digest"),
    pytest.param(["reconcile"], id="reconcile"),
    pytest.param(["rebuild"], id="rebuild"),
    pytest.param(["uninstall", "--dry-run"], id="uninstall"),
    pytest.param(["stats", "--check"], id="stats"),
    pytest.param(["install", "--dry-run"], id="install"),
]
"""Every command that calls the forum."""

ALL_COMMANDS = [
    *(pytest.param(p.values[0], id=p.id) for p in REDIS_COMMANDS),
    pytest.param(["serve", "--port", "0"], id="serve"),
]
"""Every command but doctor, which names every bad setting among its checks."""


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    """Where the commands run: no `.env` there."""
    return tmp_path


@pytest.mark.parametrize("args", REDIS_COMMANDS)
def test_redis_not_reachable_is_one_line_naming_redis_url(args: list[str], empty_dir: Path) -> None:
    down = closed_url("redis") + "/0"
    result = run_plugin(empty_dir, plugin_env(down, closed_url()), *args)
    line = assert_one_line_naming(result, "REDIS_URL")
    assert down in line and "not reachable" in line and "Connection refused" in line, line


@pytest.mark.parametrize("args", FORUM_COMMANDS)
def test_forum_not_reachable_is_one_line_naming_discourse_url(
    args: list[str], empty_dir: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    forum = closed_url()
    result = run_plugin(empty_dir, plugin_env(redis_url, forum), *args)
    line = assert_one_line_naming(result, "DISCOURSE_URL")
    assert f"the forum at {forum} did not answer (Connection refused)" in line, line


KEY_COMMANDS = [p for p in FORUM_COMMANDS if p.id != "install"]
"""install checks the key as its first step, and reports a refusal as that step (see below)."""


def test_install_reports_a_refused_key_as_its_first_step_and_stops(
    empty_dir: Path, redis_url: str, redis_conn: redis.Redis, sim: Sim
) -> None:
    env = plugin_env(redis_url, sim.url, DISCOURSE_API_KEY="not-" + sim.api_key)
    result = run_plugin(empty_dir, env, "install", "--dry-run")
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1 and "Traceback" not in result.stderr, (result.returncode, result.stderr)
    assert len(lines) == 1 and "the forum refused the key" in lines[0] and "DISCOURSE_API_KEY" in lines[0], lines


@pytest.mark.parametrize("args", KEY_COMMANDS)
def test_forum_refusing_the_key_is_one_line_naming_the_key(
    args: list[str], empty_dir: Path, redis_url: str, redis_conn: redis.Redis, sim: Sim
) -> None:
    env = plugin_env(redis_url, sim.url, DISCOURSE_API_KEY="not-" + sim.api_key)
    line = assert_one_line_naming(run_plugin(empty_dir, env, *args), "DISCOURSE_API_KEY")
    assert "refused" in line and "403" in line, line


@pytest.mark.parametrize("args", ALL_COMMANDS)
def test_a_malformed_setting_is_one_line_naming_it(args: list[str], empty_dir: Path, redis_url: str) -> None:
    result = run_plugin(empty_dir, plugin_env(redis_url, closed_url(), COC_JOB_TIMEOUT="soon"), *args)
    line = assert_one_line_naming(result, "COC_JOB_TIMEOUT")
    assert line.startswith("configuration error:") and "'soon'" in line, line


@pytest.mark.parametrize("args", ALL_COMMANDS)
def test_an_unknown_time_zone_is_one_line_naming_it(
    args: list[str], empty_dir: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    result = run_plugin(empty_dir, plugin_env(redis_url, closed_url(), COC_TIMEZONE="Mars/Olympus"), *args)
    assert "Mars/Olympus" in assert_one_line_naming(result, "COC_TIMEZONE")


def test_doctor_reports_redis_and_the_forum_down_itself_without_a_traceback(empty_dir: Path) -> None:
    result = run_plugin(empty_dir, plugin_env(closed_url("redis") + "/0", closed_url()), "doctor")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "REDIS_URL" in result.stdout, result.stdout


def test_doctor_reports_a_malformed_setting_itself_without_a_traceback(empty_dir: Path, redis_url: str) -> None:
    result = run_plugin(empty_dir, plugin_env(redis_url, closed_url(), COC_JOB_TIMEOUT="soon"), "doctor")
    assert result.returncode in (1, CONFIG_ERROR_EXIT), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "COC_JOB_TIMEOUT" in result.stdout + result.stderr


def test_a_bad_redis_url_is_one_line(empty_dir: Path) -> None:
    result = run_plugin(empty_dir, plugin_env("http://127.0.0.1:6379/0", closed_url()), "care")
    assert "configuration error: REDIS_URL" in assert_one_line_naming(result, "REDIS_URL")


def test_a_forum_address_without_a_scheme_is_one_line(
    empty_dir: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    result = run_plugin(empty_dir, plugin_env(redis_url, "127.0.0.1:9"), "reconcile")
    assert_one_line_naming(result, "DISCOURSE_URL")


@pytest.fixture
def silent_forum() -> Iterator[socket.socket]:
    """A "forum" that takes connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(60)
        yield server


def test_ctrl_c_ends_quietly_with_130(
    empty_dir: Path, redis_url: str, redis_conn: redis.Redis, silent_forum: socket.socket
) -> None:
    port = silent_forum.getsockname()[1]
    env = plugin_env(redis_url, f"http://127.0.0.1:{port}")
    with subprocess.Popen([sys.executable, "-m", "plugin", "reconcile"], cwd=empty_dir, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            connection, _ = silent_forum.accept()      # the command is waiting for the forum's answer
            with connection:
                process.send_signal(signal.SIGINT)
                _out, err = process.communicate(timeout=30)
        finally:
            stop_process(process)
    assert process.returncode == INTERRUPTED_EXIT, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_redis_url_naming_a_server_that_is_not_redis_is_one_line(empty_dir: Path, sim: Sim) -> None:
    not_redis = sim.url.replace("http://", "redis://") + "/0"      # an HTTP server on loopback
    result = run_plugin(empty_dir, plugin_env(not_redis, closed_url()), "care")
    assert "does not answer as Redis does" in assert_one_line_naming(result, "REDIS_URL")


def test_sentinels_that_do_not_answer_are_one_line_naming_them(empty_dir: Path) -> None:
    env = plugin_env("redis://127.0.0.1:6379/0", closed_url(), REDIS_SENTINELS=f"127.0.0.1:{free_port()}")
    line = assert_one_line_naming(run_plugin(empty_dir, env, "care"), "REDIS_SENTINELS")
    assert "No master found for 'mymaster'" in line and "<redis" not in line, line


@pytest.mark.parametrize(("error", "setting", "words"), [
    (ForumUnavailable("GET /latest.json: the forum answered 502", status=502), "DISCOURSE_URL", "answered 502"),
    (ForumUnavailable("GET /u/system.json: expected JSON, got 'text/html'", status=200), "DISCOURSE_URL",
     "did not answer (expected JSON, got 'text/html')"),
    (ForumRefused(301, ["unexpected redirect to https://forum.example.com/login (is DISCOURSE_URL the forum's "
                        "address?)"], request="GET /u/system.json"), "DISCOURSE_URL",
     "redirect to https://forum.example.com/login"),
    (ForumRefused(401, ["not logged in"], "not_logged_in"), "DISCOURSE_API_KEY", "refused the API key"),
    (ForumRefused(404, ["The requested URL or resource could not be found."], "not_found",
                  request="GET /admin/api/web_hooks.json"), "DISCOURSE_API_USERNAME", "404 not_found"),
    (Throttled(12, scope=Throttled.BUDGET), "COC_API_BUDGET_PER_MIN", "try again in 12.0 s"),
    (Throttled(5, scope=Throttled.ACCOUNT, account="care-bot"), "COC_BOT_USERNAME", "per-user limit"),
    (redis.TimeoutError("Timeout connecting to server"), "REDIS_URL", "(Timeout connecting to server)"),
    (redis.exceptions.AuthenticationError("invalid username-password pair or user is disabled."), "REDIS_URL",
     "refused the service (invalid username-password pair or user is disabled)"),
])
def test_each_kind_of_problem_is_told_in_one_line_naming_its_setting(
    error: Exception, setting: str, words: str, empty_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(empty_dir)
    for name, value in plugin_env("redis://:secret@127.0.0.1:6379/0", "https://forum.example.com").items():
        monkeypatch.setenv(name, value)
    line = explain(error)
    assert line is not None and "\n" not in line
    assert setting in line and words in line, line
    assert "secret" not in line, line                         # REDIS_URL's password is never shown


def test_anything_else_is_not_explained_away() -> None:
    assert explain(ValueError("a bug")) is None
    assert explain(redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")) is None


def test_an_env_file_names_the_settings_and_wins_over_the_environment(empty_dir: Path, redis_url: str) -> None:
    """`--env-file FILE` (the demo's demo.env): the file's Redis is used although the environment names a closed
    one, and `.env` beside it is not read."""
    (empty_dir / "demo.env").write_text(f"REDIS_URL={redis_url}\n")
    (empty_dir / ".env").write_text("COC_JOB_TIMEOUT=soon\n")       # would be refused, were it read
    env = plugin_env(closed_url("redis") + "/0", closed_url())
    result = run_plugin(empty_dir, env, "--env-file", "demo.env", "care")
    assert result.returncode == 0 and "Traceback" not in result.stderr, (result.returncode, result.stderr)
    down = run_plugin(empty_dir, env, "care")                          # without it: the environment's Redis, and .env
    assert_one_line_naming(down, "COC_JOB_TIMEOUT")


def test_a_missing_env_file_is_one_line(empty_dir: Path, redis_url: str) -> None:
    result = run_plugin(empty_dir, plugin_env(redis_url, closed_url()), "--env-file", "nowhere.env", "care")
    line = assert_one_line_naming(result, "--env-file")
    assert "nowhere.env" in line and "no such file" in line, line
