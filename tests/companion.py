"""The whole service in one test: the simulator, a real Redis, the receiver over HTTP and real RQ workers.

`Companion` installs the service on a fresh simulated forum (as `python -m plugin install` would, with the webhook
registered through the forum's admin API), then lets a test act as members through the forum's own API and
`settle()` — deliver every webhook, run every job — before it looks at the forum.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from pydiscourse import DiscourseClient
from worker.reliable import ReliableSimpleWorker
from rq.serializers import JSONSerializer

import worker.services
from plugin.adapters.budget import ApiBudget
from plugin.config import Settings
from plugin.adapters.forum import Forum
from plugin.adapters.living_document import cache_document
from plugin.ops.install import Installer, remember_care_wording
from plugin.queues import QUEUES
from plugin.ops.processes import wait_until
from tests.servers import serving
from simulator.state import Forum as SimForum
from tests.simulator_fixtures import Sim
from webhooks.app import create_app
from worker.services import Services

SECRET = "companion-webhook-secret-1234"
PREFIX = "coc-test:"


@dataclass
class Companion:
    sim: Sim
    settings: Settings
    conn: redis.Redis
    services: Services

    @property
    def keys(self):  # type: ignore[no-untyped-def]
        return self.services.keys

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.services.store

    def member(self, username: str, **fields: object) -> DiscourseClient:
        """A forum member (made in the forum directly) and a pydiscourse client acting as them.

        The member is SCRIPTED (`Forum.scripted_user_ids`): the test plays them at machine speed, and their own pace
        is not what is tested, so Discourse's per-user rate limits and post validators (simulator/limits.py) do not
        apply to them. The service's own account is never scripted: it meets every limit Discourse would apply.
        """
        user = self.sim.forum.user_by_name(username)
        if user is None:
            user = self.sim.user(username, **fields)
        self.sim.forum.scripted_user_ids.add(user.id)
        return self.sim.client(username)

    def settle(self, timeout: float = 60) -> None:
        """Deliver every webhook and run every job until nothing is left to do."""
        dispatcher = self.sim.app.extensions["webhooks"]

        def quiet() -> bool:
            if not dispatcher.wait_idle(timeout=timeout):
                raise AssertionError("webhook deliveries did not finish")
            if any(self.conn.llen(f"rq:queue:{q}") for q in QUEUES):
                ReliableSimpleWorker(list(QUEUES), connection=self.conn, serializer=JSONSerializer).work(
                    burst=True, logging_level="WARNING")
                return False
            return dispatcher.wait_idle(timeout=timeout) and not any(self.conn.llen(f"rq:queue:{q}") for q in QUEUES)
        assert wait_until(quiet, timeout=timeout, interval=0), "the service did not settle"

    def bot_not_staff(self) -> None:
        """Take the bot's moderation away, as an operator might, for a test of what Discourse refuses a non-staff
        account. LOOSE ON PURPOSE: its intervals between topics and posts are set to 0 (a forum admin may), since
        its pace is not what such a test is about (tests/test_simulator_limits.py and the burst benchmark are)."""
        forum = self.sim.forum
        forum.set_moderator(forum.user_by_name(self.settings.bot_username), False)
        forum.settings.update(rate_limit_create_topic=0, rate_limit_create_post=0, rate_limit_new_user_create_post=0)

    def document_raw(self) -> str:
        document = self.store.document()
        return self.sim.forum.posts[document["post_id"]].raw

    def topic_by_external_id(self, external_id: str):  # type: ignore[no-untyped-def]
        return self.sim.forum.topic_by_external_id(external_id)


def companion_settings(sim: Sim, redis_url: str, receiver_url: str, **overrides: object) -> Settings:
    values = {"api_budget_per_min": 100_000, "discourse_url": sim.url, "discourse_api_key": sim.api_key, "discourse_api_username": "system",
              "discourse_webhook_secret": SECRET, "redis_url": redis_url, "redis_prefix": PREFIX,
              "public_url": receiver_url, **overrides}
    return Settings.from_env({}, dotenv=False, **values)


@pytest.fixture
def sim_forum() -> SimForum:
    """A forum whose admin API allows more than Discourse's default 60 a minute: these tests make whole weeks of
    activity in seconds (budget behaviour itself is tested in tests/test_budget.py and tests/test_forum.py)."""
    forum = SimForum()
    forum.settings["max_admin_api_reqs_per_minute"] = 100_000
    return forum


@pytest.fixture
def companion(sim: Sim, redis_url: str, redis_conn: redis.Redis) -> Iterator[Companion]:
    yield from start_companion(sim, redis_url, redis_conn)


def start_companion(sim: Sim, redis_url: str, redis_conn: redis.Redis, **overrides: object) -> Iterator[Companion]:
    with serving(create_app(companion_settings(sim, redis_url, "http://placeholder"))) as receiver:
        settings = companion_settings(sim, redis_url, receiver.url, **overrides)
        services = Services(settings, redis_conn)
        with Forum(settings, budget=ApiBudget.for_settings(redis_conn, settings)) as forum:
            installer = Installer(settings, forum)
            problems = [step.line() for step in installer.run() if step.problem]
            assert not problems, problems
            cache_document(services.store, forum, installer.document)
            remember_care_wording(services.store, installer)
        worker.services._current = services
        try:
            running = Companion(sim, settings, redis_conn, services)
            running.settle()
            yield running
        finally:
            worker.services.reset()
