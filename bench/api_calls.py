"""Benchmark: forum API calls the service spends per drafted amendment, per decision and per 1,000 ordinary events.

    make bench            (or: .venv/bin/python -m bench.api_calls [--events 1000] [--amendments 10])

Runs the whole service in one process on the test harness (`tests/companion.py`): the simulator over HTTP, its
signed webhooks through the receiver, a real Redis and RQ's SimpleWorker. Member activity is made in the forum
directly (it emits the same webhooks as the API would), so every counted call is one the service itself made.
"""
from __future__ import annotations

import argparse
import random

from bench._companion import running_companion
from tests.companion import Companion

APPROVE = "/approve\nThank you all: this says it more plainly."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--amendments", type=int, default=10)
    args = parser.parse_args()
    with running_companion() as (c, _url):
        report(c, ordinary(c, args.events), amendments(c, args.amendments), args)


def calls(c: Companion) -> int:
    return c.services.forum.calls_made


def ordinary(c: Companion, count: int) -> tuple[int, int]:
    """Replies, new topics and likes, in and out of Code of Care threads, none proposing anything."""
    rng = random.Random(7)
    forum = c.sim.forum
    members = [forum.create_user(username=f"member{i}", trust_level=1) for i in range(30)]
    forum.ensure_tags(["weekly"], forum.user_by_name("system"))   # members below trust level 3 cannot create tags
    document_topic = c.store.document()["topic_id"]
    topics = [document_topic]
    posts = []
    before, events = calls(c), 0
    while events < count:
        who = rng.choice(members)
        roll = rng.random()
        if roll < 0.1:
            post = forum.create_post(who, raw="A new thread about how our week went, for everyone.",
                                     title=f"How was your week, neighbours {events}?", tags=["weekly"])
            topics.append(post.topic_id)
            events += 2                                   # topic_created + post_created
        elif roll < 0.7 or not posts:
            post = forum.create_post(who, raw="Thank you for writing this; it helped me to read it today.",
                                     topic_id=rng.choice(topics), reply_to_post_number=1)
            events += 1
        else:
            post = rng.choice(posts)
            if post.user_id == who.id or who.id in post.liker_ids():
                continue
            forum.like(who, post)
            events += 1
        posts.append(post)
        if events % 200 == 0:
            c.settle(timeout=120)
    c.settle(timeout=120)
    return events, calls(c) - before


def amendments(c: Companion, count: int) -> dict[str, float]:
    forum = c.sim.forum
    document = c.store.document()
    proposer = forum.create_user(username="proposer", trust_level=2)
    backers = [forum.create_user(username=f"backer{i}", trust_level=1) for i in range(3)]
    moderator = forum.create_user(username="moderator", trust_level=3)
    forum.set_moderator(moderator, True)
    sections = ["Care", "Consent", "Harm and repair", "Privacy", "Asking for support"]
    start = calls(c)
    proposals = []
    for n in range(count):
        raw = (f'[amend section="{sections[n % len(sections)]}"]\nProposal number {n}: we look after each other '
               "with patience, and we say so plainly.\n[/amend]")
        proposals.append(forum.create_post(proposer, raw=raw, topic_id=document["topic_id"]))
    c.settle(timeout=120)
    for post in proposals:
        for backer in backers[:2]:
            forum.like(backer, post)
    c.settle(timeout=120)
    drafted = [a for a in c.store.all_amendments() if a.draft_topic_id]
    after_drafts = calls(c)
    first = {a.section_slug: a for a in sorted(drafted, key=lambda a: a.post_id)}   # one approval per section
    for amendment in first.values():
        forum.create_post(moderator, raw=APPROVE, topic_id=amendment.draft_topic_id)
    c.settle(timeout=120)
    decided = len(first)
    return {"drafted": len(drafted), "draft_calls": after_drafts - start, "decided": decided,
            "decision_calls": calls(c) - after_drafts}


def report(c: Companion, ordinary_result: tuple[int, int], amendment_result: dict[str, float],
           args: argparse.Namespace) -> None:
    events, spent = ordinary_result
    a = amendment_result
    print("forum API calls spent by the service (bot and admin identities), measured by the adapter")
    print("| what | count | API calls | per unit |")
    print("|---|---|---|---|")
    print(f"| ordinary events (replies, topics, likes) | {events} | {spent} | {1000 * spent / events:.1f} per 1,000 |")
    print(f"| drafted amendments (3 supporters each) | {a['drafted']} | {a['draft_calls']} | "
          f"{a['draft_calls'] / max(1, a['drafted']):.1f} per draft |")
    print(f"| approvals applied to the document | {a['decided']} | {a['decision_calls']} | "
          f"{a['decision_calls'] / max(1, a['decided']):.1f} per approval |")


if __name__ == "__main__":
    main()
