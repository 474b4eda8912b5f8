"""The webhook receiver: verify, parse, dedupe, enqueue — and answer fast. It never calls the forum.

`create_app(settings)` is a Flask app factory that wires one `Receiver` and registers three blueprints: the
webhook itself (`receive`), the probes (`health`) and the Prometheus endpoint (`metrics`). The work is done by the
sans-I/O core (`plugin.domain.events.parse_delivery`) and one atomic Redis step
(`plugin.adapters.intake.Intake.accept`); the blueprints only map their outcomes to HTTP answers.
"""

from __future__ import annotations

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry

from plugin.adapters.intake import Intake
from plugin.adapters.keys import Keys
from plugin.adapters.redis import connect
from plugin.config import Settings
from webhooks import health, metrics, receive
from webhooks.context import EXTENSION, Receiver


def create_app(settings: Settings | None = None, *, connection: redis.Redis | None = None) -> Flask:
    """Build the receiver. `settings` default to the environment; the webhook secret is required."""
    settings = settings or Settings.from_env()
    secret = settings.require_webhook_secret()
    connection = connection or connect(
        settings, socket_connect_timeout=1, socket_timeout=2, health_check_interval=30, retry=RedisRetry(NoBackoff(), 1)
    )  # fail fast: the sender gets a 503, not a hung request
    intake = Intake(
        connection,
        keys=Keys(settings.redis_prefix),
        dedupe_ttl=settings.dedupe_ttl,
        job_timeout=settings.job_timeout,
        bot_username=settings.bot_username,
    )

    app = Flask("webhooks")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions[EXTENSION] = Receiver(
        settings=settings, secret=secret, intake=intake, metrics=metrics.Metrics(intake)
    )
    app.register_blueprint(receive.blueprint(settings.webhook_path))
    app.register_blueprint(health.blueprint)
    app.register_blueprint(metrics.blueprint)
    return app
