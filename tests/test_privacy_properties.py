"""What the service must never do, whatever members write or who they are.

- No draft, digest or other post of the service holds words from a private message, a whisper, a read-restricted
  category or a care post: one community week end to end (simulator, signed webhooks, receiver, Redis, RQ) puts
  unique marker words in such posts beside public proposals that are drafted, decided and announced and a digest
  that is posted, then every post the service made is searched for the markers.
- No post of the service can ping anyone (`@everyone`, `@here`, a group, a member), as the forum's markdown engine
  reads it (`tests.markup`), and it names as supporters or new contributors only members of the consent group:
  the renderers with any usernames and text, and every post of the week above.
- Only moderators decide an amendment, whatever the text says: any command text and actor through
  `plugin.domain.amendments.decide`, and through `worker.amendments.decide_command`, whose authority comes from the forum's
  record of the member (staff, groups), never from the post.
"""
from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from plugin.domain.amendments import APPLIED, DRAFTED, OPEN, REJECTED, STALE, WITHDRAWN, Amendment, decide
from plugin.domain.names import amendment_id
from plugin.text.care import member_message, team_message
from plugin.text.digest import SectionActivity, render_digest
from plugin.domain.safety import ZWSP
from plugin.text.drafts import NOT_ALLOWED, render_decision, render_draft, render_not_allowed
from plugin.domain.engagement import WeekFigures
from plugin.adapters.engagement_store import Engagement
from plugin.queues import QUEUE_DIGEST
from plugin.domain.proposals import COMMAND_VERBS, parse_command
from simulator.state import Forum as SimForum
from tests.companion import Companion, start_companion
from tests.markup import read
from tests.test_amendments_e2e import bot_posts, drafted, like, propose, reply
from tests.test_digest_e2e import Clock
from tests.test_member_text_fuzz import no_failed_jobs
from worker import amendments

UTC = timezone.utc
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)                 # 2026-W10
WEEK = "2026-W10"

# ------------------------------------------------------------------------------------------------ strategies

USERNAMES = st.one_of(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{2,19}", fullmatch=True),
                      st.sampled_from(["everyone", "here", "peer-support", "coc-credit", "staff", "admins",
                                       "moderators", "_bob", "Ёжик", "名前", "user.name", "a-b_c"]),
                      st.text(min_size=1, max_size=20))
HOSTILE = st.sampled_from(["@everyone", "@here", "@peer-support", "(@alice)", "é@bob", "_a_@everyone", "@\\_dave",
                           "&#64;here", "[quote]", "<b>", "`@x`", "\n", "*", "_", "\u200b"])
TEXT = st.lists(st.one_of(HOSTILE, st.text(max_size=8)), max_size=12).map("".join)
TITLE_MENTION = re.compile(r"(?<![A-Za-z0-9])@\w")
"""A mention in a topic title, which the forum shows as plain text (no markdown): stricter than Discourse, which
never notifies from a title."""
PLAIN_NAMES = st.from_regex(r"[\w-]{3,20}", fullmatch=True)
"""Usernames as Discourse allows them (less the dot), in any script: no comma, space or " and " to split on."""


FIGURES = WeekFigures(week=WEEK, engaged_members=3, new_contributors=2, returning_contributors=0,
                      inactive_contributors=0, topics=1, posts=3, replies=2, likes=1, ttfr_median_hours=1.0,
                      ttfr_p90_hours=1.0, ttfr_mean_hours=1.0, topics_no_response_24h=0.0,
                      topics_no_response_7d=0.0, reciprocity=0.0, gini=0.0, absence_factor=1)


def shown_names(line: str) -> list[str]:
    """The names in "…: a, b and c." as they show (markdown escapes resolved, zero-width spaces dropped)."""
    names = re.split(r", | and ", line.rstrip("."))
    return [re.sub(r"\\(.)", r"\1", name).replace(ZWSP, "") for name in names]


# ------------------------------------------------------------------------------------------------ mentions


@settings(max_examples=200, deadline=None)
@given(names=st.lists(USERNAMES, max_size=6), title=TEXT, proposed=TEXT, who=USERNAMES, reason=TEXT)
@example(names=["_a_@everyone"], title="", proposed="", who="x", reason="")
def test_no_rendered_post_can_ping(names: list[str], title: str, proposed: str, who: str, reason: str) -> None:
    draft_title, draft = render_draft(amendment_id="coc-amendment-9-1", section_title=title, section_number=3,
                                      current="Ask first.", proposed=proposed, supporters=len(names) + 1,
                                      credited=names, source_links=[], threshold=3)
    assert not TITLE_MENTION.search(draft_title), draft_title
    posts = [draft, render_decision(verb="reject", decided_by=who, reason=reason, about=title),
             render_not_allowed(verb="approve", who_may=who),
             team_message(member=who, group="peer-support", post_url="https://f.example/t/x/1/2",
                          private=False)[1],
             member_message(member=who, group="peer-support")[1]]
    for post in posts:
        assert read(post).mentions == [], post
    _, digest = render_digest(week=WEEK, figures=FIGURES, previous=None,
                              sections=[SectionActivity(title=title, discussion=1)],
                              threads=[(1, proposed, 2), (2, reason, 1)], new_count=len(names) + 1,
                              credited_names=names, chart_url=None)
    assert read(digest).mentions == [], digest


@settings(max_examples=200, deadline=None)
@given(credited=st.lists(PLAIN_NAMES, max_size=60), title=TEXT)
def test_a_draft_and_a_digest_name_exactly_the_credited(credited: list[str], title: str) -> None:
    """The renderers are given the consenting members only (the workers ask the forum's consent group): they
    name those, each once, and nobody else."""
    seen: set[str] = set()
    unique = [name for name in credited if not (name.casefold() in seen or seen.add(name.casefold()))]
    _, draft = render_draft(amendment_id="coc-amendment-9-1", section_title=title, section_number=3,
                            current="Ask first.", proposed="Ask, always.", supporters=len(credited) + 1,
                            credited=credited, source_links=[], threshold=3)
    _, digest = render_digest(week=WEEK, figures=FIGURES, previous=None, sections=[], threads=[],
                              new_count=len(credited) + 1, credited_names=credited, chart_url=None)
    for raw, pattern in ((draft, r"Supporters who chose to be named: (.*)\.\n"),
                         (digest, r"Among them, (.*) chose to be named\.")):
        found = re.search(pattern, raw)
        assert (found is None) == (not unique), raw
        if found:
            names = shown_names(re.sub(r" and \d+ more$", "", found.group(1)))
            assert len(names) == len(set(names)) and set(names) <= set(unique), (names, unique)
            assert names == unique[:len(names)] and len(names) == min(len(unique), 50)


# ------------------------------------------------------------------------------------------------ authority

PROPOSER, OTHER, MODERATOR = "alice", "dave", "sam"
COMMAND_TEXTS = st.one_of(
    st.sampled_from(["/approve", "/approve as moderator", "/APPROVE", "  /approve\nLooks good", "/reject no",
                     "/reject", "/withdraw", "/approve /reject", '[quote="sam, post:3, topic:9"]\n/approve\n[/quote]',
                     "> /approve", "&#47;approve", "&sol;approve", "\\/approve", "／approve", "⁄approve",
                     "\u200b/approve", "/ap\u200bprove", "\u202e/approve", "`/approve`", "I /approve",
                     "/approve\n\n@sam please approve, I am a moderator too", "/approved", "//approve",
                     "/approve [role=moderator]", "sudo /approve"]),
    st.builds(lambda verb, gap, rest: f"{gap[0]}/{verb}{gap[1]}{rest}",
              st.sampled_from(COMMAND_VERBS + ("Approve", "REJECT")),
              st.tuples(st.sampled_from(["", "  ", "\n\n", "\t"]), st.sampled_from(["", " ", "\n", ": ", " as mod "])),
              st.text(max_size=30)),
    st.text(max_size=40))
ACTORS = st.sampled_from([(PROPOSER, False), (OTHER, False), (MODERATOR, True), ("ALICE", False),
                          ("moderator", False), ("system", False), ("ａｌｉｃｅ", False), (PROPOSER, True)])
STATUSES = st.sampled_from([OPEN, DRAFTED, APPLIED, REJECTED, WITHDRAWN, STALE])
AMENDMENT = Amendment(id="coc-amendment-5-1", post_id=5, index=1, topic_id=2, proposer=PROPOSER,
                      section_slug="consent", section_title="Consent", base_fingerprint="f00d", text="Ask first.",
                      status=DRAFTED, draft_topic_id=9)


@settings(max_examples=500, deadline=None)
@given(text=COMMAND_TEXTS, actor=ACTORS, status=STATUSES, fresh=st.booleans(), other_reason=st.text(max_size=20))
def test_only_a_moderator_decides_and_only_the_proposer_withdraws(text: str, actor: tuple[str, bool], status: str,
                                                                 fresh: bool, other_reason: str) -> None:
    name, is_moderator = actor
    amendment = dataclasses.replace(AMENDMENT, status=status)
    command = parse_command(text)
    event("a command" if command else "not a command")
    if command is None:
        return
    decision = decide(amendment, verb=command.verb, reason=command.reason, actor=name,
                      actor_is_moderator=is_moderator, current_fingerprint="f00d" if fresh else "beef")
    if status != DRAFTED:
        assert decision.outcome == "ignored"
    if decision.outcome in (APPLIED, REJECTED, STALE):
        assert is_moderator and status == DRAFTED and command.verb in ("approve", "reject")
    if decision.outcome == WITHDRAWN:
        assert name.lower() == PROPOSER and command.verb == "withdraw"
    if not is_moderator and name.lower() != PROPOSER:
        assert decision.outcome in ("not_allowed", "ignored")
    # the words around a command change nothing: the same verb with any other reason decides the same way
    again = decide(amendment, verb=command.verb, reason=other_reason, actor=name, actor_is_moderator=is_moderator,
                   current_fingerprint="f00d" if fresh else "beef")
    assert again.outcome == decision.outcome


@pytest.fixture
def sim_forum() -> SimForum:
    forum = SimForum()
    forum.settings["max_admin_api_reqs_per_minute"] = 100_000
    return forum


@pytest.fixture
def guarded(sim, redis_url, redis_conn) -> Iterator[Companion]:  # type: ignore[no-untyped-def]
    """The companion with a moderators group (COC_MODERATORS_GROUP) whose members also decide."""
    yield from start_companion(sim, redis_url, redis_conn, moderators_group="coc-moderators")


IMPOSTORS = ["dave", "moderator", "alice", "grace", "admin1"]
"""Members who may not approve: an ordinary one, one named "moderator" (and called "Moderator"), the proposer, one
in groups named like the moderators' group, one at trust level 4 (a community leader, not staff)."""


def impostors(c: Companion) -> None:
    forum = c.sim.forum
    for name in IMPOSTORS:
        c.member(name, trust_level=4 if name == "admin1" else 1, name="Moderator" if name == "moderator" else "")
    lookalikes = [forum.create_group(name=n) for n in ("coc-moderators-2", "moderator-team", "coc_moderators")]
    for group in lookalikes:
        forum.add_members(group, [forum.user_by_name("grace")])


_ids = itertools.count(900_000)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=COMMAND_TEXTS, who=st.sampled_from(IMPOSTORS))
def test_no_text_lets_a_member_decide_through_the_worker(guarded: Companion, text: str, who: str) -> None:
    c = guarded
    if c.sim.forum.user_by_name("grace") is None:
        impostors(c)
        proposal = propose(c, "alice")
        like(c, "bob", proposal["id"])
        like(c, "carol", proposal["id"])
        c.settle()
        drafted(c, proposal["id"])
    key = next(a.id for a in c.store.all_amendments())
    command = parse_command(text)
    assume(not (who == "alice" and command is not None and command.verb == "withdraw"))
    amendment = c.store.amendment(key)
    before = len(bot_posts(c, amendment.draft_topic_id))
    post = {"id": next(_ids), "topic_id": amendment.draft_topic_id, "post_number": 1, "username": who, "raw": text}
    outcome = amendments.decide_command(c.services, key, post)
    event(outcome)
    assert c.store.amendment(key).status == DRAFTED, (who, text, outcome)
    answers = bot_posts(c, amendment.draft_topic_id)[before:]
    if command is None:
        assert outcome == "no command" and answers == []
    else:
        assert outcome == "not allowed: answered" and len(answers) == 1
        assert answers[0].raw.startswith(NOT_ALLOWED.split("{")[0])


def test_quoted_edited_or_disguised_commands_never_decide(guarded: Companion) -> None:
    """Through the forum and its webhooks: what members post and edit in a draft topic."""
    c = guarded
    impostors(c)
    proposal = propose(c, "alice")
    like(c, "bob", proposal["id"])
    like(c, "carol", proposal["id"])
    c.settle()
    key, topic = drafted(c, proposal["id"])
    c.sim.user("sam", trust_level=2)
    c.sim.forum.set_moderator(c.sim.forum.user_by_name("sam"), True)
    sam_said = reply(c, "sam", topic.id, "Thank you all, I will read this carefully tonight.")
    reply(c, "dave", topic.id, f'[quote="sam, post:{sam_said["post_number"]}, topic:{topic.id}"]\n'
                                 "/approve\n[/quote]\nThe moderator agrees, so it is approved.")
    reply(c, "grace", topic.id, "&#47;approve\nPlease count this as approval.")
    reply(c, "moderator", topic.id, "／approve\nFull-width, but a slash all the same.")
    later = reply(c, "dave", topic.id, "I will think about this one some more.")
    c.settle()
    c.sim.http("dave").put(f"{c.sim.url}/posts/{later['id']}.json", data={"post[raw]": "/approve\nEdited in."})
    c.sim.http("sam").put(f"{c.sim.url}/posts/{sam_said['id']}.json",
                          data={"post[raw]": "/approve\nA moderator's edit is not a new command either."})
    c.settle()
    assert c.store.amendment(key).status == DRAFTED
    assert bot_posts(c, topic.id)[1:] == []                     # none of it was a command: nothing to answer
    answer = reply(c, "moderator", topic.id, "/approve as moderator, which I am (see my name).")
    c.settle()
    assert c.store.amendment(key).status == DRAFTED
    assert [p.reply_to_post_number for p in bot_posts(c, topic.id)[1:]] == [answer["post_number"]]
    reply(c, "grace", topic.id, "/approve\nI am in every group called moderators.")
    c.settle()
    assert c.store.amendment(key).status == DRAFTED
    group = c.sim.forum.group_by_name("coc-moderators") or c.sim.forum.create_group(name="coc-moderators")
    c.sim.forum.add_members(group, [c.sim.forum.user_by_name("grace")])
    reply(c, "grace", topic.id, "/approve\nNow the forum says I am a moderator.")
    c.settle()
    assert c.store.amendment(key).status == APPLIED                  # the forum's word, and only it, decides
    no_failed_jobs(c)


# ------------------------------------------------------------------------------------------------ the week


MARKERS = {
    "pm": "quokkapmwords", "pm to the bot": "quokkabotletter", "whisper": "quokkawhisper",
    "staff room": "quokkastaffbody", "staff room title": "quokkastafftitle", "staff reply": "quokkastaffreply",
    "staff unknown section": "quokkastaffsection", "insiders": "quokkainsiders", "insiders title": "quokkainsidetitle",
    "care": "quokkacareplea", "care topic": "quokkacaretopic", "care topic title": "quokkacaretitle",
}
"""A word for each kind of post whose words must stay where they were written."""
CONSENTING = ("carlike", "evecredit")
"""Members of the consent group; every other member is named nowhere."""


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY - timedelta(days=7))


@pytest.fixture
def week_forum(clock: Clock) -> SimForum:
    forum = SimForum(clock=clock)
    forum.settings["max_admin_api_reqs_per_minute"] = 100_000
    return forum


@pytest.fixture
def week(week_forum: SimForum, redis_url, redis_conn) -> Iterator[Companion]:  # type: ignore[no-untyped-def]
    from tests.simulator_fixtures import start_sim  # noqa: PLC0415

    sim, handle = start_sim(week_forum)
    try:
        for running in start_companion(sim, redis_url, redis_conn):
            running.services.engagement = Engagement(redis_conn, running.services.keys,
                                                     bot_username=running.settings.bot_username,
                                                     clock=lambda: week_forum.clock().timestamp())
            yield running
    finally:
        sim.close()
        handle.shutdown()


def a_week(c: Companion, clock: Clock) -> dict[str, int]:
    """Public proposals drafted and decided, an unknown section, a public thread; and, with the markers, a private
    message (and one to the bot), a whisper, topics in a staff-only and a group-only category tagged for the Code
    of Care, and care posts — each with an [amend] proposal, liked enough to be drafted if it were public."""
    forum = c.sim.forum
    users = {name: c.sim.user(name, trust_level=1) for name in
             ("annprop", "benlike", "carlike", "danlike", "evecredit", "finpub", "gina", "hank", "ivy")}
    for name in ("sam", "sue", "sid"):
        users[name] = c.sim.user(name, trust_level=2)
        forum.set_moderator(users[name], True)
    forum.add_members(forum.group_by_name(c.settings.consent_group), [users[n] for n in CONSENTING])
    insiders = forum.create_group(name="insiders")
    forum.add_members(insiders, [users["gina"], users["hank"], users["ivy"]])
    staff_room = forum.create_category(name="Staff room", permissions={"staff": 1})
    insiders_room = forum.create_category(name="Insiders", permissions={"insiders": 1})
    document = c.store.document()
    clock.at = MONDAY + timedelta(hours=9)

    def amend(section: str, words: str) -> str:
        return f'[amend section="{section}"]\nWe {words} look after each other, kindly and openly.\n[/amend]'

    # public: two proposals that get drafted (one with mentions in it), an unknown section, a thread
    applied = propose(c, "annprop", text="We ask before we share, always. @everyone @peer-support @danlike agree.")
    rejected = propose(c, "benlike", section="Privacy", text="What is shared here stays here, every time.")
    for who, post in (("benlike", applied), ("carlike", applied), ("danlike", applied), ("annprop", rejected),
                      ("carlike", rejected), ("evecredit", rejected)):
        like(c, who, post["id"])
    unknown = c.member("evecredit").create_post('[amend section="Kindness"]\nBe kind, always.\n[/amend]',
                                                topic_id=document["topic_id"])
    thread = c.member("finpub").create_post("What does care look like for you this week, everyone?",
                                            title="Care in practice, this week")
    c.member("carlike").create_post("Checking in on each other, mostly, and tea.", topic_id=thread["topic_id"])

    # private and restricted, each with a marker; delivered out of order (a post may come before its topic)
    faults = c.sim.app.extensions["webhooks"].faults
    faults.reorder = 1.0
    pm = forum.create_post(users["annprop"], title="Just between the two of us", archetype="private_message",
                           target_recipients=["benlike"], raw=f"{MARKERS['pm']} {amend('Care', MARKERS['pm'])}")
    forum.like(users["benlike"], pm)
    forum.create_post(users["carlike"], title="A letter for the companion", archetype="private_message",
                      target_recipients=[c.settings.bot_username],
                      raw=f"{MARKERS['pm to the bot']} {amend('Care', MARKERS['pm to the bot'])}")
    whisper = forum.create_post(users["sam"], topic_id=document["topic_id"], whisper=True,
                                raw=f"{MARKERS['whisper']}\n{amend('Care', MARKERS['whisper'])}")
    staff = forum.create_post(users["sam"], title=f"Notes {MARKERS['staff room title']} for the moderators",
                              category_id=staff_room.id, tags=["code-of-care"],
                              raw=f"{MARKERS['staff room']}\n{amend('Care', MARKERS['staff room'])}")
    forum.create_post(users["sue"], topic_id=staff.topic_id, raw=f"Agreed, {MARKERS['staff reply']} indeed.")
    forum.create_post(users["sid"], topic_id=staff.topic_id,
                      raw=f'[amend section="{MARKERS["staff unknown section"]}"]\nWords.\n[/amend]')
    inside = forum.create_post(users["gina"], title=f"Among us {MARKERS['insiders title']} only",
                               category_id=insiders_room.id, tags=["code-of-care"],
                               raw=f"{MARKERS['insiders']}\n{amend('Harm and repair', MARKERS['insiders'])}")
    forum.create_post(users["hank"], topic_id=inside.topic_id, raw=f"Yes, {MARKERS['insiders']} for sure.")
    care = c.member("danlike").create_post(
        f"I am struggling and would like direct support, please. {MARKERS['care']}\n\n"
        f"{amend('Care', MARKERS['care'])}", topic_id=document["topic_id"])
    care_topic = c.member("evecredit").create_post(
        f"Could someone offer me direct support? {MARKERS['care topic']} {amend('Care', MARKERS['care topic'])}",
        title=f"Feeling low {MARKERS['care topic title']} lately")
    for liker, post in (("sue", whisper), ("sid", whisper), ("sue", staff), ("sid", staff), ("hank", inside),
                        ("ivy", inside)):
        forum.like(users[liker], post)
    for who in ("annprop", "benlike", "carlike"):
        like(c, who, care["id"])
        like(c, who, care_topic["id"])
    c.settle()
    faults.reorder = 0.0

    # the moderators decide the public drafts
    clock.at = MONDAY + timedelta(days=1)
    _, applied_topic = drafted(c, applied["id"])
    _, rejected_topic = drafted(c, rejected["id"])
    reply(c, "sam", applied_topic.id, "/approve\nThank you all, this says it plainly.")
    reply(c, "sam", rejected_topic.id, "/reject This overlaps with Consent; @benlike, let us talk it through.")
    c.settle()

    # the week is over: the digest
    clock.at = MONDAY + timedelta(days=8)
    c.services.enqueue(QUEUE_DIGEST, "worker.jobs.post_digest", WEEK, job_id=f"coc-digest-{WEEK}")
    c.settle()
    return {"applied": applied["id"], "rejected": rejected["id"], "unknown": unknown["id"],
            "care topic": care_topic["topic_id"]}


def shown(text: str) -> str:
    """Text as a search for the markers sees it: escapes and zero-width spaces gone, case folded."""
    return re.sub(r"\\(.)", r"\1", text).replace(ZWSP, "").casefold()


def test_private_restricted_and_care_words_never_leave_and_nobody_is_pinged(week: Companion, clock: Clock) -> None:
    c = week
    made = a_week(c, clock)
    forum = c.sim.forum
    bot = forum.user_by_name(c.settings.bot_username)
    mine = [p for p in forum.posts.values() if p.user_id == bot.id]
    topics = {p.topic_id: forum.topics[p.topic_id] for p in mine}
    kinds = {"draft": 0, "digest": 0, "reply": 0, "message": 0}
    for topic in topics.values():
        kinds["message" if topic.is_pm else "digest" if (topic.external_id or "").startswith("coc-digest") else
              "draft" if (topic.external_id or "").startswith("coc-amendment") else "reply"] += 1
    assert kinds["draft"] == 2 and kinds["digest"] == 1 and kinds["message"] >= 3, kinds   # rejection PM, care PMs
    assert c.topic_by_external_id(amendment_id(made["applied"], 1)) is not None

    care_link = re.compile(rf"\S*/t/[^/\s]*/{made['care topic']}/\d+")     # the care team's link to the post
    for post in mine:
        topic = topics[post.topic_id]
        text = shown(care_link.sub(" ", f"{topic.title if post.post_number == 1 else ''}\n{post.raw}"))
        leaked = [kind for kind, marker in MARKERS.items() if marker in text]
        assert not leaked, f"{leaked} in the service's post {post.id} in “{topic.title}”:\n{post.raw}"
        assert read(post.raw).mentions == [], f"a ping in the service's post {post.id}:\n{post.raw}"
        assert not TITLE_MENTION.search(topic.title), topic.title

    # names: drafts credit only consenting supporters; the digest names only consenting newcomers
    everyone_else = {u.username for u in forum.users.values()} - set(CONSENTING) - {"system", bot.username}
    for topic in topics.values():
        if topic.is_pm:
            continue
        raw = forum.posts[topic.post_ids[0]].raw
        credited = re.search(r"Supporters who chose to be named: (.*)\.\n", raw)
        named = re.search(r"Among them, (.*) chose to be named\.", raw)
        for found in (credited, named):
            if found:
                assert set(shown_names(found.group(1))) <= set(CONSENTING), found.group(1)
        if (topic.external_id or "").startswith("coc-digest"):        # (a draft quotes members' own words)
            words = set(re.findall(r"[\w.-]+", shown(raw)))
            assert not words & {n.casefold() for n in everyone_else}, words & everyone_else
    no_failed_jobs(c)
