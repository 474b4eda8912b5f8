"""`python -m plugin demo`: the service end to end against the forum simulator.

For now it only brings up the pieces: a Redis (see `plugin.redis_runtime`) and the simulator as a
subprocess, waits until the simulator answers an authenticated `GET /site.json`, reports both and stops them.
"""

from __future__ import annotations

import importlib.machinery
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import requests

from plugin.processes import free_port, stop_process, wait_until
from plugin.redis_runtime import RedisUnavailable, ensure_redis

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The directory that holds `plugin/` and `simulator/`; the simulator subprocess runs from here."""

SIMULATOR_HOST = "127.0.0.1"
SIMULATOR_ADMIN = "system"
SIMULATOR_START_TIMEOUT = 30.0
"""Seconds the simulator gets to answer `GET /site.json` with 200."""

REQUEST_TIMEOUT = 2.0
"""Seconds one readiness request may take."""


@dataclass
class Simulator:
    """A running forum simulator subprocess."""

    process: subprocess.Popen
    base_url: str
    api_key: str
    log_path: Path

    def headers(self, username: str = SIMULATOR_ADMIN) -> dict[str, str]:
        """The Discourse API headers acting as `username` with the admin key."""
        return {"Api-Key": self.api_key, "Api-Username": username}


def simulator_available() -> bool:
    """True if the `simulator` package beside `plugin/` can be run with `python -m simulator`."""
    spec = importlib.machinery.PathFinder.find_spec("simulator", [str(REPO_ROOT)])
    if spec is None or not spec.submodule_search_locations:
        return False
    return importlib.machinery.PathFinder.find_spec("__main__", list(spec.submodule_search_locations)) is not None


def start_simulator(log_dir: Path) -> Simulator:
    """Start `python -m simulator` on a free loopback port with a random admin key; does not wait."""
    port = free_port(SIMULATOR_HOST)
    api_key = secrets.token_hex(32)
    log_path = log_dir / "simulator.log"
    command = [
        sys.executable, "-m", "simulator",
        "--host", SIMULATOR_HOST, "--port", str(port), "--api-key", api_key,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    return Simulator(process=process, base_url=f"http://{SIMULATOR_HOST}:{port}", api_key=api_key, log_path=log_path)


def simulator_ready(simulator: Simulator) -> bool:
    """True once `GET /site.json` as the admin answers 200."""
    try:
        response = requests.get(
            f"{simulator.base_url}/site.json", headers=simulator.headers(), timeout=REQUEST_TIMEOUT
        )
    except requests.ConnectionError:
        return False
    return response.status_code == 200


def run_demo(*, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Bring up Redis and the simulator, report them, stop both; return the exit code."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if not simulator_available():
        print(f"demo: the forum simulator (`python -m simulator`, package simulator/ beside plugin/) is not there yet", file=err)
        return 1
    try:
        redis_runtime = ensure_redis()
    except RedisUnavailable as exc:
        print(f"demo: {exc}", file=err)
        return 1
    try:
        with tempfile.TemporaryDirectory(prefix="coc-demo-") as log_dir:
            simulator = start_simulator(Path(log_dir))
            try:
                ready = wait_until(
                    lambda: simulator.process.poll() is not None or simulator_ready(simulator),
                    timeout=SIMULATOR_START_TIMEOUT,
                )
                if not ready or simulator.process.poll() is not None:
                    log_text = simulator.log_path.read_text(errors="replace").strip()
                    state = (
                        f"exited with code {simulator.process.returncode}"
                        if simulator.process.poll() is not None
                        else f"did not answer GET /site.json with 200 within {SIMULATOR_START_TIMEOUT:g}s"
                    )
                    print(f"demo: the simulator {state}. Its output:\n{log_text or '(none)'}", file=err)
                    return 1
                print(f"simulator: {simulator.base_url} (admin user {SIMULATOR_ADMIN})", file=out)
                print(f"redis: {redis_runtime.source} ({redis_runtime.url})", file=out)
            finally:
                stop_process(simulator.process)
    finally:
        redis_runtime.stop()
    return 0
