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
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import cached_property, partial
from typing import Any

from plugin.adapters.data_explorer import DataExplorer
from plugin.adapters.engagement_store import Engagement
from plugin.adapters.forum import LATEST_POSTS_PAGE, LATEST_TOPICS_PAGE, TOPIC_CHUNK, ForumError, ReceivedLike
from plugin.adapters.living_document import cache_document, find_document
from plugin.domain.amendments import APPLIED, DRAFTED, OPEN, Amendment, reaches_threshold
from plugin.domain.decisions import seen_support
from plugin.domain.document import parse_document
from plugin.domain.engagement import parse_time
from plugin.domain.events import POST_REGULAR, Delivery, Event, LikeEvent, Post, PostEvent, Topic, TopicEvent
from plugin.domain.names import TAG_CODE_OF_CARE, care_effects, problems_effect
from plugin.domain.readback import draft_found, last_word, proposes, read_decision, window_start
from plugin.domain.safety import is_service
from plugin.queues import JOB_ANSWER_PROBLEMS, QUEUE_CARE, QUEUE_DRAFTS
from worker import care, feedback
from worker.reports import RebuildReport
from worker.services import Services

PHASES = ("read", "code_of_care", "topics", "replay", "likes", "decisions", "done")
DATA_EXPLORER, API = "data-explorer", "api"
"""How a rebuild reads: the forum's Data Explorer where it runs the saved queries, else the API."""
EXPLORED_TOPICS = 1000
"""Topic ids asked of Data Explorer at a time (one call, the ids in its parameters)."""
Progress = Callable[[str, int, int | None], None]
"""Told (phase, done, total or None) after each step."""
SOURCE = "rebuild"
"""The made-up deliveries' source (`Delivery.synthetic`)."""


class WindowEngagement(Engagement):
    """Engagement that files nothing from before the window: a rebuild replays older Code of Care posts, and the
    likes of older open proposals, for the proposals' sake only (their weeks' figures are frozen, or compacted)."""

    since: float = 0.0

    def record(self, event: Event) -> None:
        if isinstance(event, LikeEvent):
            when = self.clock()  # the like's own time (the replay sets the clock to it)
        elif isinstance(event, PostEvent):
            when = parse_time(event.post.created_at)
        else:
            when = self.since  # a topic: listed when its posts are
        if when >= self.since:
            super().record(event)


class Replaying(Services):
    """The worker's services, except that the jobs a replayed event would enqueue are not run: their outcome is
    read back from the forum (phase `decisions`), never made again; and nothing before the window is counted."""

    @cached_property
    def engagement(self) -> Engagement:
        return WindowEngagement(self.connection, self.keys, bot_username=self.settings.bot_username)

    def enqueue(self, queue: str, func: str, *args: Any, job_id: str) -> None:
        if func == JOB_ANSWER_PROBLEMS:
            post_id, _, _, messages = args
            self.store.mark_done(problems_effect(post_id, len(messages)))


def rebuild(s: Services, *, progress: Progress | None = None, now: float | None = None) -> RebuildReport:
    """Run (or resume) a rebuild of the window ending with the week of `now`; Throttled when the API budget is
    spent (run it again to go on)."""
    replaying = Replaying(s.settings, s.connection)
    replaying.forum = s.forum  # one adapter (and its budget) for the whole rebuild
    cursor = Cursor(s)
    since = float(
        cursor.state.get("since") or window_start(time.time() if now is None else now, s.settings.window_weeks)
    )
    cursor.save(since=since)
    assert isinstance(replaying.engagement, WindowEngagement)
    replaying.engagement.since = since
    tell = progress or (lambda phase, done, total: None)
    explorer = _explorer(s, cursor)
    if cursor.phase == "read":
        _document(s)
        if explorer is not None:
            _read_explored(s, explorer, cursor, tell, since)
        else:
            _read(s, cursor, tell, since)
    if cursor.phase == "code_of_care":
        _code_of_care(s, cursor, tell)
    posts = s.store.rebuild_posts()
    if cursor.phase == "topics":
        _topics(replaying, cursor, posts, tell, explorer)
    if cursor.phase == "replay":
        _replay(replaying, cursor, posts, tell)
    if cursor.phase == "likes":
        if explorer is not None:
            _likes_explored(replaying, explorer, cursor, posts, tell, since)
        else:
            _likes(replaying, cursor, posts, tell, since)
    topics = len({p.topic_id for p in posts.values()})
    report = RebuildReport(posts=len(posts), topics=topics, likes=cursor.get("likes"), via=cursor.state["via"])
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


def _read(s: Services, cursor: Cursor, tell: Progress, since: float) -> None:
    """The public posts of the window, newest first, 50 a call, down to the first one older than the window."""
    before = cursor.get("at") or None
    read = s.store.rebuild_posts_count()
    while True:
        page = s.forum.latest_posts(before=before)
        recent = [p for p in page if parse_time(p.created_at) >= since]
        if recent:
            s.store.keep_rebuild_posts(recent)
            read += len(recent)
        if page:
            before = min(p.id for p in page)
            cursor.save(at=before)
            tell("read", read, None)
        if len(page) < LATEST_POSTS_PAGE or len(recent) < len(page):
            break
    cursor.next_phase()


def _explorer(s: Services, cursor: Cursor) -> DataExplorer | None:
    """The forum's Data Explorer, where it runs the service's saved queries (asked once per rebuild: the answer is
    kept in the cursor, so a resumed rebuild reads the same way)."""
    if "via" not in cursor.state:
        explorer = DataExplorer(s.forum)
        cursor.save(via=DATA_EXPLORER if explorer.available() else API)
    return DataExplorer(s.forum) if cursor.state["via"] == DATA_EXPLORER else None


def _read_explored(s: Services, explorer: DataExplorer, cursor: Cursor, tell: Progress, since: float) -> None:
    """The public posts of the window in pages of 10,000 (Data Explorer), with the proposals of the Code of Care's
    topics whatever their age; and each member's first public post, for "first post ever", whatever its age."""
    read = explorer.posts(datetime.fromtimestamp(since, UTC), _code_of_care_topics(s))
    posts = [p for p in read if parse_time(p.created_at) >= since or proposes(p)]  # older: the proposals only
    for start in range(0, len(posts), LATEST_POSTS_PAGE * 20):
        s.store.keep_rebuild_posts(posts[start : start + LATEST_POSTS_PAGE * 20])
    tell("read", len(posts), None)
    firsts = explorer.run("first_posts")
    s.engagement.seed_contributors(
        (str(row["username"]), str(row["first_post_at"])) for row in firsts if row["first_post_at"] is not None
    )
    cursor.next_phase()
    cursor.next_phase()  # the Code of Care's older proposals came with the posts


def _code_of_care(s: Services, cursor: Cursor, tell: Progress) -> None:
    """The proposals older than the window, whatever their age: in the document's topic and the topics tagged
    `code-of-care`, each topic's posts the window left out are listed (20 a call, their HTML), and those that may
    hold an `[amend]` block are read whole (1 call each)."""
    topic_ids = _code_of_care_topics(s)
    kept = set(s.store.rebuild_posts())
    done = cursor.get("at")
    for n, topic_id in enumerate(topic_ids):
        if n < done:
            continue
        older = [i for i in s.forum.topic(topic_id).stream if i not in kept]
        for start in range(0, len(older), TOPIC_CHUNK):
            listed = s.forum.topic_posts(topic_id, older[start : start + TOPIC_CHUNK], cooked=True)
            whole = [s.forum.post(p.id) for p in listed if proposes(p)]
            if whole:
                s.store.keep_rebuild_posts(whole)
        cursor.save(at=n + 1)
        tell("code of care", n + 1, len(topic_ids))
    cursor.next_phase()


def _code_of_care_topics(s: Services) -> list[int]:
    """The document's topic and the topics tagged `code-of-care` (one call per 30 of them)."""
    document = s.store.document()
    return list(
        dict.fromkeys([*([document["topic_id"]] if document else []), *s.forum.tagged_topic_ids(TAG_CODE_OF_CARE)])
    )


def _topics(
    s: Services, cursor: Cursor, posts: dict[int, Post], tell: Progress, explorer: DataExplorer | None = None
) -> None:
    """Each topic's tags, category and title, from topic lists: 100 topics a call (Data Explorer: 10,000)."""
    topic_ids = sorted({p.topic_id for p in posts.values()})
    done = cursor.get("at")
    todo = [i for i in topic_ids if i > done]
    chunk_size = LATEST_TOPICS_PAGE if explorer is None else EXPLORED_TOPICS
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start : start + chunk_size]
        topics = s.forum.topics_by_ids(chunk) if explorer is None else explorer.topics(chunk)
        for topic in topics:
            feedback.on_event(s, TopicEvent(Delivery.synthetic(SOURCE, "topic_created", "topic"), topic=topic))
        cursor.save(at=chunk[-1])
        tell("topics", len(topic_ids) - len(todo) + start + len(chunk), len(topic_ids))
    cursor.next_phase()


def _replay(s: Services, cursor: Cursor, posts: dict[int, Post], tell: Progress) -> None:
    ordered = sorted(posts)
    done = cursor.get("at")
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
        cursor.save(at=post_id)
        tell("replay", n + 1, len(ordered))
    cursor.next_phase()


def _likes(s: Services, cursor: Cursor, posts: dict[int, Post], tell: Progress, since: float) -> None:
    """The likes of the window, each in the week it was given: every author's likes received since the window
    began (`GET /user_actions.json`, 100 a call, newest first, one author at a time); then the likes of the open
    proposals older than the window (one call each), for their support only."""
    authors: dict[str, Post] = {}
    for post in posts.values():
        if not is_service(post.username, s.settings.bot_username):
            authors.setdefault(post.username.lower(), post)
    names = sorted(authors)
    done, likes = cursor.get("at"), cursor.get("likes")
    since_iso = datetime.fromtimestamp(since, UTC).isoformat().replace("+00:00", "Z")
    for n, name in enumerate(names):
        if n < done:
            continue
        for like in reversed(s.forum.likes_received(authors[name].username, since_iso)):  # oldest first
            post = posts.get(like.post_id) or _received_liked_post(like, authors[name])
            if (
                like.private
                or s.store.is_care_post(post.id)
                or is_service(like.liker_username, s.settings.bot_username)
            ):
                continue
            likes += _replay_like(s, post, like.liker_id, like.liker_username, at=like.created_at)
        cursor.save(at=n + 1, likes=likes)
        tell("likes", n + 1, len(names))
    _older_proposals_likes(s, posts, since)
    cursor.next_phase()


def _older_open_proposals(s: Services, posts: dict[int, Post], since: float) -> list[int]:
    """The posts of the open proposals older than the window."""
    return sorted(
        {
            a.post_id
            for a in s.store.all_amendments()
            if a.status == OPEN and a.post_id in posts and parse_time(posts[a.post_id].created_at) < since
        }
    )


def _older_proposals_likes(s: Services, posts: dict[int, Post], since: float) -> None:
    """The likers of the open proposals older than the window (one call each): for their support only (a like
    given before the window counts in no figure)."""
    for post_id in _older_open_proposals(s, posts, since):
        for liker_id, liker in s.forum.likes(post_id):
            if not is_service(liker, s.settings.bot_username):
                _replay_like(s, posts[post_id], liker_id, liker, at=posts[post_id].created_at)


def _likes_explored(
    s: Services, explorer: DataExplorer, cursor: Cursor, posts: dict[int, Post], tell: Progress, since: float
) -> None:
    """The likes given since the window began, each in its week (Data Explorer, 10,000 a call: likes taken back
    since are counted too, as their webhooks were); then the likes of older open proposals, as through the API."""
    older = _older_open_proposals(s, posts, since)  # all their likes come along, for their support
    extra: dict[str, object] = {"post_ids": older} if older else {}
    rows = explorer.run("likes", since=datetime.fromtimestamp(since, UTC), **extra)
    given = sorted(
        (r for r in rows if parse_time(str(r["created_at"])) >= since or int(r["post_id"]) in older),
        key=lambda r: str(r["created_at"]),
    )
    likes = 0
    for row in given:
        post = posts.get(int(row["post_id"])) or _explored_liked_post(row)
        liker = str(row.get("username") or "")
        if s.store.is_care_post(post.id) or is_service(liker, s.settings.bot_username):
            continue
        likes += _replay_like(s, post, int(row["user_id"]), liker, at=str(row["created_at"]))
    cursor.save(likes=likes)
    tell("likes", len(given), len(given))
    cursor.next_phase()


def _explored_liked_post(row: dict[str, Any]) -> Post:
    """A post older than the window that was liked within it, as the likes query tells of it."""
    category = None if row.get("category_id") is None else int(row["category_id"])
    return liked_post(
        int(row["post_id"]),
        int(row["topic_id"]),
        int(row["post_number"]),
        POST_REGULAR,
        category,
        user_id=int(row.get("post_user_id") or 0),
        username=str(row.get("post_username") or ""),
    )


def _received_liked_post(like: ReceivedLike, by: Post) -> Post:
    """A post older than the window that was liked within it, as `/user_actions.json` tells of it (its author is
    `by`'s, a post of theirs in the window)."""
    return liked_post(
        like.post_id,
        like.topic_id,
        like.post_number,
        like.post_type,
        like.category_id,
        user_id=by.user_id,
        username=by.username,
    )


def liked_post(
    post_id: int,
    topic_id: int,
    post_number: int,
    post_type: int,
    category_id: int | None,
    *,
    user_id: int,
    username: str,
) -> Post:
    """A post known only through a like given to it within the window (older than the window, so never read):
    enough for the like to count, in its week."""
    return Post(
        id=post_id,
        topic_id=topic_id,
        post_number=post_number,
        user_id=user_id,
        username=username,
        post_type=post_type,
        created_at="",
        updated_at="",
        version=1,
        raw="",
        category_id=category_id,
    )


def _replay_like(s: Services, post: Post, liker_id: int, liker: str, *, at: str) -> int:
    s.engagement.clock = partial(parse_time, at)
    feedback.on_event(
        s,
        LikeEvent(Delivery.synthetic(SOURCE, "post_liked", "like"), post=post, liker_id=liker_id, liker_username=liker),
    )
    return 1


def _decisions(s: Services, cursor: Cursor, tell: Progress) -> None:
    amendments = s.store.all_amendments()
    done = cursor.state.get("at_id", "")
    for n, amendment in enumerate(amendments):
        if amendment.id <= done or amendment.status != OPEN or not _may_have_a_draft(s, amendment):
            continue
        topic = s.forum.topic_by_external_id(amendment.id, as_admin=True)
        if topic is not None:
            s.store.save_amendment(_decided(s, amendment, topic.topic))
        cursor.save(at_id=amendment.id)
        tell("decisions", n + 1, len(amendments))
    cursor.next_phase()


def _may_have_a_draft(s: Services, amendment: Amendment) -> bool:
    """Whether a draft may have been made: only once the likes the webhooks saw reached the threshold (they only
    grow: there is no unlike webhook), so an amendment below it costs no call. (Likes taken back since are not
    read back: such a draft is found by the draft job, which the forum answers with the existing topic.)"""
    seen = seen_support(amendment.proposer, s.store.likers(amendment.post_id))
    return reaches_threshold(seen, s.settings.support_threshold)


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
