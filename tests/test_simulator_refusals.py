"""The simulator refuses, hides and identifies as Discourse does (each rule's source is cited in simulator/state.py
and simulator/api.py): personal-message refusals, hidden profiles, external_id rules and the 120-second answer
memo of `POST /posts.json`, suspended acting users, replies to topics one may not post in, tag creation rights,
duplicate titles, `hide_email_address_taken`, and posts held for review. Real HTTP through the `sim` fixture."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
import requests

from simulator.state import User
from tests.simulator_fixtures import Sim

TOPIC_NOT_FOUND = "Something has gone wrong. Perhaps this topic was closed or deleted while you were looking at it?"
CANT_SEND_PM = "Sorry, you cannot send a personal message to that user."
HIDDEN_PROFILE_KEYS = {"id", "username", "name", "avatar_template", "profile_hidden", "title", "primary_group_name",
                       "can_send_private_message_to_user"}
BODY = "A body that is comfortably long enough for the forum."


def refused(response: requests.Response, action: str = "create_post") -> list[str]:
    """PostsController#create's refusal: 422 {"action": …, "errors": [...]} — no error_type, no success."""
    assert response.status_code == 422, response.text[:300]
    body = response.json()
    assert body["action"] == action and "error_type" not in body and "success" not in body, body
    return body["errors"]


def invalid_access(response: requests.Response) -> None:
    assert response.status_code == 403, response.text[:300]
    assert response.json() == {"errors": ["You are not permitted to view the requested resource."],
                               "error_type": "invalid_access"}


def members(sim: Sim, **levels: int) -> dict[str, User]:
    """Members at the given trust levels, exempt from the per-user rate limits (their pace is not tested here)."""
    made = {name: sim.user(name, trust_level=level) for name, level in levels.items()}
    sim.forum.scripted_user_ids.update(u.id for u in made.values())
    return made


def moderator(sim: Sim, name: str = "mod") -> User:
    mod = sim.user(name, trust_level=2)
    sim.forum.set_moderator(mod, True)
    return mod


CALLS = itertools.count(1)
"""Calls differ by a number in the title or body: an identical POST within 120 s would get the first answer."""


def message(sim: Sim, sender: str, recipients: str, **extra: str) -> requests.Response:
    return sim.http(sender).post(f"{sim.url}/posts.json", data={
        "title": f"A private word from {sender}, number {next(CALLS)}", "raw": BODY, "archetype": "private_message",
        "target_recipients": recipients, **extra})


def new_topic(sim: Sim, author: str, title: str, **extra: object) -> requests.Response:
    return sim.http(author).post(f"{sim.url}/posts.json", data={"title": title, "raw": BODY, **extra})


def reply(sim: Sim, author: str, topic_id: int) -> requests.Response:
    return sim.http(author).post(f"{sim.url}/posts.json",
                                 data={"topic_id": topic_id, "raw": f"{BODY} Reply number {next(CALLS)}."})


def setting(sim: Sim, name: str, value: object) -> None:
    answer = sim.http("system").put(f"{sim.url}/admin/site_settings/{name}", data={name: str(value)})
    assert answer.status_code == 200, answer.text


# --------------------------------------------------------------------------------------------------
# 1. Personal messages
# --------------------------------------------------------------------------------------------------


def test_a_recipient_who_muted_the_sender_refuses_but_not_a_staff_sender(sim: Sim) -> None:
    members(sim, alice=2, bob=1)
    mod = moderator(sim)
    answer = sim.http("alice").put(f"{sim.url}/u/alice.json", data={"muted_usernames": "bob,mod"})
    assert answer.status_code == 200 and answer.json()["success"] == "OK"
    assert sorted(answer.json()["user"]["muted_usernames"]) == ["bob", "mod"]
    assert refused(message(sim, "bob", "alice")) == ["Sorry, alice is not accepting messages at the moment."]
    assert message(sim, "mod", "alice").status_code == 200           # UserCommScreener: staff senders pass
    assert sim.forum.user_by_name("alice").muted_user_ids == [sim.forum.user_by_name("bob").id, mod.id]
    sim.http("alice").put(f"{sim.url}/u/alice.json", data={"muted_usernames": ""})
    assert message(sim, "bob", "alice").status_code == 200


def test_a_recipient_who_ignores_the_sender_refuses(sim: Sim) -> None:
    members(sim, alice=2, bob=1, carol=1)
    moderator(sim)
    until = (datetime.now(timezone.utc) + timedelta(days=7)).isoformat()
    url = f"{sim.url}/u/bob/notification_level.json"
    assert sim.http("alice").put(url, data={"notification_level": "ignore", "expiring_at": until}).json() == \
        {"success": "OK"}
    assert refused(message(sim, "bob", "alice")) == ["Sorry, alice is not accepting messages at the moment."]
    # Ignoring needs ignore_allowed_groups (trust level 2) and never reaches staff; muting needs trust level 1.
    too_new = sim.http("carol").put(url, data={"notification_level": "ignore", "expiring_at": until})
    assert too_new.status_code == 422 and too_new.json() == {"errors": ["Sorry, you can't ignore that user."]}
    staff = sim.http("alice").put(f"{sim.url}/u/mod/notification_level.json", data={"notification_level": "mute"})
    assert staff.status_code == 422 and staff.json() == {"errors": ["Sorry, you can't mute that user."]}
    assert sim.http("alice").put(url, data={"notification_level": "normal"}).status_code == 200
    assert message(sim, "bob", "alice").status_code == 200


def test_a_recipient_with_messages_off_refuses_all_but_staff(sim: Sim) -> None:
    members(sim, alice=2, bob=1, carol=1)
    moderator(sim)
    answer = sim.http("alice").put(f"{sim.url}/u/alice.json", data={"allow_private_messages": "false"})
    assert answer.json()["user"]["user_option"]["allow_private_messages"] is False
    assert refused(message(sim, "bob", "alice,carol")) == ["Sorry, alice is not accepting messages at the moment."]
    assert message(sim, "mod", "alice").status_code == 200
    assert message(sim, "system", "alice").status_code == 200
    sim.http("carol").put(f"{sim.url}/u/carol.json", data={"allow_private_messages": "false"})
    assert refused(message(sim, "bob", "alice,carol")) == [              # every refusing recipient, each named
        "Sorry, alice is not accepting messages at the moment.",
        "Sorry, carol is not accepting messages at the moment."]
    invalid_access(sim.http("bob").put(f"{sim.url}/u/alice.json", data={"allow_private_messages": "true"}))


def test_a_suspended_recipient_cannot_be_messaged_except_by_staff(sim: Sim) -> None:
    people = members(sim, alice=2, bob=1)
    moderator(sim)
    sim.forum.suspend(people["alice"], datetime.now(timezone.utc) + timedelta(days=3), "a break")
    assert refused(message(sim, "bob", "alice")) == [CANT_SEND_PM]
    assert message(sim, "mod", "alice").status_code == 200


def test_the_sender_must_be_in_personal_message_enabled_groups(sim: Sim) -> None:
    members(sim, alice=2, newcomer=0)
    moderator(sim)
    assert sim.forum.settings["personal_message_enabled_groups"] == "11"        # trust_level_1
    assert refused(message(sim, "newcomer", "alice")) == [CANT_SEND_PM]
    assert message(sim, "mod", "newcomer").status_code == 200                  # staff, to anyone
    setting(sim, "personal_message_enabled_groups", "10")
    assert message(sim, "newcomer", "alice").status_code == 200


# --------------------------------------------------------------------------------------------------
# 2. Hidden profiles
# --------------------------------------------------------------------------------------------------


def profile(sim: Sim, viewer: str | None, username: str) -> dict[str, object]:
    answer = sim.http(viewer).get(f"{sim.url}/u/{username}.json")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_hidden_profile_answers_the_hidden_profile_fields_only(sim: Sim) -> None:
    people = members(sim, alice=2, bob=2)
    moderator(sim)
    sim.forum.create_post(people["alice"], title="Alice writes something here", raw=BODY)
    assert "trust_level" in profile(sim, "bob", "alice")["user"]
    assert sim.http("alice").put(f"{sim.url}/u/alice.json", data={"hide_profile": "true"}).status_code == 200
    hidden = profile(sim, "bob", "alice")
    assert set(hidden) == {"user"} and set(hidden["user"]) == HIDDEN_PROFILE_KEYS
    assert hidden["user"]["profile_hidden"] is True and hidden["user"]["username"] == "alice"
    assert set(profile(sim, None, "alice")["user"]) == HIDDEN_PROFILE_KEYS
    for viewer in ("alice", "mod", "system"):                              # oneself and staff still see it all
        assert profile(sim, viewer, "alice")["user"]["trust_level"] == 2
    setting(sim, "allow_users_to_hide_profile", "false")
    assert "trust_level" in profile(sim, "bob", "alice")["user"]


def test_a_member_without_posts_is_hidden_below_trust_level_2(sim: Sim) -> None:
    people = members(sim, quiet=1, reader=1, regular=2, newcomer=0)
    for viewer in ("reader", None):
        assert set(profile(sim, viewer, "quiet")["user"]) == HIDDEN_PROFILE_KEYS
    assert profile(sim, "regular", "quiet")["user"]["trust_level"] == 1
    sim.forum.create_post(people["quiet"], title="Quiet speaks up at last", raw=BODY)
    assert profile(sim, "reader", "quiet")["user"]["trust_level"] == 1
    assert profile(sim, None, "quiet")["user"]["trust_level"] == 1
    # Anonymous and trust level 0 viewers see trust level 1+ only, posts or not.
    sim.forum.create_post(people["newcomer"], title="Newcomer says hello here", raw=BODY)
    assert set(profile(sim, None, "newcomer")["user"]) == HIDDEN_PROFILE_KEYS
    assert profile(sim, "reader", "newcomer")["user"]["trust_level"] == 0
    setting(sim, "hide_new_user_profiles", "false")
    assert profile(sim, None, "newcomer")["user"]["trust_level"] == 0


# --------------------------------------------------------------------------------------------------
# 3. external_id, and the 120-second memo of POST /posts.json
# --------------------------------------------------------------------------------------------------


def test_external_id_is_unique_without_case_short_and_plain(sim: Sim) -> None:
    members(sim, alice=2)
    assert new_topic(sim, "system", "The first topic with a key", external_id="Coc-Key_1").status_code == 200
    assert refused(new_topic(sim, "system", "Another topic with that key", external_id="coc-key_1")) == \
        ["External has already been taken"]
    assert refused(message(sim, "system", "alice", external_id="COC-KEY_1")) == ["External has already been taken"]
    assert refused(new_topic(sim, "system", "A topic with a long key", external_id="k" * 51)) == \
        ["External is too long (maximum is 50 characters)"]
    assert refused(new_topic(sim, "system", "A topic with a spaced key", external_id="has space")) == \
        ["External is invalid"]
    assert new_topic(sim, "system", "A topic with a fifty key", external_id="k" * 50).status_code == 200
    assert message(sim, "system", "alice", external_id="care-msg-1").status_code == 200
    assert sim.forum.topic_by_external_id("care-msg-1").is_pm


@pytest.fixture
def clock(sim: Sim) -> list[datetime]:
    """The forum's clock, moved by hand: `clock[0] += timedelta(...)`."""
    now = [datetime.now(timezone.utc)]
    sim.forum.clock = lambda: now[0]
    return now


def test_an_identical_post_within_120_seconds_gets_the_first_answer(sim: Sim, clock: list[datetime]) -> None:
    members(sim, alice=2)
    admin = sim.http("system")
    form = {"title": "A topic posted twice by mistake", "raw": BODY, "external_id": "twice-1"}
    first = admin.post(f"{sim.url}/posts.json", data=form)
    clock[0] += timedelta(seconds=119)
    again = admin.post(f"{sim.url}/posts.json", data=form)
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert len(sim.forum.topics) == 1
    other_agent = admin.post(f"{sim.url}/posts.json", data=form, headers={"User-Agent": "another-client/1"})
    assert refused(other_agent) == ["Title has already been used", "External has already been taken"]
    other_user = sim.http("alice").post(f"{sim.url}/posts.json", data=form)      # the user is in the signature
    assert refused(other_user) == ["Title has already been used", "External has already been taken"]
    clock[0] += timedelta(seconds=2)                                             # 121 s after the first answer
    assert refused(admin.post(f"{sim.url}/posts.json", data=form)) == \
        ["Title has already been used", "External has already been taken"]
    assert len(sim.forum.topics) == 1


def test_a_refusal_is_remembered_too(sim: Sim, clock: list[datetime]) -> None:
    members(sim, alice=2, bob=1)
    sim.forum.update_user_options(sim.forum.user_by_name("alice"), {"allow_private_messages": "false"})
    first = message(sim, "bob", "alice", title="The same message twice over")
    sim.forum.update_user_options(sim.forum.user_by_name("alice"), {"allow_private_messages": "true"})
    again = message(sim, "bob", "alice", title="The same message twice over")
    assert refused(again) == refused(first) == ["Sorry, alice is not accepting messages at the moment."]
    clock[0] += timedelta(seconds=120)                                           # the memo has expired
    assert message(sim, "bob", "alice", title="The same message twice over").status_code == 200


# --------------------------------------------------------------------------------------------------
# 4. A suspended acting user
# --------------------------------------------------------------------------------------------------


def test_a_suspended_acting_user_gets_403_on_every_call(sim: Sim) -> None:
    people = members(sim, alice=2)
    sim.forum.suspend(people["alice"], datetime.now(timezone.utc) + timedelta(days=1), "a pause")
    as_alice = sim.http("alice")
    invalid_access(as_alice.get(f"{sim.url}/latest.json"))
    invalid_access(as_alice.get(f"{sim.url}/u/alice.json"))
    invalid_access(as_alice.post(f"{sim.url}/posts.json", data={"title": "Written while suspended", "raw": BODY}))
    assert sim.http(None).get(f"{sim.url}/u/alice.json").status_code == 200      # others still read
    sim.forum.unsuspend(people["alice"])
    assert as_alice.get(f"{sim.url}/latest.json").status_code == 200


# --------------------------------------------------------------------------------------------------
# 5. Replies to topics one may not post in
# --------------------------------------------------------------------------------------------------


def test_replies_to_closed_archived_deleted_or_unreadable_topics_are_topic_not_found(sim: Sim) -> None:
    people = members(sim, alice=2, bob=1, leader=4)
    moderator(sim)
    forum = sim.forum
    system = forum.user_by_name("system")
    closed = forum.create_post(people["alice"], title="A topic that gets closed", raw=BODY).topic_id
    forum.set_status(system, forum.topics[closed], "closed", True)
    assert refused(reply(sim, "bob", closed)) == [TOPIC_NOT_FOUND]
    for trusted in ("mod", "leader", "system"):                  # moderators, trust level 4 and admins still may
        assert reply(sim, trusted, closed).status_code == 200
    archived = forum.create_post(people["alice"], title="A topic that gets archived", raw=BODY).topic_id
    forum.set_status(system, forum.topics[archived], "archived", True)
    assert refused(reply(sim, "bob", archived)) == [TOPIC_NOT_FOUND]
    deleted = forum.create_post(people["alice"], title="A topic that gets deleted", raw=BODY).topic_id
    forum.delete_topic(system, forum.topics[deleted])
    for anyone in ("bob", "system"):                             # a deleted topic: nobody, admins included
        assert refused(reply(sim, anyone, deleted)) == [TOPIC_NOT_FOUND]
    staff_room = forum.create_category(name="Staff room", permissions={"staff": 1})
    unreadable = forum.create_post(system, title="Staff notes for the staff", raw=BODY,
                                   category_id=staff_room.id).topic_id
    assert refused(reply(sim, "bob", unreadable)) == [TOPIC_NOT_FOUND]
    assert refused(reply(sim, "bob", 9999)) == [TOPIC_NOT_FOUND]
    # Before the post's own validations: a closed topic answers topic_not_found even to a too-short reply.
    short = sim.http("bob").post(f"{sim.url}/posts.json", data={"topic_id": closed, "raw": "short"})
    assert refused(short) == [TOPIC_NOT_FOUND]


# --------------------------------------------------------------------------------------------------
# 6. Tag creation rights
# --------------------------------------------------------------------------------------------------


def test_unknown_tags_are_dropped_silently_for_who_may_not_create_tags(sim: Sim) -> None:
    members(sim, bob=1, trusted=3)
    sim.forum.ensure_tags(["known-tag"], sim.forum.user_by_name("system"))
    answer = new_topic(sim, "bob", "A topic with a brand new tag", **{"tags[]": ["known-tag", "brand-new"]})
    assert answer.status_code == 200
    assert sim.forum.topics[answer.json()["topic_id"]].tags == ["known-tag"]
    assert "brand-new" not in sim.forum.tags
    by_trusted = new_topic(sim, "trusted", "A trusted member's new tag", **{"tags[]": ["brand-new"]})
    assert sim.forum.topics[by_trusted.json()["topic_id"]].tags == ["brand-new"]     # trust_level_3 may create
    setting(sim, "create_tag_allowed_groups", "1|3|11")
    again = new_topic(sim, "bob", "Another topic with another tag", **{"tags[]": ["bobs-tag"]})
    assert sim.forum.topics[again.json()["topic_id"]].tags == ["bobs-tag"]


# --------------------------------------------------------------------------------------------------
# 7. Duplicate titles
# --------------------------------------------------------------------------------------------------


def test_a_duplicate_title_is_refused_among_listable_topics(sim: Sim) -> None:
    people = members(sim, alice=2, bob=1)
    first = new_topic(sim, "alice", "How we look after each other")
    assert first.status_code == 200
    assert refused(new_topic(sim, "bob", "HOW we look after each OTHER")) == ["Title has already been used"]
    assert message(sim, "alice", "bob", title="How we look after each other").status_code == 200   # not for PMs
    other = sim.forum.create_post(people["bob"], title="A title to be renamed", raw=BODY).topic_id
    retitle = sim.http("bob").put(f"{sim.url}/t/-/{other}.json", data={"title": "How we look after each other"})
    assert retitle.status_code == 422 and retitle.json()["errors"] == ["Title has already been used"]
    sim.forum.delete_topic(sim.forum.user_by_name("system"), sim.forum.topics[first.json()["topic_id"]])
    assert new_topic(sim, "bob", "How we look after each other").status_code == 200        # deleted ones free it
    setting(sim, "allow_duplicate_topic_titles", "true")
    assert new_topic(sim, "alice", "How we look after each other").status_code == 200


# --------------------------------------------------------------------------------------------------
# 8. POST /users.json with hide_email_address_taken
# --------------------------------------------------------------------------------------------------


def test_hide_email_address_taken_answers_a_taken_email_as_a_success(sim: Sim) -> None:
    sim.user("alice", email="alice@example.com")
    admin = sim.http("system")
    shown = admin.post(f"{sim.url}/users.json", data={"username": "alice2", "email": "ALICE@example.com",
                                                      "password": "long-password-123"}).json()
    assert shown["success"] is False and "email" in shown["errors"]
    setting(sim, "hide_email_address_taken", "true")
    hidden = admin.post(f"{sim.url}/users.json", data={"username": "alice2", "email": "ALICE@example.com",
                                                       "password": "long-password-123"}).json()
    assert hidden == {"success": True, "active": False,
                      "message": "You’re almost done! We sent an activation mail to <b>ALICE@example.com</b>."}
    assert sim.forum.user_by_name("alice2") is None
    made = admin.post(f"{sim.url}/users.json", data={"username": "dora", "email": "dora@example.com",
                                                     "password": "long-password-123"}).json()
    assert made["success"] is True and "user_id" not in made and sim.forum.user_by_name("dora") is not None


# --------------------------------------------------------------------------------------------------
# 9. Posts held for review
# --------------------------------------------------------------------------------------------------


def test_a_post_held_for_review_is_enqueued_not_created(sim: Sim) -> None:
    members(sim, alice=2, bob=1)
    moderator(sim)
    forum = sim.forum
    topic = forum.create_post(forum.user_by_name("alice"), title="A topic to reply in later", raw=BODY).topic_id
    assert reply(sim, "bob", topic).status_code == 200                     # the defaults hold nothing
    setting(sim, "approve_unless_allowed_groups", "12")                    # trust_level_2 and up post freely
    before = (len(forum.topics), len(forum.posts))
    held = reply(sim, "bob", topic)
    assert held.status_code == 200
    body = held.json()
    assert body["action"] == "enqueued" and body["success"] is True and body["pending_count"] == 1
    assert set(body["pending_post"]) == {"id", "raw", "created_at"}
    assert body["pending_post"]["raw"].startswith(BODY)
    assert "post" not in body and "id" not in body
    held_topic = new_topic(sim, "bob", "A held topic never appears")
    assert held_topic.json()["action"] == "enqueued" and held_topic.json()["pending_count"] == 2
    assert (len(forum.topics), len(forum.posts)) == before                 # nothing created
    assert [q.raw.startswith(BODY) for q in forum.queued_posts.values()] == [True, True]
    # Never held: staff, trust level 2 here, and personal messages.
    assert reply(sim, "mod", topic).json()["post_number"] > 1
    assert reply(sim, "alice", topic).json()["post_number"] > 1
    assert message(sim, "bob", "alice").json()["post_number"] == 1
    # On the review path the topic check answers as `created_post`.
    forum.set_status(forum.user_by_name("system"), forum.topics[topic], "closed", True)
    assert refused(reply(sim, "bob", topic), action="created_post") == [TOPIC_NOT_FOUND]


def test_approve_post_count_holds_the_first_posts_of_new_members(sim: Sim) -> None:
    people = members(sim, bob=1)
    setting(sim, "approve_post_count", "1")
    assert new_topic(sim, "bob", "My very first topic here").json()["action"] == "enqueued"
    sim.forum.create_post(people["bob"], title="A post that was approved", raw=BODY)   # approved: now one post
    assert new_topic(sim, "bob", "My second topic, not held").json()["post_number"] == 1


@pytest.mark.parametrize("title", [
    "WE ASK BEFORE WE SHARE ANYTHING",                 # all capitals (allow_uppercase_posts is off)
    "aaaa bbbb aaaa bbbb aaaa",                        # too few distinct characters (title_min_entropy 10)
    "Proposed change: " + "x" * 31,                    # a word longer than title_max_word_length 30
    "!!!! ???? .... ---- ,,,,",                        # nothing but symbols
], ids=["shouting", "low entropy", "long word", "symbols"])
def test_a_title_discourse_finds_unclear_is_refused_and_a_message_may_have_it(sim: Sim, title: str) -> None:
    """QualityTitleValidator (app/models/topic.rb: `quality_title: { unless: :private_message? }`, with
    lib/text_sentinel.rb's title_sentinel): even staff are held to it; a private message is not."""
    mod = moderator(sim)
    assert refused(new_topic(sim, mod.username, title)) == ["Title seems unclear, is it a complete sentence?"]
    assert not sim.forum.duplicate_title(title, category_id=None)           # nothing was made
    other = members(sim, ann=1)["ann"]
    sent = sim.http(mod.username).post(f"{sim.url}/posts.json", data={
        "title": title, "raw": BODY, "archetype": "private_message", "target_recipients": other.username})
    assert sent.status_code == 200, sent.text[:300]


def test_a_clear_title_with_words_of_any_script_is_taken(sim: Sim) -> None:
    mod = moderator(sim)
    for title in ("Proposed change to 3. Consent: “We ask first”", "Über Fürsorge und Zustimmung reden",
                  "مرحبا بالجميع في منتدى الرعاية"):
        answer = new_topic(sim, mod.username, title)
        assert answer.status_code == 200, (title, answer.text[:300])
