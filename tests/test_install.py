"""`python -m plugin install` against the simulator over real HTTP, with the real shared budget in Redis."""
from __future__ import annotations

import os
from datetime import timedelta
import subprocess
import sys
from collections import Counter

import pytest
import redis

from plugin.adapters.budget import WINDOW_SECONDS, ApiBudget
from plugin.config import Settings
from plugin.ops.demo import REPO_ROOT
from plugin.domain.document import STARTER_TEXT
from plugin.adapters.forum import Forum
from plugin.adapters.keys import Keys
from plugin.adapters.store import Store
from plugin.domain.names import DOCUMENT_EXTERNAL_ID, TAG_CODE_OF_CARE, TAG_GROUP, TAGS
from plugin.ops.install import (CREATED, DOCUMENT_TITLE, EVERYONE, EXISTS, OK,
                            PROBLEM, UPDATED, WEBHOOK_EVENTS, WOULD_CREATE, WOULD_UPDATE, Installer,
                            Step)
from plugin.adapters.keys import Keys
from simulator.state import Forum as SimForum
from simulator.webhooks import EVENT_TYPE_IDS
from tests.simulator_fixtures import Sim
from tests.test_budget import Clock

BOT = "care-bot"
SECRET = "install-test-webhook-secret"
PUBLIC_URL = "http://127.0.0.1:9"          # nothing listens there; deliveries fail quietly in the simulator's log
PREFIX = "coc-test:"


def settings_for(sim: Sim, **overrides: object) -> Settings:
    values: dict[str, object] = {"discourse_url": sim.url, "discourse_api_key": sim.api_key,
                                 "discourse_webhook_secret": SECRET, "bot_username": BOT, "public_url": PUBLIC_URL,
                                 "redis_prefix": PREFIX, "api_budget_per_min": 60}
    values.update(overrides)
    return Settings.from_env({}, dotenv=False, **values)  # type: ignore[arg-type]


def install(sim: Sim, conn: redis.Redis, *, dry_run: bool = False, budget: ApiBudget | None = None,
            **overrides: object) -> tuple[list[Step], Installer, int]:
    """Run install once; returns its steps, the installer and the API calls it made."""
    settings = settings_for(sim, **overrides)
    with Forum(settings, budget=budget or ApiBudget.for_settings(conn, settings)) as forum:
        installer = Installer(settings, forum, dry_run=dry_run, sleep=_no_real_sleep)
        steps = installer.run()
        return steps, installer, forum.calls_made


def _no_real_sleep(seconds: float) -> None:
    raise AssertionError(f"install tried to sleep {seconds} s, but the budget was not spent")


def outcomes(steps: list[Step]) -> dict[str, str]:
    return {s.subject: s.outcome for s in steps}


def counts(forum: SimForum) -> dict[str, int]:
    return {"users": len(forum.users), "groups": len(forum.groups), "categories": len(forum.categories),
            "tags": len(forum.tags), "tag_groups": len(forum.tag_groups), "topics": len(forum.topics),
            "posts": len(forum.posts), "web_hooks": len(forum.web_hooks)}


HOOK_URL = PUBLIC_URL + "/webhooks/discourse"
DATA_EXPLORER = "data explorer queries"
EXPECTED_SUBJECTS = ["API key and admin user system", f"bot user {BOT}", "care group peer-support",
                     "consent group coc-credit", *[f"tag {t}" for t in TAGS], "drafts category “Code of Care drafts”",
                     "Code of Care category “Code of Care”", "living document", "care wording conversation", DATA_EXPLORER, f"webhook {HOOK_URL}"]


def expected_outcomes(outcome: str) -> list[str]:
    """`ok` for the key check and for the Data Explorer queries (the plugin is off on a fresh simulated forum, as on a
    stock Discourse: ok, nothing to make), `outcome` for every other step."""
    return [OK if subject in (EXPECTED_SUBJECTS[0], DATA_EXPLORER) else outcome for subject in EXPECTED_SUBJECTS]


# --------------------------------------------------------------------------------------------------
# A fresh forum, and again
# --------------------------------------------------------------------------------------------------


def test_a_fresh_forum_gets_everything_it_needs(sim: Sim, redis_conn: redis.Redis) -> None:
    steps, installer, calls = install(sim, redis_conn)
    assert [s.subject for s in steps] == EXPECTED_SUBJECTS
    assert [s.outcome for s in steps] == expected_outcomes(CREATED), [s.line() for s in steps]
    f = sim.forum
    bot = f.user_by_name(BOT)
    assert bot is not None and bot.active and bot.moderator and not bot.admin and bot.trust_level >= 1
    care, consent = f.group_by_name("peer-support"), f.group_by_name("coc-credit")
    assert care is not None and care.messageable_level == EVERYONE and care.mentionable_level == 0
    assert consent is not None and consent.visibility_level == 0
    assert set(TAGS) <= set(f.tags)
    assert [(g.name, g.tag_names) for g in f.tag_groups.values()] == [(TAG_GROUP, list(TAGS))]
    drafts = next(c for c in f.categories.values() if c.name == "Code of Care drafts")
    home = next(c for c in f.categories.values() if c.name == "Code of Care")     # the Code's own category
    assert not drafts.read_restricted and not home.read_restricted and home.id != drafts.id
    document = f.topic_by_external_id(DOCUMENT_EXTERNAL_ID)
    assert document is not None
    first = f.first_post(document)
    assert (document.title, document.tags, document.category_id, first.user_id) == (
        DOCUMENT_TITLE, [TAG_CODE_OF_CARE], home.id, bot.id)
    assert first.raw == STARTER_TEXT
    assert installer.document == {"topic_id": document.id, "post_id": first.id}
    (hook,) = f.web_hooks.values()
    assert (hook.payload_url, hook.secret, hook.content_type, hook.active, hook.wildcard_web_hook) == (
        HOOK_URL, SECRET, 1, True, False)
    assert sorted(hook.web_hook_event_type_ids) == sorted(EVENT_TYPE_IDS[name] for name in WEBHOOK_EVENTS)
    # every call counts in the forum's admin API limit but one: with Data Explorer off, its legacy listing path is a
    # routes.rb redirect (301), answered before authentication (simulator/data_explorer.py, _legacy_redirect)
    assert calls == sim.app.extensions["admin_api_bucket"].performed + 1


def test_a_second_run_finds_everything_and_changes_nothing(sim: Sim, redis_conn: redis.Redis) -> None:
    _, _, first_calls = install(sim, redis_conn)
    before = counts(sim.forum)
    steps, installer, calls = install(sim, redis_conn)
    assert [s.subject for s in steps] == EXPECTED_SUBJECTS
    assert Counter(s.outcome for s in steps) == Counter({OK: 2, EXISTS: len(EXPECTED_SUBJECTS) - 2})
    assert counts(sim.forum) == before
    assert installer.document is not None
    assert calls < first_calls


def test_a_document_an_earlier_install_left_among_the_drafts_moves_to_its_own_category_once(
        sim: Sim, redis_conn: redis.Redis) -> None:
    roomy = {"api_budget_per_min": 1000}                            # four installs in a row: not a budget test
    install(sim, redis_conn, document_category="", **roomy)                  # as installs did before the Code had a home
    f = sim.forum
    document = f.topic_by_external_id(DOCUMENT_EXTERNAL_ID)
    assert document is not None
    drafts = next(c for c in f.categories.values() if c.name == "Code of Care drafts")
    assert document.category_id == drafts.id

    dry, _, _ = install(sim, redis_conn, dry_run=True, **roomy)
    assert outcomes(dry)["living document's category"] == WOULD_UPDATE and document.category_id == drafts.id

    steps, installer, _ = install(sim, redis_conn, **roomy)
    home = next(c for c in f.categories.values() if c.name == "Code of Care")
    assert outcomes(steps)["Code of Care category “Code of Care”"] == CREATED
    assert outcomes(steps)["living document's category"] == UPDATED
    assert f.topics[document.id].category_id == home.id and installer.document is not None
    assert installer.document["topic_id"] == document.id                        # the same topic, not a new one

    again, _, _ = install(sim, redis_conn, **roomy)
    assert "living document's category" not in outcomes(again) and f.topics[document.id].category_id == home.id


def test_a_document_the_community_put_elsewhere_stays_there(sim: Sim, redis_conn: redis.Redis) -> None:
    install(sim, redis_conn, document_category="Elsewhere", drafts_category="Code of Care drafts")
    elsewhere = next(c for c in sim.forum.categories.values() if c.name == "Elsewhere")
    steps, _, _ = install(sim, redis_conn)
    document = sim.forum.topic_by_external_id(DOCUMENT_EXTERNAL_ID)
    assert document is not None and document.category_id == elsewhere.id
    assert "living document's category" not in outcomes(steps)


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(sim: Sim, redis_conn: redis.Redis) -> None:
    before = counts(sim.forum)
    steps, installer, _ = install(sim, redis_conn, dry_run=True)
    assert [s.subject for s in steps] == EXPECTED_SUBJECTS
    assert [s.outcome for s in steps] == expected_outcomes(WOULD_CREATE)
    assert counts(sim.forum) == before and installer.document is None


def test_a_dry_run_after_install_finds_everything(sim: Sim, redis_conn: redis.Redis) -> None:
    install(sim, redis_conn)
    steps, _, _ = install(sim, redis_conn, dry_run=True)
    assert {s.outcome for s in steps} == {OK, EXISTS}


def test_a_small_budget_makes_install_wait_not_fail(sim: Sim, redis_conn: redis.Redis) -> None:
    clock = Clock()
    waits: list[float] = []
    budget = ApiBudget(redis_conn, key=Keys(PREFIX).api_budget, per_minute=4, clock=clock)
    settings = settings_for(sim)
    with Forum(settings, budget=budget) as forum:
        def sleep(seconds: float) -> None:
            waits.append(seconds)
            clock.advance(seconds)
        steps = Installer(settings, forum, sleep=sleep).run()
    assert [s.outcome for s in steps] == expected_outcomes(CREATED), [s.line() for s in steps]
    assert waits and all(0 < w <= WINDOW_SECONDS for w in waits)


def test_install_gives_up_when_the_budget_never_frees(sim: Sim, redis_conn: redis.Redis) -> None:
    clock = Clock()
    budget = ApiBudget(redis_conn, key=Keys(PREFIX).api_budget, per_minute=1, clock=clock)
    budget.pause(3600)
    settings = settings_for(sim)
    with Forum(settings, budget=budget) as forum:
        steps = Installer(settings, forum, sleep=clock.advance, max_wait=120).run()
    assert len(steps) == 1 and steps[0].problem and "API budget" in steps[0].detail


# --------------------------------------------------------------------------------------------------
# What install finds already there
# --------------------------------------------------------------------------------------------------


def test_a_bot_below_trust_level_1_is_raised(sim: Sim, redis_conn: redis.Redis) -> None:
    sim.forum.set_moderator(sim.user(BOT, trust_level=0), True)
    assert outcomes(install(sim, redis_conn, dry_run=True)[0])[f"bot user {BOT}"] == WOULD_UPDATE
    assert outcomes(install(sim, redis_conn)[0])[f"bot user {BOT}"] == UPDATED
    assert sim.forum.user_by_name(BOT).trust_level == 1          # type: ignore[union-attr]
    assert outcomes(install(sim, redis_conn)[0])[f"bot user {BOT}"] == EXISTS


def test_a_bot_that_is_not_staff_is_made_a_moderator(sim: Sim, redis_conn: redis.Redis) -> None:
    """Discourse's per-user limits and refusals hold back every account but staff: the bot is made a moderator."""
    bot = sim.user(BOT)
    steps = install(sim, redis_conn, dry_run=True)[0]
    bot_step = next(s for s in steps if s.subject == f"bot user {BOT}")
    assert bot_step.outcome == WOULD_UPDATE and "moderator" in bot_step.detail and not bot.staff
    assert outcomes(install(sim, redis_conn)[0])[f"bot user {BOT}"] == UPDATED
    assert bot.moderator and not bot.admin
    assert outcomes(install(sim, redis_conn)[0])[f"bot user {BOT}"] == EXISTS


def test_a_suspended_bot_is_a_problem(sim: Sim, redis_conn: redis.Redis) -> None:
    sim.forum.suspend(sim.user(BOT), sim.forum.now() + timedelta(days=3), "testing")
    steps, _, _ = install(sim, redis_conn)
    bot_step = next(s for s in steps if s.subject == f"bot user {BOT}")
    assert bot_step.problem and "suspended" in bot_step.detail and "Unsuspend" in bot_step.detail


def test_a_document_title_already_in_use_is_a_problem_that_says_what_to_do(sim: Sim, redis_conn: redis.Redis) -> None:
    member = sim.user("someone")
    sim.forum.create_post(member, title=DOCUMENT_TITLE, raw="Our own notes about a code of care, from last year.")
    steps, _, _ = install(sim, redis_conn)
    document = next(s for s in steps if s.subject == "living document")
    assert document.problem and "COC_DOCUMENT_TOPIC_ID" in document.detail, document.line()


def test_a_care_group_the_bot_cannot_message_is_a_problem(sim: Sim, redis_conn: redis.Redis) -> None:
    sim.forum.create_group(name="peer-support", messageable_level=3)
    sim.forum.create_group(name="coc-credit")
    found = outcomes(install(sim, redis_conn)[0])
    assert found["care group peer-support"] == PROBLEM and found["consent group coc-credit"] == EXISTS


def test_the_moderators_group_is_made_when_configured(sim: Sim, redis_conn: redis.Redis) -> None:
    found = outcomes(install(sim, redis_conn, moderators_group="coc-stewards")[0])
    assert found["moderators group coc-stewards"] == CREATED
    assert sim.forum.group_by_name("coc-stewards") is not None


def test_a_stale_webhook_is_updated_in_place(sim: Sim, redis_conn: redis.Redis) -> None:
    hook = sim.forum.create_web_hook(payload_url=HOOK_URL, secret="an-old-secret-value", content_type=2,
                                     web_hook_event_type_ids=[EVENT_TYPE_IDS["post_created"]], active=False)
    steps, _, _ = install(sim, redis_conn, dry_run=True)
    planned = next(s for s in steps if s.subject == f"webhook {HOOK_URL}")
    assert planned.outcome == WOULD_UPDATE and planned.detail == "secret, content type, inactive, event types"
    assert outcomes(install(sim, redis_conn)[0])[f"webhook {HOOK_URL}"] == UPDATED
    assert list(sim.forum.web_hooks) == [hook.id]
    assert (hook.secret, hook.content_type, hook.active) == (SECRET, 1, True)
    assert outcomes(install(sim, redis_conn)[0])[f"webhook {HOOK_URL}"] == EXISTS


def test_a_configured_document_topic_is_adopted(sim: Sim, redis_conn: redis.Redis) -> None:
    alice = sim.user("alice")
    ours = sim.forum.create_post(alice, title="The Code of Care we already have", raw="## 1. Care\n\nBe kind.\n")
    steps, installer, _ = install(sim, redis_conn, document_topic_id=ours.topic_id)
    document = next(s for s in steps if s.subject == "living document")
    assert document.outcome == EXISTS and "adopted" in document.detail
    assert sim.forum.topic_by_external_id(DOCUMENT_EXTERNAL_ID) is None
    assert installer.document == {"topic_id": ours.topic_id, "post_id": ours.id}


def test_a_missing_configured_document_topic_is_a_problem(sim: Sim, redis_conn: redis.Redis) -> None:
    found = outcomes(install(sim, redis_conn, document_topic_id=4242)[0])
    assert found["living document"] == PROBLEM


def test_an_existing_document_is_kept(sim: Sim, redis_conn: redis.Redis) -> None:
    alice = sim.user("alice")
    ours = sim.forum.create_post(alice, title="Our Code of Care, written by hand", raw="## 1. Care\n\nBe kind.\n",
                                 external_id=DOCUMENT_EXTERNAL_ID)
    steps, installer, _ = install(sim, redis_conn)
    assert outcomes(steps)["living document"] == EXISTS
    assert installer.document == {"topic_id": ours.topic_id, "post_id": ours.id}
    assert sim.forum.first_post(sim.forum.topics[ours.topic_id]).raw == "## 1. Care\n\nBe kind.\n"


# --------------------------------------------------------------------------------------------------
# What install cannot do, and says so
# --------------------------------------------------------------------------------------------------


def test_a_bad_key_stops_install_at_the_first_step(sim: Sim, redis_conn: redis.Redis) -> None:
    before = counts(sim.forum)
    steps, _, calls = install(sim, redis_conn, discourse_api_key="not-the-right-key")
    assert len(steps) == 1 and steps[0].problem and "DISCOURSE_API_KEY" in steps[0].detail
    assert calls == 1 and counts(sim.forum) == before


def test_a_key_for_a_non_admin_is_a_problem(sim: Sim, redis_conn: redis.Redis) -> None:
    sim.user("alice")
    steps, _, _ = install(sim, redis_conn, discourse_api_username="alice")
    assert len(steps) == 1 and steps[0].problem and "not an admin" in steps[0].detail


@pytest.mark.parametrize(("overrides", "says"), [({"public_url": ""}, "COC_PUBLIC_URL"),
                                                 ({"discourse_webhook_secret": "short"}, "DISCOURSE_WEBHOOK_SECRET")])
def test_the_webhook_needs_a_public_url_and_a_good_secret(sim: Sim, redis_conn: redis.Redis,
                                                          overrides: dict[str, object], says: str) -> None:
    steps, _, _ = install(sim, redis_conn, **overrides)
    last = steps[-1]
    assert last.problem and says in last.detail and not sim.forum.web_hooks
    assert all(not s.problem for s in steps[:-1])


# --------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------


def run_cli(sim: Sim, redis_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COC_", "DISCOURSE_", "REDIS_"))}
    clean.update({"DISCOURSE_URL": sim.url, "DISCOURSE_API_KEY": sim.api_key, "DISCOURSE_WEBHOOK_SECRET": SECRET,
                  "REDIS_URL": redis_url, "COC_REDIS_PREFIX": PREFIX, "COC_PUBLIC_URL": PUBLIC_URL,
                  "COC_API_BUDGET_PER_MIN": "59", **env})
    return subprocess.run([sys.executable, "-m", "plugin", "install", *args], cwd=REPO_ROOT, env=clean,
                          capture_output=True, text=True, timeout=60)


def test_the_command_plans_installs_and_then_finds_everything(sim: Sim, redis_url: str,
                                                              redis_conn: redis.Redis) -> None:
    planned = run_cli(sim, redis_url, "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert [line.split("  ")[0].strip() for line in planned.stdout.splitlines()] == expected_outcomes(
        WOULD_CREATE)
    assert sim.forum.user_by_name(BOT) is None
    done = run_cli(sim, redis_url)
    assert done.returncode == 0, done.stderr
    assert f"{CREATED:<12}  living document" in done.stdout and sim.forum.user_by_name(BOT) is not None
    again = run_cli(sim, redis_url)
    assert again.returncode == 0 and CREATED not in again.stdout
    assert "waiting" not in planned.stderr + done.stderr + again.stderr
    assert Step(f"webhook {HOOK_URL}", EXISTS, "id 1").line() in again.stdout.splitlines()
    cached = Store(redis_conn, Keys(PREFIX)).document()             # the workers' copy of the living document
    document = sim.forum.topic_by_external_id("coc-document")
    assert cached is not None and cached["topic_id"] == document.id
    assert cached["raw"] == sim.forum.posts[document.post_ids[0]].raw


def test_the_command_exits_1_on_a_problem(sim: Sim, redis_url: str, redis_conn: redis.Redis) -> None:
    result = run_cli(sim, redis_url, COC_PUBLIC_URL="")
    assert result.returncode == 1
    assert any(line.startswith(f"{PROBLEM:<12}  webhook") for line in result.stdout.splitlines())


def test_a_bot_email_already_in_use_is_named_though_the_forum_hides_it(sim: Sim, redis_conn: redis.Redis) -> None:
    """With hide_email_address_taken on, Discourse answers success without a user_id and creates nothing: install
    says what to change instead of failing on a missing id."""
    sim.forum.settings["hide_email_address_taken"] = True
    sim.user("someone", email=f"{BOT}@127.0.0.1")
    steps, _, _ = install(sim, redis_conn)
    bot_step = next(s for s in steps if s.subject == f"bot user {BOT}")
    assert bot_step.problem and "COC_BOT_EMAIL" in bot_step.detail, bot_step.line()
    assert sim.forum.user_by_name(BOT) is None


OLD_HOOK_URL = "http://127.0.0.1:8/webhooks/discourse"   # an older install, at another COC_PUBLIC_URL


def test_a_webhook_at_another_address_is_named_and_kept_beside_the_new_one(sim: Sim, redis_conn: redis.Redis) -> None:
    events = [EVENT_TYPE_IDS[name] for name in WEBHOOK_EVENTS]
    old = sim.forum.create_web_hook(payload_url=OLD_HOOK_URL, secret=SECRET, content_type=2,
                                    web_hook_event_type_ids=events, active=True)
    unrelated = sim.forum.create_web_hook(payload_url="https://chat.example.org/hooks/forum",
                                          secret="another-integration-secret", content_type=2,
                                          web_hook_event_type_ids=events, active=True)
    before = counts(sim.forum)

    planned, _, _ = install(sim, redis_conn, dry_run=True)
    assert counts(sim.forum) == before
    assert outcomes(planned)[f"webhook {HOOK_URL}"] == WOULD_CREATE
    (kept,) = [s for s in planned if s.subject == f"webhook {OLD_HOOK_URL}"]
    assert kept.outcome == EXISTS and f"id {old.id}" in kept.detail
    assert "would leave it and add a second webhook" in kept.detail and "deliver every event to both" in kept.detail
    assert not any(unrelated.payload_url in s.subject for s in planned)

    done, _, _ = install(sim, redis_conn)
    assert outcomes(done)[f"webhook {HOOK_URL}"] == CREATED
    (kept,) = [s for s in done if s.subject == f"webhook {OLD_HOOK_URL}"]
    assert "left it and added a second webhook" in kept.detail
    urls = sorted(h.payload_url for h in sim.forum.web_hooks.values())
    assert urls == sorted([OLD_HOOK_URL, HOOK_URL, unrelated.payload_url])   # install added one, replaced none
    assert (old.secret, old.active) == (SECRET, True)

    again, _, _ = install(sim, redis_conn, dry_run=True)
    (kept,) = [s for s in again if s.subject == f"webhook {OLD_HOOK_URL}"]
    assert outcomes(again)[f"webhook {HOOK_URL}"] == EXISTS and "leaves it as it is" in kept.detail
