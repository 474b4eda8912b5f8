"""The simulator's read-only HTML view: what an anonymous visitor (or `?as=<username>`) sees, escaped."""
from __future__ import annotations

from html.parser import HTMLParser

from simulator.state import User
from tests.simulator_fixtures import Community, Sim

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5b1f6b00000000049454e44ae426082")


def tags(text: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every start tag in `text` with its attributes, in order."""
    found: list[tuple[str, dict[str, str | None]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, dict(attrs)))

    Collector().feed(text)
    return found


def page(sim: Sim, path: str, status: int = 200) -> str:
    answer = sim.http(None).get(sim.url + path)
    assert answer.status_code == status, f"{path}: {answer.status_code}"
    if status == 200:
        assert answer.headers["Content-Type"].startswith("text/html")
    return answer.text


def test_topic_list_shows_public_topics_with_category_tags_and_external_id(sim: Sim, community: Community) -> None:
    text = page(sim, "/")
    welcome = sim.forum.topics[community.welcome_topic_id]
    assert f'href="/view/t/{welcome.id}"' in text
    assert welcome.title in text
    assert "General" in text and "code-of-care" in text and "coc-document" in text
    for hidden in (community.pm_topic_id, community.staff_topic_id, community.deleted_topic_id):
        assert f'href="/view/t/{hidden}"' not in text
        assert sim.forum.topics[hidden].title not in text


def test_topic_view_shows_posts_numbers_authors_and_hides_whispers(sim: Sim, community: Community) -> None:
    text = page(sim, f"/view/t/{community.welcome_topic_id}")
    assert "#1</strong> Alice Liddell (@alice)" in text
    assert "#2</strong> Bob (@bob)" in text
    assert "I would like us to talk about consent first, please." in text
    assert "code-of-care" in text
    assert "Staff only" not in text                                      # a whisper is for staff
    as_mod = page(sim, f"/view/t/{community.welcome_topic_id}?as=mod")
    assert "Staff only: let us keep an eye on this thread." in as_mod
    assert "whisper" in as_mod


def test_html_in_posts_is_sanitized_and_titles_are_escaped(sim: Sim, community: Community) -> None:
    raw = ('Look: <script>alert("x")</script> and <b>bold</b> <img src="/x.png" onerror="alert(2)"> & more, '
           'long enough.')
    post = sim.forum.create_post(community.bob, title="Is <i>this</i> escaped & safe?", raw=raw,
                                 category_id=community.general_id)
    text = page(sim, f"/view/t/{post.topic_id}")
    assert "<script" not in text and "alert(" not in text and "onerror" not in text   # Discourse's sanitizer
    assert "<b>bold</b>" in text                                      # an allowed tag, as in Discourse
    assert "<i>this</i>" not in text                                  # a title is text
    assert "Is &lt;i&gt;this&lt;/i&gt; escaped &amp; safe?" in text
    assert "Is &lt;i&gt;this&lt;/i&gt; escaped &amp; safe?" in page(sim, "/")


def test_private_message_is_hidden_from_anonymous_and_shown_to_its_participants(sim: Sim,
                                                                                community: Community) -> None:
    path = f"/view/t/{community.pm_topic_id}"
    page(sim, path, status=404)
    assert "Could we talk about this privately, please?" in page(sim, path + "?as=bob")
    assert "Could we talk about this privately, please?" in page(sim, path + "?as=carol")   # via peer-support
    page(sim, path + "?as=mod", status=404)                           # a moderator outside the message
    page(sim, f"/view/t/{community.staff_topic_id}", status=404)
    assert "Moderators only discussion" in page(sim, f"/view/t/{community.staff_topic_id}?as=mod")
    assert "A private word about care" in page(sim, "/?as=bob")
    page(sim, "/?as=nobody-here", status=404)


def test_revision_view_shows_raw_before_and_after(sim: Sim, community: Community) -> None:
    post = sim.forum.posts[community.reply_post_id]
    sim.forum.revise_post(community.bob, post, raw="I would like us to talk about consent and care first.",
                          edit_reason="widen the question")
    topic_text = page(sim, f"/view/t/{community.welcome_topic_id}")
    assert f'href="/view/p/{post.id}/revisions"' in topic_text
    assert "v2, 1 revision" in topic_text
    text = page(sim, f"/view/p/{post.id}/revisions")
    assert "I would like us to talk about consent first, please." in text
    assert "I would like us to talk about consent and care first." in text
    assert "widen the question" in text
    page(sim, f"/view/p/{community.whisper_post_id}/revisions", status=404)


def test_upload_short_urls_resolve_to_served_bytes(sim: Sim, community: Community) -> None:
    alice: User = community.alice
    upload = sim.forum.add_upload(alice, filename="care.png", data=PNG, width=1, height=1)
    post = sim.forum.create_post(alice, title="A picture of our care circle", category_id=community.general_id,
                                 raw=f"Here is the circle:\n\n![circle|1x1]({upload.short_url})")
    text = page(sim, f"/view/t/{post.topic_id}")
    images = [attrs for tag, attrs in tags(text) if tag == "img"]
    assert [(a.get("src"), a.get("alt"), a.get("width"), a.get("height")) for a in images] == \
        [(upload.url, "circle", "1", "1")]                          # `|1x1` is the size, as Discourse reads it
    assert "upload://" not in text
    image = sim.http(None).get(sim.url + upload.url)
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/png"
    assert image.content == PNG
