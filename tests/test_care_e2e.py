"""Care first, end to end: a member who writes "direct support" is routed privately, at once, exactly once."""
from __future__ import annotations

from plugin.domain.names import amendment_id, care_effects, care_message_ids
from plugin.text.care import MEMBER_TITLE, TEAM_TITLE, member_message
from plugin.domain.events import parse_delivery
from tests.companion import SECRET, Companion, companion, sim_forum  # noqa: F401  (fixtures)
from tests.test_amendments_e2e import like
from worker import care
from worker.effects import message_once

WORDS = "I have not slept for days and I am scared of how I feel. I think I need direct support."


def messages(c: Companion, external_id: str) -> list:
    """The private messages the forum holds under a care message's external_id (plugin.domain.names)."""
    return [t for t in c.sim.forum.topics.values() if t.is_pm and t.external_id == external_id]


def team_id(post_id: int) -> str:
    return care_message_ids(post_id)[0]


def member_id(post_id: int) -> str:
    return care_message_ids(post_id)[1]


def created_delivery(c: Companion, post_id: int):  # type: ignore[no-untyped-def]
    """The forum's logged `post_created` delivery of a post (its headers and payload, as sent)."""
    return next(e for e in c.sim.forum.web_hook_events.values()
                if e.event_name == "post_created" and f'"id":{post_id},' in e.payload)


def general_topic(c: Companion) -> int:
    return c.member("alice").create_post("Checking in on how everyone is doing this week.",
                                         title="How is everyone doing this week?")["topic_id"]


def test_a_care_post_reaches_the_team_and_the_member_privately(companion: Companion) -> None:
    c = companion
    topic_id = general_topic(c)
    post = c.member("bob").create_post(WORDS, topic_id=topic_id)
    c.settle()
    (team,) = messages(c, team_id(post["id"]))
    assert team.title == TEAM_TITLE.format(member="bob") == "bob asked for direct support"   # by name, no number
    group = c.sim.forum.group_by_name(c.settings.care_group)
    assert team.allowed_group_ids == [group.id]
    bob = c.sim.forum.user_by_name("bob")
    assert bob.id not in team.allowed_user_ids                              # the team talks among themselves first
    team_raw = c.sim.forum.posts[team.post_ids[0]].raw
    assert f"/{topic_id}/{post['post_number']}" in team_raw and "bob" in team_raw
    assert "slept" not in team_raw and "scared" not in team_raw             # their words are never copied
    (member,) = messages(c, member_id(post["id"]))
    assert member.title == MEMBER_TITLE and str(post["id"]) not in member.title
    assert bob.id in member.allowed_user_ids and not member.allowed_group_ids
    member_raw = c.sim.forum.posts[member.post_ids[0]].raw
    assert c.settings.care_group in member_raw and f"@{c.settings.care_group}" not in member_raw


def test_redelivered_care_webhook_and_a_rerun_send_nothing_twice(companion: Companion) -> None:
    c = companion
    post = c.member("bob").create_post(WORDS, topic_id=general_topic(c))
    c.settle()
    hooks = c.sim.forum.web_hooks
    (hook_id,) = hooks
    row = created_delivery(c, post["id"])
    assert c.sim.http("system").post(f"{c.sim.url}/admin/api/web_hooks/{hook_id}/events/{row.id}/redeliver.json"
                                     ).status_code == 200
    c.settle()
    event = parse_delivery(row.headers, row.payload.encode(), secret=SECRET)
    care.route(c.services, event)                                           # the job runs a second time
    for key in (f"care-team-{post['id']}", f"care-member-{post['id']}"):    # ... and once more, after a "crash"
        c.conn.set(c.keys.effect(key), "pending")                           # between sending and marking done
    care.route(c.services, event)
    assert len(messages(c, team_id(post["id"]))) == 1
    assert len(messages(c, member_id(post["id"]))) == 1


def test_a_crash_after_sending_sends_nothing_twice_however_many_messages_came_since(companion: Companion) -> None:
    c = companion
    post = c.member("bob").create_post(WORDS, topic_id=general_topic(c))
    c.settle()
    bot = c.sim.forum.user_by_name(c.settings.bot_username)
    for n in range(35):                     # more than one page (30) of the bot's messages, all newer than the two
        c.sim.forum.create_post(bot, title=f"Another member asked for support ({n})", raw=WORDS,
                                archetype="private_message", target_recipients=[c.settings.care_group])
    row = created_delivery(c, post["id"])
    for key in care_effects(post["id"]):
        c.conn.set(c.keys.effect(key), "pending")                           # died between sending and marking done
    care.route(c.services, parse_delivery(row.headers, row.payload.encode(), secret=SECRET))
    assert len(messages(c, team_id(post["id"]))) == 1
    assert len(messages(c, member_id(post["id"]))) == 1
    assert all(c.conn.get(c.keys.effect(key)) == b"done" for key in care_effects(post["id"]))


def test_a_private_message_to_the_bot_is_routed_without_a_link(companion: Companion) -> None:
    c = companion
    pm = c.member("carol").create_post(WORDS, title="Can someone talk with me please?", archetype="private_message",
                                       target_recipients=c.settings.bot_username)
    c.settle()
    (team,) = messages(c, team_id(pm["id"]))
    raw = c.sim.forum.posts[team.post_ids[0]].raw
    assert "privately" in raw and f"/{pm['topic_id']}/" not in raw and "slept" not in raw


def test_a_care_post_never_feeds_a_draft(companion: Companion) -> None:
    c = companion
    document = c.store.document()
    post = c.member("alice").create_post(
        f'{WORDS}\n\n[amend section="Care"]\nWe check in on each other, gently, every week.\n[/amend]',
        topic_id=document["topic_id"])
    for who in ("bob", "carol", "dave"):
        like(c, who, post["id"])
    c.settle()
    assert c.store.amendment(amendment_id(post["id"], 1)) is None
    assert c.topic_by_external_id(amendment_id(post["id"], 1)) is None
    assert all(post["id"] not in c.store.discussion(s) for s in ("care", "general"))


def test_a_post_edited_to_ask_for_care_stops_counting(companion: Companion) -> None:
    from plugin.domain.engagement import iso_week  # noqa: PLC0415

    c = companion
    topic_id = general_topic(c)
    post = c.member("bob").create_post("A reply about the week, nothing more than that.", topic_id=topic_id)
    c.settle()
    week = iso_week(c.sim.forum.posts[post["id"]].created_at)
    counted = c.services.engagement.figures(week).posts
    c.sim.http("bob").put(f"{c.sim.url}/posts/{post['id']}.json", data={"post[raw]": WORDS})
    c.settle()
    assert c.services.engagement.figures(week).posts == counted - 1
    assert len(messages(c, team_id(post["id"]))) == 1


def unreachable_bob_asks(c: Companion) -> dict:
    """The bot not staff (loose on purpose: Companion.bot_not_staff), bob with messages turned off, and bob's care
    post made (its job not yet run)."""
    c.bot_not_staff()
    topic_id = general_topic(c)
    c.member("bob")
    c.sim.forum.user_by_name("bob").allow_private_messages = False
    return c.member("bob").create_post(WORDS, topic_id=topic_id)


def test_a_member_who_cannot_be_messaged_still_reaches_the_team_who_are_told_so(companion: Companion) -> None:
    """Discourse refuses a message to a member who turned messages off, from anyone but staff: with the bot not
    staff (an operator may revoke it), the care request still reaches the team, and the team hears that the member
    was not told, once, however often the job runs. Loose on purpose: the bot's intervals between topics and posts
    are set to 0 (a forum admin may), since its pace is not what this test is about."""
    c, forum = companion, companion.sim.forum
    post = unreachable_bob_asks(c)
    c.settle()
    (team,) = messages(c, team_id(post["id"]))
    assert messages(c, member_id(post["id"])) == []
    notes = [forum.posts[i].raw for i in team.post_ids[1:]]
    assert len(notes) == 1 and "could not send **bob**" in notes[0] and "not accepting messages" in notes[0]
    event = parse_delivery(created_delivery(c, post["id"]).headers, created_delivery(c, post["id"]).payload.encode(),
                           secret=SECRET)
    care.route(c.services, event)                                           # the job runs again: nothing new
    assert len(team.post_ids) == 2


def test_a_job_that_met_the_refusal_and_died_still_tells_the_team_when_it_runs_again(companion: Companion) -> None:
    """The refusal is remembered with the forum's words: a job deferred or killed between the refused message and
    the note to the team makes the note when it runs again (the full fault run lost one such note). Loose on
    purpose, as above: the non-staff bot's intervals are 0."""
    c, forum = companion, companion.sim.forum
    post = unreachable_bob_asks(c)                                      # delivered; its job has not run yet
    _, member_key = care_effects(post["id"])
    title, raw = member_message(member="bob", group=c.settings.care_group)
    first = message_once(c.services, member_key, title=title, raw=raw, recipients=["bob"],
                         external_id=care_message_ids(post["id"])[1])  # an earlier run met the refusal, then died
    assert "not accepting messages" in first.refused
    c.settle()
    (team,) = messages(c, team_id(post["id"]))
    assert [i for i in team.post_ids[1:] if "could not send **bob**" in forum.posts[i].raw]
