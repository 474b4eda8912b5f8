"""Every Redis key name the service uses, and nowhere else.

All keys start with the configured prefix (`COC_REDIS_PREFIX`, default `coc:`), so several forums — or the test
suite — can share one Redis. RQ's own keys (`rq:queue:<name>`, `rq:job:<id>`) are RQ's and named by RQ.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "coc:"

    def seen_delivery(self, event_id: str) -> str:
        """A delivery already accepted, by `X-Discourse-Event-Id` (an admin's redelivery reuses it)."""
        return f"{self.prefix}seen:delivery:{event_id}"

    def seen_fact(self, identity: str) -> str:
        """A fact already accepted, by payload identity (a retry carries a new Event-Id but the same fact)."""
        return f"{self.prefix}seen:fact:{identity}"

    @property
    def receiver_stats(self) -> str:
        """Hash of delivery counters shared by every receiver process: `<event>:<answer>` → count."""
        return f"{self.prefix}stats:deliveries"
