"""The simulator's Flask app factory: the forum's REST API, its webhook delivery and a small HTML view."""
from __future__ import annotations

from typing import Any

from flask import Flask, jsonify

from .auth import AdminApiBucket, ApiOutage
from .state import Forum, ForumError


def create_app(forum: Forum | None = None, *, api_key: str, config: dict[str, Any] | None = None) -> Flask:
    """Build a simulated Discourse around `forum` (a new empty one if None).

    `api_key` is the one all-scope admin key: with it, `Api-Username: <anyone>` acts as that user.
    """
    forum = forum or Forum()
    app = Flask("simulator")
    app.config.update(JSON_SORT_KEYS=False, MAX_CONTENT_LENGTH=50 * 1024 * 1024)
    app.config.update(config or {})
    app.json.sort_keys = False
    app.json.compact = True
    app.json.mimetype = "application/json; charset=utf-8"   # what Discourse sends; pydiscourse checks it
    app.extensions["forum"] = forum
    app.extensions["api_key"] = api_key
    app.extensions["admin_api_bucket"] = AdminApiBucket(int(forum.settings["max_admin_api_reqs_per_minute"]))
    app.extensions["api_outage"] = ApiOutage()            # test-only: stretches of 429s, 503s or timeouts

    @app.errorhandler(ForumError)
    def forum_error(exc: ForumError):  # type: ignore[no-untyped-def]
        body: dict[str, Any] = {"errors": exc.errors, "error_type": exc.error_type}
        if exc.extras is not None:
            body["extras"] = exc.extras
        response = jsonify(body)
        response.status_code = exc.status
        if exc.status == 429 and exc.extras:
            # ApplicationController's rescue_from RateLimiter::LimitExceeded: Retry-After always; the error-code
            # header only for a limiter that has one (the admin API bucket; never the per-user limits).
            response.headers["Retry-After"] = str(exc.extras["wait_seconds"])
            error_code = getattr(exc, "error_code", None)
            if error_code:
                response.headers["Discourse-Rate-Limit-Error-Code"] = error_code
        return response

    from . import api, data_explorer, html, testing, webhooks   # noqa: PLC0415  (blueprints import the app's helpers)

    app.register_blueprint(api.blueprint)
    app.register_blueprint(data_explorer.blueprint)   # the Data Explorer plugin, off until data_explorer_enabled
    app.register_blueprint(webhooks.blueprint)
    app.register_blueprint(html.blueprint)
    app.register_blueprint(testing.blueprint)
    webhooks.attach(app, forum)
    return app
