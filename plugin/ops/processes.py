"""Helpers for the local processes the service starts for a run: free ports, readiness polling, clean stops."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

POLL_INTERVAL = 0.02
"""Seconds between two checks of a condition while waiting for it."""

STOP_TIMEOUT = 10.0
"""Seconds a process gets to exit after SIGTERM before it is killed."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on `host` that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = POLL_INTERVAL) -> bool:
    """Poll `condition` until it returns True (-> True) or `timeout` seconds have passed (-> False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def stop_process(process: subprocess.Popen, *, timeout: float = STOP_TIMEOUT) -> int:
    """Terminate `process` (SIGTERM, then SIGKILL after `timeout`), reap it and return its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)
