"""`python -m plugin uninstall`: the webhook goes, the community's content stays."""
from __future__ import annotations

from plugin.ops.uninstall import REMOVED, WOULD_REMOVE, run_uninstall
from tests.companion import Companion, companion, sim_forum  # noqa: F401  (fixtures)


def test_uninstall_removes_only_the_webhook(companion: Companion) -> None:
    c = companion
    topics_before = dict(c.sim.forum.topics)
    lines: list[str] = []
    assert run_uninstall(c.settings, dry_run=True, out=lines.append) == 0
    assert any(line.startswith(WOULD_REMOVE) for line in lines) and len(c.sim.forum.web_hooks) == 1
    lines.clear()
    assert run_uninstall(c.settings, out=lines.append) == 0
    assert any(line.startswith(REMOVED) for line in lines)
    assert not c.sim.forum.web_hooks
    assert c.sim.forum.topics == topics_before                                # the document and all else remain
    assert c.sim.forum.user_by_name(c.settings.bot_username) is not None
    lines.clear()
    assert run_uninstall(c.settings, out=lines.append) == 0                   # idempotent
    assert any("nothing to remove" in line for line in lines)
