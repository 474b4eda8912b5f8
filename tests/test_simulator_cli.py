"""`python -m simulator` as a real process: ready line, serving, clean stop on signals, `--data` round trip."""
from __future__ import annotations

import json
import queue
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from pydiscourse import DiscourseClient

from plugin.ops.demo import REPO_ROOT
from plugin.ops.processes import stop_process

READY_PREFIX = "simulator listening on "
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
REQUEST_TIMEOUT = 10


@dataclass
class Running:
    process: subprocess.Popen[str]
    url: str
    api_key: str

    def headers(self, username: str = "system") -> dict[str, str]:
        return {"Api-Key": self.api_key, "Api-Username": username}

    def client(self, username: str = "system") -> DiscourseClient:
        return DiscourseClient(self.url, api_username=username, api_key=self.api_key, timeout=REQUEST_TIMEOUT)


def _pump(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)
    lines.put(None)


@contextmanager
def simulator(*extra: str) -> Iterator[Running]:
    """Start `python -m simulator` on a port the OS picks and wait for its ready line; stop it afterwards."""
    api_key = secrets.token_hex(16)
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", "0", "--api-key", api_key, *extra],
        cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    try:
        first = lines.get(timeout=START_TIMEOUT)
        assert first is not None and first.startswith(READY_PREFIX), f"no ready line, got {first!r}"
        yield Running(process=process, url=first[len(READY_PREFIX):].strip(), api_key=api_key)
    finally:
        stop_process(process)
        if process.stdout:
            process.stdout.close()


def stop(running: Running, signum: int = signal.SIGTERM) -> int:
    running.process.send_signal(signum)
    return running.process.wait(timeout=STOP_TIMEOUT)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serves_site_json_and_stops_cleanly(signum: int) -> None:
    with simulator() as running:
        assert running.url.startswith("http://127.0.0.1:")
        answer = requests.get(f"{running.url}/site.json", headers=running.headers(), timeout=REQUEST_TIMEOUT)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
        assert requests.get(f"{running.url}/site.json", headers={"Api-Key": "wrong", "Api-Username": "system"},
                            timeout=REQUEST_TIMEOUT).status_code == 403
        assert stop(running, signum) == 0


def test_data_file_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "forum.json"
    with simulator("--data", str(data)) as running:
        created = running.client().create_post("The living document of how we care for each other.",
                                               title="Our Code of Care, version one", external_id="coc-document")
        assert stop(running) == 0
    assert json.loads(data.read_text())["topics"][0]["title"] == "Our Code of Care, version one"
    assert not [p for p in tmp_path.iterdir() if p.name != data.name]      # no temporary file left behind

    with simulator("--data", str(data)) as running:
        topic = requests.get(f"{running.url}/t/external_id/coc-document.json", headers=running.headers(),
                             timeout=REQUEST_TIMEOUT).json()          # a redirect to /t/{slug}/{id}.json
        assert topic["id"] == created["topic_id"]
        assert topic["title"] == "Our Code of Care, version one"
        post = running.client()._get(f"/posts/{created['id']}.json")
        assert post["raw"] == "The living document of how we care for each other."
        assert stop(running) == 0


def test_a_saved_forum_reopened_elsewhere_keeps_its_own_links_working(tmp_path: Path) -> None:
    """Links a post made to the forum's own address follow it to where the file is reopened (as `discourse
    remap` does after a move); a link to another site stays as written."""
    data, old = tmp_path / "forum.json", "http://forum.old.example:8080"
    with simulator("--data", str(data), "--base-url", old) as running:
        created = running.client().create_post(
            f"Read [the Code]({old}/t/our-code/1) and {old}/p/1, or https://example.org/elsewhere.",
            title="Links to our own forum, and one elsewhere")
        assert stop(running) == 0
    with simulator("--data", str(data)) as running:
        post = running.client()._get(f"/posts/{created['id']}.json")
        assert f"({running.url}/t/our-code/1)" in post["raw"] and f"{running.url}/p/1," in post["raw"]
        assert f'href="{running.url}/t/our-code/1"' in post["cooked"] and old not in post["cooked"]
        assert 'href="https://example.org/elsewhere"' in post["cooked"]
        assert stop(running) == 0


def test_rate_limit_option_sets_the_admin_bucket() -> None:
    with simulator("--rate-limit", "2") as running:
        statuses = [requests.get(f"{running.url}/site.json", headers=running.headers(),
                                 timeout=REQUEST_TIMEOUT).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert stop(running) == 0
