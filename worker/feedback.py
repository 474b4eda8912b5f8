"""From forum events to Code of Care state: proposals, support and discussion, per section.

This is the normal path (webhook → state): it makes no forum API call, except to learn the tags of a topic that
no topic webhook has told of, and then only for a post that proposes an amendment. Effects on the forum (drafts,
replies) are enqueued as jobs of their own on the `drafts` queue.
"""

from __future__ import annotations

from plugin.adapters.forum import ForumRefused
from plugin.adapters.store import DELETE, RECOVER, SEE
from plugin.domain.amendments import reaches_threshold
from plugin.domain.decisions import is_open, seen_support
from plugin.domain.events import POST_REGULAR, Event, LikeEvent, Post, PostEvent, Topic, TopicEvent
from plugin.domain.feedback import gathered, withdrawals
from plugin.domain.names import TAG_CODE_OF_CARE, decide_job_id, draft_job_id, problems_job_id
from plugin.domain.proposals import parse_command
from plugin.domain.safety import is_service
from plugin.queues import JOB_ANSWER_PROBLEMS, JOB_DECIDE, JOB_DRAFT, QUEUE_DRAFTS
from worker.services import Services


def on_event(s: Services, event: Event) -> str:
    """Update the state for one event; returns a short line saying what happened (the job's result)."""
    if isinstance(event, PostEvent) and not event.post.private and not admitted(s, event):
        return "stale: a newer version of the post is already applied"
    s.engagement.record(event)
    if isinstance(event, TopicEvent):
        s.store.remember_topic(event.topic)
        return "topic remembered"
    if isinstance(event, LikeEvent):
        return on_like(s, event)
    if isinstance(event, PostEvent):
        return on_post(s, event)
    return "ignored"


def admitted(s: Services, event: PostEvent) -> bool:
    """A post event older than what is applied is not applied again (see Store.admit_post)."""
    action = {"post_destroyed": DELETE, "post_recovered": RECOVER}.get(event.name, SEE)
    return s.store.admit_post(
        event.post.id, event.post.version, event.post.updated_at, action, regular=event.post.post_type == POST_REGULAR
    )


def on_post(s: Services, event: PostEvent) -> str:
    post = event.post
    if post.private:
        return "private: never feedback"
    s.store.remember_post_author(post)
    if is_service(post.username, s.settings.bot_username):
        return "the service's own post"
    document = s.store.document()
    if document and post.id == document["post_id"]:
        if event.name in ("post_created", "post_edited"):
            s.store.save_document(topic_id=post.topic_id, post_id=post.id, version=post.version, raw=post.raw)
        return "document cached"
    if event.name == "post_destroyed":
        return withdraw_post(s, post.id, why="the post was deleted")
    draft = s.store.amendment_for_draft(post.topic_id)
    if draft is not None:
        if event.name == "post_created" and parse_command(post.raw) is not None:
            s.enqueue(QUEUE_DRAFTS, JOB_DECIDE, draft.id, command_post(post), job_id=decide_job_id(post.id))
            return f"command for {draft.id}"
        return "reply in a draft topic"
    if document is None or not in_code_of_care(s, post, document["topic_id"]):
        return "not Code of Care feedback"
    return gather(s, post, document)


def command_post(post: Post) -> dict:
    return {
        "id": post.id,
        "topic_id": post.topic_id,
        "post_number": post.post_number,
        "username": post.username,
        "raw": post.raw,
    }


def in_code_of_care(s: Services, post: Post, document_topic_id: int) -> bool:
    """In the document topic, or in a topic tagged `code-of-care` or a category of that slug — and then never in a
    category closed to some members: words said there stay there. The bot is staff and opens those categories too,
    so that is decided from the forum's list of read-restricted categories, not from what the bot may read."""
    if post.topic_id == document_topic_id:
        return True
    topic: Topic | None = None
    tags = s.store.topic_tags(post.topic_id)
    if tags is None and post.category_slug != TAG_CODE_OF_CARE and "[amend" in post.raw.lower():
        # no topic webhook seen yet (order is not guaranteed): ask the forum, once, for a post that matters
        try:
            topic = s.forum.topic(post.topic_id).topic
        except ForumRefused as refused:
            if refused.status not in (403, 404, 410):
                raise
            topic = None  # unreadable or gone: not feedback
        tags = topic.tags if topic is not None else ()
        s.store.remember_topic_tags(post.topic_id, tags)
    if post.category_slug != TAG_CODE_OF_CARE and TAG_CODE_OF_CARE not in (tags or ()):
        return False
    category = post.category_id or (topic.category_id if topic is not None else None)
    category = category or s.store.topic_category(post.topic_id)
    return category is None or category not in restricted_categories(s)


def restricted_categories(s: Services) -> set[int]:
    """Ids of the categories closed to some members: remembered for a while, else read from the forum (1 call)."""
    known = s.store.restricted_categories()
    if known is None:
        known = {c.id for c in s.forum.categories() if c.read_restricted}
        s.store.remember_restricted_categories(known)
    return known


def gather(s: Services, post: Post, document: dict) -> str:
    """Record the post's proposals and the sections it discusses (what changes: `plugin.domain.feedback`)."""
    changes = gathered(post, document["raw"], document["topic_id"], s.store.amendments_of_post(post.id))
    for amendment in (*changes.recorded, *changes.withdrawn):
        s.store.save_amendment(amendment)
    if changes.problems:
        s.enqueue(
            QUEUE_DRAFTS,
            JOB_ANSWER_PROBLEMS,
            post.id,
            post.topic_id,
            post.post_number,
            list(changes.problems),
            job_id=problems_job_id(post.id, post.version),
        )
    s.store.record_discussion(
        post.id, changes.sections, post.username, post.created_at, snapshot=(post.version, post.updated_at)
    )
    for key in changes.kept:
        consider_draft(s, key)
    kept, problems, sections = len(changes.kept), len(changes.problems), len(changes.sections)
    return f"{kept} proposal(s), {problems} problem(s), {sections} section(s) discussed"


def on_like(s: Services, event: LikeEvent) -> str:
    post = event.post
    if post.private or is_service(event.liker_username, s.settings.bot_username):
        return "not counted"
    s.store.add_liker(post.id, event.liker_username)  # also before its proposal is read: order is not guaranteed
    amendments = [a for a in s.store.amendments_of_post(post.id) if is_open(a)]
    if not amendments:
        return "like on a post without open proposals"
    for amendment in amendments:
        consider_draft(s, amendment.id)
    return f"like counted for {len(amendments)} proposal(s)"


def consider_draft(s: Services, key: str) -> None:
    """Enqueue a draft when the likes seen by webhook may reach the threshold; the draft job confirms them."""
    amendment = s.store.amendment(key)
    if not is_open(amendment):
        return
    seen = seen_support(amendment.proposer, s.store.likers(amendment.post_id))
    if reaches_threshold(seen, s.settings.support_threshold):
        s.enqueue(QUEUE_DRAFTS, JOB_DRAFT, key, job_id=draft_job_id(key, seen))


def withdraw_post(s: Services, post_id: int, *, why: str) -> str:
    """A deleted (or care) post withdraws its open proposals and leaves the discussion."""
    withdrawn = withdrawals(s.store.amendments_of_post(post_id), when="", why=why)
    for amendment in withdrawn:
        s.store.save_amendment(amendment)
    s.store.forget_discussion(post_id)
    return f"{len(withdrawn)} proposal(s) withdrawn"
