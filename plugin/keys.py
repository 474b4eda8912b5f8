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

    # ----------------------------------------------------------------------------- the Code of Care's state

    @property
    def document(self) -> str:
        """Hash: the living document's topic id, post id, version and raw text (a cache of the forum's post)."""
        return f"{self.prefix}document"

    @property
    def section_versions(self) -> str:
        """Hash: section slug → how many times its text has changed since install (1 = the first text)."""
        return f"{self.prefix}section-versions"

    @property
    def care_posts(self) -> str:
        """Set: ids of posts that asked for direct support; nothing public ever counts them."""
        return f"{self.prefix}care-posts"

    def topic(self, topic_id: int) -> str:
        """Hash: what topic webhooks told of a topic (tags, category, author, archetype)."""
        return f"{self.prefix}topic:{topic_id}"

    def amendment(self, amendment_id: str) -> str:
        """String: one amendment as JSON (plugin.amendments.Amendment)."""
        return f"{self.prefix}amendment:{amendment_id}"

    @property
    def amendments(self) -> str:
        """Set: every amendment id."""
        return f"{self.prefix}amendments"

    def post_amendments(self, post_id: int) -> str:
        """Set: the amendment ids a post proposed."""
        return f"{self.prefix}post-amendments:{post_id}"

    def likers(self, post_id: int) -> str:
        """Set: usernames whose like of the post arrived by webhook (gross: there is no unlike webhook)."""
        return f"{self.prefix}likers:{post_id}"

    def draft_topic(self, topic_id: int) -> str:
        """String: the amendment id whose draft is this topic."""
        return f"{self.prefix}draft-topic:{topic_id}"

    def discussion(self, section_slug: str) -> str:
        """Hash: post id → JSON {author, at} of the posts that discussed a section."""
        return f"{self.prefix}discussion:{section_slug}"

    def member(self, username: str) -> str:
        """Hash: a member's trust level, staff and suspension, as last seen (expires)."""
        return f"{self.prefix}member:{username.lower()}"

    def effect(self, effect_key: str) -> str:
        """String: "pending" while an effect is being made, "done" once it is in the forum."""
        return f"{self.prefix}effect:{effect_key}"

    @property
    def document_lock(self) -> str:
        """Lock: one amendment at a time is applied to the document."""
        return f"{self.prefix}lock:document"

    # ----------------------------------------------------------------------------- the forum API budget

    @property
    def api_budget(self) -> str:
        """Sorted set: one member per forum API call of the last minute, scored by its time (plugin.budget)."""
        return f"{self.prefix}api:budget"

    @property
    def api_pause(self) -> str:
        """String: the time (epoch seconds) until which nobody calls the forum, after it answered 429."""
        return f"{self.prefix}api:budget:pause"
