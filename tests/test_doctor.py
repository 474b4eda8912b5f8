"""`python -m plugin doctor` on a healthy installation, and on the problems an operator must hear about."""
from __future__ import annotations

from dataclasses import replace

import pytest
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from plugin.adapters.budget import ApiBudget
from plugin.adapters.forum import WebHook
from plugin.config import ConfigError, Settings
from plugin.ops.processes import free_port
from plugin.ops.doctor import OK, PROBLEM, WARNING, redis_too_old, run_doctor, webhook_secret
from plugin.queues import QUEUE_CARE
from tests.companion import Companion, companion, sim_forum  # noqa: F401  (fixtures)


def doctor(c: Companion) -> tuple[int, list[str]]:
    lines: list[str] = []
    return run_doctor(c.settings, out=lines.append), lines


def test_a_fresh_installation_is_healthy(companion: Companion) -> None:
    code, lines = doctor(companion)
    assert code == 0, lines
    assert all(line.startswith(OK) for line in lines)
    assert any("webhook" in line and "deliveries succeeded" in line for line in lines)
    assert any("Redis" in line and "answers (Redis " in line for line in lines)


def test_a_redis_without_lmove_is_a_problem() -> None:
    assert "6.2 or newer" in redis_too_old("6.0.16")
    assert "6.2 or newer" in redis_too_old("5.0.7")
    assert redis_too_old("6.2.0") is None and redis_too_old("7.4.2") is None and redis_too_old("10.0") is None


def test_a_failed_care_job_is_a_problem_that_says_so(companion: Companion) -> None:
    c = companion
    care = Queue(QUEUE_CARE, connection=c.conn, serializer=JSONSerializer)
    care.enqueue("worker.jobs.no_such_job")
    SimpleWorker([care], connection=c.conn, serializer=JSONSerializer).work(burst=True, logging_level="ERROR")
    code, lines = doctor(c)
    assert code == 1
    (line,) = [line for line in lines if line.startswith(PROBLEM)]
    assert "queue care" in line and "direct support" in line and "1 failed" in line


def test_a_missing_webhook_is_a_problem(companion: Companion) -> None:
    c = companion
    c.sim.forum.web_hooks.clear()
    code, lines = doctor(c)
    assert code == 1 and any(line.startswith(PROBLEM) and "run `python -m plugin install`" in line for line in lines)


def test_a_bot_that_is_no_longer_staff_is_a_problem_that_names_the_limits(companion: Companion) -> None:
    c = companion
    bot = c.sim.forum.user_by_name(c.settings.bot_username)
    c.sim.forum.set_moderator(bot, False)
    c.sim.forum.settings["max_personal_messages_per_day"] = 7       # the forum's own value is what doctor names
    code, lines = doctor(c)
    (line,) = [line for line in lines if line.startswith(PROBLEM)]
    assert code == 1 and "bot account" in line and "not staff" in line and "7 messages" in line
    assert "python -m plugin install" in line


def test_a_suspended_bot_is_a_problem(companion: Companion) -> None:
    c = companion
    forum = c.sim.forum
    bot = forum.user_by_name(c.settings.bot_username)
    bot.suspended_till = forum.now().replace(year=forum.now().year + 1)
    code, lines = doctor(c)
    assert code == 1 and any(line.startswith(PROBLEM) and "suspended" in line for line in lines)


# ------------------------------------------------------------------------------------------ the settings


def test_every_bad_setting_is_its_own_problem_naming_its_variable() -> None:
    """Settings.from_env stops at the first bad value; doctor names each, including those read only later (the
    digest's time and zone) — and checks nothing that would use a bad Redis address."""
    env = {"COC_TIMEZONE": "Mars/Olympus", "COC_DIGEST_TIME": "25:00", "COC_SUPPORT_QUORUM": "2",
           "COC_WINDOW_WEEKS": "0", "COC_API_BUDGET_PER_MIN": "0", "REDIS_URL": "http://127.0.0.1:6379/0",
           "DISCOURSE_URL": "forum.example.org", "COC_CARE_TELL_MEMBER_WHO": "perhaps"}
    with pytest.raises(ConfigError):
        Settings.from_env(env, dotenv=False)
    lines: list[str] = []
    code = run_doctor(env=env, out=lines.append)
    assert code == 1
    problems = {line.split(":", 1)[0].split()[-1] for line in lines if line.startswith(PROBLEM)}
    assert set(env) <= problems, lines
    assert any(line.startswith(PROBLEM) and "Redis: not checked: fix REDIS_URL first" in line for line in lines)
    assert not any("answers (Redis" in line for line in lines)


def test_settings_read_only_later_are_checked_too(companion: Companion) -> None:
    settings = replace(companion.settings, timezone="Mars/Olympus", digest_time="9 o'clock")
    lines: list[str] = []
    assert run_doctor(settings, out=lines.append) == 1
    bad = [line for line in lines if line.startswith(PROBLEM)]
    assert len(bad) == 2, bad
    assert any("COC_TIMEZONE: COC_TIMEZONE must be an IANA time zone name" in line for line in bad)
    assert any("COC_DIGEST_TIME: COC_DIGEST_TIME must be a time of day" in line for line in bad)


def test_unknown_and_misspelt_names_are_warned_about() -> None:
    env = {"REDIS_ULR": "redis://127.0.0.1:6379/5", "DISCOURSE_ULR": "https://forum.example.org",
           "COC_SUPORT_THRESHOLD": "4", "COC_SHINY_NEW_THING": "1", "DISCOURSE_HOSTNAME": "forum.example.org",
           "COC_TEST_REDIS_DB": "5", "PATH": "/usr/bin",
           "REDIS_URL": "not-a-redis-url"}  # stops doctor before it reaches any Redis
    lines: list[str] = []
    run_doctor(env=env, env_file={"COC_SUPORT_THRESHOLD": "4"}, out=lines.append)
    warnings = {line.split(":", 1)[0].split()[-1]: line for line in lines if line.startswith(WARNING)}
    assert set(warnings) == {"REDIS_ULR", "DISCOURSE_ULR", "COC_SUPORT_THRESHOLD", "COC_SHINY_NEW_THING"}, lines
    assert "did you mean REDIS_URL?" in warnings["REDIS_ULR"] and "the environment" in warnings["REDIS_ULR"]
    assert "did you mean DISCOURSE_URL?" in warnings["DISCOURSE_ULR"]
    assert "set in .env" in warnings["COC_SUPORT_THRESHOLD"]
    assert "did you mean COC_SUPPORT_THRESHOLD?" in warnings["COC_SUPORT_THRESHOLD"]
    assert "did you mean" not in warnings["COC_SHINY_NEW_THING"]


# ------------------------------------------------------------------------------------------ the forum


def test_a_healthy_run_says_how_many_forum_calls_it_spent(companion: Companion) -> None:
    c = companion
    budget = ApiBudget.for_settings(c.conn, c.settings)
    before = budget.remaining()
    code, lines = doctor(c)
    spent = before - budget.remaining()
    assert code == 0, lines
    assert f"{OK:<8}  forum calls: doctor spent {spent} calls of the shared API budget" in lines
    assert spent > 0
    assert f"{OK:<8}  webhook secret: the forum's webhook signs with DISCOURSE_WEBHOOK_SECRET" in lines


def test_a_webhook_with_another_secret_is_a_problem(companion: Companion) -> None:
    c = companion
    (hook,) = c.sim.forum.web_hooks.values()
    hook.secret = "someone-elses-secret-value"
    code, lines = doctor(c)
    (line,) = [line for line in lines if line.startswith(PROBLEM)]
    assert code == 1 and "webhook secret" in line and "DISCOURSE_WEBHOOK_SECRET" in line


def test_a_forum_that_hides_the_secret_cannot_be_compared() -> None:
    hook = WebHook(id=3, payload_url="https://coc.example.org/webhooks/discourse", secret=None, content_type=2,
                   active=True, wildcard=False, event_type_ids=frozenset())
    check = webhook_secret(hook, "a-long-enough-secret")
    assert check.outcome == WARNING and "cannot compare" in check.detail and hook.payload_url in check.detail


def test_a_wrong_api_username_is_not_blamed_on_the_key(companion: Companion) -> None:
    lines: list[str] = []
    settings = replace(companion.settings, discourse_api_username="no-such-admin")
    assert run_doctor(settings, out=lines.append) == 1
    (line,) = [line for line in lines if line.startswith(PROBLEM)]
    assert "forum:" in line and "DISCOURSE_API_USERNAME" in line and "no-such-admin" in line
    assert "refused DISCOURSE_API_KEY" not in line
    assert any("forum calls: doctor spent 2 calls" in line for line in lines)  # its own call, and one as system


def test_a_wrong_key_is_blamed_on_the_key(companion: Companion) -> None:
    lines: list[str] = []
    settings = replace(companion.settings, discourse_api_key="0" * 64)
    assert run_doctor(settings, out=lines.append) == 1
    (line,) = [line for line in lines if line.startswith(PROBLEM)]
    assert "forum:" in line and "refused DISCOURSE_API_KEY (403)" in line


def test_a_spent_budget_is_said_so_not_unreachable(companion: Companion) -> None:
    c = companion
    settings = replace(c.settings, api_budget_per_min=3)
    budget = ApiBudget.for_settings(c.conn, settings)
    while budget.remaining():
        budget.try_spend(1)
    lines: list[str] = []
    assert run_doctor(settings, out=lines.append) == 1
    assert not any("not reachable" in line for line in lines), lines
    (forum,) = [line for line in lines if line.startswith(f"{PROBLEM:<8}  forum:")]
    assert "COC_API_BUDGET_PER_MIN" in forum and "run doctor again in" in forum
    assert f"{OK:<8}  forum calls: doctor spent 0 calls of the shared API budget" in lines


def test_a_forum_that_does_not_answer_is_named_in_the_systems_words(companion: Companion) -> None:
    """One line that says why (the operating system's reason), not the HTTP client's nested repr."""
    closed = replace(companion.settings, discourse_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    lines: list[str] = []
    assert run_doctor(closed, out=lines.append) == 1
    forum = [line for line in lines if line.split()[1:2] == ["forum:"]]
    assert forum and forum[0].endswith("is not reachable (Connection refused): check DISCOURSE_URL"), lines
    assert "HTTPConnectionPool" not in "\n".join(lines)
