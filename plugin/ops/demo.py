"""`python -m plugin demo` (`make demo`): the whole product, on embedded defaults, in about a minute.

It starts the forum simulator, a Redis (the one configured, the local one, or an embedded one), the webhook
receiver under gunicorn and two RQ workers — every one a real process — installs the service on the fresh forum,
then plays a scripted community week through the forum's own API, as real members would: replies and likes on the
Code of Care, three members backing a proposal, a member trying `/approve`, a moderator approving, another proposal
rejected, a "direct support" post, and the weekly digest. Each step waits (with a time limit) for its effect to
appear in the forum; if one does not, the demo says which and exits 1. At the end it prints a summary and the
address of the simulator's HTML view; the forum is saved to `demo-forum.sim.json` to browse again later.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import requests
from pydiscourse import DiscourseClient

from plugin.config import Settings
from plugin.domain.engagement import iso_week
from plugin.domain.events import read_tags
from plugin.domain.names import (
    DOCUMENT_EXTERNAL_ID,
    TAG_APPROVED,
    TAG_REJECTED,
    amendment_id,
    care_message_ids,
    digest_external_id,
)
from plugin.ops.local_redis import RedisRuntime, RedisUnavailable, ensure_redis, url_with_db
from plugin.ops.processes import free_port, stop_process, wait_until
from plugin.text.care import CLOSED_MARKER, PICKUP_MARKER, REMINDER_MARKER, relay_marker

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The directory that holds `plugin/` and `simulator/`; every subprocess runs from here."""

HOST = "127.0.0.1"
ADMIN = "system"
BOT = Settings().bot_username
PREFIX = "coc-demo:"
DEMO_DB = 12
"""The demo's own Redis database; it starts by emptying the demo's keys and RQ's there."""
SECRET = "demo-webhook-secret-" + "0" * 8
DATA_FILE = REPO_ROOT / "demo-forum.sim.json"
ENV_FILE = REPO_ROOT / "demo.env"
"""The settings the demo ran the service with, for `python -m plugin --env-file demo.env doctor|stats|digest`."""
FORUM_PORT = 4200
"""The simulator's port when it is free (else any free one): the saved forum is reopened on the same address, so
that the links in the bot's posts and the settings in demo.env still lead to it."""
STEP_TIMEOUT = 60.0
"""Seconds each step of the story may take to show its effect in the forum."""
MEMBERS = {
    "alice": "Alice",
    "bob": "Bob",
    "carol": "Carol",
    "dave": "Dave",
    "erin": "Erin",
    "frank": "Frank",
    "sam": "Sam (moderator)",
    "pat": "Pat (peer support)",
    "gina": "Gina",
}
STORY_STARTS = timedelta(days=3, hours=10)
"""When in last week the story plays (Thursday morning, UTC): it ends long before the week does."""
REMIND_MINUTES = "0.25"
"""The demo's reminder comes after 15 s (COC_CARE_REMIND_MINUTES takes decimals), so that the story shows it."""
APPROVE = "/approve\nThank you all: this says it more plainly and more kindly."
REJECT = "/reject This would make the Privacy section weaker; let's talk it through in that thread first."


class DemoFailed(Exception):
    """A step of the story did not happen; the message says which."""


def simulator_available() -> bool:
    """True if the `simulator` package beside `plugin/` can be run with `python -m simulator`."""
    spec = importlib.machinery.PathFinder.find_spec("simulator", [str(REPO_ROOT)])
    if spec is None or not spec.submodule_search_locations:
        return False
    return importlib.machinery.PathFinder.find_spec("__main__", list(spec.submodule_search_locations)) is not None


@dataclass
class Processes:
    """The processes of one demo run, stopped in reverse order."""

    redis: RedisRuntime
    workdir: Path
    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str], *, clock_offset: float = 0.0) -> subprocess.Popen:
        """Start `python ARGS` (`clock_offset`: on a clock moved by that many seconds, plugin/ops/demo_clock.py)."""
        log = (self.workdir / f"{name}.log").open("wb")
        if clock_offset:
            args = ["-m", "plugin.ops.demo_clock", repr(clock_offset), *args[1:]] if args[0] == "-m" else args
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append((name, process))
        return process

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for _name, process in reversed(self.processes):
            stop_process(process)
        self.redis.stop()


def run_demo(*, keep_open: bool | None = None, out: Callable[[str], None] = print) -> int:
    """Run the story; 0 if every step happened, 1 (with the reason) if one did not."""
    if not simulator_available():
        out("demo: simulator/ is not there: run the demo from a full checkout")
        return 1
    try:
        runtime = ensure_redis()
    except RedisUnavailable as exc:
        out(f"demo: no Redis could be found or started: {exc}")
        return 1
    processes = Processes(runtime, Path(tempfile.mkdtemp(prefix="coc-demo-")))
    try:
        story = Story(processes, out)
        story.run()
        if keep_open if keep_open is not None else sys.stdin.isatty():
            out(f"\nThe forum stays open at {story.sim_url}/ — press Enter (or Ctrl-C) to stop.")
            with contextlib.suppress(EOFError, KeyboardInterrupt):
                input()
        return 0
    except DemoFailed as exc:
        out(f"\ndemo FAILED: {exc}")
        return 1
    finally:
        processes.stop()


class Story:
    def __init__(self, processes: Processes, out: Callable[[str], None]):
        self.processes = processes
        self.out = out
        self.step_no = 0
        self.api_key = secrets.token_hex(16)
        self.sim_url = ""
        self.receiver_url = ""
        self.redis_url = url_with_db(processes.redis.url, DEMO_DB)
        self.env: dict[str, str] = {}
        self.week_start = monday_of_last_week()
        self.clock_offset = (self.week_start + STORY_STARTS - datetime.now(UTC)).total_seconds()
        """Seconds the forum's and the service's clocks are moved by, so that the story plays in last week."""

    # ------------------------------------------------------------------------------------------ plumbing

    def step(self, text: str) -> None:
        self.step_no += 1
        self.out(f"[{self.step_no:>2}] {text}")

    def command(self, *args: str, failed: str) -> subprocess.CompletedProcess[str]:
        """Run `python -m plugin <args>` as the operator would, against the demo's forum and Redis."""
        result = subprocess.run(
            [sys.executable, "-m", "plugin", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise DemoFailed(f"{failed}:\n{result.stdout}\n{result.stderr}")
        return result

    def wait(self, what: str, condition: Callable[[], Any], timeout: float = STEP_TIMEOUT, every: float = 0.1) -> Any:
        found: list[Any] = []

        def check() -> bool:
            value = condition()
            if value:
                found.append(value)
            return bool(value)

        if not wait_until(check, timeout=timeout, interval=every):
            logs = "\n".join(
                f"--- {name} log ---\n{self.processes.log_tail(name)}" for name in ("receiver", "worker-1", "simulator")
            )
            raise DemoFailed(f"{what} did not happen within {timeout:.0f} s.\n{logs}")
        return found[0]

    def client(self, username: str) -> DiscourseClient:
        return DiscourseClient(self.sim_url, api_username=username, api_key=self.api_key, timeout=10)

    def http(self, method: str, path: str, username: str = ADMIN, **kwargs: Any) -> Any:
        response = requests.request(
            method,
            self.sim_url + path,
            timeout=10,
            headers={"Api-Key": self.api_key, "Api-Username": username},
            **kwargs,
        )
        if response.status_code >= 400:
            raise DemoFailed(f"{method} {path} as {username} answered {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else {}

    def topic_by_external_id(self, external_id: str) -> dict | None:
        response = requests.get(
            f"{self.sim_url}/t/external_id/{external_id}.json",
            timeout=10,
            headers={"Api-Key": self.api_key, "Api-Username": ADMIN},
        )
        return response.json() if response.status_code == 200 else None

    # ------------------------------------------------------------------------------------------ the story

    def run(self) -> None:
        self.start_everything()
        self.install()
        self.community_arrives()
        document = self.topic_by_external_id(DOCUMENT_EXTERNAL_ID)
        if not document:
            raise DemoFailed("install did not create the living document")
        doc_topic = document["id"]
        self.conversation(doc_topic)
        first = self.backed_proposal(
            doc_topic,
            "alice",
            ("bob", "carol"),
            "Consent",
            "We ask before we share anything about another member, and we ask again if "
            "time has passed. A yes can become a no at any time.",
        )
        self.member_tries_to_decide(first)
        self.moderator_approves(first, doc_topic)
        second = self.backed_proposal(
            doc_topic, "frank", ("dave", "erin"), "Privacy", "What is shared here may be quoted anywhere on the forum."
        )
        self.moderator_rejects(second, "frank")
        erin = self.direct_support()
        self.care_follows_through(erin)
        figures = self.weekly_digest()
        self.settings_file_works(figures["week"])
        self.summary(first, second, figures)

    def start_everything(self) -> None:
        port = FORUM_PORT if port_is_free(HOST, FORUM_PORT) else free_port(HOST)
        self.sim_url = f"http://{HOST}:{port}"
        DATA_FILE.unlink(missing_ok=True)
        self.processes.start(
            "simulator",
            [
                "-m",
                "simulator",
                "--host",
                HOST,
                "--port",
                str(port),
                "--api-key",
                self.api_key,
                "--data",
                str(DATA_FILE),
                "--rate-limit",
                "600",
            ],
            dict(os.environ),
            clock_offset=self.clock_offset,
        )
        receiver_port = free_port(HOST)
        self.receiver_url = f"http://{HOST}:{receiver_port}"
        self.env = {
            **os.environ,
            "DISCOURSE_URL": self.sim_url,
            "DISCOURSE_API_KEY": self.api_key,
            "DISCOURSE_API_USERNAME": ADMIN,
            "DISCOURSE_WEBHOOK_SECRET": SECRET,
            "REDIS_URL": self.redis_url,
            "REDIS_SENTINELS": "",  # the demo's own Redis, even where Sentinels are configured
            "COC_REDIS_PREFIX": PREFIX,
            "COC_PUBLIC_URL": self.receiver_url,
            "COC_API_BUDGET_PER_MIN": "300",
            "COC_CARE_REMIND_MINUTES": REMIND_MINUTES,
            "COC_CARE_ESCALATE_MINUTES": "120",
        }
        write_env_file(ENV_FILE, self.env)
        connection = redis.Redis.from_url(self.redis_url)
        for key in [*connection.scan_iter(PREFIX + "*"), *connection.scan_iter("rq:*")]:
            connection.delete(key)  # the demo's own database: start from nothing
        self.processes.start(
            "receiver",
            ["-m", "plugin", "serve", "--host", HOST, "--port", str(receiver_port), "--workers", "1"],
            self.env,
            clock_offset=self.clock_offset,
        )
        for n in (1, 2):
            self.processes.start(f"worker-{n}", ["-m", "plugin", "worker"], self.env, clock_offset=self.clock_offset)
        self.wait("the forum simulator answering", lambda: ok(self.sim_url + "/site.json"))
        self.wait("the webhook receiver answering", lambda: ok(self.receiver_url + "/readyz"))
        self.step(
            f"started: forum simulator {self.sim_url}, receiver {self.receiver_url}, 2 workers, "
            f"Redis ({self.processes.redis.source})"
        )

    def install(self) -> None:
        result = self.command("install", failed="install failed")
        created = sum(1 for line in result.stdout.splitlines() if line.startswith("created"))
        self.step(
            f"installed on the forum: {created} things created (bot, groups, tags, the drafts and Code of Care "
            "categories, the living document, webhook)"
        )

    def community_arrives(self) -> None:
        for username, name in MEMBERS.items():
            self.http(
                "POST",
                "/users.json",
                data={
                    "username": username,
                    "name": name,
                    "active": "true",
                    "email": f"{username}@example.invalid",
                    "password": secrets.token_hex(12),
                },
            )
        users = {u: self.http("GET", f"/u/{u}.json")["user"]["id"] for u in MEMBERS}
        # The story plays these members at machine speed; their own pace is not what the demo shows, so the
        # simulator's test-only /_sim/ route exempts them from Discourse's per-user rate limits (simulator/limits.py).
        # The service's own account is never exempted: it meets every limit Discourse would apply to it.
        response = requests.post(f"{self.sim_url}/_sim/scripted_members", json={"usernames": list(MEMBERS)}, timeout=10)
        if response.status_code != 200:
            raise DemoFailed(f"marking the scripted members answered {response.status_code}: {response.text[:300]}")
        self.http("PUT", f"/admin/users/{users['sam']}/grant_moderation.json")
        for group, members in (("peer-support", ["pat"]), ("coc-credit", ["alice", "bob"])):
            group_id = self.http("GET", f"/groups/{group}.json")["group"]["id"]
            self.http("PUT", f"/groups/{group_id}/members.json", data={"usernames": ",".join(members)})
        self.step(
            f"{len(MEMBERS)} members joined: sam is a moderator, pat is on the peer-support team, "
            "alice and bob chose to be credited by name"
        )

    def conversation(self, doc_topic: int) -> None:
        lines = [
            ("bob", "Reading this together helps. I like that care comes before rules here."),
            ("carol", "Could we say more about what repair looks like after harm? That part feels thin."),
            ("dave", "Thank you for writing this; it is the first code I have read that sounds like people."),
        ]
        posts = [self.client(who).create_post(raw, topic_id=doc_topic) for who, raw in lines]
        self.http("POST", "/post_actions.json", "erin", data={"id": posts[1]["id"], "post_action_type_id": 2})
        asked = self.client("carol").create_post(
            "When you write about something heavy, how do you word the content note at the top? I'd like to get it "
            "right for the people reading.",
            title="How do you word a content note?",
        )
        self.client("frank").create_post(
            "I name the topic in a few plain words, then leave a blank line before the post begins.",
            topic_id=asked["topic_id"],
        )
        self.step("members reply on the Code of Care thread, like each other's replies, and answer a new topic")

    def backed_proposal(self, doc_topic: int, proposer: str, backers: tuple[str, str], section: str, text: str) -> dict:
        post = self.client(proposer).create_post(
            f'I would like to change this section:\n\n[amend section="{section}"]\n{text}\n[/amend]',
            topic_id=doc_topic,
        )
        for who in backers:
            self.http("POST", "/post_actions.json", who, data={"id": post["id"], "post_action_type_id": 2})
        key = amendment_id(post["id"], 1)
        draft = self.wait(f"the draft topic {key}", lambda: self.topic_by_external_id(key))
        self.step(
            f"{proposer} proposed new wording for {section}; {' and '.join(backers)} liked it → draft topic "
            f'{draft["id"]} "{draft["title"]}"'
        )
        return {"post": post, "key": key, "draft": draft, "section": section}

    def bot_replies(self, topic_id: int) -> list[dict]:
        posts = self.http("GET", f"/t/{topic_id}.json")["post_stream"]["posts"]
        return [p for p in posts if p["username"] == BOT and p["post_number"] > 1]

    def member_tries_to_decide(self, proposal: dict) -> None:
        draft = proposal["draft"]["id"]
        self.client("dave").create_post("/approve\nI really want this one to pass!", topic_id=draft)
        self.wait("the kind answer to dave's /approve", lambda: self.bot_replies(draft))
        self.step("dave (not a moderator) wrote /approve → ignored, and answered kindly: only a moderator decides")

    def moderator_decides(self, proposal: dict, raw: str, tag: str) -> None:
        """sam replies with a command in the draft; wait until the draft is closed and tagged with the outcome."""
        draft = proposal["draft"]["id"]
        self.client("sam").create_post(raw, topic_id=draft)

        def decided() -> bool:
            topic = self.http("GET", f"/t/{draft}.json")
            return topic.get("closed") and tag in read_tags(topic.get("tags"))

        self.wait(f"the draft {draft} closed and tagged {tag}", decided)

    def moderator_approves(self, proposal: dict, doc_topic: int) -> None:
        self.moderator_decides(proposal, APPROVE, TAG_APPROVED)
        first_post = self.http("GET", f"/t/{doc_topic}.json")["post_stream"]["stream"][0]
        revision = self.http("GET", f"/posts/{first_post}/revisions/latest.json")
        self.step(
            f"sam approved → the Code's {proposal['section']} section changed (revision "
            f'"{revision.get("edit_reason") or "latest"}"); the draft is tagged coc-approved and closed'
        )

    def moderator_rejects(self, proposal: dict, proposer: str) -> None:
        self.moderator_decides(proposal, REJECT, TAG_REJECTED)
        self.step(
            f"sam rejected {proposal['section']} with a reason → tagged coc-rejected, closed, and {proposer} "
            "was told privately why"
        )

    def direct_support(self) -> dict:
        post = self.client("erin").create_post(
            "This week was a lot. I'm not sure I'm okay, and I would like direct support if someone has time.",
            title="Having a hard week, checking in",
        )
        wanted = care_message_ids(post["id"])
        self.wait("both care messages", lambda: all(self.topic_by_external_id(i) for i in wanted), timeout=30)
        self.step(
            "erin asked for direct support → the peer-support team and erin each got one private message "
            "(the team's links to the post, never copies it)"
        )
        return post

    def care_follows_through(self, asked: dict) -> None:
        team_id, member_id = care_message_ids(asked["id"])
        team = self.wait("the team's conversation", lambda: self.topic_by_external_id(team_id))["id"]
        member = self.wait("erin's conversation", lambda: self.topic_by_external_id(member_id))["id"]
        self.client("erin").create_post(
            "Thank you. Evenings are the hardest; a message tomorrow would help.", topic_id=member
        )
        self.wait("erin's words in the team's conversation", lambda: self.said(team, relay_marker(1)), every=1.0)
        self.step("erin answered in her conversation → her words reached the team's conversation, and only it")
        self.client("pat").create_post(
            "I know Erin from the book club. I'll write to her tomorrow morning.", topic_id=team
        )
        self.wait("erin told who will write", lambda: self.said(member, PICKUP_MARKER), every=1.0)
        self.step(
            "pat answered in the team's conversation → the request is picked up, and erin was told pat will write"
        )
        other = self.client("gina").create_post(
            "Could someone reach out? I'd like direct support, no rush.",
            title="Could someone reach out to me?",
        )
        other_team = care_message_ids(other["id"])[0]
        other_topic = self.wait("the team's second conversation", lambda: self.topic_by_external_id(other_team))["id"]
        self.wait("the reminder", lambda: self.said(other_topic, REMINDER_MARKER), timeout=90, every=1.0)
        self.step(
            f"gina asked too, and nobody picked it up within COC_CARE_REMIND_MINUTES ({REMIND_MINUTES}) → one "
            "reminder in the team's conversation"
        )
        self.client("pat").create_post("/done — Erin and I talked; she is okay for now.", topic_id=team)
        self.wait("the request closed", lambda: self.said(team, CLOSED_MARKER), every=1.0)
        self.step("pat wrote /done → erin's request is closed (`python -m plugin care` lists what is still open)")

    def said(self, topic_id: int, words: str) -> bool:
        """Whether the bot's posts in a topic hold `words` (as the forum shows them)."""
        posts = self.http("GET", f"/t/{topic_id}/posts.json")["post_stream"]["posts"]
        return any(p["username"] == BOT and words in p["cooked"] for p in posts)

    def weekly_digest(self) -> dict:
        week = iso_week(self.week_start)
        self.command("digest", "--week", week, failed="the digest command failed")
        digest = self.wait(
            f"the digest topic {digest_external_id(week)}", lambda: self.topic_by_external_id(digest_external_id(week))
        )
        first = self.http("GET", f"/posts/{digest['post_stream']['stream'][0]}.json")
        if "upload://" not in first["raw"]:
            raise DemoFailed("the digest has no chart")
        self.step(f'the weekly digest for {week} is posted: topic {digest["id"]} "{digest["title"]}", with its chart')
        return {"week": week, "topic": digest["id"], "raw": first["raw"]}

    def settings_file_works(self, week: str) -> None:
        """The operator's commands, run with the settings file the demo wrote, as its last lines tell a person to."""
        shown = self.command("--env-file", str(ENV_FILE), "stats", "--week", week, failed="stats with demo.env failed")
        if "likes given" not in shown.stdout:
            raise DemoFailed(f"stats --env-file {ENV_FILE.name} printed no figures:\n{shown.stdout}")
        self.step(f"`python -m plugin --env-file {ENV_FILE.name} stats --week {week}` reads the same figures")

    def summary(self, first: dict, second: dict, digest: dict) -> None:
        port = self.sim_url.rsplit(":", 1)[1]
        self.out("")
        self.out("Summary")
        self.out(f'  drafted:  "{first["draft"]["title"]}" and "{second["draft"]["title"]}"')
        self.out(f"  applied:  {first['section']} (approved by sam); rejected: {second['section']}")
        self.out("  care:     2 requests → peer-support and the members, privately; erin's reply relayed, picked up by")
        self.out("            pat (erin told who), closed with /done; gina's reminded once")
        figures = [line.strip() for line in digest["raw"].splitlines() if line.startswith("|") and "---" not in line]
        self.out(f"  digest:   {digest['week']}, topic {digest['topic']}")
        for line in figures[:8]:
            self.out(f"            {line}")
        self.out(
            f"\nSee it in the forum: {self.sim_url}/  (the draft, the changed Code with its revision, the "
            "digest with its chart)"
        )
        self.out(
            f"Browse it again later: .venv/bin/python -m simulator --port {port} --api-key {self.api_key} "
            f"--data {DATA_FILE.name}   then open {self.sim_url}/"
        )
        self.out(
            f"The service's settings are in {ENV_FILE.name}: with the forum open, try "
            f".venv/bin/python -m plugin --env-file {ENV_FILE.name} stats --week {digest['week']}"
        )


SERVICE_SETTINGS = (
    "DISCOURSE_URL",
    "DISCOURSE_API_KEY",
    "DISCOURSE_API_USERNAME",
    "DISCOURSE_WEBHOOK_SECRET",
    "REDIS_URL",
    "REDIS_SENTINELS",
    "COC_REDIS_PREFIX",
    "COC_PUBLIC_URL",
    "COC_API_BUDGET_PER_MIN",
    "COC_CARE_REMIND_MINUTES",
    "COC_CARE_ESCALATE_MINUTES",
)
"""The settings the demo gives the service (the rest are the defaults)."""


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """Save the demo's settings as a dotenv file (the demo's own forum and Redis; a throwaway key)."""
    lines = [
        "# The settings `python -m plugin demo` ran the service with: the demo's forum simulator and Redis.",
        "# Use them while the demo's forum is open (or reopened as the demo's last lines say):",
        "#   .venv/bin/python -m plugin --env-file demo.env doctor",
    ]
    lines += [f"{name}={env.get(name, '')}" for name in SERVICE_SETTINGS]
    path.write_text("\n".join(lines) + "\n")


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on `host:port` now (the demo's preferred forum address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def monday_of_last_week(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday - timedelta(days=7)
