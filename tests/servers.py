"""Serving a WSGI app over real HTTP on loopback from a background thread, for the tests."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from werkzeug.serving import make_server


@dataclass
class Served:
    url: str
    port: int


@contextmanager
def serving(app, host: str = "127.0.0.1", port: int = 0) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    """Serve `app` (threaded) until the block ends; port 0 picks a free one."""
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"serve-{server.port}", daemon=True)
    thread.start()
    try:
        yield Served(url=f"http://{host}:{server.port}", port=server.port)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
