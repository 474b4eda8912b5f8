"""The security review's checks, each as a test: secrets stay secret, nothing follows a URL it was handed, sizes are
bounded, authority comes from the forum, dependencies are pinned."""
from __future__ import annotations

import io
import json
import logging
import re
from importlib import metadata
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask, redirect, request
from packaging.requirements import Requirement

from plugin import logs
from plugin.adapters.budget import ApiBudget
from plugin.config import Settings
from plugin.domain.events import BadDelivery, parse_delivery, sign
from plugin.adapters.forum import Forum, ForumUnavailable
from plugin.config import redact
from simulator.server import serve_in_thread
from tests.companion import Companion, companion, sim_forum  # noqa: F401  (fixtures)
from tests.servers import serving
from tests.test_events import SAMPLE_SECRET, sample
from tests.test_receiver import PATH, settings_for
from webhooks.app import create_app

REPO = Path(__file__).resolve().parent.parent


class Listener:
    """A web server that only counts who came knocking (a payload's URLs must never bring anyone here)."""

    def __init__(self) -> None:
        app = Flask("listener")
        self.hits: list[str] = []

        @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT"])
        @app.route("/<path:path>", methods=["GET", "POST", "PUT"])
        def anything(path: str):  # type: ignore[no-untyped-def]
            self.hits.append(f"{request.method} /{path}")
            return "nothing here"
        self.handle = serve_in_thread(app)
        self.url = f"http://127.0.0.1:{self.handle.server.server_port}"

    def close(self) -> None:
        self.handle.shutdown()


def pinned_lines(name: str) -> list[str]:
    """The requirement lines of a pip file at the repository's root, comments and blank lines left out."""
    lines = (line.split("#")[0].strip() for line in (REPO / name).read_text().splitlines())
    return [line for line in lines if line]


def test_every_dependency_is_pinned_to_an_exact_version() -> None:
    requirements = pinned_lines("requirements.txt")
    assert requirements
    loose = [line for line in requirements if not re.fullmatch(r"[A-Za-z0-9_.\[\]-]+==[0-9][0-9A-Za-z.+-]*", line)]
    assert loose == []


def test_everything_the_requirements_bring_in_is_pinned_as_installed() -> None:
    """constraints.txt pins the whole tree that requirements.txt pulls in, at the versions this run imports."""
    def name(text: str) -> str:
        return re.sub(r"[-_.]+", "-", text).lower()

    pins = {name(k): v for k, v in (line.split("==") for line in pinned_lines("constraints.txt"))}
    wanted = [Requirement(line) for line in pinned_lines("requirements.txt")]
    seen: dict[str, str] = {}
    while wanted:
        requirement = wanted.pop()
        key = name(requirement.name)
        if key in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        dist = metadata.distribution(requirement.name)
        seen[key] = dist.version
        wanted += [Requirement(r) for r in dist.requires or []]
    assert len(seen) > 40
    assert {k: v for k, v in seen.items() if pins.get(k) != v} == {}        # each one pinned, at what is installed


def test_secrets_are_not_in_the_settings_repr() -> None:
    settings = Settings.from_env({}, dotenv=False, discourse_api_key="key-0123456789abcdef",
                                 discourse_webhook_secret="secret-0123456789", redis_url="redis://:pw-4567@h:6379/0",
                                 redis_sentinel_password="sentinel-pw-89")
    shown = repr(settings)
    for secret in ("key-0123456789abcdef", "secret-0123456789", "pw-4567", "sentinel-pw-89"):
        assert secret not in shown
    assert "pw-4567" not in redact(settings.redis_url)


def test_the_receivers_log_holds_no_secret_and_no_member_text(redis_url: str, redis_conn: redis.Redis) -> None:
    out = io.StringIO()
    logs.configure(stream=out)
    try:
        with serving(create_app(settings_for(redis_url))) as served:
            headers, body = sample("post_created")
            assert requests.post(served.url + PATH, data=body, headers=headers, timeout=10).status_code == 202
            forged = {**headers, "X-Discourse-Event-Signature": "sha256=" + "0" * 64}
            assert requests.post(served.url + PATH, data=body, headers=forged, timeout=10).status_code == 401
    finally:
        for name in ("webhooks", "worker", "plugin"):           # as before `logs.configure`
            logging.getLogger(name).handlers[:] = []
            logging.getLogger(name).propagate = True
    text = out.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["message"] for line in lines] == ["accepted", "refused delivery"]
    assert lines[0]["event_id"] == headers["X-Discourse-Event-Id"]
    raw = json.loads(body)["post"]["raw"]
    assert SAMPLE_SECRET not in text and raw[:40] not in text
    assert headers["X-Discourse-Event-Signature"] not in text


def test_an_event_id_is_a_number_not_a_redis_key_of_the_senders_choosing() -> None:
    headers, body = sample("post_created")
    for bad in ("1 2", "x" * 65, "a:b", "../../etc", "7\r\nX-Other: 1"):
        with pytest.raises(BadDelivery, match="Event-Id"):
            parse_delivery({**headers, "X-Discourse-Event-Id": bad}, body, secret=SAMPLE_SECRET)
    assert parse_delivery(headers, body, secret=SAMPLE_SECRET).delivery.event_id == headers["X-Discourse-Event-Id"]


def test_urls_in_payloads_are_never_fetched(companion: Companion) -> None:
    """Member text full of links and images (and a payload that names other sites) is stored and handled without
    anyone asking those sites for anything: neither the receiver nor the workers."""
    c = companion
    listener = Listener()
    try:
        document = c.store.document()
        member = c.member("mallory")
        post = member.create_post(f"See {listener.url}/evil and ![x]({listener.url}/pixel.png) and "
                                  f'<img src="{listener.url}/img"> [amend section="Consent"]\n'
                                  f"Read {listener.url}/more before you agree to anything here.\n[/amend]",
                                  topic_id=document["topic_id"])
        for who in ("bob", "carol", "dave"):
            c.member(who)
            c.sim.http(who).post(c.sim.url + "/post_actions.json", data={"id": post["id"], "post_action_type_id": 2})
        c.settle()
        headers, body = sample("post_created")
        payload = json.loads(body)
        payload["post"].update({"avatar_template": listener.url + "/a/{size}.png", "raw": listener.url})
        forged = json.dumps(payload).encode()
        headers = {**headers, "X-Discourse-Event-Id": "424242",
                   "X-Discourse-Event-Signature": sign(forged, c.settings.discourse_webhook_secret)}
        answer = requests.post(c.settings.public_url + c.settings.webhook_path, data=forged, headers=headers,
                               timeout=10)
        assert answer.status_code == 202
        c.settle()
        assert c.topic_by_external_id(f"coc-amendment-{post['id']}-1") is not None     # it was all handled
        assert listener.hits == []
    finally:
        listener.close()


def test_the_api_key_never_follows_a_redirect_to_another_site(redis_conn: redis.Redis) -> None:
    listener = Listener()
    forum_app = Flask("forum")
    asked: list[str] = []

    @forum_app.route("/t/external_id/<name>.json")
    def moved(name: str):  # type: ignore[no-untyped-def]
        asked.append(request.headers.get("Api-Key", ""))
        return redirect(f"{listener.url}/t/1.json", code=301)
    forum = serve_in_thread(forum_app)
    try:
        settings = Settings.from_env({}, dotenv=False, discourse_url=f"http://127.0.0.1:{forum.server.server_port}",
                                     discourse_api_key="k" * 64, discourse_api_username="system",
                                     redis_prefix="coc-test:", api_budget_per_min=100)
        with Forum(settings, budget=ApiBudget.for_settings(redis_conn, settings)) as adapter:
            with pytest.raises(ForumUnavailable, match="another site"):
                adapter.topic_by_external_id("coc-document")
        assert asked == ["k" * 64] and listener.hits == []
    finally:
        forum.shutdown()
        listener.close()


def test_every_input_is_bounded(redis_url: str, redis_conn: redis.Redis) -> None:
    """The receiver refuses a body over COC_MAX_BODY_BYTES before reading it (a chunked one too: see
    tests/test_receiver.py) and stores nothing of it."""
    with serving(create_app(settings_for(redis_url, max_body_bytes=4096))) as served:
        headers, _ = sample("post_created")
        big = b'{"post": {"raw": "' + b"x" * 10_000 + b'"}}'
        answer = requests.post(served.url + PATH, data=big, headers=headers, timeout=10)
        assert answer.status_code == 413 and "4096" in answer.text
    assert redis_conn.llen("rq:queue:events") == 0
