"""What one post of Code of Care feedback changes, as pure functions: its proposals, its problems, the sections it
discusses, and the amendments it no longer proposes.

`worker.feedback.gather` loads the post's amendments, asks `gathered` and writes what it names; nothing here does
I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from plugin.domain.amendments import OPEN, WITHDRAWN, Amendment, record
from plugin.domain.document import GENERAL_SLUG, Document, Section, parse_document
from plugin.domain.events import Post
from plugin.domain.names import amendment_id
from plugin.domain.proposals import Proposal, parse_proposals, quoted_sections, unknown_section_problem

REMOVED_FROM_THE_POST = "removed from the post"
"""The history line of an open amendment whose `[amend]` block an edit took out."""


@dataclass(frozen=True)
class Gathered:
    """What a post changes, in the order it is written."""

    recorded: tuple[Amendment, ...]
    """The post's proposals that are new, or that the proposer changed while they were open, in the post's order."""
    withdrawn: tuple[Amendment, ...]
    """The post's open amendments that it no longer proposes, withdrawn."""
    kept: tuple[str, ...]
    """The ids of the post's proposals that name a section of the document, in the post's order."""
    problems: tuple[str, ...]
    """What the member is told to fix, in order: the post's own problems, then each unknown section."""
    sections: frozenset[str]
    """The sections the post discusses: those it quotes, those its kept proposals change, or GENERAL_SLUG."""


def gathered(post: Post, document_raw: str, document_topic_id: int, existing: Iterable[Amendment]) -> Gathered:
    """What `post` changes, given the living document and the post's amendments as they are stored (`existing`)."""
    doc = parse_document(document_raw)
    proposals, problems = parse_proposals(post.raw)
    earlier = {a.id: a for a in existing}
    if any(a.post_id != post.id for a in earlier.values()):
        raise ValueError(f"amendments of another post were given for post {post.id}")
    recorded: list[Amendment] = []
    current: dict[str, Amendment] = {}  # each kept proposal's amendment, as it stands once written
    for proposal in proposals:
        section = doc.find(proposal.section_ref)
        if section is None:
            problems.append(unknown_section_problem(proposal.section_ref, doc))
            continue
        key = amendment_id(post.id, proposal.index)
        changed = proposed_amendment(post, proposal, section, earlier.get(key))
        if changed is not None:
            recorded.append(changed)
        current[key] = changed or earlier[key]
    withdrawn = withdrawals(earlier.values(), when=post.updated_at, why=REMOVED_FROM_THE_POST, keep=current)
    sections = discussed_sections(post, doc, document_topic_id, proposes=bool(proposals))
    return Gathered(
        recorded=tuple(recorded),
        withdrawn=tuple(withdrawn),
        kept=tuple(current),
        problems=tuple(p.message for p in problems),
        sections=frozenset(sections | {a.section_slug for a in current.values()}),
    )


def proposed_amendment(
    post: Post, proposal: Proposal, section: Section, existing: Amendment | None
) -> Amendment | None:
    """The amendment to store for one proposal of `post` that names `section`: a new one, or the open one the
    proposer changed (its text or its section); None when nothing changes (the same text, or no longer open)."""
    key = amendment_id(post.id, proposal.index)
    if existing is None:
        amendment = Amendment(
            id=key,
            post_id=post.id,
            index=proposal.index,
            topic_id=post.topic_id,
            proposer=post.username,
            section_slug=section.slug,
            section_title=section.title,
            base_fingerprint=section.fingerprint,
            text=proposal.text,
        )
        return record(amendment, post.updated_at, f"proposed by {post.username}")
    if existing.id != key:
        raise ValueError(f"amendment {existing.id} is not proposal {proposal.index} of post {post.id}")
    if existing.status != OPEN or (existing.text == proposal.text and existing.section_slug == section.slug):
        return None
    return record(
        existing,
        post.updated_at,
        "edited by the proposer",
        text=proposal.text,
        section_slug=section.slug,
        section_title=section.title,
        base_fingerprint=section.fingerprint,
    )


def withdrawals(amendments: Iterable[Amendment], *, when: str, why: str, keep: Iterable[str] = ()) -> list[Amendment]:
    """The open amendments among `amendments`, but those whose id is in `keep`, withdrawn (`why` in the history)."""
    kept = set(keep)
    return [record(a, when, why, status=WITHDRAWN) for a in amendments if a.status == OPEN and a.id not in kept]


def discussed_sections(post: Post, document: Document, document_topic_id: int, *, proposes: bool) -> set[str]:
    """The sections the post's own text discusses: those it quotes; or, for a reply in the document's topic that
    quotes none and proposes nothing, the general discussion."""
    sections = quoted_sections(post.raw, document, document_topic_id)
    if not sections and post.topic_id == document_topic_id and not proposes:
        return {GENERAL_SLUG}
    return sections
