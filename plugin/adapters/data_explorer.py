"""Reading the forum's history in pages of 10,000 rows through its Data Explorer plugin, where it has one.

Data Explorer (bundled in Discourse core as plugins/discourse-data-explorer; before that the discourse-data-explorer
plugin) runs saved SQL queries for admins: `POST /admin/plugins/…/queries/{id}/run` with `params` (a JSON object
of name → text) and `limit` (at most 10,000). Each answer is one page of a keyset walk (`WHERE id > :after
ORDER BY id LIMIT :page_size`), so a forum of 100,000 posts is read in 10 calls instead of 2,000 pages of
`GET /posts.json`. Every call goes through the `Forum` adapter's admin client: budgeted, with its timeout, its
errors (`ForumRefused`, `ForumUnavailable`, `Throttled`).

The saved queries are PostgreSQL, as the plugin runs them: wrapped in `WITH query AS (…) SELECT * FROM query LIMIT
n`, read-only, 10 s at most, no `;` anywhere (comments included), parameters declared in a `-- [params]` header.
Each one keeps to what the forum shows the public by itself: no private messages, whispers, small actions or
moderator actions (only `post_type` 1), nothing deleted or hidden, no unlisted topics' posts, no read-restricted
category, no shared draft — the same posts as `GET /posts.json` lists (LatestPostsQuery's public posts).

Where the queries live: the plugin's own list, found again by name (`coc-companion: …`); each description ends with
a fingerprint of its SQL, so a query the service changed is updated and an unchanged one costs nothing but the
listing (which carries no SQL). An edit made in the forum that keeps the description is not noticed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from plugin.adapters.forum import Forum, ForumRefused
from plugin.domain.events import Post, Topic

PAGE_SIZE = 10_000
"""Rows a run answers at most: the plugin's QUERY_RESULT_MAX_LIMIT (the `limit` it accepts; core answers 400
above it). Its default is the hidden site setting `data_explorer_query_result_limit`, 1,000: always send `limit`."""

CORE_PREFIX = "/admin/plugins/discourse-data-explorer"
"""Where Discourse core mounts the bundled plugin (core/config/routes.rb)."""

LEGACY_PREFIX = "/admin/plugins/explorer"
"""Where the standalone plugin was mounted; core keeps its POST/PUT/run routes, and redirects its GETs."""

NAME_PREFIX = "coc-companion"
"""Every saved query's name starts with it: the listing is filtered by it (name or description ILIKE)."""

NOT_ENABLED = "the forum's Data Explorer plugin is not enabled (site setting data_explorer_enabled) or not installed"

_PUBLIC_POSTS = """p.post_type = 1
  AND p.deleted_at IS NULL
  AND NOT p.hidden
  AND t.deleted_at IS NULL
  AND t.archetype <> 'private_message'
  AND t.visible
  AND NOT COALESCE(c.read_restricted, FALSE)
  AND NOT EXISTS (SELECT 1 FROM shared_drafts sd WHERE sd.topic_id = t.id)"""
"""A post the public sees, as `p` in its topic `t` of category `c` (LEFT JOIN: a topic may have none)."""

_PUBLIC_TOPICS = """t.deleted_at IS NULL
  AND t.archetype <> 'private_message'
  AND NOT COALESCE(c.read_restricted, FALSE)
  AND NOT EXISTS (SELECT 1 FROM shared_drafts sd WHERE sd.topic_id = t.id)"""
"""A topic the public may open (`GET /t/{id}.json`), unlisted ones too."""

_TOPIC_COLUMNS = """SELECT t.id,
       t.title,
       t.slug,
       t.archetype,
       t.category_id,
       t.user_id,
       t.created_at,
       t.closed,
       t.archived,
       t.visible,
       t.external_id,
       t.posts_count,
       (SELECT string_agg(tg.name, ',' ORDER BY tg.name)
          FROM topic_tags tt
          JOIN tags tg ON tg.id = tt.tag_id
         WHERE tt.topic_id = t.id) AS tags
FROM topics t
LEFT JOIN categories c ON c.id = t.category_id"""

_PAGING = """-- int :after = 0
-- int :page_size = 10000"""


@dataclass(frozen=True)
class SavedQuery:
    """One query the service keeps in the forum's Data Explorer."""

    key: str
    """What `DataExplorer.run` calls it."""
    name: str
    purpose: str
    sql: str
    cursor: str
    """The column its pages are keyed by (`after` is the last page's last value)."""

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    @property
    def description(self) -> str:
        return (
            f"{self.purpose} Kept by the Code of Care companion, which replaces it with its own copy whenever that"
            f" changes: do not edit. [sql {self.fingerprint}]"
        )


POSTS = SavedQuery(
    key="posts",
    name=f"{NAME_PREFIX}: public posts since",
    purpose="Public posts created since a time, and every post of the given topics whatever its age, oldest id "
    "first, with what the service reads of each.",
    cursor="id",
    sql=f"""-- [params]
-- datetime :since
-- int_list :topic_ids = -1
{_PAGING}

SELECT p.id,
       p.topic_id,
       p.post_number,
       p.user_id,
       u.username,
       p.post_type,
       p.created_at,
       p.updated_at,
       p.version,
       p.raw,
       p.reply_to_post_number,
       ru.username AS reply_to_username,
       p.edit_reason,
       p.like_count,
       p.hidden,
       t.title AS topic_title,
       t.slug AS topic_slug,
       t.archetype AS topic_archetype,
       t.category_id,
       c.slug AS category_slug,
       u.trust_level,
       COALESCE(u.admin OR u.moderator, FALSE) AS staff,
       u.suspended_till AS user_suspended_till
FROM posts p
JOIN topics t ON t.id = p.topic_id
LEFT JOIN categories c ON c.id = t.category_id
LEFT JOIN users u ON u.id = p.user_id
LEFT JOIN users ru ON ru.id = p.reply_to_user_id
WHERE p.id > :after
  AND (p.created_at >= :since OR p.topic_id IN (:topic_ids))
  AND {_PUBLIC_POSTS}
ORDER BY p.id
LIMIT :page_size
""",
)

LIKES = SavedQuery(
    key="likes",
    name=f"{NAME_PREFIX}: likes since",
    purpose="Likes of public posts given or taken back since a time (deleted_at: when it was undone), and every "
    "like of the given posts, with the liked post's topic, number, author and category.",
    cursor="id",
    sql=f"""-- [params]
-- datetime :since
-- int_list :post_ids = -1
{_PAGING}

SELECT pa.id,
       pa.post_id,
       pa.user_id,
       u.username,
       pa.created_at,
       pa.deleted_at,
       p.topic_id,
       p.post_number,
       p.user_id AS post_user_id,
       pu.username AS post_username,
       t.category_id
FROM post_actions pa
JOIN posts p ON p.id = pa.post_id
JOIN topics t ON t.id = p.topic_id
LEFT JOIN categories c ON c.id = t.category_id
LEFT JOIN users u ON u.id = pa.user_id
LEFT JOIN users pu ON pu.id = p.user_id
WHERE pa.id > :after
  AND pa.post_action_type_id = 2
  AND (pa.created_at >= :since OR pa.deleted_at >= :since OR pa.post_id IN (:post_ids))
  AND {_PUBLIC_POSTS}
ORDER BY pa.id
LIMIT :page_size
""",
)

TOPICS = SavedQuery(
    key="topics",
    name=f"{NAME_PREFIX}: public topics by id",
    purpose="The public topics among the given ids, with their tags (comma-joined, by name) and category.",
    cursor="id",
    sql=f"""-- [params]
-- int_list :topic_ids
{_PAGING}

{_TOPIC_COLUMNS}
WHERE t.id IN (:topic_ids)
  AND t.id > :after
  AND {_PUBLIC_TOPICS}
ORDER BY t.id
LIMIT :page_size
""",
)

FIRST_POSTS = SavedQuery(
    key="first_posts",
    name=f"{NAME_PREFIX}: members' first public posts",
    purpose="Each member's first public post's time, member by member (null for a member who has none).",
    cursor="user_id",
    sql=f"""-- [params]
{_PAGING}

SELECT u.id AS user_id,
       u.username,
       (SELECT MIN(p.created_at)
          FROM posts p
          JOIN topics t ON t.id = p.topic_id
          LEFT JOIN categories c ON c.id = t.category_id
         WHERE p.user_id = u.id
           AND {_PUBLIC_POSTS}) AS first_post_at
FROM users u
WHERE u.id > :after
ORDER BY u.id
LIMIT :page_size
""",
)

QUERIES: tuple[SavedQuery, ...] = (POSTS, LIKES, TOPICS, FIRST_POSTS)
QUERY_BY_KEY = {q.key: q for q in QUERIES}

Row = dict[str, Any]


class DataExplorer:
    """The forum's Data Explorer, as the service uses it: its saved queries, run page after page as the admin.

    Costs, in calls of the shared budget: `ensure_queries` 1 (the listing) plus 1 per query to create or update;
    `run` 1 per page of `page_size` rows (and 1 more when the last page is full); `available` 2 once the queries
    exist. Raises what the `Forum` adapter raises; a forum without the plugin (or with it off) is `ForumRefused` 404.
    """

    def __init__(self, forum: Forum, *, page_size: int = PAGE_SIZE):
        if not 1 <= page_size <= PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{PAGE_SIZE}, got {page_size}")
        self.forum = forum
        self.page_size = page_size
        self._prefix: str | None = None
        self._ids: dict[str, int] = {}

    # ------------------------------------------------------------------------------------------ the queries

    def ensure_queries(self) -> dict[str, int]:
        """Create each saved query the forum lacks and update one whose SQL changed (found by name; the lowest id
        wins if there are several). Returns key → query id."""
        listed: dict[str, list[Mapping[str, Any]]] = {}
        for row in self._list():
            listed.setdefault(str(row.get("name")), []).append(row)
        ids: dict[str, int] = {}
        for query in QUERIES:
            fields = {"name": query.name, "description": query.description, "sql": query.sql}
            found = sorted(listed.get(query.name, []), key=lambda row: int(row["id"]))
            if not found:
                created = self._admin._post(f"{self._prefix}/queries.json", json=True, query=fields)
                ids[query.key] = int(created["query"]["id"])
                continue
            ids[query.key] = int(found[0]["id"])
            if found[0].get("description") != query.description:
                self._admin._put(f"{self._prefix}/queries/{ids[query.key]}.json", json=True, query=fields)
        self._ids = ids
        return dict(ids)

    def available(self) -> bool:
        """Whether the forum runs the saved queries: the plugin on, the queries there, a run answered. False when
        the forum refuses (no plugin, plugin off, not an admin, a query refused); Throttled and ForumUnavailable
        propagate (ask again later)."""
        try:
            self.ensure_queries()
            self._page(self._ids[TOPICS.key], {"topic_ids": "-1", "after": "0", "page_size": "1"}, limit=1)
        except ForumRefused:
            return False
        return True

    # ------------------------------------------------------------------------------------------ running

    def run(self, key: str, **params: object) -> list[Row]:
        """Every row of saved query `key` (see QUERIES) with `params` (datetimes, dates, ints, lists of ints, text),
        page after page from `after` (default 0). Rows are column → value: ints and booleans as such, timestamps
        as Discourse's `2025-03-14T09:26:53.589Z`, everything else text or None."""
        query = QUERY_BY_KEY.get(key)
        if query is None:
            raise ValueError(f"no saved query {key!r}: one of {', '.join(QUERY_BY_KEY)}")
        if key == TOPICS.key and not list(_items(params.get("topic_ids"))):
            return []
        after = params.pop("after", 0)
        texts = {name: _text(value) for name, value in params.items()}
        rows: list[Row] = []
        while True:
            page = self._run_page(query, {**texts, "after": _text(after), "page_size": str(self.page_size)})
            rows.extend(page)
            if len(page) < self.page_size:
                return rows
            last = page[-1][query.cursor]
            if not isinstance(last, int) or (isinstance(after, int) and last <= after):
                raise ForumRefused(200, [f"{query.name}: page key {last!r} does not follow {after!r}"])
            after = last

    def posts(self, since: datetime, topic_ids: Iterable[int] = ()) -> list[Post]:
        """Public posts created since `since`, and every post of `topic_ids` whatever its age, oldest first, as the
        domain's `Post` (no `cooked`)."""
        wanted = sorted(set(topic_ids))
        extra: dict[str, object] = {"topic_ids": wanted} if wanted else {}
        return [post_from_row(row) for row in self.run(POSTS.key, since=since, **extra)]

    def topics(self, topic_ids: Iterable[int]) -> list[Topic]:
        """The public topics among `topic_ids`, with their tags and category."""
        return [topic_from_row(row) for row in self.run(TOPICS.key, topic_ids=sorted(set(topic_ids)))]

    # ------------------------------------------------------------------------------------------ transport

    @property
    def _admin(self) -> Any:
        return self.forum._admin

    def _list(self) -> list[Mapping[str, Any]]:
        """The saved queries whose name or description holds NAME_PREFIX, every page. Finds where the plugin is
        mounted first: core's path, else the standalone plugin's (core only redirects that GET: 301)."""
        prefixes = [self._prefix] if self._prefix else [CORE_PREFIX, LEGACY_PREFIX]
        for prefix in prefixes:
            try:
                answer = self._admin._get(f"{prefix}/queries.json", filter=NAME_PREFIX)
            except ForumRefused as exc:
                if exc.status in (301, 302, 404) and prefix != prefixes[-1]:
                    continue
                if exc.status in (301, 302):
                    raise ForumRefused(404, [NOT_ENABLED], "not_found", request=exc.request) from exc
                raise
            self._prefix = prefix
            rows = list(answer.get("queries") or [])
            more = answer.get("load_more_queries")
            while more and answer.get("queries"):
                answer = self._admin._get(str(more))
                rows.extend(answer.get("queries") or [])
                more = answer.get("load_more_queries")
            return rows
        raise AssertionError("unreachable")

    def _run_page(self, query: SavedQuery, params: dict[str, str]) -> list[Row]:
        if query.key not in self._ids:
            self.ensure_queries()
        try:
            return self._page(self._ids[query.key], params, limit=self.page_size)
        except ForumRefused as exc:
            if exc.status != 404:
                raise
        self.ensure_queries()  # the query is gone (deleted in the forum): make it again, once
        return self._page(self._ids[query.key], params, limit=self.page_size)

    def _page(self, query_id: int, params: dict[str, str], *, limit: int) -> list[Row]:
        """One run: POST …/queries/{id}/run.json with `params` as JSON text and `limit`. 1 call."""
        answer = self._admin._post(
            f"{self._prefix}/queries/{int(query_id)}/run.json", params=json.dumps(params), limit=str(limit)
        )
        if not isinstance(answer, dict) or answer.get("success") is not True:
            errors = answer.get("errors") if isinstance(answer, dict) else None
            raise ForumRefused(200, [str(e) for e in errors or ["the run answered no success"]])
        columns = [str(c) for c in answer.get("columns") or []]
        return [dict(zip(columns, row, strict=True)) for row in answer.get("rows") or []]


# ---------------------------------------------------------------------------------------------- values


def _items(value: object) -> Iterable[object]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple, set, frozenset)):
        return value
    return (value,)


def _text(value: object) -> str:
    """A parameter as the plugin reads it (Parameter#cast_to_ruby takes text): a time in UTC, to the microsecond
    (the plugin keeps the second: a `since` is inclusive of that whole second); a list comma-joined."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(item) for item in value)
    return str(value)


def post_from_row(row: Mapping[str, Any]) -> Post:
    """A row of POSTS as the domain's `Post` (what a webhook's post payload would give, without `cooked`)."""
    data = dict(row)
    if data.get("user_id") is None:
        data["user_id"] = 0  # the author's account is gone (as plugin.adapters.forum reads such a post)
    if data.get("reply_to_username"):
        data["reply_to_user"] = {"username": data["reply_to_username"]}
    data["user_suspended"] = _later_than_now(data.get("user_suspended_till"))
    return replace(Post.from_payload(data), like_count=int(data.get("like_count") or 0))


def topic_from_row(row: Mapping[str, Any]) -> Topic:
    """A row of TOPICS as the domain's `Topic`."""
    tags = [name for name in str(row.get("tags") or "").split(",") if name]
    return Topic.from_payload({**row, "tags": tags})


def _later_than_now(value: object) -> bool:
    if not value:
        return False
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) > datetime.now(UTC)
