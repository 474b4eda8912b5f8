"""The simulator cooks posts as Discourse does (`simulator.cooking`): what the service writes becomes the HTML a
member sees, and nothing a member writes becomes script.

Each cooked text is parsed into a small element tree (html.parser) and its structure asserted: which elements,
nested where, with which attributes and text. The raws are the service's own (its render functions), plus hostile
member text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest

from plugin.domain.activity import SectionActivity
from plugin.domain.engagement import WeekFigures
from plugin.text.digest import CHART, FIGURE_TABLES, render_digest
from plugin.text.drafts import render_draft
from simulator.cooking import cook
from simulator.server import serve_in_thread
from simulator.state import cook as state_cook
from tests import test_simulator_webhooks as hooks
from tests.simulator_fixtures import Community, Sim, png

VOID = {"br", "hr", "img", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    children: list[Element | str] = field(default_factory=list)
    parent: Element | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def iter(self) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str) -> list[Element]:
        return [e for e in self.iter() if e.tag == tag]

    def elements(self) -> list[Element]:
        return [c for c in self.children if isinstance(c, Element)]

    def ancestors(self) -> list[str]:
        found, node = [], self.parent
        while node is not None:
            found.append(node.tag)
            node = node.parent
        return found


def parse(html: str) -> Element:
    """The cooked HTML as a tree; fails on an end tag that closes nothing open (cooked HTML is balanced)."""
    root = Element("root", {})

    class Builder(HTMLParser):
        current = root

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            element = Element(tag, dict(attrs), parent=self.current)
            self.current.children.append(element)
            if tag not in VOID:
                self.current = element

        def handle_endtag(self, tag: str) -> None:
            assert self.current.tag == tag, f"</{tag}> closes <{self.current.tag}> in {html!r}"
            assert self.current.parent is not None
            self.current = self.current.parent

        def handle_data(self, data: str) -> None:
            self.current.children.append(data)

    builder = Builder(convert_charrefs=True)
    builder.feed(html)
    builder.close()
    assert builder.current is root, f"<{builder.current.tag}> left open in {html!r}"
    return root


PROPOSED = "We ask before we share anything about another member, and we ask again if time has passed."
CURRENT = 'We accept "no" without needing a reason.\n\nA member wrote <b>this</b> & [/quote] here.'


def draft_raw() -> str:
    return render_draft(
        amendment_id="coc-amendment-3-1",
        section_title="Consent",
        section_number=3,
        current=CURRENT,
        proposed=PROPOSED,
        supporters=3,
        credited=["ana"],
        source_links=["https://forum.example/t/7/2"],
        threshold=3,
    )[1]


def test_a_draft_cooks_to_quote_asides_with_the_diff_marked() -> None:
    root = parse(cook(draft_raw()))
    quotes = [a for a in root.find_all("aside") if a.attrs.get("class") == "quote no-group"]
    assert len(quotes) == 3, [a.attrs for a in root.find_all("aside")]  # current, proposed, the diff
    for aside in quotes:
        assert [e.tag for e in aside.elements()] == ["blockquote"]  # no title: an unnamed quote
    # the only BBCode left as text is the member's own "[/quote]", in the current text and in the diff
    assert "[quote]" not in root.text and root.text.count("[/quote]") == 2
    current, proposed, diff = quotes
    assert [p.text for p in proposed.find_all("p")] == [PROPOSED]
    # the member's own markup shows as text, inside the quote, and takes no effect
    assert "<b>this</b> & [/quote]" in current.text and not current.find_all("b")
    deleted, inserted = diff.find_all("del"), diff.find_all("ins")
    assert deleted and inserted
    assert all("blockquote" in e.ancestors() for e in deleted + inserted)
    assert PROPOSED.split(" ", 1)[1] in " ".join(e.text for e in inserted)
    assert "without needing a reason" in " ".join(e.text for e in deleted)
    headings = [h.text for h in root.find_all("h3")]
    assert "Current text" in headings and "Proposed text" in headings and "What changes" in headings
    assert all(h.find_all("a")[0].attrs.get("class") == "anchor" for h in root.find_all("h3"))
    assert "/approve" in [c.text for c in root.find_all("code")]
    assert not [e for e in root.iter() if e.tag in ("script", "b")]


def test_a_named_quote_has_discourses_title_and_data_attributes() -> None:
    root = parse(cook('[quote="sam, post:3, topic:7"]\nWe **care**.\n[/quote]\n\nAfter.'))
    aside = root.elements()[0]
    assert (aside.tag, aside.attrs) == (
        "aside",
        {"class": "quote no-group", "data-username": "sam", "data-post": "3", "data-topic": "7"},
    )
    title, blockquote = aside.elements()
    assert title.attrs == {"class": "title"} and title.text.strip() == "sam:"
    assert [c.attrs for c in title.elements()] == [{"class": "quote-controls"}]
    assert blockquote.tag == "blockquote" and blockquote.find_all("strong")[0].text == "care"
    assert root.elements()[1].tag == "p" and root.elements()[1].text == "After."


def test_an_unclosed_quote_stays_text() -> None:
    root = parse(cook("[quote]\nnever closed"))
    assert not root.find_all("aside") and "[quote]" in root.text


FIGURES = WeekFigures(
    week="2026-W47",
    engaged_members=12,
    new_contributors=3,
    returning_contributors=1,
    inactive_contributors=4,
    topics=5,
    posts=40,
    replies=35,
    likes=22,
    ttfr_median_hours=2.5,
    ttfr_p90_hours=30.0,
    ttfr_mean_hours=0.25,
    topics_no_response_24h=0.2,
    topics_no_response_7d=0.0,
    reciprocity=0.42,
    gini=0.31,
    absence_factor=3,
)


def test_a_digest_cooks_to_tables_and_its_chart_to_the_stored_upload() -> None:
    chart = "upload://" + "aBc123" + ".png"
    raw = render_digest(
        week="2026-W47",
        figures=FIGURES,
        previous=dataclasses.replace(FIGURES, week="2026-W46"),
        sections=[SectionActivity("3. Consent", discussion=2, applied=(9,))],
        threads=[(4, "A | pipe in a title", 3)],
        new_count=1,
        credited_names=[],
        chart_url=chart,
    )[1]
    root = parse(cook(raw))
    tables = root.find_all("table")
    assert len(tables) == len(FIGURE_TABLES)
    for table, (heading, rows) in zip(tables, FIGURE_TABLES, strict=True):
        assert table.parent is not None and table.parent.attrs == {"class": "md-table"}
        header = [th.text for th in table.find_all("th")]
        assert header[0] == heading and len(header) == 4
        body = table.find_all("tbody")[0].find_all("tr")
        assert [tr.find_all("td")[0].text for tr in body] == [label for label, _, _ in rows]
        assert all(len(tr.find_all("td")) == 4 for tr in body)
        assert {td.attrs.get("style") for tr in body for td in tr.find_all("td")[1:]} == {"text-align:right"}
    assert "|---" not in root.text
    images = root.find_all("img")
    assert len(images) == 1
    alt = CHART.split("]", 1)[0].removeprefix("![")
    assert images[0].attrs["alt"] == alt
    assert images[0].attrs["src"].startswith("/uploads/default/original/1X/")  # type: ignore[union-attr]
    assert images[0].attrs["data-base62-sha1"] == "aBc123"
    assert "upload://" not in cook(raw)
    links = [a.attrs.get("href") for a in root.find_all("a") if a.attrs.get("class") != "anchor"]
    assert "/t/9" in links and "/t/4" in links


def test_an_upload_cooks_to_the_url_the_simulator_serves(sim: Sim, community: Community) -> None:
    upload = sim.forum.add_upload(community.alice, filename="c.png", data=png(30, 20), width=30, height=20)
    image = parse(cook(f"![chart|30x20]({upload.short_url})")).find_all("img")[0]
    assert image.attrs["src"] == upload.url and (image.attrs["width"], image.attrs["height"]) == ("30", "20")
    assert sim.http(None).get(sim.url + str(image.attrs["src"])).content == upload.data
    link = parse(cook(f"[the file]({upload.short_url})")).find_all("a")[0]
    assert sim.http(None).get(sim.url + str(link.attrs["href"])).content == upload.data


def test_code_fences_are_escaped_code_with_discourses_classes() -> None:
    root = parse(cook("```\n<script>alert(1)</script>\n```\n\n```python\nx = [quote]\n```"))
    pres = root.find_all("pre")
    assert [(p.attrs, p.elements()[0].attrs) for p in pres] == [
        ({}, {"class": "lang-auto"}),
        ({"data-code-wrap": "python"}, {"class": "lang-python"}),
    ]
    assert pres[0].text == "<script>alert(1)</script>\n" and not root.find_all("script")
    assert pres[1].text == "x = [quote]\n"


HOSTILE = [
    '<script>alert("x")</script>Hello',
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)" onclick="alert(2)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<div style="background:url(javascript:alert(1))" onmouseover="alert(1)">hover</div>',
    "<svg onload=alert(1)><circle/></svg>",
    '<form action="javascript:alert(1)"><input type="submit"></form>',
    "<style>body{display:none}</style>text",
    "</aside></blockquote></div><script>alert(1)</script>",
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<details open ontoggle="alert(1)">x</details>',
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_member_text_leaves_no_script(raw: str) -> None:
    root = parse(cook(raw))
    for element in root.iter():
        assert element.tag not in ("script", "iframe", "svg", "form", "input", "style", "details"), element
        for name, value in element.attrs.items():
            assert not name.startswith("on") and name != "style" or element.tag in ("th", "td"), (name, value)
            if name in ("href", "src"):
                assert value is not None and value.lower().lstrip().startswith(("/", "#", "http")), value
    assert "javascript:" not in " ".join(str(v) for e in root.iter() for v in e.attrs.values())


def test_a_javascript_link_is_text_and_a_web_link_is_a_link() -> None:
    root = parse(cook("[bad](javascript:alert(1)) and [good](https://example.org/care) and <3 & <_<"))
    assert [a.attrs for a in root.find_all("a")] == [{"href": "https://example.org/care"}]
    assert "[bad](javascript:alert(1))" in root.text and "<3 & <_<" in root.text


def test_the_state_module_cooks_with_the_real_cooker() -> None:
    assert state_cook(draft_raw()) == cook(draft_raw())
    assert parse(state_cook("| a | b |\n|---|---|\n| 1 | 2 |")).find_all("table")


@pytest.fixture
def receiver() -> Iterator[hooks.Receiver]:
    """The webhook tests' recording endpoint."""
    recorder = hooks.Receiver()
    recorder.handle = serve_in_thread(recorder)
    yield recorder
    recorder.handle.shutdown()


def test_webhook_payload_cooked_equals_the_apis(sim: Sim, receiver: hooks.Receiver) -> None:
    hooks.register_hook(sim, receiver.url)
    raw = draft_raw()
    created: dict[str, Any] = sim.client("system").create_post(raw, title="A draft as the service posts it")
    post_id = created["id"]
    delivered = [r for r in receiver.wait_for(2) if r.event == "post_created"]
    assert delivered, receiver.events()
    payload_cooked = delivered[0].payload["post"]["cooked"]
    api_cooked = sim.http("system").get(f"{sim.url}/posts/{post_id}.json").json()["cooked"]
    assert payload_cooked == api_cooked == cook(raw)
    assert parse(api_cooked).find_all("ins") and "[quote]" not in api_cooked


def test_a_bare_link_to_a_public_topic_of_the_forum_shows_its_title(sim: Sim, community: Community) -> None:
    """Discourse's inline onebox (lib/inline_oneboxer.rb): a link whose text is its URL, to a topics#show address of
    this forum that an anonymous visitor may see, shows the topic's title; anything else stays as written."""
    forum = sim.forum
    welcome = forum.topics[community.welcome_topic_id]
    base = forum.base_url
    raw = "\n".join([
        f"- {base}/t/{welcome.slug}/{welcome.id}",                       # public topic: its title
        f"- {base}/t/{welcome.slug}/{welcome.id}/2",                     # with a post number: its title too
        f"- {base}/t/x/{community.pm_topic_id}",                         # a message: not for anyone
        f"- {base}/t/x/{community.staff_topic_id}",                      # a staff-only category: not for anyone
        f"- {base}/p/{community.welcome_post_id}",                       # a short post link is not topics#show
        f"- https://elsewhere.example/t/x/{welcome.id}",                 # another site
        f"- [our own words]({base}/t/{welcome.id})",                     # a link with its own text keeps it
    ])
    links = parse(forum.cook(raw)).find_all("a")
    shown = [(str(a.attrs.get("class") or ""), a.text) for a in links]
    assert shown[0] == ("inline-onebox", welcome.title) and shown[1] == ("inline-onebox", welcome.title), shown
    assert [text for _, text in shown[2:]] == [
        f"{base}/t/x/{community.pm_topic_id}", f"{base}/t/x/{community.staff_topic_id}",
        f"{base}/p/{community.welcome_post_id}", f"https://elsewhere.example/t/x/{welcome.id}", "our own words"]
    assert all(css == "" for css, _ in shown[2:]), shown
    made = forum.create_post(community.bob, raw=f"See {base}/t/{welcome.id} please.", topic_id=welcome.id)
    assert f'class="inline-onebox">{welcome.title}</a>' in made.cooked     # posts made through the forum get them
