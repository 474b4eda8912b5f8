"""The `sim` fixture: a fresh simulated Discourse served over real HTTP on loopback for each test."""
from __future__ import annotations

import secrets
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask
from pydiscourse import DiscourseClient

from simulator.app import create_app
from simulator.server import ServerHandle, serve_in_thread
from simulator.state import Forum, User

CLIENT_TIMEOUT = 10
"""Seconds; every client the tests build passes a timeout (pydiscourse's default waits forever)."""


@dataclass
class Sim:
    """A running simulator: its base `url`, the admin `api_key`, the `forum` behind it and the Flask `app`."""

    url: str
    api_key: str
    forum: Forum
    app: Flask
    _sessions: list[requests.Session] = field(default_factory=list, repr=False)

    def client(self, username: str = "system") -> DiscourseClient:
        """pydiscourse 1.7.0, unchanged, acting as `username` with the admin key."""
        return DiscourseClient(self.url, api_username=username, api_key=self.api_key, timeout=CLIENT_TIMEOUT)

    def http(self, username: str | None = "system") -> requests.Session:
        """A requests session acting as `username` with the admin key (None: an anonymous visitor)."""
        session = requests.Session()
        if username is not None:
            session.headers.update({"Api-Key": self.api_key, "Api-Username": username})
        session.request = _with_timeout(session.request)  # type: ignore[method-assign]
        self._sessions.append(session)
        return session

    def user(self, username: str, **fields: Any) -> User:
        """A member made directly in the forum (no API call, so no rate budget spent)."""
        return self.forum.create_user(username=username, **fields)

    def close(self) -> None:
        for session in self._sessions:
            session.close()


def _with_timeout(request: Callable[..., requests.Response]) -> Callable[..., requests.Response]:
    def call(method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", CLIENT_TIMEOUT)
        return request(method, url, **kwargs)
    return call


def png(width: int, height: int) -> bytes:
    """A valid PNG of the given size (one grey channel)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def start_sim(forum: Forum | None = None) -> tuple[Sim, ServerHandle]:
    """Build a forum and its app and serve it on a free loopback port."""
    forum = forum or Forum()
    api_key = secrets.token_hex(32)
    app = create_app(forum, api_key=api_key)
    handle = serve_in_thread(app, "127.0.0.1", 0)
    forum.base_url = handle.url
    return Sim(url=handle.url, api_key=api_key, forum=forum, app=app), handle


@pytest.fixture
def sim_forum() -> Forum:
    """The forum the `sim` fixture serves; override (or change its settings first) to start differently."""
    return Forum()


@pytest.fixture
def sim(sim_forum: Forum) -> Iterator[Sim]:
    """A simulated Discourse for one test, stopped cleanly after it."""
    running, handle = start_sim(sim_forum)
    try:
        yield running
    finally:
        running.close()
        handle.shutdown()


# --------------------------------------------------------------------------------------------------
# A small community to read back: members, a group, public and restricted categories, a tagged topic with
# a reply, a like and a staff whisper, a message to a user and a group, and a deleted topic. Made directly in
# the forum, so building it spends no API budget and fires events before any hook exists.
# --------------------------------------------------------------------------------------------------


@dataclass
class Community:
    forum: Forum
    alice: User                 # trust level 2, author of the welcome topic and the message
    bob: User                   # trust level 1, replies and likes
    carol: User                 # member of peer-support
    mod: User                   # a moderator
    general_id: int             # public category
    staff_room_id: int          # read-restricted to staff
    welcome_topic_id: int       # tagged `code-of-care`, external_id `coc-document`
    welcome_post_id: int        # its first post, liked by bob
    reply_post_id: int          # bob's reply to post 1
    whisper_post_id: int        # the moderator's whisper in the welcome topic
    pm_topic_id: int            # alice → bob and the peer-support group
    staff_topic_id: int         # in the staff room
    deleted_topic_id: int       # alice's, deleted by system


def build_community(forum: Forum) -> Community:
    system = forum.user_by_name("system")
    assert system is not None
    alice = forum.create_user(username="alice", name="Alice Liddell", trust_level=2)
    bob = forum.create_user(username="bob", name="Bob", trust_level=1)
    carol = forum.create_user(username="carol", name="Carol", trust_level=1)
    mod = forum.create_user(username="mod", name="Moderator Mo", trust_level=3)
    forum.set_moderator(mod, True)
    peer_support = forum.create_group(name="peer-support", full_name="Peer support", messageable_level=99)
    forum.add_members(peer_support, [carol])
    general = forum.create_category(name="General", color="25AAE2")
    staff_room = forum.create_category(name="Staff room", permissions={"staff": 1})
    forum.ensure_tags(["code-of-care"], system)       # a trust-level-2 member may apply a tag, not create one
    welcome = forum.create_post(alice, title="Welcome to the Code of Care", category_id=general.id,
                                raw="This is the living document of how we care for each other.",
                                tags=["code-of-care"], external_id="coc-document")
    reply = forum.create_post(bob, topic_id=welcome.topic_id, reply_to_post_number=1,
                              raw="I would like us to talk about consent first, please.")
    whisper = forum.create_post(mod, topic_id=welcome.topic_id, whisper=True,
                                raw="Staff only: let us keep an eye on this thread.")
    forum.like(bob, welcome)
    pm = forum.create_post(alice, title="A private word about care", archetype="private_message",
                           target_recipients=["bob", "peer-support"],
                           raw="Could we talk about this privately, please?")
    staff_topic = forum.create_post(mod, title="Moderators only discussion", category_id=staff_room.id,
                                    raw="Notes that only the staff should be reading here.")
    doomed = forum.create_post(alice, title="A topic that will be deleted", category_id=general.id,
                               raw="This topic is about to be removed by the staff.")
    forum.delete_topic(system, forum.topics[doomed.topic_id])
    return Community(forum=forum, alice=alice, bob=bob, carol=carol, mod=mod, general_id=general.id,
                     staff_room_id=staff_room.id, welcome_topic_id=welcome.topic_id, welcome_post_id=welcome.id,
                     reply_post_id=reply.id, whisper_post_id=whisper.id, pm_topic_id=pm.topic_id,
                     staff_topic_id=staff_topic.topic_id, deleted_topic_id=doomed.topic_id)


@pytest.fixture
def community(sim: Sim) -> Community:
    """The `sim` forum with `build_community` in it.

    Its members are SCRIPTED (`Forum.scripted_user_ids`): the tests play them over HTTP at machine speed to check
    the answers' shapes and rules, not their own pace, so Discourse's per-user rate limits and post validators
    (simulator/limits.py, tested in tests/test_simulator_limits.py) do not apply to them.
    """
    made = build_community(sim.forum)
    sim.forum.scripted_user_ids.update(u.id for u in (made.alice, made.bob, made.carol, made.mod))
    return made
