"""The care group's private weekly summary: how the week's requests for direct support went, once per week.

Figures only (`plugin.domain.care.summarize`): how many requests came in, how soon someone picked them up (median
and 90th percentile), how many were escalated to the backup group and how many still wait. It goes to
COC_CARE_GROUP as a personal message and nowhere else: the public digest (worker/digest.py) never reads a care
request. A week with no request still gets a short note, so that the team knows the companion is watching rather
than wondering whether a quiet week is a broken one.

Exactly once per ISO week, even run twice or beside a manual run: an effect keyed by the week, and a message with
an `external_id` of its own (`coc-care-summary-<week>`), which the forum refuses to create twice. The weekly
schedule enqueues it on the care queue beside the digest, with that id as job id (worker/schedule.py): it neither
waits for nor depends on the public digest. The week is counted in UTC, as the digest counts it; "still waiting" is
what still waits when the summary is sent.
"""

from __future__ import annotations

from datetime import UTC, datetime

from plugin.config import digest_zone
from plugin.domain.care import summarize
from plugin.domain.engagement import check_week, last_completed_week, week_bounds
from plugin.domain.names import care_summary_effect, care_summary_id
from plugin.text.care import weekly_summary
from worker.digest import WeekNotOver
from worker.effects import message_once
from worker.services import Services


def utcnow() -> datetime:
    """Now, in UTC: whether the week is over, and which week was last completed (tests move it on)."""
    return datetime.now(UTC)


def send_summary(s: Services, week: str | None = None, *, now: datetime | None = None) -> str:
    """Send the care group the summary of `week` (None: the last completed week in COC_TIMEZONE), unless it was
    sent. Returns what happened, for the job's result."""
    moment = now or utcnow()
    week = check_week(week or last_completed_week(moment, digest_zone(s.settings.timezone)))
    start, end = week_bounds(week)
    if moment < end:
        raise WeekNotOver(
            f"the week {week} is not over until {end:%Y-%m-%d %H:%M} UTC: its care summary would be partial"
        )
    group = s.settings.care_group
    summary = summarize(s.store.care_requests(), start=start.timestamp(), end=end.timestamp())
    title, raw = weekly_summary(week=week, summary=summary, group=group, backup=s.settings.care_backup_group)
    sent = message_once(
        s, care_summary_effect(week), title=title, raw=raw, recipients=[group], external_id=care_summary_id(week)
    )
    if sent.refused:
        return f"care summary {week}: the {group} group could not be messaged ({sent.refused})"
    if sent.post is None:
        return f"care summary {week} already sent"
    counted = "1 request" if summary.requests == 1 else f"{summary.requests} requests"
    return f"care summary {week} sent to the {group} group ({counted})"
