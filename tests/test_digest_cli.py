"""`python -m plugin digest` by hand: `--dry-run` says when the week's digest is already posted and where, refuses a
week that is not over exactly as `digest` does, and `--chart FILE` saves the chart's PNG (a bad FILE is one line and
exit 2, before anything is done). Real simulator, receiver, Redis and RQ, the forum on the test's clock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from plugin.__main__ import main
from plugin.domain.engagement import iso_week
from plugin.ops.demo import REPO_ROOT
from tests.companion import Companion, companion  # noqa: F401  (fixture)
from tests.test_digest_e2e import (  # noqa: F401  (fixtures)
    MONDAY,
    WEEK,
    Clock,
    answer,
    at,
    c,
    clock,
    digest_topics,
    sim_forum,
    topic,
    use_the_companion_from_the_command_line,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def a_week(service: Companion, forum_clock: Clock) -> None:
    """A little activity in 2026-W10, then the clock a week after it."""
    for name in ("alice", "bob"):
        service.member(name, trust_level=1)
    at(service, forum_clock, MONDAY + timedelta(hours=10))
    opened = topic(service, "alice", "Tea and kindness on Tuesdays", "Shall we meet for tea every Tuesday to talk?")
    at(service, forum_clock, MONDAY + timedelta(hours=12))
    answer(service, "bob", opened, "Yes please, Tuesdays work well for me.")
    at(service, forum_clock, MONDAY + timedelta(days=8))


def png(path: Path) -> bytes:
    data = path.read_bytes()
    assert len(data) > len(PNG_MAGIC) and data.startswith(PNG_MAGIC), data[:16]
    return data


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_the_dry_run_says_when_the_week_is_posted_and_the_chart_is_saved_either_way(
    c: Companion,  # noqa: F811
    clock: Clock,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    a_week(c, clock)
    use_the_companion_from_the_command_line(c, monkeypatch)

    # before it is posted: the preview, the chart in the file, and no word of a posted digest
    before = tmp_path / "before.png"
    assert main(["digest", "--week", WEEK, "--dry-run", "--chart", str(before)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Weekly digest: ")
    assert lines(err) == [
        f"(dry run: the chart, a {len(png(before))}-byte PNG, is in {before}; nothing was frozen, uploaded or posted)"
    ]
    assert digest_topics(c) == [] and not c.services.engagement.is_frozen(WEEK)

    # posted by hand, saving the chart: the file holds the very bytes uploaded to the forum
    posted_png = tmp_path / "posted.png"
    assert main(["digest", "--week", WEEK, "--chart", str(posted_png)]) == 0
    out, err = capsys.readouterr()
    (posted,) = digest_topics(c)
    chart = png(posted_png)
    assert lines(out) == [
        lines(out)[0],
        f"the chart, a {len(chart)}-byte PNG, is in {posted_png}",
    ]
    assert lines(out)[0].startswith(f"digest {WEEK} posted as topic {posted.id}; ")
    (upload,) = [u for u in c.sim.forum.uploads.values() if u.short_url in c.sim.forum.posts[posted.post_ids[0]].raw]
    assert upload.data == chart
    assert png(before) == chart  # nothing changed in between: the dry run drew the chart that was posted

    # the dry run now says, in one line, that the week is posted and where; it still prints the preview
    expected = (
        f"digest: {WEEK} was already posted, as topic {posted.id}: {c.sim.url}/t/{posted.id} "
        "(read the posted digest there; `digest` will not post this week again)"
    )
    after = tmp_path / "after.png"
    assert main(["digest", "--week", WEEK, "--dry-run", "--chart", str(after)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{posted.title}\n\n")
    assert lines(err)[0] == expected and len(lines(err)) == 2
    assert png(after) == chart  # the week is frozen: the same chart

    # Redis' mark of it lost: the forum's topic with the week's external_id still tells
    c.conn.delete(c.keys.digest_topic(WEEK))
    assert main(["digest", "--week", WEEK, "--dry-run"]) == 0
    assert lines(capsys.readouterr().err) == [
        expected,
        f"(dry run: the chart is a {len(chart)}-byte PNG; nothing was frozen, uploaded or posted)",
    ]
    assert digest_topics(c) == [posted]
    assert c.conn.get(c.keys.digest_topic(WEEK)) is None  # the dry run wrote nothing back

    # and `digest --chart` on a week already posted saves the same chart, posting nothing
    again = tmp_path / "again.png"
    c.services.store.remember_digest_topic(WEEK, posted.id)
    assert main(["digest", "--week", WEEK, "--chart", str(again)]) == 0
    assert lines(capsys.readouterr().out) == [
        f"digest {WEEK} already posted as topic {posted.id}",
        f"the chart, a {len(chart)}-byte PNG, is in {again}",
    ]
    assert png(again) == chart and digest_topics(c) == [posted]


def test_the_dry_run_refuses_a_week_that_is_not_over_as_digest_does(
    c: Companion,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    use_the_companion_from_the_command_line(c, monkeypatch)
    this_week = iso_week(time.time())  # the real clock's week, which the command reads: never over yet
    chart = tmp_path / "chart.png"
    refused = {}
    for dry_run in ([], ["--dry-run"]):
        code = main(["digest", "--week", this_week, *dry_run, "--chart", str(chart)])
        refused[bool(dry_run)] = (code, capsys.readouterr())
    (code, captured), (dry_code, dry_captured) = refused[False], refused[True]
    assert code == dry_code == 1
    assert dry_captured.err == captured.err
    assert len(lines(captured.err)) == 1 and captured.err.startswith(f"digest: the week {this_week} is not over until ")
    assert dry_captured.out == captured.out == ""
    assert not chart.exists()
    assert not c.services.engagement.is_frozen(this_week)


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "post"])
@pytest.mark.parametrize("where", ["no-such-directory", "a-directory"])
def test_a_chart_file_that_cannot_be_written_is_one_line_and_exit_2(
    c: Companion,  # noqa: F811
    clock: Clock,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    where: str,
    dry_run: bool,
) -> None:
    a_week(c, clock)
    use_the_companion_from_the_command_line(c, monkeypatch)
    uploads = len(c.sim.forum.uploads)
    if where == "a-directory":
        target, problem = tmp_path, "is a directory"
    else:
        target, problem = tmp_path / "missing" / "chart.png", f"there is no directory {tmp_path / 'missing'}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "plugin",
            "digest",
            "--week",
            WEEK,
            *(["--dry-run"] if dry_run else []),
            "--chart",
            str(target),
        ],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert lines(result.stderr) == [
        f"digest: --chart {target}: {problem}; name a file in an existing directory you may write in"
    ]
    # refused before anything was done
    assert digest_topics(c) == [] and len(c.sim.forum.uploads) == uploads
    assert not c.services.engagement.is_frozen(WEEK)
    assert not (tmp_path / "missing").exists()
