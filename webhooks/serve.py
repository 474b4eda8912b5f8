"""Serving the receiver in production: gunicorn, configured from the command line (`python -m plugin serve`)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger

from plugin.config import Settings
from plugin.logs import JsonLines
from webhooks.app import create_app


class JsonLogger(GunicornLogger):
    """Gunicorn's own lines ("Booting worker", "Worker exiting", …) as JSON lines, like the receiver's."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonLines())


class ReceiverServer(BaseApplication):
    """Gunicorn running `create_app(settings)`; the app is built (and the secret checked) before it starts."""

    def __init__(self, settings: Settings, *, host: str, port: int, workers: int, threads: int):
        self.application = create_app(settings)
        self.options = {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "timeout": 30,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            "logger_class": JsonLogger,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application
