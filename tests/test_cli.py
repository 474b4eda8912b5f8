"""`python -m plugin`: every DESIGN.md command exists; those not built yet say so and exit 2."""

from __future__ import annotations

import subprocess
import sys


from plugin.__main__ import COMMANDS
from plugin.ops.demo import REPO_ROOT
from tests.demo_run import DemoRun

DESIGN_COMMANDS = "serve worker scheduler install uninstall doctor reconcile rebuild stats digest demo".split()
LATER_COMMANDS = ["care"]  # the peer-support team's list of requests (the care follow-through issue)


def run_plugin(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plugin", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_the_commands_are_those_of_the_design() -> None:
    assert list(COMMANDS) == DESIGN_COMMANDS + LATER_COMMANDS


def test_unknown_command_is_a_usage_error() -> None:
    result = run_plugin("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_demo_plays_the_whole_story_and_exits_0(demo_run: DemoRun) -> None:
    assert demo_run.result.returncode == 0, demo_run.output_tail
    out = demo_run.result.stdout
    for expected in ("draft topic", "dave (not a moderator) wrote /approve", "sam approved", "sam rejected",
                     "asked for direct support", "the weekly digest for", "Summary", "See it in the forum: http://"):
        assert expected in out, expected
