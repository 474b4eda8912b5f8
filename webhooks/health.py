"""Liveness and readiness probes: alive while the process answers, ready while Redis does."""

from __future__ import annotations

import redis
from flask import Blueprint, Response, jsonify

from webhooks.context import receiver

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    return jsonify(status="alive")


@blueprint.get("/readyz")
def readyz() -> Response:
    try:
        receiver().intake.connection.ping()
    except redis.RedisError as exc:
        response = jsonify(status="not ready", error=f"Redis unreachable: {exc}")
        response.status_code = 503
        return response
    return jsonify(status="ready")
