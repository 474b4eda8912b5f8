"""`python -m simulator --host H --port P --api-key KEY [--data FILE] [--rate-limit N] [--base-url URL]`.

Serves a simulated Discourse until SIGINT or SIGTERM, then stops cleanly and, with `--data`, saves the forum
to FILE (atomically). With `--data`, an existing FILE is loaded at start.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .app import create_app
from .server import load_snapshot, save_snapshot, serve_in_thread
from .state import Forum

READY_LINE = "simulator listening on {url}"
"""Printed (and flushed) once the server accepts connections."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulator", description="A Discourse-compatible forum simulator.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any free port)")
    parser.add_argument("--api-key", required=True, help="the all-scope admin API key")
    parser.add_argument("--data", type=Path, help="JSON snapshot: loaded at start if it exists, saved at stop")
    parser.add_argument("--rate-limit", type=int, help="max_admin_api_reqs_per_minute (default 60)")
    parser.add_argument("--base-url", help="the forum's public URL, sent as X-Discourse-Instance "
                                           "(default http://HOST:PORT)")
    args = parser.parse_args(argv)
    if args.rate_limit is not None and args.rate_limit < 0:
        parser.error("--rate-limit must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    forum = Forum()
    if args.data is not None:
        load_snapshot(forum, args.data)
    if args.rate_limit is not None:
        forum.settings["max_admin_api_reqs_per_minute"] = args.rate_limit
    app = create_app(forum, api_key=args.api_key)
    handle = serve_in_thread(app, args.host, args.port, quiet=False)
    forum.base_url = (args.base_url or handle.url).rstrip("/")
    moved = forum.remap(forum.saved_base_url, forum.base_url)
    if moved:
        print(f"{moved} post(s) linked to {forum.saved_base_url}: remapped to {forum.base_url}", file=sys.stderr)

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print(READY_LINE.format(url=handle.url), flush=True)
    stop.wait()
    handle.shutdown()
    if args.data is not None:
        save_snapshot(forum, args.data)
    print("simulator stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
