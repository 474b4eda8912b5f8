"""install and doctor with the forum's Data Explorer plugin (plugin/adapters/data_explorer.py), off as Discourse ships
it and turned on as an admin does, against the simulator (simulator/data_explorer.py) over real HTTP and a real
Redis budget.

Off (or absent) is a normal forum: install says so and makes nothing, doctor says it is fine. On: install makes the
service's four saved queries, finds them up to date the next time, brings back one whose SQL changed, and a dry run
makes nothing; doctor says whether they are there, runs one, and says how many calls that took.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from plugin.adapters.budget import ApiBudget
from plugin.adapters.data_explorer import POSTS, QUERIES, TOPICS
from plugin.adapters.forum import Forum
from plugin.adapters.keys import Keys
from plugin.ops.doctor import OK as DOCTOR_OK
from plugin.ops.doctor import PROBLEM as DOCTOR_PROBLEM
from plugin.ops.doctor import data_explorer, run_doctor
from plugin.ops.install import CREATED, EXISTS, OK, UPDATED, WOULD_CREATE, WOULD_UPDATE, Installer, Step
from simulator.data_explorer import QueryStore
from tests.companion import Companion, start_companion
from tests.companion import companion, sim_forum  # noqa: F401  (fixtures)
from tests.simulator_fixtures import Sim
from tests.test_budget import Clock
from tests.test_data_explorer import enable
from tests.test_install import DATA_EXPLORER, EXPECTED_SUBJECTS, PREFIX, install, run_cli, settings_for

WHERE = "(“coc-companion: …” in Admin → Plugins → Data Explorer)"
OFF = ("the plugin is off (or not installed): rebuild reads through the API (turn on data_explorer_enabled in "
       "Admin → Settings for rebuilds in pages of 10,000)")


def stored(sim: Sim) -> QueryStore:
    """The simulated plugin's table of saved queries."""
    return sim.app.extensions["data_explorer"]


def the_step(steps: list[Step]) -> Step:
    (step,) = [s for s in steps if s.subject == DATA_EXPLORER]
    return step


def saved(sim: Sim) -> list[tuple[str, str | None, str]]:
    return sorted((q.name, q.description, q.sql) for q in stored(sim).queries.values())


SERVICE_QUERIES = sorted((q.name, q.description, q.sql) for q in QUERIES)


# --------------------------------------------------------------------------------------------------
# install
# --------------------------------------------------------------------------------------------------


def test_plugin_off_install_says_so_and_creates_nothing(sim: Sim, redis_conn: redis.Redis) -> None:
    assert sim.forum.settings["data_explorer_enabled"] is False                 # as Discourse ships it
    for dry_run in (True, False):
        steps, _, _ = install(sim, redis_conn, dry_run=dry_run)
        assert the_step(steps).line() == f"{OK:<12}  {DATA_EXPLORER}: {OFF}"
        assert not any(s.problem for s in steps), [s.line() for s in steps]
    assert stored(sim).queries == {}


def test_plugin_on_install_creates_the_five_then_finds_them_up_to_date(sim: Sim, redis_conn: redis.Redis) -> None:
    enable(sim)
    steps, _, _ = install(sim, redis_conn)
    assert [s.subject for s in steps] == EXPECTED_SUBJECTS
    assert the_step(steps).line() == f"{CREATED:<12}  {DATA_EXPLORER}: created {len(QUERIES)} {WHERE}"
    assert saved(sim) == SERVICE_QUERIES
    ids = sorted(stored(sim).queries)
    steps, _, _ = install(sim, redis_conn)
    assert the_step(steps).line() == f"{EXISTS:<12}  {DATA_EXPLORER}: {len(QUERIES)} up to date {WHERE}"
    assert sorted(stored(sim).queries) == ids and saved(sim) == SERVICE_QUERIES


def test_dry_run_creates_nothing_and_says_what_it_would(sim: Sim, redis_conn: redis.Redis) -> None:
    enable(sim)
    budget = {"api_budget_per_min": 600}                   # four runs within a minute, never waiting
    steps, _, _ = install(sim, redis_conn, dry_run=True, **budget)
    assert the_step(steps).line() == f"{WOULD_CREATE:<12}  {DATA_EXPLORER}: would create {len(QUERIES)} {WHERE}"
    assert stored(sim).queries == {}
    install(sim, redis_conn, **budget)
    posts = next(q for q in stored(sim).queries.values() if q.name == POSTS.name)
    posts.sql, posts.description = "SELECT 1 AS id", "an older copy"           # as an older release left it
    steps, _, _ = install(sim, redis_conn, dry_run=True, **budget)
    assert the_step(steps).line() == (
        f"{WOULD_UPDATE:<12}  {DATA_EXPLORER}: would update 1 whose SQL changed, {len(QUERIES) - 1} up to date {WHERE}")
    assert posts.sql == "SELECT 1 AS id" and len(stored(sim).queries) == len(QUERIES)
    steps, _, _ = install(sim, redis_conn, **budget)
    assert the_step(steps).line() == (
        f"{UPDATED:<12}  {DATA_EXPLORER}: updated 1 whose SQL changed, {len(QUERIES) - 1} up to date {WHERE}")
    assert saved(sim) == SERVICE_QUERIES and len(stored(sim).queries) == len(QUERIES)


def test_a_budget_wait_in_the_middle_of_the_queries_still_says_created_5(sim: Sim, redis_conn: redis.Redis) -> None:
    """Install waits out the shared budget and runs a step again: queries made before the wait are not made twice,
    and the step still says it created them."""
    enable(sim)
    clock = Clock()
    made_at_each_wait: list[int] = []
    budget = ApiBudget(redis_conn, key=Keys(PREFIX).api_budget, per_minute=4, clock=clock)
    settings = settings_for(sim)
    with Forum(settings, budget=budget) as forum:
        def sleep(seconds: float) -> None:
            made_at_each_wait.append(len(stored(sim).queries))
            clock.advance(seconds)
        steps = Installer(settings, forum, sleep=sleep).run()
    assert any(0 < made < len(QUERIES) for made in made_at_each_wait), made_at_each_wait   # a wait mid-step
    assert the_step(steps).line() == f"{CREATED:<12}  {DATA_EXPLORER}: created {len(QUERIES)} {WHERE}"
    assert saved(sim) == SERVICE_QUERIES


def test_the_command_prints_the_step(sim: Sim, redis_url: str, redis_conn: redis.Redis) -> None:
    enable(sim)
    budget = {"COC_API_BUDGET_PER_MIN": "600"}             # three runs within a minute, never waiting for real
    planned = run_cli(sim, redis_url, "--dry-run", **budget)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert f"{WOULD_CREATE:<12}  {DATA_EXPLORER}: would create {len(QUERIES)} {WHERE}" in planned.stdout.splitlines()
    assert stored(sim).queries == {}
    done = run_cli(sim, redis_url, **budget)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{CREATED:<12}  {DATA_EXPLORER}: created {len(QUERIES)} {WHERE}" in done.stdout.splitlines()
    again = run_cli(sim, redis_url, **budget)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{EXISTS:<12}  {DATA_EXPLORER}: {len(QUERIES)} up to date {WHERE}" in again.stdout.splitlines()
    assert saved(sim) == SERVICE_QUERIES


# --------------------------------------------------------------------------------------------------
# doctor
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def companion_with_explorer(sim: Sim, redis_url: str, redis_conn: redis.Redis) -> Iterator[Companion]:
    """The service installed on a forum whose admin turned Data Explorer on first."""
    enable(sim)
    yield from start_companion(sim, redis_url, redis_conn)


def doctor_line(c: Companion) -> tuple[int, str, list[str]]:
    lines: list[str] = []
    code = run_doctor(c.settings, out=lines.append)
    (line,) = [line for line in lines if "  Data Explorer: " in line]
    return code, line, lines


def test_plugin_off_doctor_says_fine(companion: Companion) -> None:  # noqa: F811
    code, line, lines = doctor_line(companion)
    assert code == 0, lines
    assert line == (f"{DOCTOR_OK:<8}  Data Explorer: the plugin is off (or not installed): fine, rebuild reads "
                    "through the API; turn on data_explorer_enabled in Admin → Settings for rebuilds in pages of "
                    "10,000 (2 calls of the shared API budget)")
    assert stored(companion.sim).queries == {}


def test_plugin_on_doctor_runs_a_query_and_changes_nothing(companion_with_explorer: Companion) -> None:
    c = companion_with_explorer
    assert saved(c.sim) == SERVICE_QUERIES                                # install made them
    topics = next(q for q in stored(c.sim).queries.values() if q.name == TOPICS.name)
    topics.last_run_at = None                                             # forget its creation, the last "run"
    before = {q.id: (q.name, q.description, q.sql) for q in stored(c.sim).queries.values()}
    code, line, lines = doctor_line(c)
    assert code == 0, lines
    assert line == (f"{DOCTOR_OK:<8}  Data Explorer: on; the service's {len(QUERIES)} saved queries are there and "
                    f"“{TOPICS.name}” ran (query {topics.id}, 0 rows for no topic): rebuilds read in pages of "
                    "10,000 (2 calls of the shared API budget)")
    assert topics.last_run_at is not None                                 # the forum did run it
    assert {q.id: (q.name, q.description, q.sql) for q in stored(c.sim).queries.values()} == before


def test_plugin_on_without_the_queries_doctor_says_run_install(companion: Companion) -> None:  # noqa: F811
    c = companion                                                        # installed while the plugin was off
    enable(c.sim)
    code, line, _ = doctor_line(c)
    assert code == 1
    assert line == (f"{DOCTOR_PROBLEM:<8}  Data Explorer: the plugin is on but the service's saved queries are not "
                    "all there (posts, likes, topics, first_posts missing): run "
                    "`python -m plugin install` (1 call of the shared API budget)")
    assert stored(c.sim).queries == {}                                   # doctor reads only
    assert the_step(reinstall(c)).outcome == CREATED
    posts = next(q for q in stored(c.sim).queries.values() if q.name == POSTS.name)
    posts.description = "an older copy"
    code, line, _ = doctor_line(c)
    assert code == 1 and "(posts out of date): run `python -m plugin install`" in line
    assert the_step(reinstall(c)).outcome == UPDATED
    code, line, lines = doctor_line(c)
    assert code == 0 and line.startswith(f"{DOCTOR_OK:<8}  Data Explorer: on;"), lines


def test_a_query_the_forum_refuses_to_run_is_a_problem(companion_with_explorer: Companion) -> None:
    """An edit made in the forum that keeps the description is not noticed by the listing; running one is."""
    c = companion_with_explorer
    topics = next(q for q in stored(c.sim).queries.values() if q.name == TOPICS.name)
    topics.sql = "SELECT id FROM no_such_table"
    code, line, _ = doctor_line(c)
    assert code == 1 and line.startswith(f"{DOCTOR_PROBLEM:<8}  Data Explorer: the forum refused the service's "
                                         "saved queries (422: "), line
    assert line.endswith("`python -m plugin install` makes them again (2 calls of the shared API budget)")


@pytest.mark.parametrize("on", [False, True], ids=["off", "on"])
def test_doctor_counts_the_calls_it_spends(sim: Sim, redis_conn: redis.Redis, on: bool) -> None:
    """The calls the line names are the requests the adapter sent; on, the forum's admin API limit counted as many
    (off, the standalone plugin's listing path is a redirect the forum answers before it counts anything)."""
    if on:
        enable(sim)
        install(sim, redis_conn)
    settings = settings_for(sim)
    bucket = sim.app.extensions["admin_api_bucket"]
    with Forum(settings, budget=ApiBudget.for_settings(redis_conn, settings)) as forum:
        sent, counted = forum.calls_made, bucket.performed
        check = data_explorer(forum)
        sent, counted = forum.calls_made - sent, bucket.performed - counted
    assert check.outcome == DOCTOR_OK, check.line()
    assert check.detail.endswith(f"({sent} calls of the shared API budget)") and sent == 2
    assert counted == (2 if on else 1)


def reinstall(c: Companion) -> list[Step]:
    """install again, as the companion was installed (its settings: its receiver, its bot, its budget)."""
    with Forum(c.settings, budget=ApiBudget.for_settings(c.conn, c.settings)) as forum:
        return Installer(c.settings, forum).run()
