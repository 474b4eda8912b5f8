"""End to end: members propose and like in the forum, the service drafts, moderators decide, the Code changes.

Everything real: the simulator over HTTP, its signed webhooks to the receiver, Redis, RQ workers running the jobs.
"""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from plugin.domain.amendments import APPLIED, DRAFTED, REJECTED, STALE, WITHDRAWN
from plugin.domain.names import amendment_id
from plugin.domain.document import parse_document
from plugin.text.drafts import DECISIONS, NOT_ALLOWED
from tests.companion import Companion, companion, sim_forum  # noqa: F401  (fixtures)

APPROVE = "/approve\nThank you all: this says it more plainly."   # Discourse wants 20 characters at least
NEW_CONSENT = ("We ask before we share anything about another member, and we ask again if time has passed. "
               "A yes can become a no at any time, and that is respected without question.")


def propose(c: Companion, who: str, section: str = "Consent", text: str = NEW_CONSENT) -> dict:
    document = c.store.document()
    return c.member(who).create_post(f'I would like us to say it more plainly:\n\n[amend section="{section}"]\n'
                                     f"{text}\n[/amend]", topic_id=document["topic_id"])


def like(c: Companion, who: str, post_id: int) -> None:
    c.member(who)
    response = c.sim.http(who).post(c.sim.url + "/post_actions.json", data={"id": post_id, "post_action_type_id": 2})
    assert response.status_code == 200, response.text


def reply(c: Companion, who: str, topic_id: int, raw: str) -> dict:
    return c.member(who).create_post(raw, topic_id=topic_id)


def drafted(c: Companion, post_id: int) -> tuple:
    key = amendment_id(post_id, 1)
    topic = c.topic_by_external_id(key)
    assert topic is not None, f"no draft topic {key}"
    return key, topic


def make_moderator(c: Companion, username: str) -> None:
    c.sim.user(username, trust_level=2)
    c.sim.forum.set_moderator(c.sim.forum.user_by_name(username), True)


def bot_posts(c: Companion, topic_id: int) -> list:
    topic = c.sim.forum.topics[topic_id]
    bot = c.sim.forum.user_by_name(c.settings.bot_username)
    return [c.sim.forum.posts[i] for i in topic.post_ids if c.sim.forum.posts[i].user_id == bot.id]


def backed_proposal(c: Companion) -> tuple[dict, str, object]:
    proposal = propose(c, "alice")
    like(c, "bob", proposal["id"])
    like(c, "carol", proposal["id"])
    c.settle()
    key, topic = drafted(c, proposal["id"])
    return proposal, key, topic


def test_three_members_backing_a_proposal_make_one_draft(companion: Companion) -> None:
    c = companion
    proposal = propose(c, "alice")
    like(c, "bob", proposal["id"])
    c.settle()
    assert c.topic_by_external_id(amendment_id(proposal["id"], 1)) is None      # 2 supporters: not yet
    like(c, "carol", proposal["id"])
    like(c, "dave", proposal["id"])
    c.settle()
    key, topic = drafted(c, proposal["id"])
    drafts = [t for t in c.sim.forum.topics.values() if t.external_id and t.external_id.startswith("coc-amendment")]
    assert len(drafts) == 1
    assert "coc-amendment" in topic.tags
    assert c.sim.forum.categories[topic.category_id].name == c.settings.drafts_category
    body = c.sim.forum.posts[topic.post_ids[0]].raw
    assert "Consent" in topic.title and "4 members support it" in body
    assert "<ins>" in body and "<del>" in body                                   # the word-level diff
    assert f"/p/{proposal['id']}" in body                                          # a link to the source post
    for name in ("alice", "bob", "carol", "dave"):
        assert f"@{name}" not in body                                               # nobody named without consent
    assert c.store.amendment(key).status == DRAFTED


def day(c: Companion) -> str:
    now = datetime.now(ZoneInfo(c.settings.timezone))
    return f"{now.day} {now:%B %Y}"


def test_two_drafts_of_a_section_on_one_day_get_titles_members_can_tell_apart(companion: Companion) -> None:
    c = companion
    days = {day(c)}
    first = propose(c, "alice")
    second = propose(c, "erin", text=NEW_CONSENT + " We check in with each other.")
    for proposal in (first, second):
        like(c, "bob", proposal["id"])
        like(c, "carol", proposal["id"])
    c.settle()
    days.add(day(c))
    titles = sorted(drafted(c, p["id"])[1].title for p in (first, second))
    assert len(set(titles)) == 2                        # Discourse wants public titles unique: both were made
    intent = "Proposed change to 3. Consent: “We ask before we share anything about another member, and…”"
    assert intent in titles, titles                     # the first made names what it proposes; the other, the day
    assert any(f"Proposed change to 3. Consent ({d})" in titles for d in days), titles
    for title in titles:
        assert not re.search(r"\d+-\d+|coc-|amendment|post \d", title)


def test_duplicate_and_reordered_webhooks_still_make_one_draft(companion: Companion) -> None:
    c = companion
    faults = c.sim.app.extensions["webhooks"].faults
    faults.duplicate, faults.reorder = 1.0, 0.5
    proposal = propose(c, "alice")
    for who in ("bob", "carol", "dave", "erin"):
        like(c, who, proposal["id"])
    c.settle()
    faults.duplicate = faults.reorder = 0.0
    drafts = [t for t in c.sim.forum.topics.values() if t.external_id == amendment_id(proposal["id"], 1)]
    assert len(drafts) == 1


def test_a_members_approve_is_ignored_and_answered_a_moderators_applies(companion: Companion) -> None:
    c = companion
    proposal, key, topic = backed_proposal(c)
    before_version = c.sim.forum.posts[c.store.document()["post_id"]].version

    dave = reply(c, "dave", topic.id, "/approve\nI agree with this!")
    c.settle()
    assert c.store.amendment(key).status == DRAFTED
    answers = bot_posts(c, topic.id)[1:]
    assert len(answers) == 1 and answers[0].reply_to_post_number == dave["post_number"]
    assert NOT_ALLOWED.split("{")[0] in answers[0].raw

    make_moderator(c, "mod")
    reply(c, "mod", topic.id, APPROVE)
    c.settle()

    assert c.store.amendment(key).status == APPLIED
    document_post = c.sim.forum.posts[c.store.document()["post_id"]]
    assert document_post.version == before_version + 1
    assert parse_document(document_post.raw).find("Consent").body.strip() == NEW_CONSENT
    assert document_post.revisions[-1].edit_reason == "New wording for Consent, approved by mod"   # no id
    for other in ("Care", "Privacy", "Harm and repair"):                         # every other section untouched
        assert parse_document(document_post.raw).find(other) == parse_document(
            document_post.revisions[0].raw_before).find(other)
    assert set(topic.tags) == {"coc-amendment", "coc-approved"} and topic.closed
    announcements = bot_posts(c, c.store.document()["topic_id"])[1:]
    assert len(announcements) == 1 and "Consent" in announcements[0].raw
    assert DECISIONS["approve"].split("{")[0][:20] in bot_posts(c, topic.id)[-1].raw


def test_reject_tags_closes_and_tells_the_proposer(companion: Companion) -> None:
    c = companion
    proposal, key, topic = backed_proposal(c)
    make_moderator(c, "mod")
    reply(c, "mod", topic.id, "/reject This overlaps with the Privacy section; let's talk it through there.")
    c.settle()
    amendment = c.store.amendment(key)
    assert amendment.status == REJECTED and "Privacy" in amendment.reason
    assert set(topic.tags) == {"coc-amendment", "coc-rejected"} and topic.closed
    alice = c.sim.forum.user_by_name("alice")
    pms = [t for t in c.sim.forum.topics.values() if t.is_pm and alice.id in t.allowed_user_ids]
    assert len(pms) == 1 and "Privacy" in c.sim.forum.posts[pms[0].post_ids[0]].raw
    assert parse_document(c.document_raw()).find("Consent").body.strip() != NEW_CONSENT


def test_a_rejection_still_closes_and_records_the_draft_when_the_proposer_cannot_be_messaged(
        companion: Companion) -> None:
    """The forum refuses the proposer's message (they turned messages off, and the bot is not staff here — loose on
    purpose: its intervals are set to 0, as its pace is not what is tested): the draft is still tagged, closed and
    recorded, and the history says why the proposer was not told."""
    c = companion
    forum = c.sim.forum
    c.bot_not_staff()
    proposal, key, topic = backed_proposal(c)
    forum.user_by_name("alice").allow_private_messages = False
    make_moderator(c, "mod")
    reply(c, "mod", topic.id, "/reject This overlaps with the Privacy section; let's talk it through there.")
    c.settle()
    amendment = c.store.amendment(key)
    assert amendment.status == REJECTED and topic.closed and set(topic.tags) == {"coc-amendment", "coc-rejected"}
    assert "alice could not be sent a message" in amendment.history[-1]
    alice = forum.user_by_name("alice")
    assert [t for t in forum.topics.values() if t.is_pm and alice.id in t.allowed_user_ids] == []


def test_only_the_proposer_withdraws(companion: Companion) -> None:
    c = companion
    proposal, key, topic = backed_proposal(c)
    reply(c, "bob", topic.id, "/withdraw\nPlease take this one back.")
    c.settle()
    assert c.store.amendment(key).status == DRAFTED
    reply(c, "alice", topic.id, "/withdraw changed my mind")
    c.settle()
    assert c.store.amendment(key).status == WITHDRAWN and topic.closed


def test_approval_of_a_section_that_changed_is_stale_and_never_overwrites(companion: Companion) -> None:
    c = companion
    make_moderator(c, "mod")
    first, first_key, first_topic = backed_proposal(c)
    second = propose(c, "erin", text="Consent is asked for, every time, in words.")
    like(c, "frank", second["id"])
    like(c, "gina", second["id"])
    c.settle()
    second_key, second_topic = drafted(c, second["id"])
    reply(c, "mod", first_topic.id, APPROVE)
    c.settle()
    reply(c, "mod", second_topic.id, APPROVE)
    c.settle()
    assert c.store.amendment(first_key).status == APPLIED
    assert c.store.amendment(second_key).status == STALE
    assert parse_document(c.document_raw()).find("Consent").body.strip() == NEW_CONSENT


def test_deleted_proposal_is_withdrawn(companion: Companion) -> None:
    c = companion
    proposal = propose(c, "alice")
    c.settle()
    c.sim.http("alice").delete(f"{c.sim.url}/posts/{proposal['id']}.json")
    c.settle()
    assert c.store.amendment(amendment_id(proposal["id"], 1)).status == WITHDRAWN


@pytest.mark.parametrize("raw, expected", [
    ('[amend section="Nowhere"]\nSomething new here.\n[/amend]', "Nowhere"),
    ('[amend section="Consent"]\nNever closed.', "[/amend]"),
])
def test_problems_get_one_kind_reply(companion: Companion, raw: str, expected: str) -> None:
    c = companion
    post = c.member("alice").create_post(raw, topic_id=c.store.document()["topic_id"])
    c.settle()
    answers = [p for p in bot_posts(c, c.store.document()["topic_id"]) if p.reply_to_post_number == post["post_number"]]
    assert len(answers) == 1 and expected in answers[0].raw


def test_each_section_keeps_its_own_version(companion: Companion) -> None:
    c = companion
    assert set(c.store.section_versions().values()) == {1}                        # every section's first text
    proposal, key, topic = backed_proposal(c)
    make_moderator(c, "mod")
    reply(c, "mod", topic.id, APPROVE)
    c.settle()
    versions = c.store.section_versions()
    assert versions["consent"] == 2 and versions["care"] == 1 and versions["privacy"] == 1


def test_likes_read_before_the_proposal_still_count(companion: Companion) -> None:
    c = companion
    faults = c.sim.app.extensions["webhooks"].faults
    faults.reorder = 1.0                         # deliveries held and released out of order
    proposal = propose(c, "alice")
    like(c, "bob", proposal["id"])
    like(c, "carol", proposal["id"])
    c.settle()
    faults.reorder = 0.0
    drafted(c, proposal["id"])


def test_an_announcement_interrupted_after_posting_is_not_posted_again(companion: Companion) -> None:
    from worker.effects import reply_once  # noqa: PLC0415

    c = companion
    proposal, key, topic = backed_proposal(c)
    make_moderator(c, "mod")
    reply(c, "mod", topic.id, APPROVE)
    c.settle()
    doc_topic = c.store.document()["topic_id"]
    before = len(bot_posts(c, doc_topic))
    c.conn.set(c.keys.effect(f"announce-{key}"), "pending")        # as if the worker died before marking it done
    draft_url = f"{c.settings.discourse_url}/t/{topic.id}"
    reply_once(c.services, f"announce-{key}", doc_topic, None, "the same announcement again", marker=draft_url)
    assert len(bot_posts(c, doc_topic)) == before


def test_a_proposal_in_a_category_closed_to_some_is_never_drafted_though_the_bot_may_read_it(c_restricted) -> None:
    """The bot is a moderator and opens every category: a staff room's words stay there by the forum's own list of
    read-restricted categories, whatever order the topic's and the post's webhooks arrive in."""
    c, room = c_restricted
    forum = c.sim.forum
    sam = forum.user_by_name("sam")
    topic = forum.create_post(sam, title="Notes for the moderators only", category_id=room.id,
                              tags=["code-of-care"], raw=f'[amend section="Consent"]\n{NEW_CONSENT}\n[/amend]')
    for who in ("bob", "carol", "dave"):
        forum.like(c.sim.user(who, trust_level=2), topic)
    c.settle()
    assert c.topic_by_external_id(amendment_id(topic.id, 1)) is None
    assert c.store.amendments_of_post(topic.id) == []


@pytest.fixture
def c_restricted(companion: Companion):  # type: ignore[no-untyped-def]
    make_moderator(companion, "sam")
    room = companion.sim.forum.create_category(name="Staff room", permissions={"staff": 1})
    yield companion, room


def test_likers_and_a_moderator_with_hidden_profiles_count_and_decide(companion: Companion) -> None:
    """Discourse shows a hidden profile without trust level, roles or groups (HiddenProfileSerializer) to whoever may
    not see it: the service reads members' standing as the admin, so hidden profiles count and decide as they are.
    The bot is not staff here (an operator may revoke it): a moderator bot would see the profiles anyway. Loose on
    purpose: its intervals between posts are set to 0, as a forum admin may, since its pace is not what is tested."""
    c = companion
    c.bot_not_staff()
    proposal = propose(c, "alice")
    for who in ("bob", "carol"):
        c.sim.user(who, trust_level=2).hide_profile = True     # likers who never posted: no cached standing
        like(c, who, proposal["id"])
    c.settle()
    key, topic = drafted(c, proposal["id"])
    make_moderator(c, "sam")
    c.sim.forum.user_by_name("sam").hide_profile = True
    reply(c, "sam", topic.id, APPROVE)
    c.settle()
    assert c.store.amendment(key).status == APPLIED
