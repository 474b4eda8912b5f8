"""End to end: the forum simulator's own signed deliveries reach the receiver, registered as a forum admin would."""
from __future__ import annotations


import redis
from rq.job import Job
from rq.serializers import JSONSerializer

from plugin.domain.events import event_from_job
from plugin.queues import QUEUE_CARE, QUEUE_EVENTS
from tests.servers import serving
from tests.simulator_fixtures import Sim
from tests.test_receiver import settings_for
from webhooks.app import create_app

SECRET = "e2e-webhook-secret-4567"


def queued(conn: redis.Redis, queue: str) -> list:
    return [event_from_job(Job.fetch(i.decode(), connection=conn, serializer=JSONSerializer).args[0])
            for i in conn.lrange(f"rq:queue:{queue}", 0, -1)]


def test_forum_deliveries_reach_the_queues(sim: Sim, redis_url: str, redis_conn: redis.Redis) -> None:
    with serving(create_app(settings_for(redis_url, discourse_webhook_secret=SECRET))) as receiver:
        admin = sim.http("system")
        created = admin.post(sim.url + "/admin/api/web_hooks.json", data={
            "web_hook[payload_url]": receiver.url + "/webhooks/discourse", "web_hook[secret]": SECRET,
            "web_hook[content_type]": "1", "web_hook[wildcard_web_hook]": "true", "web_hook[active]": "true"})
        assert created.status_code == 200, created.text
        hook_id = created.json()["web_hook"]["id"]
        sim.user("alice")
        sim.user("bob")
        sim.forum.ensure_tags(["code-of-care"], sim.forum.user_by_name("system"))   # members cannot create tags
        alice, bob = sim.client("alice"), sim.client("bob")
        topic = alice.create_post("How we ask before we share someone's story", category_id=None,
                                  title="Consent before sharing stories", tags=["code-of-care"])
        reply = bob.create_post("I would add: ask again if time has passed. I need direct support today too.",
                                topic_id=topic["topic_id"], reply_to_post_number=1)
        sim.http("bob").post(sim.url + "/post_actions.json", data={"id": topic["id"], "post_action_type_id": 2})
        assert sim.app.extensions["webhooks"].wait_idle(timeout=20)

        log = admin.get(f"{sim.url}/admin/api/web_hooks/{hook_id}/events.json").json()
        rows = log["web_hook_events"] if isinstance(log, dict) else log
        assert sorted(row["status"] for row in rows) == [202] * 4   # topic_created, 2 × post_created, post_liked

        events = queued(redis_conn, QUEUE_EVENTS)
        assert sorted(e.name for e in events) == ["post_created", "post_liked", "topic_created"]
        (care,) = queued(redis_conn, QUEUE_CARE)
        assert care.name == "post_created" and care.post.id == reply["id"]
        topic_event = next(e for e in events if e.name == "topic_created")
        assert topic_event.topic.tags == ("code-of-care",)

        # the forum admin presses Redeliver: same Event-Id, same body → acknowledged, not stored twice
        first = rows[-1]
        again = admin.post(f"{sim.url}/admin/api/web_hooks/{hook_id}/events/{first['id']}/redeliver.json")
        assert again.status_code == 200
        assert sim.app.extensions["webhooks"].wait_idle(timeout=20)
        newest = admin.get(f"{sim.url}/admin/api/web_hooks/{hook_id}/events.json").json()
        newest_rows = newest["web_hook_events"] if isinstance(newest, dict) else newest
        assert sorted(r["status"] for r in newest_rows) == [200, 202, 202, 202]
        assert len(queued(redis_conn, QUEUE_EVENTS)) + len(queued(redis_conn, QUEUE_CARE)) == 4
