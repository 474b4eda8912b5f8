"""Where the living Code of Care is in the forum, and handing it to the workers.

The forum holds the document (a topic whose first post is the text); the workers keep a copy of its ids, version
and text in the `Store`, so that the normal path needs no API call. `install` and `rebuild` both use these.
"""

from __future__ import annotations

from plugin.adapters.forum import Forum, TopicView
from plugin.adapters.store import Store
from plugin.config import Settings
from plugin.domain.names import DOCUMENT_EXTERNAL_ID


def document_ids(view: TopicView) -> dict[str, int]:
    """The document's topic and first post, as the workers keep them."""
    return {"topic_id": view.topic.id, "post_id": view.first_post_id}


def find_document(settings: Settings, forum: Forum) -> dict[str, int] | None:
    """The living document's topic and post ids as install left them: COC_DOCUMENT_TOPIC_ID, else the topic with
    external_id `coc-document`; None if there is none (install has not run)."""
    if settings.document_topic_id:
        return document_ids(forum.topic(settings.document_topic_id, as_admin=True))
    topic = forum.topic_by_external_id(DOCUMENT_EXTERNAL_ID, as_admin=True)
    return None if topic is None else document_ids(topic)


def cache_document(store: Store, forum: Forum, document: dict[str, int]) -> None:
    """Give the workers the living document (its ids, version and text) so the normal path needs no API call."""
    post = forum.post(document["post_id"])
    store.save_document(topic_id=document["topic_id"], post_id=post.id, version=post.version, raw=post.raw)
