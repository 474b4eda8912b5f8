"""The care messages in the team's own words: a reply in the wording conversation (a `care` queue job).

`install` made the conversation (the bot and the care group; external id `coc-care-wording`) and told Redis its
topic, so the receiver routes its posts to care like a care request's. A reply by someone of the team that gives
headings is read (plugin.domain.wording.parse_reply against plugin.text.care_wording.SPECS); the words that pass
every check are kept in Redis for their message, from then on used by worker/care.py (one read per job); what
did not pass is kept for `doctor`; and the companion answers the reply once, saying what it took and what not,
and why. Nothing here is on the path of a care request: a broken reply changes nothing.
"""

from __future__ import annotations

from plugin.domain.events import PostEvent
from plugin.domain.names import care_wording_answer_effect
from plugin.domain.safety import is_service
from plugin.domain.wording import Change, parse_reply
from plugin.text.care_wording import LATER, REFUSED, SPECS, TAKEN, UNKNOWN, answer
from worker.effects import reply_once
from worker.services import Services


def on_reply(s: Services, event: PostEvent) -> str:
    """A post in the wording conversation: new words for the messages it names, and one answer."""
    post = event.post
    if event.name != "post_created" or is_service(post.username, s.settings.bot_username):
        return "care wording: nothing to do"
    raw = post.raw or s.forum.post(post.id).raw  # a post read back by reconcile carries no raw
    reply = parse_reply(raw, SPECS)
    if not reply.changes:
        return "care wording: the team's own words"
    record = {"post_id": post.id, "author": post.username, "at": post.created_at}
    outcomes: list[tuple[Change, str]] = []
    for change in reply.changes:
        if change.key is None:
            outcomes.append((change, REFUSED))
        elif change.problems:
            problems = [p.to_json() for p in change.problems]
            s.store.refuse_care_wording(change.key, {**record, "heading": change.heading, "problems": problems})
            outcomes.append((change, REFUSED))
        else:
            kept = s.store.save_care_wording(change.key, {**record, "text": change.text})
            outcomes.append((change, TAKEN if kept else LATER))
    if reply.unknown:
        problems = [p.to_json() for c in reply.unknown for p in c.problems]
        s.store.refuse_care_wording(UNKNOWN, {**record, "heading": "", "problems": problems})
    else:
        s.store.forget_care_wording_refusal(UNKNOWN, up_to_post_id=post.id)
    in_use = {key: kept for key, kept in s.store.care_wording_records().items() if kept.get("text") is not None}
    text = answer(outcomes, team_words=in_use)
    reply_once(s, care_wording_answer_effect(post.id), post.topic_id, post.post_number, text)
    taken = sum(outcome == TAKEN for _, outcome in outcomes)
    return f"care wording: {taken} of {len(outcomes)} message(s) changed"
