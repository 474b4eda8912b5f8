"""The forum's REST API: Discourse's own paths, parameters, answers and errors.

Every route accepts its path with or without `.json` (as Rails does), form-encoded and JSON bodies alike
(`tags[]` repeated form fields or a JSON array; `post[raw]` or `{"post": {"raw": …}}`). Reads work without a
key, as for an anonymous visitor; writes need the key. The rules themselves (who may see or do what, validation)
live in :mod:`simulator.state`; the JSON shapes in :mod:`simulator.serializers`.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, redirect, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, HTTPException

from . import limits
from . import serializers as ser
from .auth import current_user, forum, require_admin, require_staff
from .state import (LIKE, POST_REGULAR, POST_WHISPER, Category, Forum, ForumError, Group, Post, Topic, User,
                    anonymous_user, parse_time)

blueprint = Blueprint("api", __name__)

GLOBAL_SETTINGS = frozenset({"max_admin_api_reqs_per_minute"})
"""Settings that live in Discourse's GlobalSetting (config file / environment), not in site settings."""
LATEST_POSTS_PAGE = 50
"""`GET /posts.json` page size (LatestPostsQuery::PAGE_SIZE)."""
SEARCH_PAGE = 50
GROUP_MEMBERS_DEFAULT_LIMIT = 50
AUTHORIZED_EXTENSIONS = ("jpg", "jpeg", "png", "gif", "heic", "heif", "webp", "avif", "svg")
"""Site setting `authorized_extensions` default (staff get no more by default)."""
MAX_IMAGE_SIZE_KB = 4096
NOT_FOUND_MESSAGE = "The requested URL or resource could not be found."
DELETE_TOPIC_FAILED = "There was an error deleting that topic. Please contact the site's administrator."


def route(rule: str, methods: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `rule` and `rule + ".json"` for one view, as Discourse's routes accept both.

    The view runs under the forum's lock, so a threaded server never serializes a half-made change.
    """
    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with forum().lock:
                return view(*args, **kwargs)
        blueprint.add_url_rule(rule + ".json", endpoint=view.__name__, view_func=locked, methods=methods)
        blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=locked, methods=methods)
        return locked
    return register


# --------------------------------------------------------------------------------------------- parameters


@dataclass
class Params:
    """Rails-style params: the JSON body, the form and the query string merged (JSON first, then form, query)."""

    body: dict[str, Any]
    form: MultiDict[str, str]
    args: MultiDict[str, str]

    @classmethod
    def from_request(cls) -> Params:
        body: dict[str, Any] = {}
        if request.is_json and request.get_data():
            try:
                parsed = request.get_json(force=True)
            except BadRequest as exc:
                raise ForumError.bad_params("The JSON you sent could not be parsed.") from exc
            if isinstance(parsed, dict):
                body = parsed
        return cls(body=body, form=request.form, args=request.args)

    def has(self, name: str) -> bool:
        return name in self.body or name in self.form or name in self.args

    def raw(self, name: str) -> Any:
        """The value as sent: a JSON value keeps its type (so `true` is not `"true"`)."""
        if name in self.body:
            return self.body[name]
        if name in self.form:
            return self.form[name]
        return self.args.get(name)

    def text(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def required(self, name: str) -> str:
        """`params.require(name)`: absent or blank is a 400."""
        value = self.text(name)
        if value is None or not value.strip():
            raise missing(name)
        return value

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except ValueError as exc:
            raise ForumError.bad_params(f"{name} must be an integer, got {value!r}") from exc

    def boolean(self, name: str) -> bool:
        """ActiveModel::Type::Boolean: anything but false, 0, "0", "f", "false", "off" (any case) or blank."""
        value = self.raw(name)
        if value is None or value is False or value == 0:
            return False
        return str(value).strip().lower() not in ("", "0", "f", "false", "off")

    def items(self, name: str) -> list[Any] | None:
        """An array param: a JSON array under `name` or `name[]`, or repeated `name[]` form/query fields.

        None when the param is absent (so "no change" differs from "set to empty").
        """
        for key in (name, f"{name}[]"):
            if key in self.body:
                value = self.body[key]
                if value is None:
                    return []
                return value if isinstance(value, list) else [value]
        for source in (self.form, self.args):
            if f"{name}[]" in source:
                return [v for v in source.getlist(f"{name}[]") if v != ""]
            if name in source:
                return [v for v in source.getlist(name) if v != ""]
        return None

    def nested(self, outer: str) -> dict[str, Any] | None:
        """A hash param: `{"outer": {...}}` in JSON, or `outer[key]=…` form/query fields."""
        if isinstance(self.body.get(outer), dict):
            return dict(self.body[outer])
        found: dict[str, Any] = {}
        prefix = f"{outer}["
        for source in (self.args, self.form):
            for key in source:
                if key.startswith(prefix) and key.endswith("]"):
                    found[key[len(prefix):-1]] = source[key]
        return found or None


def missing(name: str) -> ForumError:
    return ForumError.bad_params(f"param is missing or the value is empty: {name}")


def params() -> Params:
    return Params.from_request()


def viewer() -> User:
    """The acting user, or the anonymous visitor when no key was sent (a bad key is still a 403)."""
    return current_user(required=False) or anonymous_user()


def actor() -> User:
    """The acting user of a write: no key is a 403, as Discourse answers an anonymous write."""
    user = current_user()
    assert user is not None
    return user


def empty() -> Response:
    """`render body: nil`: a 200 with no body."""
    return Response(b"", status=200, content_type="text/plain; charset=utf-8")


def tag_names(values: list[Any]) -> list[str]:
    """Tag params as names: strings, or the `{id, name}` objects Discourse accepts since 2026."""
    names: list[str] = []
    tags_by_id = {t.id: t.name for t in forum().tags.values()}
    for value in values:
        if isinstance(value, dict):
            if value.get("name"):
                names.append(str(value["name"]))
            elif str(value.get("id", "")).isdigit() and int(value["id"]) in tags_by_id:
                names.append(tags_by_id[int(value["id"])])
        elif str(value).strip():
            names.append(str(value))
    return names


# --------------------------------------------------------------------------------------------- users


@route("/session/hp", ["GET"])
def honeypot():  # type: ignore[no-untyped-def]
    """The sign-up honeypot pydiscourse reads before `POST /users.json`."""
    viewer()
    return jsonify(value=secrets.token_hex(16), challenge=secrets.token_hex(16))


@route("/users", ["POST"])
def create_user():  # type: ignore[no-untyped-def]
    """`POST /users.json`: 200 with `success` either way, as Discourse answers (errors per field)."""
    who = viewer()
    p = params()
    username = p.text("username") or ""
    email = p.text("email") or ""
    active = who.admin and p.boolean("active")
    f = forum()
    hide_taken = bool(f.settings.get("hide_email_address_taken"))
    if hide_taken and email and any(u.email.lower() == email.lower() for u in f.users.values()):
        # app/controllers/users_controller.rb#create: with hide_email_address_taken, a save that failed on a taken
        # email answers like a success — `success`, `active: false`, the activation message — and no user_id.
        return jsonify(success=True, active=False, message=_activation_message(active, email))
    try:
        user = f.create_user(username=username, name=p.text("name") or "", email=email,
                             password=p.text("password") or "", active=active)
    except ForumError as exc:
        if exc.status != 422:
            raise
        field = "email" if "email" in exc.errors[0].lower() else "username"
        return jsonify(success=False, message=" ".join(exc.errors), errors={field: exc.errors},
                       values={"name": p.text("name") or "", "username": username, "email": email},
                       is_developer=False)
    body: dict[str, Any] = {"success": True, "active": user.active,
                            "message": _activation_message(user.active, user.email)}
    if not hide_taken:                 # `.merge(SiteSetting.hide_email_address_taken ? {} : { user_id: user.id })`
        body["user_id"] = user.id
    return jsonify(body)


def _activation_message(active: bool, email: str) -> str:
    return ("Your account is activated and ready to use." if active else
            f"You’re almost done! We sent an activation mail to <b>{email}</b>.")


@route("/u/<username>", ["GET"])
def show_user(username: str):  # type: ignore[no-untyped-def]
    who = viewer()
    f = forum()
    user = f.require_user(username)
    if not f.can_see_profile(who, user):
        # UsersController#show: `elsif !guardian.can_see_profile?(@user)` → HiddenProfileSerializer.
        return jsonify(ser.hidden_profile(f, who, user))
    return jsonify(ser.user_detail(f, who, user))


blueprint.add_url_rule("/users/<username>.json", endpoint="show_user", view_func=show_user, methods=["GET"])
blueprint.add_url_rule("/users/<username>", endpoint="show_user", view_func=show_user, methods=["GET"])

USER_OPTION_PARAMS = ("allow_private_messages", "hide_profile", "hide_presence", "hide_profile_and_presence",
                      "muted_usernames")


@route("/u/<username>", ["PUT"])
def update_user(username: str):  # type: ignore[no-untyped-def]
    """`PUT /u/{username}.json` (UsersController#update → UserUpdater): the user themself or staff; the user
    options simulated (`allow_private_messages`, `hide_profile`, `hide_presence`) and `muted_usernames` (comma
    list), top-level or under `user_option`. Answers `{"success": "OK", "user": {…}}` (json_result)."""
    who = actor()
    f = forum()
    user = f.require_user(username)
    if not (who.id == user.id or who.staff):                   # Guardian#can_edit_user?
        raise ForumError.invalid_access()
    p = params()
    options: dict[str, Any] = dict(p.nested("user_option") or {})
    for name in USER_OPTION_PARAMS:
        if p.has(name):
            options[name] = p.raw(name)                        # muted_usernames: a comma list (or a JSON array)
    f.update_user_options(user, options)
    return jsonify(success="OK", user=ser.user_detail(f, who, user)["user"])


@route("/u/<username>/notification_level", ["PUT"])
def user_notification_level(username: str):  # type: ignore[no-untyped-def]
    """`PUT /u/{username}/notification_level.json` (UsersController#notification_level): `notification_level`
    `ignore` (with `expiring_at`), `mute` or `normal`, for the requester (staff: for `acting_user_id`). The checks
    are the requester's Guardian#can_ignore_user? / #can_mute_user?; a refusal is a 422 `{"errors": [...]}`
    (render_json_error, no error_type). Answers `{"success": "OK"}`."""
    who = actor()
    f = forum()
    target = f.require_user(username)
    p = params()
    acting = who
    acting_id = p.integer("acting_user_id")
    if acting_id is not None and acting_id != who.id:
        if not who.staff:
            return _json_error(NOTIFICATION_LEVEL_ERRORS["error"])
        acting = _user_by_id(acting_id)
    level = p.text("notification_level") or ""
    if level == "ignore":
        if not f.can_ignore(who, target):
            return _json_error(NOTIFICATION_LEVEL_ERRORS["ignore_error"])
        expiring_at = p.text("expiring_at")
        if not expiring_at:
            raise missing("expiring_at")                        # Time.parse(nil) fails in Discourse as well
        parse_time(expiring_at)
    elif level == "mute":
        if not f.can_mute(who, target):
            return _json_error(NOTIFICATION_LEVEL_ERRORS["mute_error"])
    elif level != "normal":
        return _json_error(NOTIFICATION_LEVEL_ERRORS["invalid_value"].format(value=level))
    f.set_notification_level(acting, target, level)
    return jsonify(success="OK")


NOTIFICATION_LEVEL_ERRORS = {
    # config/locales/server.en.yml `notification_level.*` (keys confirmed in users_controller.rb; wordings NOT
    # confirmed line by line: the stored locale file is too long to reach that section)
    "ignore_error": "Sorry, you can't ignore that user.",
    "mute_error": "Sorry, you can't mute that user.",
    "error": "Sorry, you cannot change the notification level for that user.",
    "invalid_value": "\"{value}\" is not a valid notification level.",
}


def _json_error(message: str, status: int = 422) -> Response:
    """ApplicationController#render_json_error(string): `{"errors": [message]}`, 422, no error_type."""
    response = jsonify(errors=[message])
    response.status_code = status
    return response


def _user_by_id(user_id: int) -> User:
    user = forum().users.get(user_id)
    if user is None:
        raise ForumError.not_found()
    return user


@route("/admin/users/<int(signed=True):user_id>/grant_moderation", ["PUT"])
def grant_moderation(user_id: int):  # type: ignore[no-untyped-def]
    require_admin()
    user = _user_by_id(user_id)
    if user.moderator:
        raise ForumError.invalid_access()        # Guardian#can_grant_moderation? is false for a moderator
    forum().set_moderator(user, True)
    return jsonify(ser.admin_user(forum(), user))


@route("/admin/users/<int(signed=True):user_id>/revoke_moderation", ["PUT"])
def revoke_moderation(user_id: int):  # type: ignore[no-untyped-def]
    require_admin()
    user = _user_by_id(user_id)
    if not user.moderator:
        raise ForumError.invalid_access()
    forum().set_moderator(user, False)
    return empty()


@route("/admin/users/<int(signed=True):user_id>/suspend", ["PUT"])
def suspend_user(user_id: int):  # type: ignore[no-untyped-def]
    staff = require_staff()
    user = _user_by_id(user_id)
    p = params()
    until = parse_time(p.required("suspend_until"))
    reason = p.required("reason")
    now = forum().now()
    forum().suspend(user, until, reason)
    return jsonify(ser.suspension(forum(), user, staff, now))


@route("/admin/users/<int(signed=True):user_id>/unsuspend", ["PUT"])
def unsuspend_user(user_id: int):  # type: ignore[no-untyped-def]
    require_staff()
    user = _user_by_id(user_id)
    forum().unsuspend(user)
    return jsonify(suspension={"suspended_till": None, "suspended_at": None})


@route("/admin/users/<int(signed=True):user_id>/trust_level", ["PUT"])
def change_trust_level(user_id: int):  # type: ignore[no-untyped-def]
    """`PUT /admin/users/{id}/trust_level.json` with `level` (staff): AdminUserSerializer under `admin_user`."""
    require_staff()
    user = _user_by_id(user_id)
    level = params().integer("level")
    if level is None:
        raise missing("level")
    forum().set_trust_level(user, level)
    return jsonify(ser.admin_user(forum(), user))


# --------------------------------------------------------------------------------------------- groups


@route("/admin/groups", ["POST"])
def create_group():  # type: ignore[no-untyped-def]
    require_admin()
    p = params()
    fields = p.nested("group")
    if fields is None:
        raise missing("group")
    f = forum()
    levels = {key: int(fields[key]) for key in ("visibility_level", "mentionable_level", "messageable_level")
              if str(fields.get(key, "")).lstrip("-").isdigit()}
    group = f.create_group(name=str(fields.get("name") or ""), full_name=fields.get("full_name") or None, **levels)
    usernames = _split(fields.get("usernames"))
    owners = _split(fields.get("owner_usernames"))
    f.add_members(group, [f.require_user(n) for n in usernames + owners])
    group.owner_ids.extend(u.id for u in (f.require_user(n) for n in owners) if u.id not in group.owner_ids)
    return jsonify(ser.created_group(f, viewer(), group))


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _visible_group(name: str, who: User) -> Group:
    group = forum().group_by_name(name)
    if group is None or not forum().can_see_group(who, group):
        raise ForumError.not_found()
    return group


@route("/groups/<name>", ["GET"])
def show_group(name: str):  # type: ignore[no-untyped-def]
    who = viewer()
    return jsonify(ser.group_detail(forum(), who, _visible_group(name, who)))


@route("/groups/<name>/members", ["GET"])
def group_members(name: str):  # type: ignore[no-untyped-def]
    who = viewer()
    p = params()
    group = _visible_group(name, who)
    limit = p.integer("limit") or GROUP_MEMBERS_DEFAULT_LIMIT
    offset = p.integer("offset") or 0
    if limit <= 0 or limit > 1000 or offset < 0:
        raise ForumError.bad_params("limit must be between 1 and 1000 and offset not negative")
    return jsonify(ser.group_members(forum(), group, offset=offset, limit=limit))


@route("/groups/<int:group_id>/members", ["PUT"])
def add_group_members(group_id: int):  # type: ignore[no-untyped-def]
    who = actor()
    f = forum()
    group = f.groups.get(group_id)
    if group is None:
        raise ForumError.not_found()
    if not (who.admin or who.id in group.owner_ids):
        raise ForumError.invalid_access()
    p = params()
    users = [f.require_user(n) for n in _split(p.raw("usernames"))]
    users += [_user_by_id(int(i)) for i in _split(p.raw("user_ids")) if i.isdigit()]
    emails = _split(p.raw("user_emails"))
    users += [u for u in f.users.values() if u.email.lower() in {e.lower() for e in emails}]
    if not users:
        raise ForumError.bad_params("usernames or emails must be present")
    already = sorted(u.username for u in users if u.id in group.member_ids)
    if already:
        verb = "is already a member" if len(already) == 1 else "are already members"
        raise ForumError.invalid(f"{', '.join(already)} {verb} of this group.")
    added = f.add_members(group, users)
    return jsonify(success="OK", usernames=[u.username for u in added], emails=emails)


# --------------------------------------------------------------------------------------------- site


@route("/site", ["GET"])
def show_site():  # type: ignore[no-untyped-def]
    return jsonify(ser.site(forum(), viewer()))


@route("/admin/site_settings", ["GET"])
def list_site_settings():  # type: ignore[no-untyped-def]
    """`GET /admin/site_settings.json` (admin): every site setting as Discourse lists them
    (app/controllers/admin/site_settings_controller.rb#index: `site_settings: [{setting, value, default, …}]`;
    values are strings as SiteSetting.all_settings gives them, lists `|`-separated)."""
    require_admin()
    return jsonify(site_settings=[{"setting": name, "value": _listed_value(value)}
                                  for name, value in forum().settings.items() if name not in GLOBAL_SETTINGS])


def _listed_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@route("/admin/site_settings/<name>", ["PUT"])
def update_site_setting(name: str):  # type: ignore[no-untyped-def]
    """`PUT /admin/site_settings/{name}` with the value under the setting's own name; 422 for unknown names."""
    require_admin()
    f = forum()
    if name in GLOBAL_SETTINGS or name not in f.settings:
        raise ForumError(422, "invalid_parameters", f"No setting named '{name}' exists")
    value = params().raw(name)
    f.settings[name] = _setting_value(name, value, f.settings[name])
    return empty()


def _setting_value(name: str, value: Any, current: Any) -> Any:
    text = "" if value is None else str(value).strip()
    if isinstance(current, bool):                     # before the suffix: allow_duplicate_topic_titles_category
        return text.lower() in ("true", "t", "1")
    if name.endswith("_category"):
        digits = "".join(ch for ch in text if ch.isdigit())
        return int(digits) if digits else None
    if isinstance(current, bool):
        return text.lower() in ("true", "t", "1")
    if isinstance(current, int):
        digits = "".join(ch for ch in text if ch.isdigit() or ch == "-")
        if not digits:
            raise ForumError(422, "invalid_parameters", f"{name}: {text!r} is not a number")
        return int(digits)
    if isinstance(current, float):                    # e.g. tl2_additional_likes_per_day_multiplier
        try:
            return float(text)
        except ValueError as exc:
            raise ForumError(422, "invalid_parameters", f"{name}: {text!r} is not a number") from exc
    return text


# --------------------------------------------------------------------------------------------- admin reports


REPORTS_LIMIT = 50
"""Admin::ReportsController::REPORTS_LIMIT: the largest `limit` a report accepts."""
SIMULATED_REPORTS = ("posts", "topics", "likes")
DISCOURSE_REPORTS = frozenset({
    # app/models/concerns/reports/*.rb: the reports Discourse computes (Report.find finds `report_<type>`)
    "activity_by_category", "admin_logins", "associated_accounts_by_provider", "bookmarks",
    "consolidated_api_requests", "consolidated_page_views", "consolidated_page_views_browser_detection",
    "daily_engaged_users", "dau_by_mau", "emails", "flags", "flags_status", "likes", "mobile_visits",
    "moderator_warning_private_messages", "moderators_activity", "new_contributors",
    "notify_moderators_private_messages", "notify_user_private_messages", "post_edits", "posters_by_member_type",
    "posts", "profile_views", "signups", "site_traffic", "site_traffic_summary", "staff_logins", "storage_stats",
    "suspicious_logins", "system_private_messages", "time_to_first_response", "top_countries_by_browser_pageviews",
    "top_entry_urls", "top_ignored_users", "top_referred_topics", "top_referrers",
    "top_referrers_by_browser_pageviews", "top_traffic_sources", "top_uploads", "top_urls_by_browser_pageviews",
    "top_users_by_likes_received", "top_users_by_likes_received_from_a_variety_of_people",
    "top_users_by_likes_received_from_inferior_trust_level", "top_users_by_received_likes",
    "top_users_by_received_likes_from_inferior_trust_level", "topic_view_stats", "topics",
    "topics_with_no_response", "trending_search", "trust_level_growth", "trust_level_pipeline",
    "user_flagging_ratio", "user_stats", "user_to_user_private_messages",
    "user_to_user_private_messages_with_replies", "users_by_trust_level", "users_by_type", "visits",
    "visits_mobile", "web_crawlers", "web_hook_events_daily_aggregate",
})
_REPORT_PARAM = re.compile(r"reports\[([^\[\]]+)\]\[([^\[\]]+)\](\[\])?")


@route("/admin/reports/bulk", ["GET"])
def reports_bulk():  # type: ignore[no-untyped-def]
    """`GET /admin/reports/bulk.json?reports[<type>][start_date]=…&reports[<type>][end_date]=…` (one block per
    report; Admin::ReportsController#bulk, app/controllers/admin/reports_controller.rb): `{"reports": [...]}` in
    the order asked, each Report#as_json (app/models/report.rb; shape in `simulator.serializers.report`).

    Who: staff. The admin namespace is routed under StaffConstraint (config/routes.rb, lib/staff_constraint.rb),
    so for anyone else — a member, an anonymous visitor — the route does not exist: Discourse's JSON 404.
    Moderators may read reports (Admin::ReportsController < Admin::StaffController).

    Each report's parameters (ReportsController#parse_params): `start_date` (Time.parse → that day's 00:00 UTC;
    default yesterday's), `end_date` (→ that day's 23:59:59.999999 UTC; default start + 30 days), an unparsable
    date is a 400; `facets[]` replaces the default `[total, prev30Days]`; `limit` at most 50
    (fetch_limit_from_params, else 400). An unknown type answers an entry with `error: "not_found"`.

    The three reports simulated (any other Discourse report, and `filters`, are a 400 naming the simulator):
    - `posts` (app/models/concerns/reports/posts.rb; Post.public_posts_count_per_day, app/models/post.rb): posts
      whose `post_type` is regular (1) — so no whispers, small actions or moderator actions — outside personal
      messages (`Post.public_posts`: `topics.archetype <> 'private_message'`), not deleted (Post's Trashable
      default scope) and, through the `joins(:topic)` default scope, not in a deleted topic; a topic's FIRST post
      counts too. Counted whatever the category (restricted and staff-only ones included), hidden or unlisted.
      By `date(posts.created_at)`.
    - `topics` (reports/topics.rb; Topic.listable_count_per_day, app/models/topic.rb): `Topic.listable_topics`
      (every archetype but private_message), not deleted; unlisted, restricted-category and shared-draft topics
      count. By `date(topics.created_at)`.
    - `likes` (reports/likes.rb → Report.post_action_report; PostAction.count_per_day_for_type,
      app/models/post_action.rb): every like row over `PostAction.unscoped` — a like taken back still counts (its
      row is trashed, not destroyed; `Forum.trashed_likes`), and so do likes in personal messages, on whispers and
      on deleted posts. A like given again revives the trashed row at the new time. By
      `date(post_actions.created_at)`; icon `heart`.
    `data` lists only the days with a count; `total` is the all-time count of the same rows and `prev30Days` the
    count in the 30 days before `start_date` (Report.add_counts); `prev_period` (facet) the count in the period
    of the same length before it. Days are UTC dates (Discourse's servers and database run in UTC)."""
    who = current_user(required=False)
    if who is None or not who.staff:
        raise ForumError.not_found()                      # StaffConstraint: the route does not match
    requested = _report_params()
    if not requested:
        raise missing("reports")                          # `params[:reports].each` on nil: Discourse answers a 500
    f = forum()
    return jsonify(reports=[_report(f, kind, options) for kind, options in requested.items()])


def _report_params() -> dict[str, dict[str, Any]]:
    """`reports[<type>][<name>]=value` and `reports[<type>][<name>][]=value` query params, by type in order."""
    found: dict[str, dict[str, Any]] = {}
    for key in request.args:
        match = _REPORT_PARAM.fullmatch(key)
        if match is None:
            if key == "reports" or key.startswith("reports["):
                raise ForumError.bad_params(f"{key}: expected reports[<type>][<name>]")
            continue
        kind, name, is_list = match.groups()
        options = found.setdefault(kind, {})
        options[name] = request.args.getlist(key) if is_list else request.args.getlist(key)[-1]
    return found


def _report_day(value: Any, name: str) -> datetime | None:
    """Time.parse(value).to_date: None when blank; a 400 for a date that does not parse (ISO 8601 here)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ForumError.bad_params(f"You supplied invalid parameters to the request: no time information in "
                                    f"{text!r} ({name})") from exc
    return datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc)


def _report(f: Forum, kind: str, options: dict[str, Any]) -> dict[str, Any]:
    start = _report_day(options.get("start_date"), "start_date")
    if start is None:                                     # `1.days.ago.beginning_of_day`
        yesterday = f.now().astimezone(timezone.utc) - timedelta(days=1)
        start = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=timezone.utc)
    end_day = _report_day(options.get("end_date"), "end_date") or start + timedelta(days=30)
    end = end_day + timedelta(days=1, microseconds=-1)    # `.end_of_day`
    facets = [str(v) for v in options["facets"]] if isinstance(options.get("facets"), list) else \
        ["total", "prev30Days"]
    limit = None
    if "limit" in options:                                # fetch_limit_from_params(default: nil, max: 50)
        text = str(options["limit"])
        if not re.fullmatch(r"[+-]?[0-9]+", text.strip()) or not 0 <= int(text) <= REPORTS_LIMIT:
            raise invalid_param("limit")
        limit = int(text)
    if kind not in SIMULATED_REPORTS:
        if kind in DISCOURSE_REPORTS or kind.endswith("_reqs"):
            raise ForumError.bad_params(f"report {kind!r} is not simulated (only {', '.join(SIMULATED_REPORTS)})")
        return ser.report(kind, start=start, end=end, facets=facets, limit=limit, data=None, error="not_found")
    if "filters" in options or any(name.startswith("filters") for name in options):
        raise ForumError.bad_params("report filters are not simulated")
    moments = _report_moments(f, kind)
    per_day: dict[str, int] = {}
    for moment in sorted(m for m in moments if start <= m <= end):
        day = moment.astimezone(timezone.utc).strftime("%Y-%m-%d")
        per_day[day] = per_day.get(day, 0) + 1
    prev_start = start - (end - start)
    return ser.report(
        kind, start=start, end=end, facets=facets, limit=limit, data=list(per_day.items()),
        total=len(moments) if "total" in facets else None,
        prev30=sum(1 for m in moments if start - timedelta(days=30) <= m < start) if "prev30Days" in facets else None,
        prev_period=sum(1 for m in moments if prev_start <= m < start) if "prev_period" in facets else None,
        icon="heart" if kind == "likes" else None, category_filter=True)


def _report_moments(f: Forum, kind: str) -> list[datetime]:
    """The creation times of what the report counts (definitions in `reports_bulk`), all time."""
    if kind == "posts":
        return [p.created_at for p in f.posts.values()
                if p.post_type == POST_REGULAR and p.deleted_at is None and p.topic_id in f.topics
                and not f.topics[p.topic_id].is_pm and f.topics[p.topic_id].deleted_at is None]
    if kind == "topics":
        return [t.created_at for t in f.topics.values() if not t.is_pm and t.deleted_at is None]
    return [like.created_at for post in f.posts.values() for like in post.likes] + \
        [like.created_at for like in f.trashed_likes.values()]


# --------------------------------------------------------------------------------------------- categories


@route("/categories", ["GET"])
def list_categories():  # type: ignore[no-untyped-def]
    who = viewer()
    f = forum()
    cats = [c for c in sorted(f.categories.values(), key=lambda c: (c.position, c.id))
            if c.parent_category_id is None and f.can_see_category(who, c)]
    return jsonify(ser.category_list(f, who, cats))


@route("/categories", ["POST"])
def create_category():  # type: ignore[no-untyped-def]
    who = require_admin()
    p = params()
    name = p.required("name")
    permissions = {k: int(v) for k, v in (p.nested("permissions") or {}).items()}
    category = forum().create_category(
        name=name, color=p.text("color") or "0088CC", text_color=p.text("text_color") or "FFFFFF",
        description=p.text("description"), parent_category_id=p.integer("parent_category_id"),
        permissions=permissions, slug=p.text("slug") or None)
    return jsonify(category=ser.category(forum(), who, category, detailed=True))


# --------------------------------------------------------------------------------------------- tags


@route("/tags", ["GET"])
def list_tags():  # type: ignore[no-untyped-def]
    return jsonify(ser.tag_list(forum(), viewer()))


@route("/tag/<name>", ["GET"])
def show_tag(name: str):  # type: ignore[no-untyped-def]
    who = viewer()
    f = forum()
    tag = f.tags.get(name.lower())
    if tag is None:
        raise ForumError.not_found()
    topics = [t for t in _listable(who) if tag.name in t.tags]
    page, more = _page(topics, ser.TOPIC_LIST_PER_PAGE)
    more_url = f"/tag/{quote(tag.name)}?page={_page_number() + 1}" if more else None
    return jsonify(ser.topic_list(f, who, page, more_url=more_url, tags=[tag]))


@route("/tag_groups", ["GET"])
def list_tag_groups():  # type: ignore[no-untyped-def]
    """`GET /tag_groups.json` (staff), by name."""
    require_staff()
    f = forum()
    groups = sorted(f.tag_groups.values(), key=lambda g: g.name.lower())
    return jsonify(tag_groups=[ser.tag_group(f, g) for g in groups])


@route("/tag_groups", ["POST"])
def create_tag_group():  # type: ignore[no-untyped-def]
    """`POST /tag_groups.json` (staff): `name`, `tag_names[]`, `one_per_topic`, `permissions` — at the top level
    or under `tag_group`. Creates the tags that do not exist yet; a taken name is a 422."""
    who = require_staff()
    p = params()
    nested = p.nested("tag_group") or {}
    name = str(nested.get("name") or p.text("name") or "")
    tag_names = nested.get("tag_names") if isinstance(nested.get("tag_names"), list) else p.items("tag_names")
    permissions = nested.get("permissions") if isinstance(nested.get("permissions"), dict) else p.nested("permissions")
    one_per_topic = str(nested.get("one_per_topic", p.text("one_per_topic") or "")).lower() == "true"
    f = forum()
    group = f.create_tag_group(who, name=name, tag_names=[str(n) for n in tag_names or []],
                               one_per_topic=one_per_topic,
                               permissions={str(k): int(v) for k, v in (permissions or {}).items()} or None)
    return jsonify(tag_group=ser.tag_group(f, group))


# --------------------------------------------------------------------------------------------- topic lists


def _listable(who: User, topic_ids: list[int] | None = None) -> list[Topic]:
    """Regular topics the viewer may list, most recently bumped first; with `topic_ids`, only those.

    Unlisted topics show to staff only; shared drafts stay out of the lists until published.
    """
    f = forum()
    candidates = f.topics.values() if topic_ids is None else \
        [f.topics[i] for i in dict.fromkeys(topic_ids) if i in f.topics]
    topics = [t for t in candidates if not t.is_pm and t.deleted_at is None and (t.visible or who.staff)
              and t.shared_draft_category_id is None and f.can_see_topic(who, t)]
    return sorted(topics, key=lambda t: (t.bumped_at or t.created_at, t.id), reverse=True)


def _page_number() -> int:
    value = request.args.get("page", "0")
    return int(value) if value.isdigit() else 0


def _page(items: list[Topic], size: int) -> tuple[list[Topic], bool]:
    start = _page_number() * size
    return items[start:start + size], len(items) > start + size


LATEST_PER_PAGE_MAX = 100
"""TopicQuery.validators `per_page: one_up_to_one_hundred` (lib/topic_query.rb): public since Discourse PR #30716
(2025-01); the OpenAPI description of `/latest.json` says "between 1-100". Default: DEFAULT_PER_PAGE_COUNT, 30."""
PG_MAX_INT = 2_147_483_647


def invalid_param(name: str) -> ForumError:
    """Discourse::InvalidParameters.new(name), as ApplicationController renders it (`invalid_params`)."""
    return ForumError.bad_params(f"You supplied invalid parameters to the request: {name}")


def ruby_to_i(value: str) -> int:
    """Ruby's String#to_i: the leading (optionally signed) digits after leading whitespace, else 0."""
    digits = re.match(r"\s*([+-]?\d+)", value)
    return int(digits.group(1)) if digits else 0


def _bounded_int(name: str, low: int, high: int) -> int | None:
    """A TopicQuery option validated as its validator does (`int.call(x) && x.to_i.between?(low, high)`, the value
    matching /\\A-?[0-9]+\\z/): None when absent, InvalidParameters (400) when present but not such an integer."""
    if any(k.startswith(f"{name}[") for k in request.args):
        raise invalid_param(name)                          # an array or a hash: neither Integer nor String
    if name not in request.args:
        return None
    value = request.args.getlist(name)[-1]                 # Rails keeps the last of repeated scalar params
    if not re.fullmatch(r"-?[0-9]+", value) or not low <= int(value) <= high:
        raise invalid_param(name)
    return int(value)


def _topic_ids_param() -> list[int] | None:
    """TopicQueryParams#build_topic_list_options (lib/topic_query_params.rb) for `topic_ids`: validated as
    `array_or_string` (a hash such as `topic_ids[a]=1` is InvalidParameters), then
    ApplicationController#param_to_integer_list — a String split on "," or an Array (`topic_ids[]=`), each `to_i`
    (so "7x" is 7 and "abc" is 0, which matches no topic). Present but empty (`topic_ids=`) is `[]`: TopicQuery's
    `if options[:topic_ids]` is true for an empty array, and `topics.id in (NULL)` lists nothing."""
    args = request.args
    if any(k.startswith("topic_ids[") and k != "topic_ids[]" for k in args):
        raise invalid_param("topic_ids")
    if "topic_ids[]" in args:
        return [ruby_to_i(v) for v in args.getlist("topic_ids[]")]
    if "topic_ids" in args:
        text = args.getlist("topic_ids")[-1]
        parts = text.split(",")
        while parts and parts[-1] == "":                   # Ruby's split drops trailing empty strings
            parts.pop()
        return [ruby_to_i(part) for part in parts]
    return None


@route("/latest", ["GET"])
def latest():  # type: ignore[no-untyped-def]
    """ListController#latest → TopicQuery#list_latest (lib/topic_query.rb): the topics the viewer may list (see
    `_listable`), most recently bumped first, a page at a time.

    Options as TopicQueryParams#build_topic_list_options reads them: `page` (0 up to PG_MAX_INT) and `per_page`
    (1..100, default 30) validated by TopicQuery.validators (anything else is a 400 `invalid_parameters`);
    `topic_ids` (comma-separated, or `topic_ids[]=` repeated) keeps only those ids — TopicQuery#default_results
    applies `topics.id in (?)` on top of every visibility rule, so an id the viewer may not list (a message, a
    deleted or unlisted topic, a category it cannot see, a shared draft) is simply not in the answer. The
    `more_topics_url` keeps `per_page` and `topic_ids` (ListController#construct_url_with keeps the options)."""
    who = viewer()
    page_number = _bounded_int("page", 0, PG_MAX_INT) or 0
    per_page = _bounded_int("per_page", 1, LATEST_PER_PAGE_MAX)
    topic_ids = _topic_ids_param()
    topics = _listable(who, topic_ids)                     # with topic_ids, only those are looked at
    size = per_page or ser.TOPIC_LIST_PER_PAGE
    start = page_number * size
    page, more = topics[start:start + size], len(topics) > start + size
    more_url = None
    if more:
        more_url = f"/latest?page={page_number + 1}"
        if per_page is not None:
            more_url += f"&per_page={per_page}"
        if topic_ids is not None:
            more_url += "&topic_ids=" + ",".join(str(i) for i in topic_ids)
    return jsonify(ser.topic_list(forum(), who, page, more_url=more_url, per_page=size))


@route("/topics/private-messages/<username>", ["GET"])
def private_messages(username: str):  # type: ignore[no-untyped-def]
    """A user's personal messages (TopicQuery#list_private_messages, lib/topic_query/private_message_lists.rb):
    those they are a named participant of (`topic_allowed_users`; a group's inbox is another route), leaving out
    those nobody else has written in (`have_posts_from_others`: one participant, the user's own topic — the
    simulator has no moderator posts), most recently bumped first. Only they and admins may list them."""
    who = actor()
    f = forum()
    user = f.require_user(username)
    if not (who.admin or who.id == user.id):
        raise ForumError.invalid_access()

    def others_wrote(t: Topic) -> bool:
        posters = {p.user_id for p in f.topic_posts(t) if p.deleted_at is None}
        return not (len(posters) == 1 and t.user_id == user.id)

    topics = [t for t in f.topics.values() if t.is_pm and t.deleted_at is None
              and user.id in t.allowed_user_ids and others_wrote(t)]
    topics.sort(key=lambda t: (t.bumped_at or t.created_at, t.id), reverse=True)
    page, more = _page(topics, ser.TOPIC_LIST_PER_PAGE)
    more_url = f"/topics/private-messages/{user.username}?page={_page_number() + 1}" if more else None
    return jsonify(ser.topic_list(f, who, page, more_url=more_url))


# --------------------------------------------------------------------------------------------- posts


@route("/posts", ["POST"])
def create_post():  # type: ignore[no-untyped-def]
    """`POST /posts.json`: a topic (`title`), a message (`archetype=private_message`) or a reply (`topic_id`)."""
    who = actor()
    p = params()
    f = forum()
    raw = p.required("raw")
    shared_draft = p.raw("shared_draft") == "true"      # only the string: a JSON true is ignored (FACTS.md)
    if shared_draft and not (who.staff and f.settings.get("shared_drafts_category")):
        raise ForumError.bad_params("shared_draft")
    created_at = p.text("created_at")
    recipients = p.text("target_recipients") or p.text("target_usernames") or ""
    category_id = _category_param(p.text("category"))
    # app/controllers/posts_controller.rb#create: an API request's answer is memoized for 120 s
    # (DistributedMemoizer) under a signature of its permitted params, the user's id and the request's ip, user
    # agent and referer: the same POST again within 120 s of the first answer gets that answer (a refusal too) and
    # creates nothing. Exceptions (403, 429, …) are not memoized.
    signature = _post_signature(p, who)
    remembered = _remembered(f, signature)
    if remembered is not None:
        return _answer(*remembered)
    topic_id = p.integer("topic_id")
    archetype = p.text("archetype") or "regular"
    try:
        # NewPostManager#perform (lib/new_post_manager.rb): a post that needs approval is held, not created.
        reason = f.hold_reason(who, title=p.text("title"), topic_id=topic_id, archetype=archetype)
        if reason is not None:
            queued = f.enqueue_post(who, reason, raw=raw, title=p.text("title"), topic_id=topic_id,
                                    category_id=category_id, tags=tag_names(p.items("tags") or []),
                                    reply_to_post_number=p.integer("reply_to_post_number"))
            status, body = 200, ser.enqueued_post(f, who, queued)
        else:
            # PostCreator#valid?: topic_not_found comes before the post validators and the rate limits.
            if topic_id is not None and not f.can_create_post_on_topic(who, f.topics.get(topic_id)):
                raise ForumError.topic_not_found()
            # Slow mode, the unique/consecutive post validators (422) and the per-user rate limits (429); counted
            # only once the post exists (simulator/limits.py).
            admission = limits.admit_post(f, who, raw=raw, topic_id=topic_id,
                                          private_message=archetype == "private_message")
            post = f.create_post(
                who, raw=raw, title=p.text("title"), topic_id=topic_id, category_id=category_id,
                reply_to_post_number=p.integer("reply_to_post_number"),
                tags=tag_names(p.items("tags") or []), external_id=p.text("external_id"),
                archetype=archetype, target_recipients=recipients.split(","),
                whisper=p.boolean("whisper"), shared_draft=shared_draft,
                created_at=parse_time(created_at) if created_at else None)
            admission.done(post)
            status, body = 200, ser.post(f, who, post, raw=True, draft_sequence=True)
    except ForumError as exc:
        if exc.status != 422 or exc.error_type != "record_invalid":
            raise
        status, body = 422, _post_refusal(f, who, exc, raw)
    _remember(f, signature, status, body)
    return _answer(status, body)


POST_MEMO_SECONDS = 120
"""PostsController#create: `DistributedMemoizer.memoize(signature_for(manager_params), 120)`."""
POST_SIGNATURE_PARAMS = (
    "raw", "topic_id", "archetype", "category", "target_recipients", "target_usernames", "reply_to_post_number",
    "auto_track", "typing_duration_msecs", "composer_open_duration_msecs", "visible", "unlist_topic", "draft_key",
    "skip_validations", "import_mode", "embed_url", "created_at", "external_id", "is_warning", "no_bump",
    "shared_draft", "whisper", "title", "tags", "category_id", "featured_link")
"""PostsController#create_params: the permitted params (plus the tracked topic fields) that make the signature."""


def _post_signature(p: Params, who: User) -> str:
    """PostsController#signature_for: SHA1 over the permitted params, the user's id and (create_params adds them)
    the request's ip, user agent and referer. Params outside the permitted list do not count."""
    values = [(name, p.items(name) if name == "tags" else p.raw(name)) for name in POST_SIGNATURE_PARAMS
              if p.has(name) or (name == "tags" and p.items("tags") is not None)]
    values += [("user", who.id), ("ip_address", request.remote_addr), ("user_agent", request.user_agent.string),
               ("referrer", request.referrer)]
    return "post##" + hashlib.sha1(json.dumps(sorted(values, key=lambda kv: kv[0]), default=str).encode()).hexdigest()


def _remembered(f: Forum, signature: str) -> tuple[int, Any] | None:
    entry = f.post_memo.get(signature)
    if entry is None:
        return None
    expires_at, status, body = entry
    if f.now() >= expires_at:
        del f.post_memo[signature]
        return None
    return status, body


def _remember(f: Forum, signature: str, status: int, body: Any) -> None:
    """`redis.setex(key, 120, result)` when first computed: the window runs from the first answer."""
    f.post_memo[signature] = (f.now() + timedelta(seconds=POST_MEMO_SECONDS), status, body)


def _answer(status: int, body: Any) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _post_refusal(f: Forum, who: User, exc: ForumError, raw: str) -> dict[str, Any]:
    """PostsController#backwards_compatible_json of a failed NewPostResult (NewPostResultSerializer): 422 with
    `action` and `errors` (full messages) — no `error_type`, no `success` (included only when true). A refusal on
    the review path (`enqueued`) also carries `pending_count` and the unsaved `pending_post`."""
    body: dict[str, Any] = {"action": exc.action or "create_post", "errors": exc.errors}
    if exc.action == "enqueued":
        body["pending_count"] = f.pending_count(who)
        body["pending_post"] = {"id": None, **({"raw": raw} if raw.strip() else {}), "created_at": None}
    return body


def _category_param(value: str | None) -> int | None:
    """TopicCreator#find_category: an id, or a category name; an unknown one fails validation."""
    if value is None or value == "":
        return None
    f = forum()
    if value.isdigit() and int(value) in f.categories:
        return int(value)
    for category in f.categories.values():
        if category.name.lower() == value.lower():
            return category.id
    raise ForumError.invalid("Category can't be blank")


@route("/posts", ["GET"])
def latest_posts():  # type: ignore[no-untyped-def]
    """`GET /posts.json?before=`: public regular posts the viewer may see, newest first, 50 a page.

    As Discourse's LatestPostsQuery#public_posts: no messages, no whispers or small actions, nothing deleted or
    unlisted, only secured categories.
    """
    who = viewer()
    f = forum()
    before = params().integer("before")
    before = before if before and before > 0 else None
    posts: list[Post] = []
    for post_id in f.post_ids_before(before):         # newest first, from `before` down: stop at a page
        p = f.posts[post_id]
        if p.post_type == POST_REGULAR and not p.hidden and p.deleted_at is None and _public_post(who, p):
            posts.append(p)
            if len(posts) == LATEST_POSTS_PAGE:
                break
    return jsonify(latest_posts=[ser.post(f, who, p, raw=True, with_title=True, excerpt=True) for p in posts])


def _public_post(who: User, post: Post) -> bool:
    f = forum()
    topic = f.topics[post.topic_id]
    return (not topic.is_pm and topic.deleted_at is None and topic.visible and f.can_see_topic(who, topic)
            and f.can_see_post(who, post))


@route("/posts/<int:post_id>", ["GET"])
def show_post(post_id: int):  # type: ignore[no-untyped-def]
    who = viewer()
    post = forum().require_post(post_id, who)
    return jsonify(ser.post(forum(), who, post, raw=True))


@route("/posts/<int:post_id>", ["PUT"])
def update_post(post_id: int):  # type: ignore[no-untyped-def]
    """`PUT /posts/{id}.json`: `post[raw]`, `post[edit_reason]` (a JSON body may also send them unwrapped)."""
    who = actor()
    p = params()
    changes = p.nested("post")
    if changes is None and "raw" in p.body:           # Rails' wrap_parameters wraps a JSON body under `post`
        changes = {k: p.body[k] for k in ("raw", "edit_reason") if k in p.body}
    if changes is None:
        raise missing("post")
    f = forum()
    post = f.require_post(post_id, who)
    raw = changes.get("raw")
    admission = limits.admit_edit(f, who, post, raw=None if raw is None else str(raw), title=p.text("title"))
    revised = f.revise_post(who, post, raw=None if raw is None else str(raw),
                            edit_reason=changes.get("edit_reason") or None, title=p.text("title"))
    admission.done(revised)                           # edits per day count a new version only
    return jsonify(post=ser.post(f, who, revised, raw=True, draft_sequence=True))


@route("/posts/<int:post_id>", ["DELETE"])
def delete_post(post_id: int):  # type: ignore[no-untyped-def]
    who = actor()
    f = forum()
    post = f.require_post(post_id, who)
    if post.post_number == 1 and not who.staff:
        raise ForumError.invalid_access()             # the first post goes with its topic: DELETE /t/{id}
    f.delete_post(who, post)
    return empty()


@route("/posts/<int:post_id>/recover", ["PUT"])
def recover_post(post_id: int):  # type: ignore[no-untyped-def]
    who = require_staff()
    f = forum()
    post = f.require_post(post_id, who)
    f.recover_post(who, post)
    return jsonify(ser.post(f, who, post))


@route("/posts/<int:post_id>/revisions/latest", ["GET"])
def latest_revision(post_id: int):  # type: ignore[no-untyped-def]
    who = viewer()
    post = forum().require_post(post_id, who)
    if not post.revisions:
        raise ForumError.not_found()
    return jsonify(ser.revision(forum(), who, post, post.revisions[-1]))


@route("/posts/<int:post_id>/revisions/<int:number>", ["GET"])
def show_revision(post_id: int, number: int):  # type: ignore[no-untyped-def]
    who = viewer()
    if number < 2:
        raise ForumError.bad_params("revision")
    post = forum().require_post(post_id, who)
    for rev in post.revisions:
        if rev.number == number:
            return jsonify(ser.revision(forum(), who, post, rev))
    raise ForumError.not_found()


# --------------------------------------------------------------------------------------------- topics


def _show_topic(topic_id: int, slug: str | None = None):  # type: ignore[no-untyped-def]
    who = viewer()
    topic = forum().require_topic(topic_id, who)
    if slug is not None and slug != topic.slug:
        return redirect(f"/t/{topic.slug}/{topic.id}.json", code=301)
    p = params()
    return jsonify(ser.topic_view(forum(), who, topic, include_raw=p.boolean("include_raw")))


@route("/t/<int:topic_id>", ["GET"])
def show_topic(topic_id: int):  # type: ignore[no-untyped-def]
    return _show_topic(topic_id)


@route("/t/<slug>/<int:topic_id>", ["GET"])
def show_topic_by_slug(slug: str, topic_id: int):  # type: ignore[no-untyped-def]
    return _show_topic(topic_id, slug)


@route("/t/<int:topic_id>/<int:post_number>", ["GET"])
def show_topic_near_post(topic_id: int, post_number: int):  # type: ignore[no-untyped-def]
    return _show_topic(topic_id)


@route("/t/external_id/<external_id>", ["GET"])
def topic_by_external_id(external_id: str):  # type: ignore[no-untyped-def]
    """301 to the topic's canonical URL (with `.json` when asked for JSON), as `show_by_external_id` does."""
    who = viewer()
    f = forum()
    topic = f.topic_by_external_id(external_id)
    if topic is None or topic.deleted_at is not None:
        raise ForumError.not_found()
    if not f.can_see_topic(who, topic):
        raise ForumError.invalid_access()
    suffix = ".json" if request.path.endswith(".json") or "json" in request.headers.get("Accept", "") else ""
    return redirect(f"/t/{topic.slug}/{topic.id}{suffix}", code=301)


@route("/t/<int:topic_id>/posts", ["GET"])
def topic_posts(topic_id: int):  # type: ignore[no-untyped-def]
    who = viewer()
    topic = forum().require_topic(topic_id, who)
    ids = params().items("post_ids")
    post_ids = [int(i) for i in ids if str(i).isdigit()] if ids else None
    return jsonify(ser.topic_posts(forum(), who, topic, post_ids))


@route("/t/<int:topic_id>", ["DELETE"])
def delete_topic(topic_id: int):  # type: ignore[no-untyped-def]
    """Discourse answers a refused or unknown delete with a 422 `delete_topic_failed`."""
    who = actor()
    f = forum()
    topic = f.topics.get(topic_id)
    if topic is None or not f.can_see_topic(who, topic):
        raise ForumError.invalid(DELETE_TOPIC_FAILED)
    try:
        f.delete_topic(who, topic)
    except ForumError as exc:
        if exc.status != 403:
            raise
        raise ForumError.invalid(DELETE_TOPIC_FAILED) from exc
    return empty()


@route("/t/<int:topic_id>/recover", ["PUT"])
def recover_topic(topic_id: int):  # type: ignore[no-untyped-def]
    who = require_staff()
    f = forum()
    topic = f.topics.get(topic_id)
    if topic is None or topic.deleted_at is None:
        raise ForumError.invalid_access()
    f.recover_topic(who, topic)
    return empty()


def _update_topic(topic_id: int):  # type: ignore[no-untyped-def]
    """`PUT /t/-/{id}.json`: title, category and tags; answers `basic_topic` (and the tags, if sent)."""
    who = actor()
    p = params()
    f = forum()
    topic = f.require_topic(topic_id, who)
    tags = p.items("tags")
    admission = limits.admit_topic_edit(f, who, topic, title=p.text("title"), category_id=p.integer("category_id"),
                                        tags_sent=tags is not None)   # PostRevisor on post #1: an edit of the day
    before = (topic.title, topic.category_id, list(topic.tags))
    f.update_topic(who, topic, title=p.text("title"), category_id=p.integer("category_id"),
                   tags=tag_names(tags) if tags is not None else None)
    if (topic.title, topic.category_id, list(topic.tags)) != before:
        admission.done()
    body: dict[str, Any] = {"basic_topic": ser.basic_topic(f, who, topic)}
    if tags is not None:
        body["tags"] = [ser.tag_ref(f.tags[n]) for n in topic.tags if n in f.tags]
    return jsonify(body)


@route("/t/-/<int:topic_id>", ["PUT"])
def update_topic(topic_id: int):  # type: ignore[no-untyped-def]
    return _update_topic(topic_id)


@route("/t/<slug>/<int:topic_id>", ["PUT"])
def update_topic_by_slug(slug: str, topic_id: int):  # type: ignore[no-untyped-def]
    return _update_topic(topic_id)


@route("/t/<int:topic_id>/status", ["PUT"])
def update_topic_status(topic_id: int):  # type: ignore[no-untyped-def]
    who = actor()
    p = params()
    status = p.required("status")
    p.required("enabled")
    f = forum()
    topic = f.require_topic(topic_id, who)
    f.set_status(who, topic, status, p.boolean("enabled"))
    return jsonify(success="OK", topic_status_update=None)


@route("/t/<int:topic_id>/slow_mode", ["PUT"])
def set_slow_mode(topic_id: int):  # type: ignore[no-untyped-def]
    """`PUT /t/{id}/slow_mode` with `seconds` (TopicsController#set_slow_mode: `guardian.ensure_can_moderate!`,
    then `head :ok`); 0 turns slow mode off. `enabled_until` (a timer that clears it) is not simulated."""
    who = require_staff()
    f = forum()
    topic = f.require_topic(topic_id, who)
    seconds = params().integer("seconds")
    topic.slow_mode_seconds = max(0, seconds or 0)
    return empty()


@route("/t/<int:topic_id>/shared-draft", ["PUT"])
def update_shared_draft(topic_id: int):  # type: ignore[no-untyped-def]
    who = actor()
    f = forum()
    topic = f.require_topic(topic_id, who)
    category_id = params().integer("category_id")
    if category_id is None:
        raise missing("category_id")
    f.set_shared_draft_destination(who, topic, category_id)
    return jsonify(success="OK")


@route("/t/<int:topic_id>/publish", ["PUT"])
def publish_topic(topic_id: int):  # type: ignore[no-untyped-def]
    who = actor()
    f = forum()
    topic = f.require_topic(topic_id, who)
    destination = params().integer("destination_category_id")
    if destination is None:
        raise missing("destination_category_id")
    category: Category = f.require_category(destination)
    if category.id == f.settings.get("shared_drafts_category"):
        raise ForumError.bad_params("destination_category_id")
    f.publish_shared_draft(who, topic, category.id)
    return jsonify(basic_topic=ser.basic_topic(f, who, topic))


# --------------------------------------------------------------------------------------------- likes


def _like_type(p: Params) -> None:
    type_id = p.integer("post_action_type_id")
    if type_id is None:
        raise missing("post_action_type_id")
    if type_id != LIKE:
        raise ForumError.bad_params(f"post_action_type_id {type_id} is not supported by the simulator "
                                    "(only 2, like)")


@route("/post_actions", ["POST"])
def like_post():  # type: ignore[no-untyped-def]
    who = actor()
    p = params()
    post_id = p.integer("id")
    if post_id is None:
        raise missing("id")
    _like_type(p)
    f = forum()
    post = f.require_post(post_id, who)
    admission = limits.admit_like(f, who, post)       # the per-post action limiter, then likes per day
    f.like(who, post)
    admission.done()
    return jsonify(ser.post(f, who, post))


@route("/post_actions/<int:post_id>", ["DELETE"])
def unlike_post(post_id: int):  # type: ignore[no-untyped-def]
    who = actor()
    _like_type(params())
    f = forum()
    post = f.require_post(post_id, who)
    limits.admit_unlike(f, who, post)                 # PostActionDestroyer's per-post action limiter
    f.unlike(who, post)
    return jsonify(ser.post(f, who, post))


POST_ACTION_USERS_PAGE = 200
"""`GET /post_action_users.json` default (and largest) page size."""


@route("/post_action_users", ["GET"])
def post_action_users():  # type: ignore[no-untyped-def]
    """Who liked a post, oldest like first (PostActionUsersController#index; likes only here).

    The viewer must be able to see the post (a message's likes only to its participants, a whisper's only to
    staff; staff also see a deleted post's), else 403 as Guardian#ensure_can_see! answers. `page` (from 0) and
    `limit` (default and at most 200) page the rows.
    """
    who = viewer()
    p = params()
    _like_type(p)
    post_id = p.integer("id")
    if post_id is None:
        raise missing("id")
    page = p.integer("page") or 0
    limit = p.integer("limit") or POST_ACTION_USERS_PAGE
    if page < 0 or limit < 1:
        raise ForumError.bad_params("page must not be negative and limit must be positive")
    limit = min(limit, POST_ACTION_USERS_PAGE)
    f = forum()
    post = f.posts.get(post_id)
    if post is None or not f.can_see_post(who, post):
        raise ForumError.invalid_access()
    likes = sorted(post.likes, key=lambda like: like.created_at)
    users = [f.users[like.user_id] for like in likes[page * limit:(page + 1) * limit] if like.user_id in f.users]
    return jsonify(ser.post_action_users(users, total=len(likes), page_size=limit))


# --------------------------------------------------------------------------------------------- user actions


UA_LIKE, UA_WAS_LIKED = 1, 2
"""UserAction::LIKE (a like given) and UserAction::WAS_LIKED (a like received), app/models/user_action.rb."""
UA_PRIVATE_TYPES = frozenset({2, 6, 7, 9, 11})
"""UserAction.private_types: WAS_LIKED, RESPONSE, MENTION, QUOTE, EDIT."""
USER_ACTIONS_DEFAULT_LIMIT = 30
USER_ACTIONS_MAX_LIMIT = 100
"""UserActionsController#index: `limit` defaults to 30 and is capped at 100 (Discourse PR #42361, 2026-08: a larger
limit is lowered to 100, not refused)."""


@dataclass
class _ActionRow:
    """One `user_actions` row of a like (UserActionManager.post_action_rows): the liker's LIKE and the author's
    WAS_LIKED, both at the like's time (`created_at: post_action.created_at`)."""

    action_type: int
    owner: User              # the row's user_id: whose stream it is
    acting: User             # acting_user_id: the liker, for both rows
    post: Post
    created_at: datetime


@route("/user_actions", ["GET"])
def user_actions():  # type: ignore[no-untyped-def]
    """`GET /user_actions.json?username=&filter=&offset=&limit=` (UserActionsController#index,
    app/controllers/user_actions_controller.rb; UserAction.stream, app/models/user_action.rb), newest first.

    Refusals, in Discourse's order: no `username` → 400; an unknown user (or an inactive one, for a non-staff
    viewer: fetch_user_from_params) → 404; Guardian#can_see_profile? false → 404; Guardian#can_see_user_actions?
    false → 404 — a private type (WAS_LIKED, 2, is one) is seen only by the user themself and ADMINS: a moderator
    asking for another member's likes received gets a 404.

    `offset` is `[0, to_i].max`; `limit` defaults to 30 and is capped at 100; `filter` is a comma list of action
    types. The simulator keeps the likes only: LIKE (1, given) and WAS_LIKED (2, received); a request for any other
    type (or none: every type) is a 400 naming the simulator.

    Rows as UserAction.apply_common_filters leaves them: never a deleted topic; a deleted post's rows are gone
    altogether (PostDestroyer#perform_delete → trash_user_actions), and a like taken back removes both rows
    (PostActionDestroyer → UserActionManager.post_action_destroyed); hidden posts only for staff or their author;
    whispers only for staff; unlisted topics only for staff or the user themself; personal messages only for an
    admin (all of them) or the user themself (those they take part in) — filter_private_messages; read-restricted
    categories only for admins or viewers allowed in them — filter_categories.
    Not simulated: a post recovered after deletion gets its likes back here (Discourse trashes them with the post,
    PostDestroyer#trash_public_post_actions, and does not restore them); `acting_username`; `hide_user_activity_tab`."""
    who = viewer()
    p = params()
    username = p.required("username")
    f = forum()
    user = f.user_by_name(username)
    if user is None or (not user.active and not who.staff):
        raise ForumError.not_found()
    offset = max(0, ruby_to_i(p.text("offset") or ""))
    limit_text = p.text("limit")
    limit = USER_ACTIONS_DEFAULT_LIMIT if limit_text is None else ruby_to_i(limit_text)
    action_types = [ruby_to_i(part) for part in (p.text("filter") or "").split(",")] if p.text("filter") else []
    if not f.can_see_profile(who, user):
        raise ForumError.not_found()
    may_see_all = not who.anonymous and (who.id == user.id or who.admin)          # Guardian#can_see_user_actions?
    if not may_see_all and set(action_types) & UA_PRIVATE_TYPES:
        raise ForumError.not_found()
    if not action_types or not set(action_types) <= {UA_LIKE, UA_WAS_LIKED}:
        raise ForumError.bad_params("filter: the simulator keeps likes only (1, given; 2, received)")
    if limit < 0:
        raise ForumError.bad_params("limit must not be negative")                  # PostgreSQL refuses LIMIT -1
    limit = min(limit, USER_ACTIONS_MAX_LIMIT)
    if set(action_types) == {UA_WAS_LIKED}:
        rows = _likes_received_rows(f, who, user, offset + limit)
    else:
        rows = [row for row in _like_rows(f, user, action_types) if _action_visible(f, who, user, row.post)]
        rows.sort(key=lambda r: (r.created_at, r.post.id, r.acting.id, r.action_type), reverse=True)
    return jsonify(user_actions=[ser.user_action(f, action_type=r.action_type, owner=r.owner, acting=r.acting,
                                                 p=r.post, created_at=r.created_at)
                                 for r in rows[offset:offset + limit]])


def _like_rows(f: Forum, user: User, action_types: list[int]) -> list[_ActionRow]:
    """The user's LIKE rows (likes they gave) and WAS_LIKED rows (likes their posts received) that exist: a
    deleted post has none (PostDestroyer#trash_user_actions)."""
    rows: list[_ActionRow] = []
    for post in f.posts.values():
        if post.deleted_at is not None:
            continue
        for like in post.likes:
            liker = f.users.get(like.user_id)
            if liker is None:
                continue
            if UA_LIKE in action_types and liker.id == user.id:
                rows.append(_ActionRow(UA_LIKE, user, liker, post, like.created_at))
            if UA_WAS_LIKED in action_types and post.user_id == user.id:
                rows.append(_ActionRow(UA_WAS_LIKED, user, liker, post, like.created_at))
    return rows


def _likes_received_rows(f: Forum, who: User, user: User, count: int) -> list[_ActionRow]:
    """The first `count` WAS_LIKED rows `who` may see, in the stream's order (newest like first, then highest post
    id, then highest liker id): the same rows as `_like_rows` sorted, read from the forum's likes-received index
    and stopped once there are enough."""
    rows: list[_ActionRow] = []
    if count <= 0:
        return rows
    for created_at, post_id, liker_id in f.likes_received(user.id):
        post = f.posts[post_id]
        liker = f.users.get(liker_id)
        if post.deleted_at is not None or liker is None or not _action_visible(f, who, user, post):
            continue
        rows.append(_ActionRow(UA_WAS_LIKED, user, liker, post, created_at))
        if len(rows) == count:
            break
    return rows


def _action_visible(f: Forum, who: User, user: User, post: Post) -> bool:
    """UserAction.apply_common_filters (app/models/user_action.rb) for a `filter` request (PMs not ignored)."""
    topic = f.topics.get(post.topic_id)
    if topic is None or topic.deleted_at is not None:                       # "We never return deleted topics"
        return False
    first = f.first_post(topic)
    if not who.staff:                                                        # Guardian#can_see_deleted_posts?
        if post.deleted_at is not None or first.deleted_at is not None:
            return False
        if post.hidden and post.user_id != who.id:
            return False
    if post.post_type == POST_WHISPER and not who.staff:                     # Topic.visible_post_types
        return False
    if not topic.visible and who.id != user.id and not who.staff:
        return False
    if topic.is_pm:                                                          # filter_private_messages
        if who.anonymous or not (who.admin or who.id == user.id):            # Guardian#can_see_private_messages?
            return False
        return who.admin or _participates(who, topic)
    if not who.admin:                                                        # filter_categories
        category = f.categories.get(topic.category_id or 0)
        if category is not None and category.read_restricted and not f.can_see_category(who, category):
            return False
    return True


# --------------------------------------------------------------------------------------------- search


@dataclass
class SearchQuery:
    """A parsed `q`: plain words plus the operators the simulator understands."""

    words: list[str]
    tags_any: list[str]
    tags_all: list[str]
    category_slugs: list[str]
    usernames: list[str]
    in_title: bool = False
    in_messages: bool = False
    status: str | None = None
    order_latest: bool = False

    @classmethod
    def parse(cls, q: str) -> SearchQuery:
        query = cls(words=[], tags_any=[], tags_all=[], category_slugs=[], usernames=[])
        for token in q.split():
            low = token.lower()
            if low.startswith(("tags:", "tag:")):
                value = low.split(":", 1)[1]
                if "+" in value:
                    query.tags_all.extend(v for v in value.split("+") if v)
                else:
                    query.tags_any.extend(v for v in value.split(",") if v)
            elif low.startswith("#") and len(low) > 1:
                query.category_slugs.append(low[1:].split(":")[-1])
            elif low.startswith("@") and len(low) > 1:
                query.usernames.append(low[1:])
            elif low == "in:title":
                query.in_title = True
            elif low in ("in:personal", "in:messages", "in:personal-direct"):
                query.in_messages = True
            elif low.startswith("status:"):
                query.status = low.split(":", 1)[1]
            elif low.startswith("order:"):
                query.order_latest = low.split(":", 1)[1] in ("latest", "latest_topic")
            else:
                query.words.append(low)
        return query


def _search_matches(who: User, query: SearchQuery) -> list[Post]:
    """One post per topic (the first that matches), as Discourse's aggregated full-page search."""
    f = forum()
    results: list[Post] = []
    for topic in f.topics.values():
        if topic.deleted_at is not None or topic.is_pm != query.in_messages or not f.can_see_topic(who, topic):
            continue
        if topic.is_pm and not _participates(who, topic):      # in:personal is the searcher's own messages
            continue
        if query.tags_any and not set(query.tags_any) & set(topic.tags):
            continue
        if query.tags_all and not set(query.tags_all) <= set(topic.tags):
            continue
        if query.category_slugs and not _in_categories(topic, query.category_slugs):
            continue
        if query.status == "open" and (topic.closed or topic.archived):
            continue
        if query.status in ("closed", "archived") and not getattr(topic, query.status):
            continue
        for post in (f.posts[i] for i in topic.post_ids):
            if not f.can_see_post(who, post) or post.deleted_at is not None:
                continue
            if query.in_title and post.post_number != 1:
                continue
            author = f.users.get(post.user_id)
            if query.usernames and (author is None or author.username.lower() not in query.usernames):
                continue
            haystack = topic.title.lower() if query.in_title else f"{topic.title} {post.raw}".lower()
            if all(word in haystack for word in query.words):
                results.append(post)
                break
    key: Callable[[Post], Any] = (lambda p: p.created_at) if query.order_latest else \
        (lambda p: f.topics[p.topic_id].bumped_at or p.created_at)
    return sorted(results, key=key, reverse=True)


def _participates(who: User, topic: Topic) -> bool:
    groups = set(forum().group_ids_of(who))
    return who.id in topic.allowed_user_ids or bool(groups & set(topic.allowed_group_ids))


def _in_categories(topic: Topic, slugs: list[str]) -> bool:
    f = forum()
    category = f.categories.get(topic.category_id or 0)
    while category is not None:
        if category.slug.lower() in slugs:
            return True
        category = f.categories.get(category.parent_category_id or 0)
    return False


@route("/search", ["GET"])
def search():  # type: ignore[no-untyped-def]
    who = viewer()
    p = params()
    term = (p.text("q") or p.text("term") or "").strip()
    page = max(1, p.integer("page") or 1)
    f = forum()
    query = SearchQuery.parse(term)
    matches = _search_matches(who, query) if term else []
    chosen = matches[(page - 1) * SEARCH_PAGE: page * SEARCH_PAGE]
    return jsonify(ser.search_results(f, who, term, chosen, search_log_id=f.next_id("search_log"),
                                      more=len(matches) > page * SEARCH_PAGE, blurb_terms=query.words))


# --------------------------------------------------------------------------------------------- uploads


@route("/uploads", ["POST"])
def create_upload():  # type: ignore[no-untyped-def]
    """`POST /uploads.json` (multipart `file`, `type`): always synchronous; images only, as by default."""
    who = actor()
    p = params()
    if not (p.text("upload_type") or p.text("type")):
        raise missing("type")
    file = request.files.get("file")
    if file is None:
        raise missing("file")
    data = file.read()
    filename = file.filename or "upload"
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in AUTHORIZED_EXTENSIONS:
        raise ForumError.invalid("Sorry, the file you are trying to upload is not authorized (authorized "
                                 f"extensions: {', '.join(AUTHORIZED_EXTENSIONS)}).")
    if len(data) > MAX_IMAGE_SIZE_KB * 1024:
        raise ForumError.invalid("Sorry, the file you are trying to upload is too big (maximum size is "
                                 f"{MAX_IMAGE_SIZE_KB // 1024} MB).")
    size = image_size(data)
    if size is None:
        raise ForumError.invalid("Sorry, but we couldn't determine the size of the image. Maybe your image "
                                 "is corrupted?")
    upload = forum().add_upload(who, filename=filename, data=data, width=size[0], height=size[1])
    return jsonify(ser.upload(upload))


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG (FastImage's job in Discourse); None if unreadable."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"\xff\xd8":
        at = 2
        while at + 9 < len(data):
            if data[at] != 0xFF:
                return None
            marker = data[at + 1]
            length = struct.unpack(">H", data[at + 2:at + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                height, width = struct.unpack(">HH", data[at + 5:at + 9])
                return width, height
            at += 2 + length
    return None


# --------------------------------------------------------------------------------------------- errors


def wants_json() -> bool:
    """A request Discourse would answer in JSON: a `.json` path, a JSON Accept header, or an API key."""
    return (request.path.endswith(".json") or "application/json" in request.headers.get("Accept", "")
            or "Api-Key" in request.headers)


@blueprint.app_errorhandler(404)
@blueprint.app_errorhandler(405)
def route_not_found(exc: HTTPException):  # type: ignore[no-untyped-def]
    """An unknown route (or method) is Discourse's JSON 404 for API clients; others get the plain page."""
    if not wants_json():
        return exc
    response = jsonify(errors=[NOT_FOUND_MESSAGE], error_type="not_found")
    response.status_code = 404
    return response

