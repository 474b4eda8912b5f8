"""Rebuilding the service's state in Redis from the forum alone (`python -m plugin rebuild`).

Redis holds a cache and an index of what the forum holds (plugin/store.py), so after Redis lost its data — or to
check it — the state is made again by replaying the forum's public posts through the same handlers as webhooks
(worker/feedback.py), oldest first, and reading the outcome of every effect back from the forum instead of making
it again. Nothing is posted, edited or sent while rebuilding.

Five phases, each resumable: the cursor (`Keys.rebuild_cursor`) records the phase and how far it got, after every
forum call, so a rebuild stopped by the API budget, a crash or Ctrl-C goes on from there when run again.
1. `read`: every public post, newest first, 50 a page (`GET /posts.json?before=`), kept in Redis for the next phases;
2. `topics`: each topic's tags, category and title (`GET /t/{id}.json`, one call per topic);
3. `replay`: each post as `post_created`, then its likes (`GET /post_action_users.json`, one call per liked post;
   a like counts in the week of the post it likes: a like carries no time of its own); a care post is taken out
   of everything public, as the care job does, and its messages are marked sent;
4. `decisions`: each amendment's draft topic, found by its `external_id`, gives its status: drafted, and, once
   closed, its tags and the service's last reply (to the deciding command) say how it was decided and by whom;
   the replies and messages that decision made are marked made;
5. `done`: the per-section version counts are taken from the applied amendments; proposals with enough support
   that have no draft yet get their draft job, as a like arriving now would give them.

Equal to the state built from webhooks (`Store.snapshot`; a test proves it), except what no listing shows:
deleted posts, private messages and whispers (never feedback anyway), and edits made while a care post said
"direct support" and no longer says it.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from plugin.adapters.forum import LATEST_POSTS_PAGE, ForumError
from plugin.adapters.living_document import cache_document, find_document
from plugin.domain.amendments import APPLIED, DRAFTED, OPEN, Amendment
from plugin.domain.document import parse_document
from plugin.domain.engagement import parse_time
from plugin.domain.events import Delivery, LikeEvent, Post, PostEvent, Topic, TopicEvent
from plugin.domain.names import care_effects, problems_effect
from plugin.domain.readback import draft_found, last_word, read_decision
from plugin.domain.safety import is_service
from plugin.queues import JOB_ANSWER_PROBLEMS, QUEUE_CARE, QUEUE_DRAFTS
from worker import care, feedback
from worker.reports import RebuildReport
from worker.services import Services

PHASES = ("read", "topics", "replay", "decisions", "done")
Progress = Callable[[str, int, int | None], None]
"""Told (phase, done, total or None) after each step."""
SOURCE = "rebuild"
"""The made-up deliveries' source (`Delivery.synthetic`)."""


class Replaying(Services):
    """The worker's services, except that the jobs a replayed event would enqueue are not run: their outcome is
    read back from the forum (phase `decisions`), never made again."""

    def enqueue(self, queue: str, func: str, *args: Any, job_id: str) -> None:
        if func == JOB_ANSWER_PROBLEMS:
            post_id, _, _, messages = args
            self.store.mark_done(problems_effect(post_id, len(messages)))


def rebuild(s: Services, *, progress: Progress | None = None) -> RebuildReport:
    """Run (or resume) a rebuild; Throttled when the API budget is spent (run it again to go on)."""
    replaying = Replaying(s.settings, s.connection)
    replaying.forum = s.forum  # one adapter (and its budget) for the whole rebuild
    cursor = Cursor(s)
    tell = progress or (lambda phase, done, total: None)
    if cursor.phase == "read":
        _document(s)
        _read(s, cursor, tell)
    posts = s.store.rebuild_posts()
    if cursor.phase == "topics":
        _topics(replaying, cursor, posts, tell)
    if cursor.phase == "replay":
        _replay(replaying, cursor, posts, tell)
    topics = len({p.topic_id for p in posts.values()})
    report = RebuildReport(posts=len(posts), topics=topics, likes=cursor.get("likes"))
    if cursor.phase == "decisions":
        _decisions(replaying, cursor, tell)
    report.drafts_enqueued = _finish(s, posts)
    report.amendments = Counter(a.status for a in s.store.all_amendments())
    cursor.clear()
    return report


class Cursor:
    """How far a rebuild got: its phase and a position within it, in one Redis hash."""

    def __init__(self, s: Services):
        self.s = s
        self.state = s.store.rebuild_cursor()
        if "phase" not in self.state:
            self.state = {"phase": "read"}
            self.save()
        self.phase = self.state["phase"]

    def get(self, name: str) -> int:
        return int(self.state.get(name) or 0)

    def save(self, **values: Any) -> None:
        self.state.update({k: str(v) for k, v in values.items()})
        self.s.store.save_rebuild_cursor(self.state)

    def next_phase(self) -> None:
        self.phase = PHASES[PHASES.index(self.phase) + 1]
        self.save(phase=self.phase, at=0)

    def clear(self) -> None:
        self.s.store.forget_rebuild()


def _document(s: Services) -> None:
    """The living document, from the forum (its post is the text; Redis only caches it)."""
    document = find_document(s.settings, s.forum)
    if document is None:
        raise ForumError(
            "the forum has no living document (COC_DOCUMENT_TOPIC_ID, or a topic with external_id "
            "coc-document): run `python -m plugin install` first"
        )
    cache_document(s.store, s.forum, document)


def _read(s: Services, cursor: Cursor, tell: Progress) -> None:
    before = cursor.get("at") or None
    read = s.store.rebuild_posts_count()
    while True:
        page = s.forum.latest_posts(before=before)
        if page:
            s.store.keep_rebuild_posts(page)
            before = min(p.id for p in page)
            read += len(page)
            cursor.save(at=before)
            tell("read", read, None)
        if len(page) < LATEST_POSTS_PAGE:
            break
    cursor.next_phase()


def _topics(s: Services, cursor: Cursor, posts: dict[int, Post], tell: Progress) -> None:
    topic_ids = sorted({p.topic_id for p in posts.values()})
    done = cursor.get("at")
    for n, topic_id in enumerate(topic_ids):
        if topic_id <= done:
            continue
        view = s.forum.topic(topic_id)
        feedback.on_event(s, TopicEvent(Delivery.synthetic(SOURCE, "topic_created", "topic"), topic=view.topic))
        cursor.save(at=topic_id)
        tell("topics", n + 1, len(topic_ids))
    cursor.next_phase()


def _replay(s: Services, cursor: Cursor, posts: dict[int, Post], tell: Progress) -> None:
    ordered = sorted(posts)
    done, likes = cursor.get("at"), cursor.get("likes")
    for n, post_id in enumerate(ordered):
        if post_id <= done:
            continue
        post = posts[post_id]
        event = PostEvent(Delivery.synthetic(SOURCE, "post_created", "post"), post=post)
        if s.store.is_care_post(post.id):
            pass  # once a care post, never counted (as handle_event does)
        elif s.intake.route(event) == QUEUE_CARE:  # what the receiver sends to the care team
            care.forget(s, post)
            for key in care_effects(post.id):
                s.store.mark_done(key)
        else:
            feedback.on_event(s, event)
            likes += _replay_likes(s, post)
        cursor.save(at=post_id, likes=likes)
        tell("replay", n + 1, len(ordered))
    cursor.next_phase()


def _replay_likes(s: Services, post: Post) -> int:
    """Replay a post's likes (one call if it has any), in the week of the post: a like carries no time of its own.
    Returns how many were replayed."""
    if not post.like_count:
        return 0
    s.engagement.clock = partial(parse_time, post.created_at)
    replayed = 0
    for liker_id, name in s.forum.likes(post.id):
        if not is_service(name, s.settings.bot_username):
            delivery = Delivery.synthetic(SOURCE, "post_liked", "like")
            feedback.on_event(s, LikeEvent(delivery, post=post, liker_id=liker_id, liker_username=name))
            replayed += 1
    return replayed


def _decisions(s: Services, cursor: Cursor, tell: Progress) -> None:
    amendments = s.store.all_amendments()
    done = cursor.state.get("at_id", "")
    for n, amendment in enumerate(amendments):
        if amendment.id <= done or amendment.status != OPEN:
            continue
        topic = s.forum.topic_by_external_id(amendment.id, as_admin=True)
        if topic is not None:
            s.store.save_amendment(_decided(s, amendment, topic.topic))
        cursor.save(at_id=amendment.id)
        tell("decisions", n + 1, len(amendments))
    cursor.next_phase()


def _decided(s: Services, amendment: Amendment, topic: Topic) -> Amendment:
    """The amendment as its draft topic shows it: drafted; once closed, decided by the command the service's last
    reply answers (the decision is the service's last word before it closes the topic); the effects the forum shows
    made are marked done (plugin.domain.readback decides)."""
    if not topic.closed:
        return draft_found(amendment, topic)
    word = last_word(s.forum.recent_posts(topic.id), s.settings.bot_username)
    if word is None:
        return draft_found(amendment, topic)
    for effect in word.refusals:  # the kind answers to members who may not decide
        s.store.mark_done(effect)
    reading = read_decision(amendment, topic, word, s.forum.post(word.command.id).raw)
    for effect in reading.done:
        s.store.mark_done(effect)
    return reading.amendment


def _finish(s: Services, posts: dict[int, Post]) -> int:
    """Section versions from the applied amendments; a proposal made before its section was changed by another
    amendment is marked superseded (its approval will be stale, as it would have been); draft jobs for
    well-supported proposals not yet drafted."""
    amendments = s.store.all_amendments()
    changes = [(a.history[-1].split(" ", 1)[0], a) for a in amendments if a.status == APPLIED]
    for a in amendments:
        proposed_at = posts[a.post_id].created_at if a.post_id in posts else ""
        later = [c.id for at, c in changes if c.section_slug == a.section_slug and c.id != a.id and at > proposed_at]
        if a.status in (OPEN, DRAFTED) and later:
            s.store.save_amendment(replace(a, base_fingerprint=f"superseded-by-{later[0]}"))
    amendments = s.store.all_amendments()
    document = s.store.document()
    if document:
        versions = {section.slug: 1 for section in parse_document(document["raw"]).sections}
        for a in amendments:
            if a.status == APPLIED:
                versions[a.section_slug] = versions.get(a.section_slug, 1) + 1
        s.store.set_section_versions(versions)
    drafts = s.queue(QUEUE_DRAFTS)
    before = drafts.count
    for a in amendments:
        if a.status == OPEN:
            feedback.consider_draft(s, a.id)
    return drafts.count - before


def print_progress(phase: str, done: int, total: int | None) -> None:
    """A one-line progress bar on stderr: `replay [#######.............] 35% 700/2000`."""
    if total:
        filled = int(20 * done / total)
        line = f"{phase:<9} [{'#' * filled}{'.' * (20 - filled)}] {100 * done // total:3d}% {done}/{total}"
    else:
        line = f"{phase:<9} {done} read"
    print(f"\r{line}", end="" if done != total else "\n", file=sys.stderr, flush=True)
