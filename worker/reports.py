"""What the catch-ups from the forum report: a reconcile pass (`worker.reconcile`) and a rebuild (`worker.rebuild`).

The job's result and the command's output are `str()` of these.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ReconcileReport:
    pages: int = 0
    posts: int = 0
    fed: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    cursor: int = 0
    finished: bool = True
    older_pages: int = 0
    older_from: int = 0
    """Where the walk down the older posts goes on at the next pass (0: it came round; it starts again below the
    newest posts)."""
    came_round: bool = False
    """Whether this pass's walk down the older posts reached the lowest post the service has heard of."""
    log_pages: int = 0
    """Pages of the webhook's delivery log read."""
    redelivered: int = 0
    """Deliveries the forum was asked to send again."""
    log_covered: bool = False
    """Whether the delivery log accounted for every delivery since the last pass (then no post was read)."""
    explored: bool = False
    """Whether the posts were read back through Data Explorer (the window's, 10,000 a call)."""

    def __str__(self) -> str:
        fed = ", ".join(f"{n} {name}" for name, n in sorted(self.fed.items())) or "nothing missing"
        more = "" if self.finished else "; more to read on the next pass"
        older = (
            f"; {self.older_pages} page(s) of older posts"
            + (", came round" if self.came_round else f", going on below post {self.older_from}")
            if self.older_pages
            else ""
        )
        log = (
            f"; delivery log: {self.log_pages} page(s), {self.redelivered} delivery(ies) sent again"
            if self.log_pages
            else ""
        )
        if self.explored:
            return f"read {self.posts} post(s) through Data Explorer: {fed} ({self.accepted} accepted as new){log}"
        if self.log_pages and not self.pages:  # the delivery log accounted for everything
            return f"delivery log: {self.log_pages} page(s), {self.redelivered} delivery(ies) sent again; {fed}"
        return (
            f"read {self.pages} page(s), {self.posts} post(s): {fed} ({self.accepted} accepted as new); "
            f"up to post {self.cursor}{more}{older}{log}"
        )


@dataclass
class RebuildReport:
    posts: int = 0
    topics: int = 0
    likes: int = 0
    amendments: Counter[str] | None = None
    drafts_enqueued: int = 0
    via: str = "api"
    """How the forum was read: `api`, or `data-explorer` (its saved queries, 10,000 rows a call)."""

    def __str__(self) -> str:
        statuses = ", ".join(f"{n} {status}" for status, n in sorted((self.amendments or Counter()).items()))
        how = " (through Data Explorer)" if self.via == "data-explorer" else ""
        return (
            f"rebuilt from {self.posts} post(s) in {self.topics} topic(s) with {self.likes} like(s){how}; "
            f"amendments: {statuses or 'none'}; {self.drafts_enqueued} draft job(s) enqueued"
        )
