"""`python -m plugin stats --category`: a category by id (no forum call), or by slug or name in any case (one call,
GET /categories.json); an unknown one is one line naming the known categories, exit 2. Real simulator, receiver,
Redis and RQ."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from plugin.__main__ import main
from plugin.adapters.forum import Forum
from plugin.domain.engagement import iso_week
from tests.companion import Companion, companion  # noqa: F401  (fixture)
from tests.test_digest_e2e import use_the_companion_from_the_command_line

CATEGORY = "Tea Room"


@pytest.fixture
def c(companion: Companion, monkeypatch: pytest.MonkeyPatch) -> Iterator[Companion]:  # noqa: F811
    """The companion with a week of posts in two categories: two in the Tea Room, one in Uncategorized."""
    tea = companion.sim.forum.create_category(name=CATEGORY)
    opened = companion.member("alice").create_post(
        "Shall we meet for tea every Tuesday to talk about care?",
        title="Tea on Tuesdays, all welcome",
        category_id=tea.id,
    )
    assert companion.sim.forum.topics[opened["topic_id"]].category_id == tea.id
    companion.member("bob").create_post("Yes please, Tuesdays work well for me.", topic_id=opened["topic_id"])
    companion.member("carol").create_post(
        "Something else entirely, in the default category.", title="Something elsewhere this week"
    )
    companion.settle()
    use_the_companion_from_the_command_line(companion, monkeypatch)
    yield companion


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every forum API request the adapter sends, as "METHOD path"."""
    sent: list[str] = []
    send = Forum._send

    def counting(self: Forum, client: Any, method: str, path: str, **kwargs: Any) -> Any:
        sent.append(f"{method} {path}")
        return send(self, client, method, path, **kwargs)

    monkeypatch.setattr(Forum, "_send", counting)
    return sent


def tea_room(c: Companion) -> int:
    (category,) = [cat for cat in c.sim.forum.categories.values() if cat.name == CATEGORY]
    return category.id


def table(out: str) -> tuple[str, list[str]]:
    """(heading, the rows) of a printed figures table."""
    heading, blank, *rows = out.rstrip("\n").split("\n")
    assert blank == ""
    return heading, rows


def figure(rows: list[str], label: str) -> str:
    (value,) = [row[len(label) :].strip() for row in rows if row.startswith(f"{label}  ")]
    return value


def test_a_category_by_slug_or_name_in_any_case_shows_what_its_id_shows(
    c: Companion, calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    category_id = tea_room(c)
    week = iso_week(time.time())

    assert main(["stats", "--category", str(category_id)]) == 0
    heading, by_id = table(capsys.readouterr().out)
    assert heading.endswith(f", category {category_id}")
    assert calls == []  # an id needs no forum call
    figures = c.services.engagement.figures(week, category_id)
    assert figure(by_id, "posts") == str(figures.posts) and figure(by_id, "topics") == str(figures.topics)
    assert main(["stats"]) == 0
    _, whole = table(capsys.readouterr().out)
    assert figure(whole, "posts") != figure(by_id, "posts")  # the category's figures, not the forum's

    for given in ("tea-room", "TEA-ROOM", "Tea Room", "tea room", " tea room "):
        calls.clear()
        assert main(["stats", "--category", given]) == 0, given
        captured = capsys.readouterr()
        heading, rows = table(captured.out)
        assert heading.endswith(f", category {CATEGORY} (id {category_id})"), heading
        assert rows == by_id, given
        assert captured.err == ""
        assert calls == ["GET /categories.json"], given


def test_an_unknown_category_is_one_line_naming_the_known_ones(
    c: Companion, calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--category", "Knitting"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    prefix = "stats: the forum has no category 'Knitting'; give the id, slug or name of one of: "
    assert line.startswith(prefix)
    known = line[len(prefix) :].split(", ")
    assert CATEGORY in known and "Uncategorized" in known and c.settings.drafts_category in known
    assert sorted(known) == sorted(cat.name for cat in c.sim.forum.categories.values())
    assert calls == ["GET /categories.json"]


def test_check_still_wants_the_whole_forum(c: Companion, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--category", "tea-room", "--check"]) == 2
    assert capsys.readouterr().err == "--check compares the whole forum's figures: leave out --category\n"
