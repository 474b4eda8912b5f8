"""Catching up on what the forum made but never delivered.

Discourse does not retry a failed delivery by default, and a lost one shows only in the forum admin's event log
(FACTS.md). So, every COC_RECONCILE_MINUTES, the forum's latest public posts are read back (`GET /posts.json`, newest
first, 50 a page) to a little below the last post a pass has read (the first pass: to the lowest post the service
has heard of), and each one is compared with what the service knows of it (`Store.known_versions`, the likers seen):
- a post never seen is fed as `post_created`; one seen at an older version as `post_edited`;
- a post with more likes than likes seen has its likers read (one call) and each missing like is fed as `post_liked`;
- a post seen alive that the listing no longer holds is read as the admin (one call), and fed as `post_destroyed`
  if it was deleted;
- the post of every open proposal older than that is read too (one call each): a missed like or edit of it changes
  what is drafted, whatever its age;
- the pages a pass has left over go on down the older posts, a few pages a pass from where the last pass left off,
  to the lowest post the service has heard of and then round again from the top: the same checks but likes (the
  likers seen are kept for 60 days, and a like carries no time, so an old like fed again would count again), so a
  deletion or an edit of an old post whose webhook was lost is caught up within one round of the forum.

Fed means handed to the receiver's own `Intake`: the same dedupe (a fact already accepted is not accepted twice, so a
delivery that was only late changes nothing), the same routing (a "direct support" post goes to the care queue) and
the same jobs as a webhook. A pass that meets more new posts than `COC_RECONCILE_PAGES` pages keeps where it
stopped, and the next pass goes on from there before it reads the newest posts again.

The conversations of every care request of the last week not yet closed are read back too (their latest posts, one
call each), so a member's reply or a team member's pickup or `/done` whose webhook was lost is caught up within one
pass.

Not caught up here (there is no listing of them): topic edits (tags, renames) and posts the bot may not see
(other private messages, whispers, staff-only categories), none of which is ever Code of Care feedback. A recovered
like counts in the week it is recovered (a like carries no time of its own).
"""

from __future__ import annotations

import time
from dataclasses import replace

from plugin.adapters.forum import LATEST_POSTS_PAGE, TOPIC_CHUNK, ForumRefused, Throttled
from plugin.adapters.intake import ACCEPTED
from plugin.domain.care import CLOSED
from plugin.domain.events import PRIVATE_MESSAGE, Delivery, LikeEvent, Post, PostEvent
from plugin.domain.readback import (
    Sweep,
    came_round,
    likes_unseen,
    older_page,
    open_proposal_chunks,
    post_change,
    unseen_likes,
)
from plugin.domain.safety import is_service
from worker.reports import ReconcileReport
from worker.services import Services

SOURCE = "reconcile"
"""The made-up deliveries' source (`Delivery.synthetic`)."""

LOOKBACK = 500
"""How many post ids below the last pass's newest post are read again (10 pages at most): edits and likes of recent
posts, and posts whose delivery was still in flight during the last pass. The service's own posts and private
messages take ids too, so this reaches further back than the members' last few hundred posts would suggest."""


CARE_READBACK_DAYS = 7
"""How long the conversations of a request not yet closed are read back (a lost webhook after that is not caught up;
the team's `python -m plugin care` still lists the request)."""


class AlreadyRunning(RuntimeError):
    """Another reconcile pass holds the lock."""


def reconcile(s: Services, *, max_pages: int | None = None, lookback: int = LOOKBACK) -> ReconcileReport:
    """One pass: read back, feed what is missing, move the cursor. AlreadyRunning if another pass is running."""
    with s.store.reconcile_lock(timeout=s.settings.job_timeout) as mine:
        if not mine:
            raise AlreadyRunning("another reconcile pass is running")
        return _pass(s, max_pages or s.settings.reconcile_pages, lookback)


def _pass(s: Services, max_pages: int, lookback: int) -> ReconcileReport:
    saved, lowest_heard = s.store.reconcile_cursor(), s.store.lowest_live_post()
    sweep = Sweep(saved, max_pages, lookback, lowest_heard, page_size=LATEST_POSTS_PAGE)
    throttled: Throttled | None = None
    try:
        while sweep.reading:
            sweep.take(s.forum.latest_posts(before=sweep.before))
    except Throttled as exc:  # keep what was read; the next pass goes on from `before`
        throttled = exc
    report = ReconcileReport(pages=sweep.pages, posts=len(sweep.posts), finished=sweep.finished)
    _feed_posts(s, sweep.posts, report)
    older = saved.older
    if throttled is None:
        if sweep.pages:
            _feed_deletions(s, set(sweep.posts), *sweep.listed(), report)
        _feed_open_proposals(s, set(sweep.posts), report)
        _feed_care_conversations(s, report)
        if sweep.finished:
            try:
                older = _walk_older(s, sweep.older_start(), sweep.pages_left, report)
            except Throttled as exc:
                throttled, older = exc, report.older_from
    cursor = sweep.cursor_after(older)
    s.store.save_reconcile_cursor(cursor)
    report.cursor = cursor.cursor
    if throttled is not None:
        raise throttled
    return report


def _walk_older(s: Services, before: int, pages: int, report: ReconcileReport) -> int:
    """Read up to `pages` pages of the posts below `before`, no lower than the lowest post the service has heard of,
    and feed what is missing of them as for the newest posts. Returns where the next pass goes on (0: it came round,
    the next walk starts again below the newest posts). Throttled keeps `report.older_from` as the place."""
    bottom = s.store.lowest_live_post() or 0
    report.older_from = before
    while report.older_pages < pages and not came_round(before, bottom):
        page = older_page(s.forum.latest_posts(before=before), before, bottom, LATEST_POSTS_PAGE)
        report.older_pages += 1
        report.posts += len(page.posts)
        _feed_posts(s, page.posts, report, likes=False)
        _feed_deletions(s, set(page.posts), page.low, page.high, report)
        before = report.older_from = page.low
    report.came_round = came_round(before, bottom)
    return 0 if report.came_round else before


def _feed_posts(s: Services, posts: dict[int, Post], report: ReconcileReport, *, likes: bool = True) -> None:
    """Feed what is missing of each post, oldest first: a proposal before its likes."""
    known = s.store.known_versions(sorted(posts))
    for post_id in sorted(posts):
        _feed_post(s, posts[post_id], known[post_id], report, likes=likes)


def _feed_post(
    s: Services, post: Post, known: tuple[int, str] | None, report: ReconcileReport, *, likes: bool = True
) -> None:
    """Feed what is missing of one post, given the newest version of it the service has applied (`known`), and
    its missing likes unless `likes` is False."""
    if post.category_id is None:  # a single post does not say its category
        post = replace(post, category_id=s.store.topic_category(post.topic_id))
    if (change := post_change(post, known)) is not None:
        _feed(s, PostEvent(Delivery.synthetic(SOURCE, change, "post"), post=post), report)
    if not (likes and post.like_count):
        return
    seen = {name.lower() for name in s.store.likers(post.id)}
    if likes_unseen(post.like_count, seen) and not s.store.is_care_post(post.id):
        for liker_id, name in unseen_likes(s.forum.likes(post.id), seen, s.settings.bot_username):
            delivery = Delivery.synthetic(SOURCE, "post_liked", "like")
            _feed(s, LikeEvent(delivery, post=post, liker_id=liker_id, liker_username=name), report)


def _feed_deletions(s: Services, listed: set[int], low: int, high: int | str, report: ReconcileReport) -> None:
    """Posts seen alive that the forum no longer lists, from `low` to `high`."""
    for post_id in s.store.live_posts_between(low, high):
        if post_id not in listed:
            _check_gone(s, post_id, report)


def _check_gone(s: Services, post_id: int, report: ReconcileReport) -> None:
    """Read a post as the admin (who sees a deleted post): feed `post_destroyed` if it was deleted. One that is only
    hidden from the listing (a staff-only category, a hidden post) is not looked at again."""
    try:
        post = s.forum.post(post_id, as_admin=True)
    except ForumRefused as exc:
        if not exc.not_found:
            raise
        s.store.forget_live_post(post_id)  # gone for good: nothing left to tell of it
        return
    if post.deleted_at:
        _feed(s, PostEvent(Delivery.synthetic(SOURCE, "post_destroyed", "post"), post=post), report)
    else:
        s.store.forget_live_post(post_id)


def _feed_open_proposals(s: Services, read: set[int], report: ReconcileReport) -> None:
    """The posts of open proposals older than the pages read: a missed like or edit of them changes what is
    drafted, whatever their age. Read 20 at a time per topic (one call), and one more call for a post edited since."""
    for topic_id, chunk in open_proposal_chunks(s.store.all_amendments(), read, TOPIC_CHUNK):
        try:
            found = {p.id: p for p in s.forum.topic_posts(topic_id, chunk)}
        except ForumRefused as exc:
            if not exc.not_found and exc.status != 403:
                raise
            found = {}
        known = s.store.known_versions(chunk)
        for post_id in chunk:
            item = found.get(post_id)
            report.posts += 1
            if item is None:
                _check_gone(s, post_id, report)
                continue
            if post_change(item, known[post_id]) is not None:
                item = s.forum.post(post_id)  # edited since: its text, for the edit
            _feed_post(s, item, known[post_id], report)


def _feed_care_conversations(s: Services, report: ReconcileReport) -> None:
    """The latest posts of both conversations of every request of the last CARE_READBACK_DAYS not yet closed (a
    request nobody closed does not cost a call per pass for ever), and of the team's wording
    conversation (one call each): a reply whose webhook was lost still reaches the team, picks the request up,
    closes it or changes the words."""
    since = time.time() - CARE_READBACK_DAYS * 86400
    topics = [
        topic_id
        for request in s.store.care_requests()
        if request.status != CLOSED and request.asked_at >= since
        for topic_id in (request.member_topic_id, request.team_topic_id)
        if topic_id is not None
    ]
    wording = s.store.care_wording_topic()  # where the team changes the care messages' words
    for topic_id in [*topics, *([wording] if wording is not None else [])]:
        for listed in s.forum.recent_posts(topic_id):
            report.posts += 1
            event = PostEvent(Delivery.synthetic(SOURCE, "post_created", "post"), post=_private(listed))
            if is_service(listed.username, s.settings.bot_username) or s.intake.knows(event):
                continue
            post = _private(s.forum.post(listed.id))  # a topic's listing has no raw text: one call, when lost
            _feed(s, PostEvent(event.delivery, post=post), report)


def _private(post: Post) -> Post:
    """A post of a care conversation, which its listing does not say is a private message."""
    return replace(post, topic_archetype=PRIVATE_MESSAGE)


def _feed(s: Services, event: PostEvent | LikeEvent, report: ReconcileReport) -> None:
    """Through the receiver's own intake; the delivery id names the fact, so feeding it twice is one delivery."""
    kind = event.delivery.event_type
    event = replace(event, delivery=Delivery.synthetic(SOURCE, event.name, kind, fact=event.identity()))
    report.fed[event.name] += 1
    report.accepted += s.intake.accept(event).status == ACCEPTED
