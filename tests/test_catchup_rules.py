"""Reading the forum back: the pure rules of reconcile's pass and of rebuild's reading of draft topics
(plugin.domain.readback), the made-up deliveries both feed, their reports, and the Store methods they write with."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import replace

import pytest
import redis

from plugin.adapters.keys import Keys
from plugin.adapters.store import Store
from plugin.domain.amendments import APPLIED, DRAFTED, OPEN, REJECTED, STALE, WITHDRAWN, Amendment
from plugin.domain.events import EVENT_ID, Delivery, Post, Topic
from plugin.domain.names import TAG_APPROVED, TAG_DRAFT, TAG_REJECTED
from plugin.domain.readback import (
    PENDING_GRACE,
    LoggedDelivery,
    LogRead,
    POST_CREATED,
    POST_EDITED,
    LastWord,
    Sweep,
    SweepCursor,
    came_round,
    draft_found,
    first_heard,
    last_word,
    likes_unseen,
    older_page,
    open_proposal_chunks,
    post_change,
    read_decision,
    unseen_likes,
)
from worker.reports import RebuildReport, ReconcileReport

PAGE = 5
BOT = "CareBot"
T1, T2 = "2026-11-01T10:00:00.000Z", "2026-11-01T10:05:00.000Z"


def post(post_id: int, **fields: object) -> Post:
    base = Post(
        id=post_id,
        topic_id=1,
        post_number=post_id,
        user_id=7,
        username="erin",
        post_type=1,
        created_at=T1,
        updated_at=T1,
        version=1,
        raw="",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def page(*ids: int) -> list[Post]:
    """A page of the latest posts, newest first, as the forum lists them."""
    return [post(i) for i in sorted(ids, reverse=True)]


def sweep(
    saved: SweepCursor | None = None, *, max_pages: int = 10, lookback: int = 10, lowest_heard: int | None = None
) -> Sweep:
    return Sweep(saved or SweepCursor(), max_pages, lookback, lowest_heard, page_size=PAGE)


# ------------------------------------------------------------------------------------------------ the sweep


def test_the_first_sweep_reads_back_to_below_the_lowest_post_heard_of() -> None:
    s = sweep(lowest_heard=93, lookback=2)
    assert s.reading and s.before is None  # the first page is the newest
    s.take(page(100, 99, 98, 97, 96))
    assert (s.top, s.floor) == (100, 91) and s.before == 96 and s.reading
    s.take(page(95, 94, 93, 92, 91))
    assert not s.reading and s.finished  # the floor was reached
    assert sorted(s.posts) == list(range(92, 101))  # nothing at or below the floor
    assert s.pages == 2 and s.pages_left == 8
    assert s.listed() == (92, "+inf")
    assert s.cursor_after(older=0) == SweepCursor(cursor=100, top=100, floor=91, before=0, older=0)


def test_the_first_sweep_without_a_post_heard_of_reads_back_lookback_ids_from_the_top() -> None:
    s = sweep(lookback=3)
    s.take(page(50, 49, 48, 47, 46))
    assert (s.top, s.floor) == (50, 47) and s.finished and sorted(s.posts) == [48, 49, 50]
    assert first_heard(50, None) == 50 and first_heard(50, 20) == 20 and first_heard(50, 60) == 50


def test_a_later_sweep_reads_back_lookback_ids_below_the_last_sweeps_newest_post() -> None:
    s = sweep(SweepCursor(cursor=40, top=40, floor=30, older=12), lookback=4, lowest_heard=1)
    s.take(page(44, 43, 42, 41, 40))
    s.take(page(39, 38, 37, 36, 35))
    assert s.floor == 36 and s.finished and min(s.posts) == 37
    assert s.older_start() == 12  # the walk down the older posts goes on
    assert s.cursor_after(older=9) == SweepCursor(cursor=44, top=44, floor=36, before=0, older=9)


def test_a_sweep_stopped_by_its_page_limit_goes_on_from_where_it_stopped() -> None:
    s = sweep(SweepCursor(cursor=10, top=10, floor=0), max_pages=2, lookback=0)
    s.take(page(30, 29, 28, 27, 26))
    s.take(page(25, 24, 23, 22, 21))
    assert not s.reading and not s.finished and s.before == 21
    assert s.listed() == (21, "+inf")  # only what the pages listed
    kept = s.cursor_after(older=5)
    assert kept == SweepCursor(cursor=10, top=30, floor=10, before=21, older=5)  # the cursor stays until finished

    resumed = sweep(kept, lookback=0)
    assert resumed.before == 21 and resumed.high == 20
    resumed.take(page(20, 19, 18, 17, 16))
    resumed.take(page(15, 14, 13, 12, 11))
    resumed.take(page(10, 9, 8, 7, 6))
    assert resumed.finished and (resumed.top, resumed.floor) == (30, 10)  # the same sweep, not a new one
    assert min(resumed.posts) == 11 and resumed.listed() == (11, 20)
    assert resumed.cursor_after(older=5).cursor == 30


def test_the_listings_last_page_or_an_empty_page_ends_the_read() -> None:
    short = sweep(lookback=100)
    short.take(page(4, 3, 2))
    assert short.finished and not short.reading and short.floor == 0 and sorted(short.posts) == [2, 3, 4]

    empty = sweep(SweepCursor(cursor=8, top=9, floor=3))
    empty.take([])
    assert empty.finished and not empty.reading and empty.pages == 1 and (empty.top, empty.floor) == (9, 3)
    assert empty.cursor_after(older=0).cursor == 9

    resumed_empty = sweep(SweepCursor(cursor=8, top=30, floor=3, before=12))
    resumed_empty.take([])
    assert not resumed_empty.finished and resumed_empty.before == 12  # goes on from there at the next pass
    assert resumed_empty.cursor_after(older=0) == SweepCursor(cursor=8, top=30, floor=3, before=12, older=0)


def test_the_older_walk_starts_above_the_floor_when_it_came_round() -> None:
    s = sweep(SweepCursor(cursor=40, top=40, floor=30, older=0), lookback=5)
    s.take(page(41, 40, 39))
    assert s.older_start() == 36


# ------------------------------------------------------------------------------------------------ the older posts


def test_an_older_page_lists_from_its_lowest_post_down_to_the_bottom_at_the_end() -> None:
    full = older_page(page(20, 19, 18, 17, 16), before=21, bottom=3, page_size=PAGE)
    assert (full.low, full.high) == (16, 20) and sorted(full.posts) == [16, 17, 18, 19, 20]
    last = older_page(page(8, 7), before=9, bottom=3, page_size=PAGE)
    assert (last.low, last.high) == (3, 8)  # the listing's end: everything down to the bottom
    below = older_page(page(6, 5, 4, 3, 2), before=7, bottom=4, page_size=PAGE)
    assert below.low == 4 and sorted(below.posts) == [4, 5, 6]  # nothing below the lowest post heard of
    empty = older_page([], before=9, bottom=3, page_size=PAGE)
    assert (empty.low, empty.high, empty.posts) == (3, 8, {})


def test_the_older_walk_comes_round_at_the_lowest_post_heard_of() -> None:
    assert came_round(3, 3) and came_round(2, 3) and not came_round(4, 3)
    assert came_round(1, 0) and not came_round(2, 0)  # nothing heard of: down to the first post


# ------------------------------------------------------------------------------------------------ what is fed


def test_a_post_is_news_if_never_seen_or_newer_than_seen() -> None:
    assert post_change(post(1), None) == POST_CREATED
    assert post_change(post(1, version=2), (1, T2)) == POST_EDITED
    assert post_change(post(1, updated_at=T2), (1, T1)) == POST_EDITED  # a ninja edit keeps the version
    assert post_change(post(1), (1, T1)) is None
    assert post_change(post(1, version=1, updated_at=T2), (2, T1)) is None  # the service saw newer


def test_only_the_likes_never_seen_are_fed_and_never_the_services_own() -> None:
    assert likes_unseen(3, {"bob", "carol"}) and not likes_unseen(2, {"bob", "carol"})
    likes = [(2, "Bob"), (3, "carol"), (4, "carebot"), (5, "dave")]
    assert unseen_likes(likes, {"bob"}, BOT) == [(3, "carol"), (5, "dave")]
    assert unseen_likes(likes, set(), "nobody") == likes


def amendment(post_id: int, topic_id: int, n: int = 1, status: str = OPEN) -> Amendment:
    return Amendment(
        id=f"coc-amendment-{post_id}-{n}",
        post_id=post_id,
        index=n,
        topic_id=topic_id,
        proposer="erin",
        section_slug="consent",
        section_title="Consent",
        base_fingerprint="fp",
        text="Words.",
        status=status,
    )


def test_open_proposals_not_read_are_read_again_by_topic_a_chunk_at_a_time() -> None:
    amendments = [
        amendment(11, 2),
        amendment(11, 2, n=2),
        amendment(12, 2),
        amendment(13, 2),
        amendment(14, 2),
        amendment(5, 1),
        amendment(6, 1, status=DRAFTED),
        amendment(7, 1),
        amendment(30, 3),
    ]
    assert open_proposal_chunks(amendments, read={7, 30}, chunk=3) == [(1, [5]), (2, [11, 12, 13]), (2, [14])]
    assert open_proposal_chunks(amendments, read=set(), chunk=20) == [(1, [5, 7]), (2, [11, 12, 13, 14]), (3, [30])]
    assert open_proposal_chunks([], read=set(), chunk=20) == []


# ------------------------------------------------------------------------------------------------ draft topics


def bot(number: int, reply_to: int | None, at: str = T2) -> Post:
    return post(100 + number, post_number=number, username="carebot", reply_to_post_number=reply_to, created_at=at)


def member(number: int, name: str) -> Post:
    return post(100 + number, post_number=number, username=name)


def test_the_deciding_command_is_the_one_the_services_last_reply_answers() -> None:
    posts = [member(1, "carebot"), member(2, "dave"), bot(3, 2), member(4, "mod"), bot(5, 4), bot(6, None)]
    word = last_word(posts, BOT)
    assert word is not None and word.command.post_number == 4 and word.answer.post_number == 5
    assert word.refusals == ("not-allowed-102",)  # the kind answer to dave, who may not decide


def test_no_deciding_command_without_an_answer_or_the_post_it_answers() -> None:
    assert last_word([member(1, "carebot"), member(2, "mod"), bot(3, None)], BOT) is None
    assert last_word([member(1, "carebot"), bot(9, 4)], BOT) is None  # the command fell out of the posts read
    word = last_word([bot(2, 1), member(3, "mod"), bot(4, 3)], BOT)  # an earlier answer to a post not read
    assert word is not None and word.refusals == ()


DRAFT = Topic(
    id=40,
    title="Draft",
    slug="draft",
    archetype="regular",
    category_id=3,
    user_id=-1,
    created_at=T1,
    tags=(TAG_DRAFT,),
    closed=True,
)


KEY = "coc-amendment-11-1"


def decided(raw: str, tags: tuple[str, ...] = (), by: str = "mod") -> tuple[Amendment, str | None, tuple[str, ...]]:
    word = LastWord(answer=bot(5, 4), command=member(4, by), refusals=())
    reading = read_decision(amendment(11, 2), replace(DRAFT, tags=(TAG_DRAFT, *tags)), word, raw)
    return reading.amendment, reading.outcome, reading.done


def test_a_draft_found_is_drafted_with_its_topic() -> None:
    found = draft_found(amendment(11, 2), DRAFT)
    assert (found.status, found.draft_topic_id, found.history) == (DRAFTED, 40, (" draft found in the forum",))


def test_an_approval_with_the_approved_tag_was_applied_and_without_it_was_stale() -> None:
    applied, outcome, done = decided("/approve", (TAG_APPROVED,))
    assert done == (f"decision-{KEY}", f"announce-{KEY}")  # the decision reply and the announcement were made
    assert outcome == APPLIED and applied.status == APPLIED and applied.decided_by == "mod" and applied.reason == ""
    assert applied.draft_topic_id == 40
    assert applied.history == (" draft found in the forum", f"{T2} {APPLIED} by mod")
    stale, outcome, done = decided("/approve")
    assert done == (f"decision-{KEY}",)
    assert outcome == STALE and stale.status == STALE and stale.history[-1] == f"{T2} {STALE} by mod"


def test_a_rejection_shows_only_with_the_rejected_tag() -> None:
    rejected, outcome, done = decided("/reject We keep the current words.\nThank you.", (TAG_REJECTED,))
    assert done == (f"decision-{KEY}", f"rejection-pm-{KEY}")
    assert outcome == REJECTED and rejected.status == REJECTED
    assert rejected.reason == "We keep the current words.\nThank you."
    untagged, outcome, done = decided("/reject We keep the current words.")
    assert (
        outcome is None
        and done == ()
        and untagged.status == DRAFTED
        and untagged.history == (" draft found in the forum",)
    )


def test_a_withdrawal_by_the_proposer_and_a_post_that_is_no_command() -> None:
    withdrawn, outcome, done = decided("/withdraw\nI will come back with better words.", by="Erin")
    assert done == (f"decision-{KEY}",)
    assert outcome == WITHDRAWN and withdrawn.status == WITHDRAWN and withdrawn.decided_by == "Erin"
    drafted, outcome, done = decided("Thank you all for the kind words.", (TAG_APPROVED,))
    assert outcome is None and done == () and drafted.status == DRAFTED


# ------------------------------------------------------------------------------------------------ deliveries, reports


def test_a_made_up_delivery_names_the_fact_or_the_event() -> None:
    fact = "post_created:7:1:" + T1 + ":"
    made = Delivery.synthetic("reconcile", "post_created", "post", fact=fact)
    assert made == Delivery(
        event_id="reconcile-" + hashlib.sha1(fact.encode()).hexdigest()[:24],
        event_name="post_created",
        event_type="post",
    )
    assert Delivery.synthetic("reconcile", "post_created", "post", fact=fact) == made
    assert Delivery.synthetic("reconcile", "post_created", "post", fact=fact + "x").event_id != made.event_id
    assert Delivery.synthetic("rebuild", "post_liked", "like") == Delivery("rebuild-post_liked", "post_liked", "like")
    assert EVENT_ID.fullmatch(made.event_id) and EVENT_ID.fullmatch("rebuild-topic_created")


def test_the_reports_say_what_was_done() -> None:
    assert str(ReconcileReport()) == ("read 0 page(s), 0 post(s): nothing missing (0 accepted as new); up to post 0")
    report = ReconcileReport(
        pages=2,
        posts=9,
        fed=Counter(post_liked=2, post_created=1),
        accepted=3,
        cursor=90,
        finished=False,
        older_pages=1,
        older_from=40,
    )
    assert str(report) == (
        "read 2 page(s), 9 post(s): 1 post_created, 2 post_liked (3 accepted as new); up to post "
        "90; more to read on the next pass; 1 page(s) of older posts, going on below post 40"
    )
    assert str(replace(report, finished=True, came_round=True)).endswith(
        "up to post 90; 1 page(s) of older posts, came round"
    )
    assert str(RebuildReport()) == (
        "rebuilt from 0 post(s) in 0 topic(s) with 0 like(s); amendments: none; 0 draft job(s) enqueued"
    )
    assert str(RebuildReport(posts=5, topics=2, likes=3, amendments=Counter(open=2, applied=1), drafts_enqueued=1)) == (
        "rebuilt from 5 post(s) in 2 topic(s) with 3 like(s); amendments: 1 applied, 2 open; 1 draft job(s) enqueued"
    )


# ------------------------------------------------------------------------------------------------ the Store's side


@pytest.fixture
def store(redis_conn: redis.Redis) -> Store:
    return Store(redis_conn, Keys("coc-test:"))


def test_the_sweep_cursor_is_kept_between_passes(store: Store) -> None:
    assert store.reconcile_cursor() == SweepCursor()
    kept = SweepCursor(cursor=90, top=95, floor=40, before=60, older=12)
    store.save_reconcile_cursor(kept)
    assert store.reconcile_cursor() == kept
    assert SweepCursor.from_fields({"top": 3, "unknown": 9}) == SweepCursor(top=3)


def test_one_reconcile_pass_at_a_time(store: Store) -> None:
    with store.reconcile_lock(timeout=30) as first, store.reconcile_lock(timeout=30) as second:
        assert first and not second
    with store.reconcile_lock(timeout=30) as again:
        assert again  # released at the end


def test_a_post_no_longer_listed_is_forgotten_among_the_live_ones(store: Store) -> None:
    for post_id in (3, 5, 8):
        store.admit_post(post_id, 1, T1)
    store.forget_live_post(5)
    assert store.live_posts_between(0, "+inf") == [3, 8]


def test_a_rebuilds_place_and_posts_are_kept_until_it_finishes(store: Store, redis_conn: redis.Redis) -> None:
    assert store.rebuild_cursor() == {} and store.rebuild_posts() == {} and store.rebuild_posts_count() == 0
    store.save_rebuild_cursor({"phase": "replay", "at": "12"})
    read = [post(12, like_count=2, category_id=4), post(13, raw="Hello")]
    store.keep_rebuild_posts(read)
    assert store.rebuild_cursor() == {"phase": "replay", "at": "12"}
    assert store.rebuild_posts() == {12: read[0], 13: read[1]} and store.rebuild_posts_count() == 2
    store.forget_rebuild()
    assert redis_conn.keys("coc-test:*") == []


def test_a_weeks_digest_topic_and_chart_are_remembered(store: Store, redis_conn: redis.Redis) -> None:
    week = "2026-W45"
    assert store.digest_topic(week) is None and store.digest_chart(week) is None
    with store.digest_lock(week, timeout=5):
        store.remember_digest_topic(week, 321)
        store.remember_digest_chart(week, "upload://chart.png")
    assert store.digest_topic(week) == 321 and store.digest_chart(week) == "upload://chart.png"
    assert redis_conn.ttl(Keys("coc-test:").digest_topic(week)) > 80 * 24 * 3600
    assert not redis_conn.exists(Keys("coc-test:").digest_lock(week))


# ------------------------------------------------------------------------------------------------ the delivery log


def test_a_delivery_is_settled_when_received_or_refused_for_good() -> None:
    now = 10_000.0
    assert LoggedDelivery(1, 202, now).settled and not LoggedDelivery(1, 202, now).lost(now)
    assert LoggedDelivery(1, 401, now).settled  # a bad signature: the same bytes would be refused again
    for status in (-1, 500, 503, 429, 408):
        assert not LoggedDelivery(1, status, now).settled and LoggedDelivery(1, status, now).lost(now), status
    assert not LoggedDelivery(1, 0, now).lost(now)  # on its way
    assert LoggedDelivery(1, 0, now - PENDING_GRACE - 1).lost(now)  # on its way for too long
    assert not LoggedDelivery(1, -1, now, redelivering=True).lost(now)


def test_the_log_is_read_down_to_the_mark_and_the_mark_stays_below_what_is_unsettled() -> None:
    now = 10_000.0
    read = LogRead(mark=5)
    read.take([LoggedDelivery(i, 200, now) for i in (12, 11)] + [LoggedDelivery(9, -1, now)], page_size=3)
    assert read.reading  # a full page, and the mark not met
    read.take([LoggedDelivery(8, 0, now), LoggedDelivery(5, 200, now), LoggedDelivery(4, -1, now)], page_size=3)
    assert read.covered and not read.reading
    assert [r.id for r in read.rows] == [12, 11, 9, 8]  # nothing at or below the mark
    assert read.lost(now) == [9]
    assert read.next_mark(redelivered=[9]) == 7  # 8 is on its way, 9 was sent again: both looked at next pass
    settled = LogRead(mark=5)
    settled.take([LoggedDelivery(7, 200, now), LoggedDelivery(6, 410, now), LoggedDelivery(3, 200, now)], 3)
    assert settled.next_mark(redelivered=[]) == 7


def test_a_log_that_ends_before_the_mark_leaves_a_gap_and_one_cut_short_keeps_the_mark() -> None:
    purged = LogRead(mark=5)
    purged.take([LoggedDelivery(20, 200, 0.0)], page_size=50)  # the log ends above the mark
    assert purged.ended and not purged.covered and purged.next_mark([]) == 20
    short = LogRead(mark=5)
    short.take([LoggedDelivery(i, 200, 0.0) for i in (30, 29)], page_size=2)  # then the pages run out
    assert short.reading and short.next_mark([]) == 5
    empty = LogRead(mark=0)
    empty.take([], page_size=50)
    assert empty.covered  # no delivery has an id of 0: the whole log was read
