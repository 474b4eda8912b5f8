"""Serving a WSGI app over real HTTP on loopback from a background thread, for the tests."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from simulator.server import ServerHandle, serve_in_thread


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[ServerHandle]:
    """Serve `app` (threaded, the simulator's own serving helper) until the block ends; port 0 picks a free one."""
    handle = serve_in_thread(app, host, port)
    try:
        yield handle
    finally:
        handle.shutdown()
