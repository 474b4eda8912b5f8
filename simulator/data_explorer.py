"""Data Explorer: Discourse's SQL-query plugin (bundled in core as plugins/discourse-data-explorer), over the
simulated forum's own state.

Every rule below cites where the plugin has it. Paths are of discourse/discourse-data-explorer at its last commit
b61e81fb616ce5880af96584ab9175f07f6362d4 (2025-07-14, "Deprecate the plugin": it moved into core), written `DE/…`,
and of the copy bundled in discourse/discourse, written `core/…` (plugins/discourse-data-explorer/…), where it
changed since:

- Enabled by the site setting `data_explorer_enabled`, default false (DE/config/settings.yml; `enabled_site_setting`
  in DE/plugin.rb). While off, `requires_plugin` answers every route 404 (DE/spec/requests/query_controller_spec.rb
  "when disabled … denies every request"). Admin only (`before_action :ensure_admin`): anyone else, a moderator
  or an anonymous visitor too, gets 403.
- Routes (core/config/routes.rb): the engine at `/admin/plugins/discourse-data-explorer` (`GET queries`,
  `GET queries/:id`, `POST queries`, `PUT queries/:id`, `DELETE queries/:id`, `POST queries/:id/run`) and the
  legacy API routes under `/admin/plugins/explorer` (POST/PUT/DELETE and run go to the controller; a GET of
  `queries` or `queries/:id` is a 301 to the engine's path, which drops `.json` and the query string). The last
  standalone plugin mounted the engine at `/admin/plugins/explorer` only (DE/config/routes.rb).
- `GET queries` (core QueryController#index): `{"queries": [QuerySerializer…], "total_rows_queries": N}`, 50 a
  page (INDEX_LIMIT), newest `last_run_at` first, `filter` = name or description ILIKE `%filter%`, and
  `load_more_queries` while more are left. Its built-in default queries (negative ids) are not simulated.
- `POST queries` / `PUT queries/:id`: `query[name]`, `query[description]`, `query[sql]` → `{"query":
  QueryDetailsSerializer}` (DE/app/serializers/…/query_serializer.rb, query_details_serializer.rb); a blank name
  is 422 "Name can't be blank" (`validates :name, presence: true`, DE/app/models/…/query.rb).
- `POST queries/:id/run` (QueryController#run): `params` (a JSON object of name → value, as text), `limit`
  (core: `fetch_limit_from_params(default: data_explorer_query_result_limit 1000, max: QUERY_RESULT_MAX_LIMIT
  10000)`, else 400), `explain`. The answer (DE/lib/…/result_format_converter.rb#to_json): `success`, `errors`,
  `duration` (ms, 1 decimal), `result_count`, `params` (the request's params, echoed), `columns`, `default_limit`,
  `relations`, `colrender`, `rows` (arrays, in column order). A refusal is 422 `{"success": false, "errors":
  [message]}`: `DiscourseDataExplorer::ValidationError: …` for the plugin's own checks, `PG::<Class>: ERROR:  …`
  for the database's. Query runs by API key are rate limited only in `block` mode (GlobalSetting
  `max_data_explorer_api_req_mode`, default `warn`): not simulated.
- Parameters (DE/lib/…/parameter.rb): the `-- [params]` header, its types and casts, their error messages.
- Running (DE/lib/…/data_explorer.rb#run_query; core's rewrite_to_binds): a `;` anywhere is refused; `:name`
  markers in code (not in comments or literals) are bound; the query runs as `WITH query AS (<sql>) SELECT * FROM
  query LIMIT <limit>` in a READ ONLY transaction with `statement_timeout` 10 s, so a write is refused by the
  database ("cannot execute UPDATE in a read-only transaction").

Here the SQL is parsed as PostgreSQL by sqlglot, refused where PostgreSQL refuses it (syntax, writes, locks,
unknown markers), transpiled to SQLite and run over an in-memory mirror of the forum under Discourse's table and
column names (`SCHEMA`). Result values are decoded as Rails' PostgreSQL adapter decodes them (integers, floats,
booleans, timestamps as UTC times → `2025-03-14T09:26:53.589Z`; everything else text). SQL that PostgreSQL would
run but SQLite cannot is refused with a message that says so: never kinder than Discourse, sometimes stricter.
"""
from __future__ import annotations

import functools
import html
import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import sqlglot
from flask import Blueprint, Flask, current_app, jsonify, redirect, request
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from . import serializers as ser
from .api import Params, missing
from .auth import current_user, forum
from .state import LIKE, Forum, ForumError, Like, User, iso, reply_target

blueprint = Blueprint("data_explorer", __name__)

CORE_PREFIX = "/admin/plugins/discourse-data-explorer"
LEGACY_PREFIX = "/admin/plugins/explorer"
SETTING = "data_explorer_enabled"
DEFAULT_RESULT_LIMIT = 1000          # site setting data_explorer_query_result_limit (hidden; DE/config/settings.yml)
QUERY_RESULT_MAX_LIMIT = 10_000      # DE/plugin.rb
INDEX_LIMIT = 50                     # core QueryController::INDEX_LIMIT
STATEMENT_TIMEOUT_SECONDS = 10.0     # `SET LOCAL statement_timeout = 10000` (DE/lib/…/data_explorer.rb)
VALIDATION_ERROR = "DiscourseDataExplorer::ValidationError"
NO_SEMICOLONS = "Remove the semicolons from the query."      # js.errors.explorer.no_semicolons (client.en.yml)


# --------------------------------------------------------------------------------------------- saved queries


@dataclass
class SavedQuery:
    """A row of `data_explorer_queries` (DE/app/models/…/query.rb: sql defaults to `SELECT 1`)."""
    id: int
    name: str
    description: str | None
    sql: str
    user_id: int
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None
    hidden: bool = False


@dataclass
class QueryStore:
    queries: dict[int, SavedQuery] = field(default_factory=dict)
    last_id: int = 0


def store() -> QueryStore:
    return current_app.extensions["data_explorer"]


@blueprint.record_once
def _install(state: Any) -> None:
    app: Flask = state.app
    app.extensions.setdefault("data_explorer", QueryStore())
    app.extensions["forum"].settings.setdefault(SETTING, False)


# --------------------------------------------------------------------------------------------- errors


class QueryError(Exception):
    """A run refused with 422 `{"success": false, "errors": [message]}` (QueryController#run)."""


class UnrescuedError(Exception):
    """What Ruby raises and nothing in the plugin rescues (e.g. NoMethodError): the forum answers 500."""


def _validation(message: str) -> QueryError:
    # Not an ActiveRecord::StatementInvalid, so the controller prefixes the class: "#{err_class}: #{err_msg}".
    return QueryError(f"{VALIDATION_ERROR}: {message}")


def _pg(error_class: str, message: str) -> QueryError:
    # The query runs on the raw PG connection, so a database error is a PG::Error, prefixed with its class.
    return QueryError(f"PG::{error_class}: ERROR:  {message}")


# --------------------------------------------------------------------------------------------- SQL lexing


_CODE_RUN = re.compile(r"[^-/'\"$]+")
_COMMENT_EDGE = re.compile(r"\*/|/\*")
_DOLLAR_OPEN = re.compile(r"\$\w*\$")
_DOLLAR_QUOTE = re.compile(r"\$(\w*)\$.*?\$\1\$", re.S)
_E_STRING = re.compile(r"'(?:''|[^'\\]|\\.)*'", re.S)
_STRING = re.compile(r"'(?:''|[^'])*'")
_IDENTIFIER = re.compile(r'"(?:""|[^"])*"')
PARAM_MARKER = re.compile(r"(?<!:):([a-zA-Z_][a-zA-Z0-9_]*)")      # "the lookbehind skips `::type` casts"


def scan_sql_segments(sql: str) -> Iterator[tuple[str, str]]:
    """core DataExplorer.scan_sql_segments: (kind, text) spans by PostgreSQL's lexical rules, kind one of code,
    string, identifier, dollar_quote, line_comment, block_comment. Unterminated constructs are yielded whole."""
    pos, end = 0, len(sql)
    while pos < end:
        start = pos
        if sql.startswith("--", pos):
            stop = sql.find("\n", pos)
            pos = end if stop < 0 else stop
            yield "line_comment", sql[start:pos]
        elif sql.startswith("/*", pos):
            depth, pos = 1, pos + 2
            while depth > 0:
                edge = _COMMENT_EDGE.search(sql, pos)
                if edge is None:
                    pos = end
                    break
                depth += 1 if edge.group() == "/*" else -1
                pos = edge.end()
            yield "block_comment", sql[start:pos]
        elif sql[pos] == "'":
            e_string = re.search(r"(?<![\w\"])[eE]\Z", sql[:pos]) is not None    # backslashes only in E''
            found = (_E_STRING if e_string else _STRING).match(sql, pos)
            pos = found.end() if found else end
            yield "string", sql[start:pos]
        elif sql[pos] == '"':
            found = _IDENTIFIER.match(sql, pos)
            pos = found.end() if found else end
            yield "identifier", sql[start:pos]
        elif _DOLLAR_OPEN.match(sql, pos):
            found = _DOLLAR_QUOTE.match(sql, pos)
            pos = found.end() if found else end
            yield "dollar_quote", sql[start:pos]
        else:
            found = _CODE_RUN.match(sql, pos)
            pos = found.end() if found else pos + 1
            yield "code", sql[start:pos]


def strip_comments(sql: str) -> str:
    """core DataExplorer.strip_comments: line comments dropped, block comments become one space."""
    out = []
    for kind, text in scan_sql_segments(sql):
        if kind == "block_comment":
            out.append(" ")
        elif kind != "line_comment":
            out.append(text)
    return "".join(out)


# --------------------------------------------------------------------------------------------- parameters


TYPES = ("int", "bigint", "boolean", "string", "date", "time", "datetime", "double", "user_id", "post_id",
         "topic_id", "category_id", "group_id", "badge_id", "int_list", "string_list", "user_list", "group_list")
TYPE_ALIASES = {"integer": "int", "text": "string", "timestamp": "datetime"}
_HEADER = re.compile(r"^\s*--\s*\[params\]\s*$")
_DECLARATION = re.compile(r"^\s*--\s*([a-zA-Z_ ]+)\s*:([a-z_]+)\s*(?:=\s+(.*)\s*)?$")
_NULLABLE = re.compile(r"^(null)?(.*?)(null)?$", re.I)


@dataclass(frozen=True)
class Parameter:
    """DE/lib/…/parameter.rb: one `-- <type> :<identifier> [= <default>]` line of the header."""
    identifier: str
    type: str
    default: str | None
    nullable: bool

    def to_hash(self) -> dict[str, Any]:
        return {"identifier": self.identifier, "type": self.type, "default": self.default, "nullable": self.nullable}


def parse_params(sql: str) -> list[Parameter]:
    """Parameter.create_from_sql (not strict): the lines after `-- [params]` up to the first line that is neither
    a declaration nor whitespace-only (an empty line ends it); a declaration of an unknown type is dropped."""
    found: list[Parameter] = []
    in_params = False
    for line in sql.splitlines():
        if not in_params:
            in_params = _HEADER.match(line) is not None
            continue
        declared = _DECLARATION.match(line)
        if declared is None:
            if re.match(r"^\s+$", line):
                continue
            break
        type_text, identifier, default = declared.group(1), declared.group(2), declared.group(3)
        nullable_match = _NULLABLE.match(type_text)
        assert nullable_match is not None
        nullable = bool(nullable_match.group(1) or nullable_match.group(3))
        type_name = nullable_match.group(2).strip()
        type_name = TYPE_ALIASES.get(type_name, type_name)
        if type_name not in TYPES:
            continue                              # Parameter.new raised; create_from_sql rescues it when not strict
        found.append(Parameter(identifier, type_name, default, nullable))
    return found


def _ruby_to_i(text: str) -> int:
    """String#to_i: optional blanks and sign, then the leading digits (underscores between digits); else 0."""
    found = re.match(r"\s*([-+]?\d+(?:_\d+)*)", text)
    return int(found.group(1).replace("_", "")) if found else 0


def _invalid(param: Parameter, text: str, detail: str | None = None) -> QueryError:
    if detail:
        return _validation(f"'{text}' is an invalid {param.type} - {detail}")
    return _validation(f"'{text}' is an invalid value for {param.type}")


def _parse_time(param: Parameter, text: str) -> datetime:
    """Date.parse / DateTime.parse for the ISO 8601 forms (other forms Ruby reads are refused here)."""
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _invalid(param, text, "invalid date") from None


def cast_param(f: Forum, param: Parameter, value: Any) -> Any:
    """Parameter#cast_to_ruby, as the value to bind (None binds NULL). Times are bound as PostgreSQL reads the text
    it is sent: a `timestamp` keeps the wall time and ignores an offset, to the second (DateTime#to_s)."""
    text = param.default if value is None else value
    if text is not None and not isinstance(text, str):
        # `string.blank?`, `string =~ …`, `string.downcase`: a JSON number or list is not a String, and Ruby raises
        # NoMethodError, which nothing rescues: the forum answers 500.
        raise UnrescuedError(f"undefined method for {type(text).__name__} (parameter {param.identifier})")
    if text is None or not text.strip():
        if param.nullable:
            return None
        raise _validation(f"Missing parameter {param.identifier} of type {param.type}")
    if text.lower() == "#null":
        return None
    kind = param.type
    if kind in ("int", "bigint"):
        if not re.search(r"^-?\d+$", text, re.M):
            raise _invalid(param, text, "Not an integer")
        return _ruby_to_i(text)
    if kind == "boolean":
        return re.search(r"t|true|y|yes|1", text, re.I) is not None
    if kind == "string":
        return text
    if kind == "date":
        return _parse_time(param, text).date().isoformat()
    if kind in ("datetime", "time"):
        moment = _parse_time(param, text)
        return moment.replace(tzinfo=None, microsecond=0).strftime("%Y-%m-%d %H:%M:%S.%f")
    if kind == "double":
        if re.search(r"^-?\d*\.?\d+$", text.strip(), re.M):
            return float(text)
        if re.match(r"^(-?)Inf(inity)?$", text, re.I):
            return float("-inf") if text.startswith("-") else float("inf")
        if re.match(r"^(-?)NaN$", text, re.I):
            return float("nan")
        raise _invalid(param, text)
    if kind in ("int_list", "string_list"):
        parts = _ruby_split(text)
        if not parts:
            raise _invalid(param, text, "can't be empty")
        if kind == "int_list":
            return [None if p.lower() == "#null" else _ruby_to_i(p) for p in parts]
        return [None if p.lower() == "#null" else p for p in parts]
    if kind in ("user_id", "post_id", "topic_id", "group_id"):
        return _find_record(f, param, text)
    if kind == "category_id":
        for category in f.categories.values():
            if str(category.id) == str(_ruby_to_i(text)) or category.slug == text or category.name == text:
                return category.id
        raise _invalid(param, text, f"Could not find category named {text}")
    raise _validation(f"the simulator does not support parameters of type {kind}")


def _ruby_split(text: str) -> list[str]:
    """String#split(","): trailing empty fields dropped."""
    parts = text.split(",")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _find_record(f: Forum, param: Parameter, text: str) -> int:
    compact = re.sub(r"[ _]", "", text)
    klass = {"user_id": "User", "post_id": "Post", "topic_id": "Topic", "group_id": "Group"}[param.type]
    if re.search(r"^-?\d+$", compact, re.M):
        wanted = _ruby_to_i(compact)
        records: dict[int, Any] = {"user_id": f.users, "post_id": f.posts, "topic_id": f.topics,
                                   "group_id": f.groups}[param.type]
        if wanted not in records:
            raise _invalid(param, text, f"The specified {klass} was not found")
        return wanted
    if param.type == "user_id":
        user = f.user_by_name(text)
        if user is None:
            raise _invalid(param, text, f"The user named {text} was not found")
        return user.id
    if param.type == "group_id":
        group = f.group_by_name(text)
        if group is None or group.name != text:
            raise _invalid(param, text, f"The group named {text} was not found")
        return group.id
    raise _invalid(param, text)


# --------------------------------------------------------------------------------------------- the mirror

# Discourse's tables and columns that the mirror holds, with their PostgreSQL types (db/schema annotations of
# app/models/*.rb). Timestamps are `timestamp without time zone`, in UTC.
SCHEMA: dict[str, dict[str, str]] = {
    "users": {"id": "integer", "username": "varchar", "username_lower": "varchar", "name": "varchar",
              "created_at": "timestamp", "updated_at": "timestamp", "active": "boolean", "admin": "boolean",
              "moderator": "boolean", "trust_level": "integer", "suspended_till": "timestamp", "staged": "boolean",
              "title": "varchar"},
    "groups": {"id": "integer", "name": "varchar", "full_name": "varchar", "automatic": "boolean",
               "visibility_level": "integer", "created_at": "timestamp"},
    "group_users": {"id": "integer", "group_id": "integer", "user_id": "integer", "owner": "boolean"},
    "categories": {"id": "integer", "name": "varchar", "slug": "varchar", "parent_category_id": "integer",
                   "read_restricted": "boolean", "topic_id": "integer", "position": "integer",
                   "description": "text"},
    "category_groups": {"id": "integer", "category_id": "integer", "group_id": "integer",
                        "permission_type": "integer"},
    "tags": {"id": "integer", "name": "varchar", "description": "varchar"},
    "topics": {"id": "integer", "title": "varchar", "fancy_title": "varchar", "slug": "varchar",
               "category_id": "integer", "archetype": "varchar", "user_id": "integer", "created_at": "timestamp",
               "updated_at": "timestamp", "bumped_at": "timestamp", "last_posted_at": "timestamp",
               "deleted_at": "timestamp", "deleted_by_id": "integer", "closed": "boolean", "archived": "boolean",
               "visible": "boolean", "pinned_at": "timestamp", "external_id": "varchar", "views": "integer",
               "posts_count": "integer", "highest_post_number": "integer", "like_count": "integer",
               "subtype": "varchar"},
    "topic_tags": {"id": "integer", "topic_id": "integer", "tag_id": "integer"},
    "topic_allowed_users": {"id": "integer", "topic_id": "integer", "user_id": "integer"},
    "topic_allowed_groups": {"id": "integer", "topic_id": "integer", "group_id": "integer"},
    "shared_drafts": {"id": "integer", "topic_id": "integer", "category_id": "integer"},
    "posts": {"id": "integer", "user_id": "integer", "topic_id": "integer", "post_number": "integer",
              "raw": "text", "cooked": "text", "created_at": "timestamp", "updated_at": "timestamp",
              "deleted_at": "timestamp", "deleted_by_id": "integer", "post_type": "integer",
              "reply_to_post_number": "integer", "reply_to_user_id": "integer", "version": "integer",
              "like_count": "integer", "hidden": "boolean", "wiki": "boolean", "edit_reason": "varchar",
              "user_deleted": "boolean"},
    "post_actions": {"id": "integer", "post_id": "integer", "user_id": "integer",
                     "post_action_type_id": "integer", "created_at": "timestamp", "updated_at": "timestamp",
                     "deleted_at": "timestamp", "deleted_by_id": "integer"},
}

_SQLITE_TYPES = {"integer": "INTEGER", "boolean": "INTEGER", "timestamp": "TEXT", "varchar": "TEXT", "text": "TEXT"}


def _ts(moment: datetime | None) -> str | None:
    """A timestamp as PostgreSQL prints a `timestamp` (UTC, microseconds): sorts and compares as text."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _rows(f: Forum) -> dict[str, list[tuple[Any, ...]]]:
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in SCHEMA}
    for u in f.users.values():
        rows["users"].append((u.id, u.username, u.username.lower(), u.name, _ts(u.created_at), _ts(u.created_at),
                              u.active, u.admin, u.moderator, u.trust_level, _ts(u.suspended_till), False,
                              u.title))
    group_user_id = 0
    for g in f.groups.values():
        rows["groups"].append((g.id, g.name, g.full_name, g.automatic, g.visibility_level, _ts(g.created_at)))
        for user in f.members_of(g):
            group_user_id += 1
            rows["group_users"].append((group_user_id, g.id, user.id, user.id in g.owner_ids))
    category_group_id = 0
    for c in f.categories.values():
        rows["categories"].append((c.id, c.name, c.slug, c.parent_category_id, c.read_restricted, c.topic_id,
                                   c.position, c.description))
        for group_name, permission in c.permissions.items():
            group = f.group_by_name(group_name)
            group_id = 0 if group_name == "everyone" else (group.id if group else None)
            if group_id is not None:
                category_group_id += 1
                rows["category_groups"].append((category_group_id, c.id, group_id, permission))
    for t in f.tags.values():
        rows["tags"].append((t.id, t.name, t.description))
    counters = {"topic_tags": 0, "topic_allowed_users": 0, "topic_allowed_groups": 0, "shared_drafts": 0}

    def numbered(table: str, *values: Any) -> None:
        counters[table] += 1
        rows[table].append((counters[table], *values))

    for t in f.topics.values():
        posts = [f.posts[i] for i in t.post_ids if i in f.posts]
        counted = [p for p in posts if p.deleted_at is None and p.post_type != 4]
        rows["topics"].append((
            t.id, t.title, html.escape(t.title), t.slug, t.category_id, t.archetype, t.user_id, _ts(t.created_at),
            _ts(t.updated_at or t.created_at), _ts(t.bumped_at or t.created_at),
            _ts(t.last_posted_at or t.created_at), _ts(t.deleted_at), t.deleted_by_id, t.closed, t.archived,
            t.visible, _ts(t.created_at) if t.pinned else None, t.external_id, t.views, len(counted),
            max((p.post_number for p in posts), default=0), sum(len(p.likes) for p in counted), None))
        for name in t.tags:
            if name in f.tags:
                numbered("topic_tags", t.id, f.tags[name].id)
        for user_id in t.allowed_user_ids:
            numbered("topic_allowed_users", t.id, user_id)
        for group_id in t.allowed_group_ids:
            numbered("topic_allowed_groups", t.id, group_id)
        if t.shared_draft_category_id is not None:
            numbered("shared_drafts", t.id, t.shared_draft_category_id)
    likes: list[tuple[int, int, Like, bool]] = []
    for p in f.posts.values():
        target = reply_target(f, p)
        rows["posts"].append((
            p.id, p.user_id, p.topic_id, p.post_number, p.raw, p.cooked, _ts(p.created_at), _ts(p.updated_at),
            _ts(p.deleted_at), p.deleted_by_id, p.post_type, p.reply_to_post_number,
            target.user_id if target else None, p.version, len(p.likes), p.hidden, p.wiki, p.edit_reason, False))
        likes.extend((p.id, like.user_id, like, False) for like in p.likes)
    likes.extend((post_id, user_id, like, True) for (post_id, user_id), like in f.trashed_likes.items())
    # A like from a snapshot older than like ids gets one above every real id, in a stable order; a trashed one
    # from before trashing kept its time is taken as trashed when it was made (the earliest it can have been).
    next_id = max((like.id for _, _, like, _ in likes), default=0)
    for post_id, user_id, like, trashed in sorted(likes, key=lambda item: (item[0], item[1], item[3])):
        like_id = like.id
        if not like_id:
            next_id += 1
            like_id = next_id
        deleted_at = (like.deleted_at or like.created_at) if trashed else None
        rows["post_actions"].append((like_id, post_id, user_id, LIKE, _ts(like.created_at),
                                     _ts(deleted_at or like.created_at), _ts(deleted_at), None))
    return rows


class _StringAgg:
    """`string_agg(value, separator ORDER BY key …)` for SQLite older than 3.44 (no ORDER BY in aggregates):
    arguments are value, separator, then (direction, key) pairs; NULL values are skipped, as in PostgreSQL."""

    def __init__(self) -> None:
        self.items: list[tuple[list[tuple[str, Any]], Any, Any]] = []

    def step(self, value: Any, separator: Any, *order: Any) -> None:
        if value is not None:
            keys = [(str(order[i]), order[i + 1]) for i in range(0, len(order) - 1, 2)]
            self.items.append((keys, value, separator))

    def finalize(self) -> Any:
        if not self.items:
            return None

        def compare(a: tuple[list[tuple[str, Any]], Any, Any], b: tuple[list[tuple[str, Any]], Any, Any]) -> int:
            for (direction, x), (_, y) in zip(a[0], b[0], strict=False):
                if x == y:
                    continue
                nulls_first = direction.endswith("nulls_first")
                if x is None or y is None:
                    return (-1 if x is None else 1) * (1 if nulls_first else -1)
                order = -1 if x < y else 1
                return -order if direction.startswith("desc") else order
            return 0

        ordered = sorted(self.items, key=functools.cmp_to_key(compare))
        out = str(ordered[0][1])
        for _, value, separator in ordered[1:]:
            out += ("" if separator is None else str(separator)) + str(value)
        return out


def build_mirror(f: Forum) -> sqlite3.Connection:
    """The forum's state as Discourse's tables, in a fresh in-memory SQLite database, read-only once filled, with
    the indexes PostgreSQL has on them (primary keys, posts by topic, post actions by post, topic tags by topic)."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.create_aggregate("coc_string_agg", -1, _StringAgg)   # type: ignore[arg-type]
    for table, data in _rows(f).items():
        columns = SCHEMA[table]
        conn.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {_SQLITE_TYPES[t]}' for c, t in columns.items())})")
        if data:
            marks = ", ".join("?" for _ in columns)
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", data)
        for column in ("id", "topic_id", "post_id", "user_id"):
            if column in columns:
                conn.execute(f"CREATE INDEX {table}_{column} ON {table} ({column})")
    conn.commit()
    conn.execute("PRAGMA query_only = ON")      # SET TRANSACTION READ ONLY
    return conn


def mirror(f: Forum) -> sqlite3.Connection:
    """The forum's mirror, built again only when the forum changed since (what the simulator records of a change:
    an event, or a count of users, topics, posts, categories or tags that moved): a forum of millions of posts is
    copied once, not at every query."""
    key = (f.generation, len(f.users), len(f.topics), len(f.posts), len(f.categories), len(f.tags))
    cached = f.__dict__.get("_data_explorer_mirror")
    if cached is not None and cached[0] == key:
        return cached[1]
    if cached is not None:
        cached[1].close()
    conn = build_mirror(f)
    f.__dict__["_data_explorer_mirror"] = (key, conn)
    return conn


# --------------------------------------------------------------------------------------------- running a query


_PLACEHOLDER = "__de_"


def bind_markers(sql: str, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """core DataExplorer.rewrite_to_binds: each `:name` in code with a value becomes a placeholder (a list one per
    element, an empty list or a nil NULL); markers inside literals stay; in a dollar-quoted literal, refused."""
    binds: dict[str, Any] = {}
    slots: dict[str, str] = {}

    def placeholders(name: str) -> str:
        value = values[name]
        if value is None:
            return "NULL"
        items = value if isinstance(value, list) else [value]
        if not items:
            return "NULL"
        marks = []
        for item in items:
            if item is None:
                marks.append("NULL")
                continue
            key = f"{_PLACEHOLDER}{len(binds)}"
            binds[key] = item
            marks.append(f":{key}")
        return ", ".join(marks)

    def replace(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in values:
            return found.group(0)
        if name not in slots:
            slots[name] = placeholders(name)
        return slots[name]

    out = []
    for kind, text in scan_sql_segments(sql):
        if kind == "code":
            out.append(PARAM_MARKER.sub(replace, text))
        elif kind == "dollar_quote" and any(m.group(1) in values for m in PARAM_MARKER.finditer(text)):
            raise _validation("Parameters cannot be used inside dollar-quoted literals")
        else:
            out.append(text)
    return "".join(out), binds


def _syntax_error(near: str | None) -> QueryError:
    if not near:
        return _pg("SyntaxError", "syntax error at end of input")
    return _pg("SyntaxError", f'syntax error at or near "{near}"')


def _parse(sql: str) -> exp.Expression:
    try:
        trees = sqlglot.parse(sql, read="postgres", error_level=ErrorLevel.RAISE)
    except ParseError as exc:
        detail = exc.errors[0] if exc.errors else {}
        raise _syntax_error(str(detail.get("highlight") or "").strip() or None) from None
    statements = [t for t in trees if t is not None]
    if len(statements) != 1:
        raise _syntax_error(None)
    return statements[0]


_DML = (exp.Insert, exp.Update, exp.Delete, exp.Merge)


def refuse_what_postgres_refuses(tree: exp.Expression) -> None:
    """What PostgreSQL answers the wrapped query with before or instead of running it: a statement that is not a
    query inside `WITH query AS (…)` is a syntax error; a data-modifying CTE needs RETURNING; in a READ ONLY
    transaction writes and row locks are refused; an unbound `:name` or `?` is a syntax error."""
    for node in tree.walk():
        if isinstance(node, exp.Command):
            raise _syntax_error(str(node.this).split()[0] if node.this else None)
    for cte in tree.find_all(exp.CTE):
        body = cte.this
        if isinstance(body, _DML):
            if not body.args.get("returning"):
                raise _pg("FeatureNotSupported", f'WITH query "{cte.alias}" does not have a RETURNING clause')
        elif not isinstance(body, exp.Query):
            raise _syntax_error(body.key.upper() if body is not None else None)
    for node in tree.walk():
        if isinstance(node, _DML):
            raise _pg("ReadOnlySqlTransaction", f"cannot execute {node.key.upper()} in a read-only transaction")
        if isinstance(node, exp.Lock):
            kind = "SELECT FOR UPDATE" if node.args.get("update") else "SELECT FOR SHARE"
            raise _pg("ReadOnlySqlTransaction", f"cannot execute {kind} in a read-only transaction")
        if isinstance(node, exp.Placeholder) and not str(node.name or "").startswith(_PLACEHOLDER):
            raise _syntax_error("?" if node.args.get("jdbc") else ":")
        if isinstance(node, exp.Parameter):
            raise _pg("UndefinedParameter", f"there is no parameter ${node.name}")


def _ordered_string_agg(tree: exp.Expression) -> exp.Expression:
    """`string_agg(v, sep ORDER BY …)` → the `coc_string_agg` aggregate (see _StringAgg)."""
    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.GroupConcat) and isinstance(node.this, exp.Order):
            order = node.this
            args: list[exp.Expression] = [order.this, node.args.get("separator") or exp.Null()]
            for ordered in order.expressions:
                desc = bool(ordered.args.get("desc"))
                nulls_first = ordered.args.get("nulls_first")
                if nulls_first is None:
                    nulls_first = desc                 # PostgreSQL: NULLS LAST for ASC, NULLS FIRST for DESC
                direction = ("desc" if desc else "asc") + ("_nulls_first" if nulls_first else "_nulls_last")
                args.extend([exp.Literal.string(direction), ordered.this])
            return exp.Anonymous(this="coc_string_agg", expressions=args)
        return node
    return tree.transform(rewrite)


def _pg_name(projection: exp.Expression) -> str | None:
    """The name PostgreSQL gives a result column (unquoted identifiers fold to lower case)."""
    def folded(identifier: exp.Expression | None, text: str) -> str:
        quoted = isinstance(identifier, exp.Identifier) and identifier.quoted
        return text if quoted else text.lower()
    if isinstance(projection, exp.Alias):
        return folded(projection.args.get("alias"), projection.alias)
    if isinstance(projection, exp.Cast) and isinstance(projection.this, exp.Column):
        projection = projection.this
    if isinstance(projection, exp.Column):
        if isinstance(projection.this, exp.Star):
            return None
        return folded(projection.this, projection.name)
    if isinstance(projection, exp.Star):
        return None
    if isinstance(projection, exp.Func):
        text = projection.sql("postgres")
        return text.split("(", 1)[0].strip().lower() or "?column?"
    return "?column?"


def _column_types(tree: exp.Expression) -> list[str] | None:
    """The PostgreSQL types of the result's columns, from the schema (None when sqlglot cannot tell)."""
    try:
        typed = annotate_types(qualify(tree.copy(), schema=SCHEMA, dialect="postgres", validate_qualify_columns=False),
                               schema=SCHEMA, dialect="postgres")
    except Exception:  # noqa: BLE001  (typing is best effort: sqlglot cannot type every query)
        return None
    if not isinstance(typed, exp.Query):
        return None
    return [p.type.sql("postgres").lower() if p.type else "unknown" for p in typed.selects]


_INTEGER_TYPES = frozenset({"int", "integer", "bigint", "smallint", "tinyint", "int2", "int4", "int8"})


def _decode(value: Any, pg_type: str) -> Any:
    """As Rails' PostgreSQL adapter decodes a result (PostgreSQLAdapter#add_pg_decoders): integers, floats,
    booleans; a timestamp as a UTC Time, which JSON renders `2025-03-14T09:26:53.589Z`; the rest as text."""
    if value is None:
        return None
    if pg_type in _INTEGER_TYPES:
        return int(value) if isinstance(value, (int, float)) else value
    if pg_type in ("boolean", "bool"):
        return bool(value) if isinstance(value, int) else value
    if pg_type in ("double", "double precision", "float", "real"):
        return float(value) if isinstance(value, (int, float)) else value
    if pg_type.startswith(("decimal", "numeric")):
        return str(value)                              # BigDecimal renders as a JSON string
    if pg_type == "timestamp" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return iso(moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and pg_type in ("varchar", "text"):
        return str(value)
    return value


@dataclass
class Result:
    columns: list[str]
    rows: list[list[Any]]
    duration_secs: float
    explain: str | None = None


def run_sql(f: Forum, saved_sql: str, request_params: dict[str, Any], *, limit: int,
            explain: bool = False) -> Result:
    """DataExplorer.run_query over the mirror: QueryError for what the plugin or PostgreSQL refuse."""
    if ";" in saved_sql:
        raise _validation(NO_SEMICOLONS)
    values = {p.identifier: cast_param(f, p, request_params.get(p.identifier)) for p in parse_params(saved_sql)}
    executable, binds = bind_markers(strip_comments(saved_sql), values)
    wrapped = f"WITH query AS (\n{executable}\n) SELECT * FROM query\nLIMIT {limit}"
    tree = _parse(wrapped)
    refuse_what_postgres_refuses(tree)
    types = _column_types(tree)
    names: list[str | None] = []
    cte = tree.find(exp.CTE)
    if cte is not None and isinstance(cte.this, exp.Query):
        names = [_pg_name(p) for p in cte.this.selects]
    try:
        sqlite_sql = _ordered_string_agg(tree.copy()).sql(dialect="sqlite", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise _pg("FeatureNotSupported", f"the simulator cannot run this query in SQLite: {exc}") from None
    conn = mirror(f)
    deadline = time.monotonic() + STATEMENT_TIMEOUT_SECONDS
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
    started = time.perf_counter()
    try:
        cursor = conn.execute(sqlite_sql, binds)
        rows = cursor.fetchall()
        plan = None
        if explain:
            plan = "\n".join(str(r[-1]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sqlite_sql}", binds))
    except sqlite3.Error as exc:
        raise _sqlite_error(exc) from None
    finally:
        conn.set_progress_handler(None, 0)
    duration = time.perf_counter() - started
    description = [d[0] for d in cursor.description or ()]
    columns = [names[i] if i < len(names) and names[i] and len(names) == len(description) else name
               for i, name in enumerate(description)]
    if types is None or len(types) != len(columns):
        types = ["unknown"] * len(columns)
    decoded = [[_decode(v, types[i]) for i, v in enumerate(row)] for row in rows]
    return Result(columns=columns, rows=decoded, duration_secs=duration, explain=plan)


def _sqlite_error(exc: sqlite3.Error) -> QueryError:
    message = str(exc)
    if message == "interrupted":
        return _pg("QueryCanceled", "canceling statement due to statement timeout")
    if message.startswith("no such table: "):
        return _pg("UndefinedTable", f'relation "{message.split(": ", 1)[1]}" does not exist')
    if message.startswith("no such column: "):
        return _pg("UndefinedColumn", f'column "{message.split(": ", 1)[1]}" does not exist')
    if message.startswith("no such function: "):
        return _pg("UndefinedFunction", f"function {message.split(': ', 1)[1].lower()}() does not exist")
    if "readonly" in message or "read-only" in message:
        return _pg("ReadOnlySqlTransaction", "cannot execute this statement in a read-only transaction")
    return _pg("FeatureNotSupported", f"the simulator could not run this query in SQLite: {message}")


# --------------------------------------------------------------------------------------------- relations


_RELATION_COLUMNS = (("user", re.compile(r"(user)_id$")), ("badge", re.compile(r"(badge)_id$")),
                     ("post", re.compile(r"(post)_id$")), ("topic", re.compile(r"(topic)_id$")),
                     ("tag_group", re.compile(r"(tag_group)_id$")), ("group", re.compile(r"(group)_id$")),
                     ("category", re.compile(r"(category)_id$")))
_IGNORED_RELATIONS = {"group", "category", "reltime", "html", "json"}


def _excerpt(cooked: str, length: int = 70) -> str:
    """Post.excerpt(cooked, 70): the text, cut at `length` with an ellipsis."""
    text = ser._plain(cooked)
    return html.escape(text[:length]) + ("&hellip;" if len(text) > length else "")


def add_extra_data(f: Forum, viewer: User, columns: list[str], rows: list[list[Any]]) -> tuple[dict[str, Any],
                                                                                                 dict[str, str]]:
    """DataExplorer.add_extra_data: the records named by `*_id` columns (BasicUserSerializer, SmallPostWith-
    ExcerptSerializer, BasicTopicSerializer; groups and categories listed empty) and how each column renders."""
    needed: dict[str, list[int]] = {}
    colrender: dict[str, str] = {}
    for index, name in enumerate(columns):
        relation = next((cls for cls, pattern in _RELATION_COLUMNS if pattern.search(name)), None)
        if relation is None and re.match(r"^(\w+)\$", name):
            relation = re.match(r"^(\w+)\$", name).group(1)  # type: ignore[union-attr]
        if relation is not None:
            needed.setdefault(relation, []).append(index)
        elif re.match(r"^\w+_url$", name):
            colrender[str(index)] = "url"
        elif re.match(r"^\w+_payload$", name) or name == "payload":
            colrender[str(index)] = "json"
    relations: dict[str, Any] = {}
    for relation, indexes in needed.items():
        if relation not in {"user", "badge", "post", "topic", "tag_group"} | _IGNORED_RELATIONS:
            continue
        for index in indexes:
            colrender[str(index)] = relation
        if relation in _IGNORED_RELATIONS:
            relations[relation] = []
            continue
        ids = sorted({int(row[i]) for row in rows for i in indexes
                      if row[i] is not None and str(row[i]).lstrip("-").isdigit()})
        if relation == "user":
            relations["user"] = [ser.basic_user(f.users[i]) for i in ids if i in f.users]
        elif relation == "topic":
            relations["topic"] = [ser.basic_topic(f, viewer, f.topics[i]) for i in ids if i in f.topics]
        elif relation == "post":
            relations["post"] = [_small_post(f, f.posts[i]) for i in ids if i in f.posts]
        elif relation == "tag_group":
            relations["tag_group"] = [{"id": g.id, "name": g.name} for i, g in sorted(f.tag_groups.items())
                                      if i in ids]
        else:
            relations[relation] = []              # no badges in the simulated forum
    return relations, colrender


def _small_post(f: Forum, post: Any) -> dict[str, Any]:
    author = f.users.get(post.user_id)
    return {"id": post.id, "topic_id": post.topic_id, "post_number": post.post_number,
            "excerpt": _excerpt(post.cooked), "username": author.username if author else None,
            "avatar_template": ser._avatar(author) if author else None}


# --------------------------------------------------------------------------------------------- serializers


def query_json(f: Forum, q: SavedQuery) -> dict[str, Any]:
    """QuerySerializer."""
    author = f.users.get(q.user_id)
    return {"id": q.id, "name": q.name, "description": q.description,
            "username": author.username if author else None, "group_ids": [], "last_run_at": iso(q.last_run_at),
            "user_id": q.user_id}


def query_details_json(f: Forum, q: SavedQuery) -> dict[str, Any]:
    """QueryDetailsSerializer: QuerySerializer + sql, param_info (unique by identifier), created_at, hidden."""
    seen: set[str] = set()
    params_info = []
    for p in parse_params(q.sql):
        if p.identifier not in seen:
            seen.add(p.identifier)
            params_info.append(p.to_hash())
    return {**query_json(f, q), "sql": q.sql, "param_info": params_info, "created_at": iso(q.created_at),
            "hidden": q.hidden}


# --------------------------------------------------------------------------------------------- routes


def _route(rule: str, methods: list[str], *, legacy: bool = True) -> Callable[[Callable[..., Any]],
                                                                                Callable[..., Any]]:
    """Register `rule` (with and without `.json`) under the engine's mount and, unless `legacy` is False, under
    the legacy `/admin/plugins/explorer` API routes; the view runs under the forum's lock."""
    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with forum().lock:
                return view(*args, **kwargs)
        prefixes = (CORE_PREFIX, LEGACY_PREFIX) if legacy else (CORE_PREFIX,)
        for prefix in prefixes:
            for suffix in (".json", ""):
                mount = "core" if prefix == CORE_PREFIX else "legacy"
                endpoint = f"{view.__name__}_{mount}_{suffix[1:] or 'bare'}"
                blueprint.add_url_rule(prefix + rule + suffix, endpoint=endpoint, view_func=locked, methods=methods)
        return locked
    return register


def _plugin_on() -> User | None:
    """ApplicationController's authentication first (a bad key is 403), then `requires_plugin` (404 while
    `data_explorer_enabled` is off)."""
    user = current_user(required=False)
    if not forum().settings.get(SETTING):
        raise ForumError.not_found()
    return user


def _ensure_admin(user: User | None) -> User:
    """`ensure_admin`: `raise Discourse::InvalidAccess.new unless current_user && current_user.admin?`."""
    if user is None or not user.admin:
        raise ForumError.invalid_access()
    return user


def _find(query_id: int) -> SavedQuery:
    """`Query.find(id)`: RecordNotFound is a 404 (negative ids are built-in queries, not simulated)."""
    q = store().queries.get(query_id)
    if q is None:
        raise ForumError.not_found()
    return q


def _query_fields(p: Params) -> dict[str, Any]:
    """`params.require(:query).permit(:name, :description, :sql)`."""
    fields = p.nested("query")
    if not fields:
        raise missing("query")
    return {k: (None if v is None else str(v)) for k, v in fields.items() if k in ("name", "description", "sql")}


@_route("/queries", ["GET"], legacy=False)
def list_queries():  # type: ignore[no-untyped-def]
    """core QueryController#index."""
    _ensure_admin(_plugin_on())
    f, p = forum(), Params.from_request()
    offset = max(0, _ruby_to_i(p.text("offset") or "0"))
    filter_text = p.text("filter") or ""
    order = p.text("order") if p.text("order") in ("name", "username", "last_run_at") else "last_run_at"
    ascending = p.text("ascending") == "true"
    found = [q for q in store().queries.values() if not q.hidden]
    if filter_text:
        wanted = filter_text.lower()
        found = [q for q in found if wanted in q.name.lower() or wanted in (q.description or "").lower()]

    def sort_key(q: SavedQuery) -> Any:
        if order == "name":
            return q.name
        if order == "username":
            author = f.users.get(q.user_id)
            return author.username if author else ""
        return q.last_run_at or datetime.min.replace(tzinfo=timezone.utc)
    found.sort(key=lambda q: q.id)
    found.sort(key=sort_key, reverse=not ascending)
    page = found[offset:offset + INDEX_LIMIT]
    body: dict[str, Any] = {"queries": [query_json(f, q) for q in page], "total_rows_queries": len(found)}
    next_offset = offset + len(page) if offset == 0 else offset + INDEX_LIMIT
    if next_offset < len(found):
        more: dict[str, Any] = {"offset": next_offset}
        if filter_text:
            more["filter"] = filter_text
        if order != "last_run_at":
            more["order"] = order
        if ascending:
            more["ascending"] = "true"
        base = request.path.removesuffix(".json")
        body["load_more_queries"] = f"{base}.json?{urlencode(sorted(more.items()))}"   # Hash#to_query sorts keys
    return jsonify(body)


@_route("/queries/<int(signed=True):query_id>", ["GET"], legacy=False)
def show_query(query_id: int):  # type: ignore[no-untyped-def]
    """QueryController#show: set_query (404) before ensure_admin; a hidden query is 404."""
    user = _plugin_on()
    q = _find(query_id)
    _ensure_admin(user)
    if q.hidden:
        raise ForumError.not_found()
    return jsonify(query=query_details_json(forum(), q))


def _legacy_redirect(path: str):  # type: ignore[no-untyped-def]
    """core/config/routes.rb: `get "/admin/plugins/explorer/queries…" => redirect("/admin/plugins/discourse-data-
    explorer/queries…")`, a 301 to an absolute URL without the format or the query string, whatever the setting."""
    return redirect(request.host_url.rstrip("/") + CORE_PREFIX + path, code=301)


@blueprint.get(LEGACY_PREFIX + "/queries")
@blueprint.get(LEGACY_PREFIX + "/queries.json")
def legacy_list():  # type: ignore[no-untyped-def]
    return _legacy_redirect("/queries")


@blueprint.get(LEGACY_PREFIX + "/queries/<int(signed=True):query_id>")
@blueprint.get(LEGACY_PREFIX + "/queries/<int(signed=True):query_id>.json")
def legacy_show(query_id: int):  # type: ignore[no-untyped-def]
    return _legacy_redirect(f"/queries/{query_id}")


@_route("/queries", ["POST"])
def create_query():  # type: ignore[no-untyped-def]
    """QueryController#create: `Query.create!(… .merge(user_id: current_user.id, last_run_at: Time.now))`."""
    user = _ensure_admin(_plugin_on())
    fields = _query_fields(Params.from_request())
    if not (fields.get("name") or "").strip():
        raise ForumError.invalid("Name can't be blank")
    s, now = store(), forum().now()
    s.last_id += 1
    q = SavedQuery(id=s.last_id, name=fields["name"], description=fields.get("description"),
                   sql=fields.get("sql") if fields.get("sql") is not None else "SELECT 1", user_id=user.id,
                   created_at=now, updated_at=now, last_run_at=now)
    s.queries[q.id] = q
    return jsonify(query=query_details_json(forum(), q))


@_route("/queries/<int(signed=True):query_id>", ["PUT"])
def update_query(query_id: int):  # type: ignore[no-untyped-def]
    """QueryController#update: set_query, ensure_admin, `update!(permitted.merge(hidden: false))`."""
    user = _plugin_on()
    q = _find(query_id)
    _ensure_admin(user)
    fields = _query_fields(Params.from_request())
    if "name" in fields and not (fields["name"] or "").strip():
        raise ForumError.invalid("Name can't be blank")
    if "sql" in fields and fields["sql"] is None:
        raise ForumError.invalid("Sql can't be blank")          # the column is NOT NULL
    for name, value in fields.items():
        setattr(q, name, value)
    q.hidden = False
    q.updated_at = forum().now()
    return jsonify(query=query_details_json(forum(), q))


@_route("/queries/<int(signed=True):query_id>", ["DELETE"])
def destroy_query(query_id: int):  # type: ignore[no-untyped-def]
    """QueryController#destroy: the query is hidden, not deleted."""
    _ensure_admin(_plugin_on())
    _find(query_id).hidden = True
    return jsonify(success=True, errors=[])


@_route("/queries/<int(signed=True):query_id>/run", ["POST"])
def run_query(query_id: int):  # type: ignore[no-untyped-def]
    """QueryController#run (core, with QueryRunner): find, last_run_at, limit, params, run."""
    user = _ensure_admin(_plugin_on())
    f = forum()
    q = _find(query_id)
    q.last_run_at = f.now()
    p = Params.from_request()
    limit = DEFAULT_RESULT_LIMIT
    if p.has("limit"):
        try:
            limit = int(str(p.raw("limit")).strip())                 # Integer(params[:limit])
        except ValueError:
            raise ForumError.bad_params("You supplied invalid parameters to the request: limit") from None
        if limit < 0 or limit > QUERY_RESULT_MAX_LIMIT:
            raise ForumError.bad_params("You supplied invalid parameters to the request: limit")
    raw_params = p.raw("params")
    request_params: dict[str, Any] = {}
    if isinstance(raw_params, dict):
        request_params = raw_params
    elif raw_params not in (None, ""):
        try:
            parsed = json.loads(str(raw_params))
        except ValueError:
            return _refused("Invalid JSON in params")
        request_params = parsed if isinstance(parsed, dict) else {}
    try:
        result = run_sql(f, q.sql, request_params, limit=limit, explain=p.text("explain") == "true")
    except QueryError as exc:
        return _refused(str(exc))
    except UnrescuedError:
        return jsonify(errors=["Internal Server Error"]), 500
    body: dict[str, Any] = {
        "success": True, "errors": [], "duration": round(result.duration_secs * 1000, 1),
        "result_count": len(result.rows), "params": request_params, "columns": result.columns,
        "default_limit": DEFAULT_RESULT_LIMIT,
    }
    if result.explain is not None:
        body["explain"] = result.explain
    if not p.has("download"):                       # `if !opts[:download]`: any value of `download` counts
        relations, colrender = add_extra_data(f, user, result.columns, result.rows)
        body["relations"] = relations
        body["colrender"] = colrender
    body["rows"] = result.rows
    return jsonify(body)


def _refused(message: str):  # type: ignore[no-untyped-def]
    response = jsonify(success=False, errors=[message])
    response.status_code = 422
    return response

