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

    def __str__(self) -> str:
        fed = ", ".join(f"{n} {name}" for name, n in sorted(self.fed.items())) or "nothing missing"
        more = "" if self.finished else "; more to read on the next pass"
        older = (
            f"; {self.older_pages} page(s) of older posts"
            + (", came round" if self.came_round else f", going on below post {self.older_from}")
            if self.older_pages
            else ""
        )
        return (
            f"read {self.pages} page(s), {self.posts} post(s): {fed} ({self.accepted} accepted as new); "
            f"up to post {self.cursor}{more}{older}"
        )


@dataclass
class RebuildReport:
    posts: int = 0
    topics: int = 0
    likes: int = 0
    amendments: Counter[str] | None = None
    drafts_enqueued: int = 0

    def __str__(self) -> str:
        statuses = ", ".join(f"{n} {status}" for status, n in sorted((self.amendments or Counter()).items()))
        return (
            f"rebuilt from {self.posts} post(s) in {self.topics} topic(s) with {self.likes} like(s); "
            f"amendments: {statuses or 'none'}; {self.drafts_enqueued} draft job(s) enqueued"
        )
