"""Every name the service gives to something outside its own code: tags, external ids, effect keys and job ids.

Three namespaces, each with its own rule:

- **In the forum** (tags, `external_id`s): shared with everything else on the forum, so each starts with `coc-`
  (the document's tag `code-of-care` is the one members read). The forum refuses a second topic with the same
  `external_id`, which is what makes creating a topic idempotent.
- **Effect keys** (`Store.once`): live under the service's own Redis prefix (`Keys.effect`), so they need no
  `coc-`. An effect key and the external id of the same thing differ on purpose: `care-team-7` is "the team's
  message about post 7 was sent", `coc-care-team-7` is that message's topic in the forum.
- **Job ids** (RQ): unique per queue while the job is known, so that a duplicate enqueue is dropped.

Values never change between releases: they are stored in Redis and in the forum.
"""

from __future__ import annotations

from plugin.domain.engagement import check_week

# ------------------------------------------------------------------------------------------------ tags

TAG_CODE_OF_CARE = "code-of-care"
"""The living document's tag, and the tag that marks a topic as Code of Care feedback."""
TAG_DRAFT = "coc-amendment"
TAG_APPROVED = "coc-approved"
TAG_REJECTED = "coc-rejected"
TAG_DIGEST = "coc-digest"
TAGS = (TAG_CODE_OF_CARE, TAG_DRAFT, TAG_APPROVED, TAG_REJECTED, TAG_DIGEST)
"""Every tag the service uses; `install` creates them in one tag group."""
TAG_GROUP = "Code of Care"

# ------------------------------------------------------------------------------------------------ external ids

DOCUMENT_EXTERNAL_ID = "coc-document"
CARE_WORDING_EXTERNAL_ID = "coc-care-wording"
"""The care group's conversation where the team changes the care messages' words (made once, by `install`)."""


def amendment_id(post_id: int, index: int) -> str:
    """An amendment's key: the `index`-th proposal (from 1) of post `post_id`; also its draft topic's external_id."""
    return f"coc-amendment-{post_id}-{index}"


def digest_external_id(week: str) -> str:
    """The weekly digest topic of an ISO week ("2026-W47"); also the job id of the job that posts it."""
    return f"coc-digest-{check_week(week)}"


def care_alert_id(request_id: int) -> str:
    """The `external_id` of the alert to the backup group about one request nobody picked up."""
    return f"coc-care-alert-{request_id}"


def care_summary_id(week: str) -> str:
    """The care group's private weekly summary of an ISO week ("2026-W47"): its message's `external_id`, and the
    job id of the job that sends it (on the care queue)."""
    return f"coc-care-summary-{check_week(week)}"


def rejection_message_id(amendment_id: str) -> str:
    """The message that tells the proposer their amendment was not adopted."""
    return f"{amendment_id}-rejected"


def care_message_ids(post_id: int) -> tuple[str, str]:
    """The `external_id`s of the team's and the member's message about one care post."""
    return f"coc-care-team-{post_id}", f"coc-care-member-{post_id}"


# ------------------------------------------------------------------------------------------------ effect keys


def care_effects(post_id: int) -> tuple[str, str]:
    """Routing one care post: the team's message sent, and the member's."""
    return f"care-team-{post_id}", f"care-member-{post_id}"


def unreachable_effect(post_id: int) -> str:
    """The note in the team's conversation that the member's own message could not be sent."""
    return f"care-unreachable-{post_id}"


def care_relay_effect(post_id: int, changed_at: str = "") -> str:
    """A member's reply (post `post_id`; as changed at `changed_at`, its `updated_at`) relayed into the team's
    conversation."""
    return f"care-relay-{post_id}" + (f"-{changed_at}" if changed_at else "")


def care_pickup_effect(request_id: int) -> str:
    """The member told who picked their request up."""
    return f"care-pickup-{request_id}"


def care_wording_answer_effect(post_id: int) -> str:
    """The answer to a team's reply (post `post_id`) that changes care messages' words."""
    return f"care-wording-{post_id}"


def care_closed_effect(request_id: int) -> str:
    """The note in the team's conversation that the request is closed."""
    return f"care-closed-{request_id}"


def care_timer_effect(request_id: int, timer: str) -> str:
    """The reminder (`remind`) to the team, or the alert (`escalate`) to the backup group, of one request."""
    return f"care-{timer}-{request_id}"


def care_summary_effect(week: str) -> str:
    """The care group's private weekly summary of an ISO week, sent."""
    return f"care-summary-{check_week(week)}"


def not_allowed_effect(post_id: int) -> str:
    """The kind answer to a command by someone who may not decide."""
    return f"not-allowed-{post_id}"


def problems_effect(post_id: int, count: int) -> str:
    """The one reply that lists a post's problems."""
    return f"problems-{post_id}-{count}"


def decision_effect(amendment_id: str) -> str:
    """The reply in the draft that says how it was decided."""
    return f"decision-{amendment_id}"


def announce_effect(amendment_id: str) -> str:
    """The announcement of an applied change in the document's topic."""
    return f"announce-{amendment_id}"


def rejection_effect(amendment_id: str) -> str:
    """The message that tells the proposer their proposal was not adopted."""
    return f"rejection-pm-{amendment_id}"


# ------------------------------------------------------------------------------------------------ job ids


def decide_job_id(post_id: int) -> str:
    """Deciding a draft on the command in post `post_id`."""
    return f"decide-{post_id}"


def problems_job_id(post_id: int, version: int) -> str:
    """Answering the problems of one version of a post."""
    return f"problems-{post_id}-{version}"


def draft_job_id(amendment_id: str, seen: int | str) -> str:
    """Opening (or refreshing) a draft once its support was counted `seen`."""
    return f"draft-{amendment_id}-{seen}"


def care_catch_up_job_id(post_id: int) -> str:
    """`reconcile` handing a post of a care conversation to the care queue again (its webhook went elsewhere)."""
    return f"care-catch-up-{post_id}"


def care_timer_job_id(request_id: int, timer: str) -> str:
    """The scheduled job of one request's reminder or alert."""
    return f"care-{timer}-{request_id}"


def reconcile_job_id(slot: int) -> str:
    """The reconcile pass of one interval slot (the cron's time divided by its interval)."""
    return f"coc-reconcile-{slot}"


CRON_DIGEST = "coc-weekly-digest"
"""The digest's cron job in RQ's cron registry (`rq:cron_jobs`)."""
CRON_RECONCILE = "coc-reconcile"
