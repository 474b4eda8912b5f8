"""Serving the simulator: a threaded werkzeug server, in a thread or until stopped, and atomic snapshots."""
from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .state import Forum


SHUTDOWN_POLL_INTERVAL = 0.05
"""Seconds between the serving loop's checks for a shutdown request (socketserver's default is 0.5)."""


class QuietRequestHandler(WSGIRequestHandler):
    """A request handler that does not log every request (for servers inside tests)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class ServerHandle:
    """A server running in a background thread: its `url`, and `shutdown()` to stop it."""

    server: BaseWSGIServer
    thread: threading.Thread
    host: str
    app: Any = field(repr=False, default=None)

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def shutdown(self) -> None:
        """Stop serving, close the socket and stop the app's webhook deliveries (if it has any)."""
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()
        extensions = getattr(self.app, "extensions", {})
        dispatcher = extensions.get("webhooks") if isinstance(extensions, dict) else None
        if dispatcher is not None:
            dispatcher.stop()


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> ServerHandle:
    """Serve the WSGI `app` on `host:port` (0: a free port) from a daemon thread; returns once it listens."""
    handler = QuietRequestHandler if quiet else WSGIRequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_INTERVAL},
                              name=f"wsgi-{host}:{server.server_port}", daemon=True)
    thread.start()
    return ServerHandle(server=server, thread=thread, host=host, app=app)


def save_snapshot(forum: Forum, path: Path) -> None:
    """Write the forum's snapshot to `path` atomically: a temporary file beside it, then a rename."""
    path = Path(path)
    data = json.dumps(forum.snapshot(), ensure_ascii=False, separators=(",", ":"))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def load_snapshot(forum: Forum, path: Path) -> bool:
    """Restore `forum` from `path` if the file exists; True if it did."""
    path = Path(path)
    if not path.is_file():
        return False
    forum.restore(json.loads(path.read_text(encoding="utf-8")))
    return True
