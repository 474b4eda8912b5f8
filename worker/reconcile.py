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

Not caught up here (there is no listing of them): topic edits (tags, renames) and posts the bot may not see
(private messages, whispers, staff-only categories), none of which is ever Code of Care feedback. A recovered
like counts in the week it is recovered (a like carries no time of its own).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace

from plugin.adapters.forum import LATEST_POSTS_PAGE, TOPIC_CHUNK, ForumRefused, Throttled
from plugin.adapters.intake import ACCEPTED
from plugin.adapters.redis import as_text
from plugin.domain.amendments import OPEN
from plugin.domain.events import Delivery, LikeEvent, Post, PostEvent
from worker.services import Services

LOOKBACK = 500
"""How many post ids below the last pass's newest post are read again (10 pages at most): edits and likes of recent
posts, and posts whose delivery was still in flight during the last pass. The service's own posts and private
messages take ids too, so this reaches further back than the members' last few hundred posts would suggest."""


class AlreadyRunning(RuntimeError):
    """Another reconcile pass holds the lock."""


@dataclass
class Report:
    pages: int = 0
    posts: int = 0
    fed: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    cursor: int = 0
    finished: bool = True
    older_pages: int = 0
    older_from: int = 0
    """Where the walk down the older posts goes on at the next pass (0: it came round; it starts again below the
    newest posts)."""
    came_round: bool = False
    """Whether this pass's walk down the older posts reached the lowest post the service has heard of."""

    def __str__(self) -> str:
        fed = ", ".join(f"{n} {name}" for name, n in sorted(self.fed.items())) or "nothing missing"
        more = "" if self.finished else "; more to read on the next pass"
        older = (
            f"; {self.older_pages} page(s) of older posts"
            + (", came round" if self.came_round else f", going on below post {self.older_from}")
            if self.older_pages
            else ""
        )
        return (
            f"read {self.pages} page(s), {self.posts} post(s): {fed} ({self.accepted} accepted as new); "
            f"up to post {self.cursor}{more}{older}"
        )


def reconcile(s: Services, *, max_pages: int | None = None, lookback: int = LOOKBACK) -> Report:
    """One pass: read back, feed what is missing, move the cursor. AlreadyRunning if another pass is running."""
    lock = s.connection.lock(s.keys.reconcile_lock, timeout=s.settings.job_timeout, blocking=False)
    if not lock.acquire():
        raise AlreadyRunning("another reconcile pass is running")
    try:
        return _pass(s, max_pages or s.settings.reconcile_pages, lookback)
    finally:
        if lock.owned():
            lock.release()


def _pass(s: Services, max_pages: int, lookback: int) -> Report:
    state = {as_text(k): int(v) for k, v in s.connection.hgetall(s.keys.reconcile_cursor).items()}
    before = state.get("before") or None  # an unfinished sweep goes on from here
    high = before - 1 if before else None  # the listing covers every id from the lowest read up to here
    report = Report()
    posts: dict[int, Post] = {}
    top, floor = state.get("top", 0), state.get("floor", 0)
    low = None
    throttled: Throttled | None = None
    while report.pages < max_pages:
        try:
            page = s.forum.latest_posts(before=before)
        except Throttled as exc:  # keep what was read; the next pass goes on from `before`
            throttled = exc
            break
        report.pages += 1
        if not page:
            break
        ids = [p.id for p in page]
        if before is None:  # a new sweep: from the newest post to below the last one read
            top = max(ids)
            floor = max(0, (state.get("cursor") or _first_heard(s, top)) - lookback)
        posts.update({p.id: p for p in page if p.id > floor})
        before = low = min(ids)
        if before <= floor or len(page) < LATEST_POSTS_PAGE:
            before = None
            break
    report.finished = before is None
    report.posts = len(posts)
    known = s.store.known_versions(sorted(posts))
    for post_id in sorted(posts):  # oldest first: a proposal before its likes
        _feed_post(s, posts[post_id], known[post_id], report)
    if report.pages and throttled is None:
        lowest = floor + 1 if report.finished else (low or floor + 1)
        _feed_deletions(s, set(posts), max(lowest, floor + 1), high if high is not None else "+inf", report)
    if throttled is None:
        _feed_open_proposals(s, set(posts), report)
    older = state.get("older", 0)
    if throttled is None and report.finished:
        try:
            older = _walk_older(s, older or floor + 1, max_pages - report.pages, report)
        except Throttled as exc:
            throttled = exc
            older = report.older_from
    cursor = top if report.finished else state.get("cursor", 0)
    s.connection.hset(
        s.keys.reconcile_cursor,
        mapping={"cursor": cursor, "top": top, "floor": floor, "before": before or 0, "older": older},
    )
    report.cursor = cursor
    if throttled is not None:
        raise throttled
    return report


def _walk_older(s: Services, before: int, pages: int, report: Report) -> int:
    """Read up to `pages` pages of the posts below `before`, no lower than the lowest post the service has heard of,
    and feed what is missing of them as for the newest posts. Returns where the next pass goes on (0: it came round,
    the next walk starts again below the newest posts). Throttled keeps `report.older_from` as the place."""
    bottom = s.store.lowest_live_post() or 0
    report.older_from = before
    while report.older_pages < pages:
        if before <= max(bottom, 1):
            break
        page = s.forum.latest_posts(before=before)
        report.older_pages += 1
        ids = [p.id for p in page]
        low = max(min(ids, default=bottom), bottom)
        read = {p.id: p for p in page if p.id >= bottom}
        report.posts += len(read)
        known = s.store.known_versions(sorted(read))
        for post_id in sorted(read):
            _feed_post(s, read[post_id], known[post_id], report, likes=False)
        if len(page) < LATEST_POSTS_PAGE:
            low = bottom
        _feed_deletions(s, set(read), low, before - 1, report)
        before = report.older_from = low
    report.came_round = before <= max(bottom, 1)
    return 0 if report.came_round else before


def _first_heard(s: Services, top: int) -> int:
    """Where the first pass starts from: the lowest post the service has heard of (it began listening there), so
    that everything since is read back, however much was written before the first pass."""
    lowest = s.store.lowest_live_post()
    return top if lowest is None else min(top, lowest)


def _feed_post(s: Services, post: Post, known: tuple[int, str] | None, report: Report, *, likes: bool = True) -> None:
    """Feed what is missing of one post, given the newest version of it the service has applied (`known`), and
    its missing likes unless `likes` is False."""
    if post.category_id is None:  # a single post does not say its category
        post = replace(post, category_id=s.store.topic_category(post.topic_id))
    if known is None:
        _feed(s, PostEvent(_delivery("post_created", "post"), post=post), report)
    elif (post.version, post.updated_at) > known:
        _feed(s, PostEvent(_delivery("post_edited", "post"), post=post), report)
    count = post.like_count if likes else 0
    if not count:
        return
    seen = {as_text(n).lower() for n in s.connection.smembers(s.keys.likers(post.id))}
    if count > len(seen) and not s.store.is_care_post(post.id):
        bot = s.settings.bot_username.lower()
        for liker_id, name in s.forum.likes(post.id):
            if name.lower() not in seen and name.lower() != bot:
                _feed(
                    s,
                    LikeEvent(_delivery("post_liked", "like"), post=post, liker_id=liker_id, liker_username=name),
                    report,
                )


def _feed_deletions(s: Services, listed: set[int], low: int, high: int | str, report: Report) -> None:
    """Posts seen alive that the forum no longer lists, from `low` to `high`."""
    for post_id in s.store.live_posts_between(low, high):
        if post_id not in listed:
            _check_gone(s, post_id, report)


def _check_gone(s: Services, post_id: int, report: Report) -> None:
    """Read a post as the admin (who sees a deleted post): feed `post_destroyed` if it was deleted. One that is only
    hidden from the listing (a staff-only category, a hidden post) is not looked at again."""
    try:
        post = s.forum.post(post_id, as_admin=True)
    except ForumRefused as exc:
        if not exc.not_found:
            raise
        s.connection.zrem(s.keys.live_posts, post_id)  # gone for good: nothing left to tell of it
        return
    if post.deleted_at:
        _feed(s, PostEvent(_delivery("post_destroyed", "post"), post=post), report)
    else:
        s.connection.zrem(s.keys.live_posts, post_id)


def _feed_open_proposals(s: Services, read: set[int], report: Report) -> None:
    """The posts of open proposals older than the pages read: a missed like or edit of them changes what is
    drafted, whatever their age. Read 20 at a time per topic (one call), and one more call for a post edited since."""
    topics: dict[int, set[int]] = {}
    for a in s.store.all_amendments():
        if a.status == OPEN and a.post_id not in read:
            topics.setdefault(a.topic_id, set()).add(a.post_id)
    for topic_id, wanted in sorted(topics.items()):
        ordered = sorted(wanted)
        for start in range(0, len(ordered), TOPIC_CHUNK):
            chunk = ordered[start : start + TOPIC_CHUNK]
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
                seen = known[post_id]
                if seen is None or (item.version, item.updated_at) > seen:
                    item = s.forum.post(post_id)  # edited since: its text, for the edit
                _feed_post(s, item, seen, report)


def _feed(s: Services, event: PostEvent | LikeEvent, report: Report) -> None:
    """Through the receiver's own intake; the delivery id names the fact, so feeding it twice is one delivery."""
    event = replace(event, delivery=_delivery(event.name, event.delivery.event_type, event.identity()))
    report.fed[event.name] += 1
    report.accepted += s.intake.accept(event).status == ACCEPTED


def _delivery(name: str, kind: str, identity: str = "") -> Delivery:
    digest = hashlib.sha1(identity.encode()).hexdigest()[:24]
    return Delivery(event_id=f"reconcile-{digest}", event_name=name, event_type=kind)
