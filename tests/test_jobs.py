"""Jobs under a throttled forum: deferred with RQ's Retry (never a sleep in the worker, never a failure)."""
from __future__ import annotations

from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer

from plugin.domain.amendments import OPEN
from plugin.domain.names import amendment_id
from plugin.adapters.budget import ApiBudget
from tests.companion import Companion, companion, sim_forum  # noqa: F401  (fixtures)
from tests.test_amendments_e2e import like, propose


def test_a_throttled_draft_is_deferred_not_failed(companion: Companion) -> None:
    c = companion
    proposal = propose(c, "alice")
    like(c, "bob", proposal["id"])
    ApiBudget.for_settings(c.conn, c.settings).pause(120)       # as after the forum's 429: everyone waits
    like(c, "carol", proposal["id"])
    c.settle()
    drafts = Queue("drafts", connection=c.conn, serializer=JSONSerializer)
    (job_id,) = ScheduledJobRegistry(queue=drafts).get_job_ids()
    job = Job.fetch(job_id, connection=c.conn, serializer=JSONSerializer)
    assert job.func_name == "worker.jobs.draft" and job.get_status().value == "scheduled"
    assert not FailedJobRegistry(queue=drafts).get_job_ids()
    assert c.store.amendment(amendment_id(proposal["id"], 1)).status == OPEN
    assert c.topic_by_external_id(amendment_id(proposal["id"], 1)) is None
