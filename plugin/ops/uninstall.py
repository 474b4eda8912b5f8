"""`python -m plugin uninstall [--dry-run]`: stop the forum sending events here. The forum's content stays.

It removes the webhook that install registered (the one whose payload URL is `COC_PUBLIC_URL` + the webhook path)
and nothing else: the living document, the drafts and their decisions, the digests, the tags, groups, category and
the bot account are the community's record and remain in the forum. Redis state can simply be dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from plugin.adapters.budget import ApiBudget
from plugin.adapters.forum import Forum
from plugin.adapters.redis import connect
from plugin.config import Settings
from plugin.ops.install import OK, PROBLEM, Step

REMOVED, WOULD_REMOVE = "removed", "would remove"


def run_uninstall(settings: Settings, *, dry_run: bool = False, out: Callable[[str], object] = print) -> int:
    url = settings.public_url.rstrip("/") + settings.webhook_path
    if not settings.public_url:
        out(Step("webhook", PROBLEM, "COC_PUBLIC_URL is not set: it names the webhook to remove").line())
        return 1
    connection = connect(settings)
    try:
        with Forum(settings, budget=ApiBudget.for_settings(connection, settings)) as forum:
            hooks = [h for h in forum.web_hooks()[0] if h.payload_url == url]
            if not hooks:
                out(Step(f"webhook {url}", OK, "none registered: nothing to remove").line())
            for hook in hooks:
                if not dry_run:
                    forum.delete_web_hook(hook.id)
                out(Step(f"webhook {url}", WOULD_REMOVE if dry_run else REMOVED, f"id {hook.id}").line())
    finally:
        connection.close()
    out(
        Step(
            "forum content", OK, "the document, drafts, digests, tags, groups and bot account are left as they are"
        ).line()
    )
    return 0
