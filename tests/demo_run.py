"""The `demo_run` fixture: `python -m plugin demo` played once per test session, its output and its saved forum.

The whole story takes tens of seconds (a simulator, Redis, gunicorn and two workers as real processes), so the
tests that look at it — the command's own test in test_cli.py and the browser test of the HTML view — share one
run instead of playing it twice. The demo uses its own Redis database (12), not the tests' one.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from plugin.ops.demo import DATA_FILE, REPO_ROOT

DEMO_TIMEOUT = 300.0
"""Seconds the whole demo may take before the run counts as hung."""


@dataclass(frozen=True)
class DemoRun:
    """One finished demo: the process `result`, how long it took, and a copy of the forum it saved."""

    result: subprocess.CompletedProcess[str]
    seconds: float
    forum_file: Path | None
    """A copy of `demo-forum.sim.json` taken as soon as the demo ended (None: it saved none), so a later run or
    a person browsing the file cannot change what the tests read."""

    @property
    def output_tail(self) -> str:
        """The end of the demo's output, for an assertion message."""
        return self.result.stdout[-3000:] + self.result.stderr[-3000:]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """Play the demo once, as `make demo` does but with no terminal (so it does not wait for Enter)."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "plugin", "demo"], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=DEMO_TIMEOUT)
    seconds = time.monotonic() - started
    forum_file = None
    if DATA_FILE.is_file():                        # the demo deletes it at start, so this one is from this run
        forum_file = tmp_path_factory.mktemp("demo") / DATA_FILE.name
        shutil.copyfile(DATA_FILE, forum_file)
    return DemoRun(result=result, seconds=seconds, forum_file=forum_file)
