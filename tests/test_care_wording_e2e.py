"""The care messages in the team's own words, end to end (simulator, receiver over HTTP, real Redis and RQ): install
made the care group's wording conversation; a team member's reply there changes the words the next member reads;
a broken reply is refused with an answer in the conversation, the message keeps its words, and `doctor` says so.
"""
from __future__ import annotations

from plugin.domain.names import CARE_WORDING_EXTERNAL_ID, care_message_ids
from plugin.ops.doctor import OK, PROBLEM, run_doctor
from plugin.text.care import MEMBER_BODY, member_message, team_message
from plugin.text.care_wording import MESSAGES, TITLE
from tests.companion import Companion, companion, sim_forum  # noqa: F401  (fixtures)
from tests.test_care_followthrough_e2e import asks, raws, reply, team_member
from worker import care

MEMBER_WORDS = """\
## To the member who asked

Dear {member},

Thank you for asking for direct support: it takes courage. Someone from {group} will write to you today, by name.

You do not have to do anything else."""
BROKEN_WORDS = """\
## To the member who asked

Dear {membr}, someone will write to you soon.

## Reminder to the team

{member} is still waiting ({waited})."""


def wording_topic(c: Companion):  # type: ignore[no-untyped-def]
    return c.topic_by_external_id(CARE_WORDING_EXTERNAL_ID)


def bot_answers(c: Companion, topic, to: dict) -> list[str]:  # type: ignore[no-untyped-def]
    bot = c.sim.forum.user_by_name(c.settings.bot_username)
    return [p.raw for i in topic.post_ids if (p := c.sim.forum.posts[i]).user_id == bot.id
            and p.reply_to_post_number == to["post_number"]]


def member_raw(c: Companion, post_id: int) -> str:
    topic = c.topic_by_external_id(care_message_ids(post_id)[1])
    return c.sim.forum.posts[topic.post_ids[0]].raw


def doctor(c: Companion) -> tuple[int, list[str]]:
    lines: list[str] = []
    return run_doctor(c.settings, out=lines.append), lines


def test_install_made_the_care_groups_wording_conversation(companion: Companion) -> None:
    c = companion
    topic = wording_topic(c)
    group = c.sim.forum.group_by_name(c.settings.care_group)
    bot = c.sim.forum.user_by_name(c.settings.bot_username)
    assert topic is not None and topic.is_pm and topic.title == TITLE
    assert topic.allowed_group_ids == [group.id] and topic.allowed_user_ids == [bot.id]
    first = raws(c, topic)[0]
    assert all(f"\n## {m.spec.heading}\n" in first for m in MESSAGES)
    assert c.store.care_wording_topic() == topic.id
    assert c.store.care_requests() == []  # its words say "direct support": the service's own never ask


def test_the_teams_words_reach_the_next_member_who_asks(companion: Companion) -> None:
    c = companion
    team_member(c, "pat")
    topic = wording_topic(c)
    given = reply(c, "pat", topic.id, "Here is what we agreed at Tuesday's meeting.\n\n" + MEMBER_WORDS)
    c.settle()
    (answer,) = bot_answers(c, topic, given)
    assert "**To the member who asked**: taken." in answer
    assert c.store.care_requests() == []  # the team's words say "direct support": they are not a request
    post = asks(c, "bob")
    expected = member_message(member="bob", group=c.settings.care_group, template=MEMBER_WORDS.split("\n\n", 1)[1])[1]
    assert member_raw(c, post["id"]) == expected and expected.startswith("Dear bob,")
    team = c.topic_by_external_id(care_message_ids(post["id"])[0])
    assert raws(c, team)[0] == team_message(member="bob", group=c.settings.care_group, post_url=c.services.forum.post_in_topic_url(
                                                post["topic_slug"], post["topic_id"], post["post_number"]),
                                            private=False)[1]  # the team's message keeps its default words
    code, lines = doctor(c)
    assert code == 0, lines
    assert any(line.startswith(OK) and "“To the member who asked”" in line and "the team's wording since" in line
               and "(by pat)" in line for line in lines), lines
    assert any(line.startswith(OK) and "“Reminder to the team”: default" in line for line in lines)


def test_a_broken_reply_is_refused_with_an_answer_and_the_words_are_kept(companion: Companion) -> None:
    c = companion
    team_member(c, "pat")
    topic = wording_topic(c)
    broken = reply(c, "pat", topic.id, BROKEN_WORDS)
    c.settle()
    (answer,) = bot_answers(c, topic, broken)
    assert "**To the member who asked**: not taken" in answer and "{membr}" in answer
    assert "It keeps its default words." in answer
    assert "**Reminder to the team**: taken." in answer  # each heading on its own
    post = asks(c, "bob")
    assert member_raw(c, post["id"]) == MEMBER_BODY.format(member="bob", group=c.settings.care_group)
    code, lines = doctor(c)
    assert code == 1
    (problem,) = [line for line in lines if line.startswith(PROBLEM)]
    assert "“To the member who asked”" in problem and "{membr}" in problem and "pat" in problem
    reply(c, "pat", topic.id, MEMBER_WORDS)  # corrected: the problem is gone
    c.settle()
    code, lines = doctor(c)
    assert code == 0, lines


def test_conversation_in_the_wording_topic_changes_nothing_and_gets_no_answer(companion: Companion) -> None:
    c = companion
    team_member(c, "pat")
    topic = wording_topic(c)
    said = reply(c, "pat", topic.id, "I like the reminder as it is. What do the rest of you think?")
    c.settle()
    assert bot_answers(c, topic, said) == [] and c.store.care_wordings() == {}


def test_a_reply_handled_twice_is_answered_once(companion: Companion) -> None:
    from tests.test_care_followthrough_e2e import care_event  # noqa: PLC0415

    c = companion
    team_member(c, "pat")
    topic = wording_topic(c)
    given = reply(c, "pat", topic.id, MEMBER_WORDS)
    c.settle()
    care.handle(c.services, care_event(c, given["id"]))  # a worker died after the answer, before RQ knew
    assert len(bot_answers(c, topic, given)) == 1
    assert set(c.store.care_wordings()) == {"member"}


def test_the_latest_reply_wins_whatever_order_the_jobs_run_in(redis_conn) -> None:  # type: ignore[no-untyped-def]
    from plugin.adapters.keys import Keys  # noqa: PLC0415
    from plugin.adapters.store import Store  # noqa: PLC0415

    store = Store(redis_conn, Keys("coc-test:"))
    words = {"author": "pat", "at": "2026-12-03T14:05:06Z"}
    assert store.save_care_wording("member", {**words, "post_id": 10, "text": "ten {member}"})
    assert not store.save_care_wording("member", {**words, "post_id": 8, "text": "eight"})  # an older job, late
    assert store.save_care_wording("member", {**words, "post_id": 10, "text": "ten {member}"})  # the same, again
    assert not store.refuse_care_wording("member", {**words, "post_id": 9, "problems": []})  # older than the words
    assert store.refuse_care_wording("member", {**words, "post_id": 12, "problems": []})
    assert store.care_wordings() == {"member": "ten {member}"} and set(store.care_wording_refusals()) == {"member"}
    assert store.save_care_wording("member", {**words, "post_id": 11, "text": "eleven"})  # newer words than 10…
    assert set(store.care_wording_refusals()) == {"member"}  # …but the refusal of 12 still stands
    assert store.save_care_wording("member", {**words, "post_id": 13, "text": None})  # back to the default
    assert store.care_wordings() == {} and store.care_wording_refusals() == {}
    store.refuse_care_wording("*", {**words, "post_id": 14, "problems": []})
    store.forget_care_wording_refusal("*", up_to_post_id=13)
    assert set(store.care_wording_refusals()) == {"*"}
    store.forget_care_wording_refusal("*", up_to_post_id=15)
    assert store.care_wording_refusals() == {}
    redis_conn.hset(Keys("coc-test:").care_wordings, mapping={"team": "not json", "alert": '{"text": 3}'})
    assert store.care_wordings() == {}  # unreadable words are left out: the defaults go out


def test_words_that_slipped_through_never_silence_a_message(companion: Companion) -> None:
    """Words kept by an earlier release that this one cannot fill in (a placeholder it no longer knows): the member
    still gets a message, in the default words, and `doctor` says what is wrong."""
    c = companion
    c.store.save_care_wording("member", {"post_id": 999, "author": "pat", "at": "2026-12-03T14:05:06Z",
                                         "text": "Dear {member}, {helper} will write to you."})
    post = asks(c, "bob")
    assert member_raw(c, post["id"]) == MEMBER_BODY.format(member="bob", group=c.settings.care_group)
    code, lines = doctor(c)
    (problem,) = [line for line in lines if line.startswith(PROBLEM)]
    assert code == 1 and "“To the member who asked”" in problem and "no longer fit" in problem
    assert "{helper}" in problem


def test_a_lost_webhook_of_a_wording_reply_is_caught_up_by_reconcile(companion: Companion) -> None:
    from worker.reconcile import reconcile  # noqa: PLC0415

    c = companion
    team_member(c, "pat")
    topic = wording_topic(c)
    reconcile(c.services)  # the first pass sets the cursor
    c.sim.app.extensions["webhooks"].faults.drop = 1.0
    given = reply(c, "pat", topic.id, MEMBER_WORDS)
    c.settle()
    assert bot_answers(c, topic, given) == []  # its webhook was lost
    c.sim.app.extensions["webhooks"].faults.drop = 0.0
    reconcile(c.services)
    c.settle()
    (answer,) = bot_answers(c, topic, given)
    assert "**To the member who asked**: taken." in answer
    (words,) = c.store.care_wordings().values()
    assert words == MEMBER_WORDS.split("\n\n", 1)[1]
