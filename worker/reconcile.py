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

All this only where the forum's delivery log cannot tell (see `_settle_delivery_log`: the first pass, a log last
settled long ago, or one that no longer reaches back far enough). Where the forum runs the service's Data Explorer
queries, such a pass reads instead the window's public posts and likes (COC_WINDOW_WEEKS), 10,000 a call, and feeds
what is missing of them the same way — each missing like without a call of its own.

First of all, the care conversations that changed are read back (one call lists the bot's messages that someone else
wrote in, newest first; one more reads a conversation with a post newer than the last one read back of it), so a
member's reply, a team member's pickup or `/done` whose webhook was lost, or that came before its conversation was
known, is caught up within one pass, whether the request is open, picked up or closed. Not caught up: an edit of a
reply there (it posts nothing new), and a conversation closed while nobody but the companion had written in it
(the listing leaves those out).

Not caught up here (there is no listing of them): topic edits (tags, renames) and posts the bot may not see
(other private messages, whispers, staff-only categories), none of which is ever Code of Care feedback. A recovered
like counts in the week it is recovered (a like carries no time of its own).
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from plugin.adapters.data_explorer import DataExplorer
from plugin.adapters.forum import (
    LATEST_POSTS_PAGE,
    TOPIC_CHUNK,
    WEB_HOOK_EVENTS_PAGE,
    ForumRefused,
    Throttled,
    WebHookEvent,
)
from plugin.adapters.intake import ACCEPTED
from plugin.domain.care import CareRequest, awaits, conversation_of
from plugin.domain.engagement import parse_time
from plugin.domain.events import PRIVATE_MESSAGE, Delivery, LikeEvent, Post, PostEvent
from plugin.domain.names import care_catch_up_job_id, care_relay_effect
from plugin.domain.readback import (
    LoggedDelivery,
    LogRead,
    Sweep,
    SweepCursor,
    came_round,
    likes_unseen,
    older_page,
    open_proposal_chunks,
    post_change,
    unseen_likes,
    window_start,
)
from plugin.domain.safety import is_service
from plugin.queues import JOB_HANDLE_CARE, QUEUE_CARE
from worker.reports import ReconcileReport
from worker.services import Services

SOURCE = "reconcile"
"""The made-up deliveries' source (`Delivery.synthetic`)."""

LOOKBACK = 500
"""How many post ids below the last pass's newest post are read again (10 pages at most): edits and likes of recent
posts, and posts whose delivery was still in flight during the last pass. The service's own posts and private
messages take ids too, so this reaches further back than the members' last few hundred posts would suggest."""


LOG_TRUST_DAYS = 7
"""A delivery log last settled longer ago than this is not trusted to hold everything since: Discourse deletes
deliveries older than `retain_web_hook_events_period_days` (30 by default), and an admin may have lowered it."""

REDELIVER_PER_PASS = 30
"""At most this many deliveries are sent again a pass (one call each); the rest wait for the next pass."""

CARE_READBACK_DAYS = 7
"""How far back (in the forum's time) the first pass lists the bot's messages for changed care conversations."""

CARE_LIST_PAGES = 50
"""At most this many pages (of 30) of the bot's messages a pass: 1,500 conversations bumped since the last pass
(beyond, the watermark stays and the next pass lists again from the top; what it read is kept)."""

CARE_CLOCK_MARGIN = 600
"""Seconds the next listing reaches back before the newest bump this one saw (posts made while it listed)."""


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
    report = ReconcileReport()
    _feed_care_conversations(s, report)  # first, and saved as it goes: a person may be waiting
    if _settle_delivery_log(s, max_pages, report):
        return report  # every delivery since the last pass is accounted for: no post needs reading
    explorer = DataExplorer(s.forum)
    if explorer.available():
        return _pass_explored(s, explorer, saved, report)
    throttled: Throttled | None = None
    try:
        while sweep.reading:
            sweep.take(s.forum.latest_posts(before=sweep.before))
    except Throttled as exc:  # keep what was read; the next pass goes on from `before`
        throttled = exc
    report.pages, report.finished = sweep.pages, sweep.finished
    report.posts += len(sweep.posts)
    _feed_posts(s, sweep.posts, report)
    older = saved.older
    if throttled is None:
        if sweep.pages:
            _feed_deletions(s, set(sweep.posts), *sweep.listed(), report)
        _feed_open_proposals(s, set(sweep.posts), report)
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


def _pass_explored(s: Services, explorer: DataExplorer, saved: SweepCursor, report: ReconcileReport) -> ReconcileReport:
    """The posts read back through Data Explorer: the window's public posts and likes, 10,000 a call, each missing
    one fed as through the API; then deletions among them and the open proposals older than the window, as a
    sweep does. The next sweep (if the log cannot tell then either) reads back from the newest post read."""
    since = datetime.fromtimestamp(window_start(time.time(), s.settings.window_weeks), UTC)
    posts = {post.id: post for post in explorer.posts(since)}
    report.explored = True
    report.posts += len(posts)
    _feed_posts(s, posts, report, likes=False)
    _feed_explored_likes(s, posts, explorer.run("likes", since=since), since.timestamp(), report)
    if posts:
        _feed_deletions(s, set(posts), min(posts), max(posts), report)
    _feed_open_proposals(s, set(posts), report)
    newest = max(posts, default=saved.cursor)
    s.store.save_reconcile_cursor(SweepCursor(cursor=newest, top=newest))
    report.cursor = newest
    return report


def _feed_explored_likes(
    s: Services, posts: dict[int, Post], rows: list[dict[str, Any]], since: float, report: ReconcileReport
) -> None:
    """The likes given in the window (and not taken back) to the window's posts that the service has not seen."""
    seen: dict[int, set[str]] = {}
    for row in rows:
        post = posts.get(int(row["post_id"]))
        liker = str(row.get("username") or "")
        if (
            post is None
            or row.get("deleted_at")
            or parse_time(str(row["created_at"])) < since
            or is_service(liker, s.settings.bot_username)
            or s.store.is_care_post(post.id)
        ):
            continue
        if post.id not in seen:
            seen[post.id] = {name.lower() for name in s.store.likers(post.id)}
        if liker.lower() not in seen[post.id]:
            seen[post.id].add(liker.lower())
            delivery = Delivery.synthetic(SOURCE, "post_liked", "like")
            _feed(s, LikeEvent(delivery, post=post, liker_id=int(row["user_id"]), liker_username=liker), report)


def _settle_delivery_log(s: Services, max_pages: int, report: ReconcileReport) -> bool:
    """Read the webhook's delivery log back to where the last pass left it settled, and have the forum send again
    (its own Redeliver: the same Event-Id, headers and body) every delivery that did not arrive: one that failed,
    found no receiver, or shows no answer PENDING_GRACE after it was made. At most REDELIVER_PER_PASS a pass.

    True when the log accounts for every delivery since the last pass; False when it cannot (no webhook found,
    no pass has read it yet, or the forum has purged deliveries the service never saw settled): then the posts
    themselves are read back."""
    hook_id, mark = _web_hook(s)
    if hook_id is None:
        return False
    if mark is None:  # the first read of this log (or a long pause): the posts are read back, the log from now on
        newest = s.forum.web_hook_events(hook_id)
        report.log_pages += 1
        s.store.save_delivery_log(hook_id, max((row.id for row in newest), default=0))
        return False
    read = LogRead(mark)
    try:
        while read.reading and report.log_pages < max_pages:
            page = s.forum.web_hook_events(hook_id, offset=len(read.rows))
            report.log_pages += 1
            read.take([_logged(row) for row in page], WEB_HOOK_EVENTS_PAGE)
    except ForumRefused as exc:
        if not exc.not_found:
            raise
        s.store.forget_delivery_log()  # the webhook is gone: found again (or not) on the next pass
        return False
    redelivered: list[int] = []
    try:
        for event_id in read.lost(time.time())[:REDELIVER_PER_PASS]:
            s.forum.redeliver(hook_id, event_id)
            redelivered.append(event_id)
    finally:
        report.redelivered = len(redelivered)
        s.store.save_delivery_log(hook_id, read.next_mark(redelivered))
    report.log_covered = read.covered
    return read.covered


def _web_hook(s: Services) -> tuple[int | None, int | None]:
    """The service's webhook in the forum (found once by its URL, one call) and the delivery log's mark (None: none,
    or set more than LOG_TRUST_DAYS ago: the forum may have purged deliveries since)."""
    hook_id, mark, at = s.store.delivery_log()
    if mark is not None and time.time() - at > LOG_TRUST_DAYS * 86400:
        mark = None
    if hook_id is not None or not s.settings.webhook_url:
        return hook_id, mark
    hooks, _ = s.forum.web_hooks()
    found = next((h for h in hooks if h.payload_url.rstrip("/") == s.settings.webhook_url), None)
    if found is None:
        return None, None
    s.store.save_delivery_log(found.id, None)
    return found.id, None


def _logged(row: WebHookEvent) -> LoggedDelivery:
    at = parse_time(row.created_at) if row.created_at else 0.0
    return LoggedDelivery(row.id, row.status or 0, at, row.redelivering)


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
    """The care conversations (both of every request, and the team's wording one) that changed since they were
    last read back: a reply whose webhook was lost, or that came before its conversation was known, still reaches
    the team, picks the request up, closes it or changes the words.

    The bot's messages that someone else has written in are listed most recently bumped first (30 a call), down to
    the last pass's watermark: the newest bump that pass saw, in the forum's own time, less a margin (the first
    pass: CARE_READBACK_DAYS before the newest). Only a conversation with a post newer than the last one read back
    is read (one call), and what it holds is saved at once, so a pass cut short by the budget keeps what it did. A
    conversation whose one new post is the companion's own is not read."""
    read_back, since = s.store.care_read_back(), s.store.care_read_back_since()
    wording, bot = s.store.care_wording_topic(), s.settings.bot_username
    watermark: float | None = None
    for page in range(CARE_LIST_PAGES):
        listed, more = s.forum.bot_messages(page)
        if watermark is None and listed:
            watermark = max(parse_time(t.bumped_at) for t in listed) - CARE_CLOCK_MARGIN
            since = since if since is not None else watermark - CARE_READBACK_DAYS * 86400
        for topic in listed:
            request, after = s.store.care_request_of_topic(topic.id), read_back.get(topic.id, 0)
            if topic.highest_post_number <= after or not (request or topic.id == wording):
                continue
            only_ours = topic.highest_post_number == after + 1 and is_service(topic.last_poster, bot)
            if not only_ours:  # the one new post is the companion's own (a relay, a notice): nothing to read
                _read_back_conversation(s, topic.id, request, after, report)
            s.store.save_care_read_back(topic.id, topic.highest_post_number)
        if not more or not listed or since is None or parse_time(listed[-1].bumped_at) < since:
            if watermark is not None:
                s.store.save_care_read_back_since(watermark)
            return


def _read_back_conversation(
    s: Services, topic_id: int, request: CareRequest | None, after: int, report: ReconcileReport
) -> None:
    """Feed what waits of a care conversation's posts after post number `after` (the newest TOPIC_CHUNK)."""
    for listed in s.forum.recent_posts(topic_id):
        if listed.post_number <= after or is_service(listed.username, s.settings.bot_username):
            continue
        report.posts += 1
        event = PostEvent(Delivery.synthetic(SOURCE, "post_created", "post"), post=_private(listed))
        delivered = s.intake.knows(event)
        if request is None:  # the team's wording conversation
            waits = not delivered
        else:
            relayed = s.store.made(care_relay_effect(listed.id))
            which = conversation_of(request, topic_id)
            waits = awaits(request, which, author=listed.username, relayed=relayed, delivered=delivered)
        if not waits:
            continue
        event = PostEvent(event.delivery, post=_private(s.forum.post(listed.id)))  # a listing has no raw text
        if delivered:  # accepted before its conversation was known, and routed elsewhere: to care, this time
            s.enqueue(QUEUE_CARE, JOB_HANDLE_CARE, event.to_job(), job_id=care_catch_up_job_id(listed.id))
            report.fed[event.name] += 1
            report.accepted += 1
        else:
            _feed(s, event, report)


def _private(post: Post) -> Post:
    """A post of a care conversation, which its listing does not say is a private message."""
    return replace(post, topic_archetype=PRIVATE_MESSAGE)


def _feed(s: Services, event: PostEvent | LikeEvent, report: ReconcileReport) -> None:
    """Through the receiver's own intake; the delivery id names the fact, so feeding it twice is one delivery."""
    kind = event.delivery.event_type
    event = replace(event, delivery=Delivery.synthetic(SOURCE, event.name, kind, fact=event.identity()))
    report.fed[event.name] += 1
    report.accepted += s.intake.accept(event).status == ACCEPTED
