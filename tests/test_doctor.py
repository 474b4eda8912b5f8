"""`python -m plugin doctor` on a healthy installation, and on the problems an operator must hear about."""
from __future__ import annotations

from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from plugin.ops.doctor import OK, PROBLEM, redis_too_old, run_doctor
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
