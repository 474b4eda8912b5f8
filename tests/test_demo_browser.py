"""After the demo, a person opens the forum's HTML view in a real browser and finds what the story promised.

The forum the demo saved is served again by `python -m simulator --data FILE` (as the demo's last line tells a
person to do) and browsed in the system's headless Chromium, driven by Selenium through the system's chromedriver
(given explicitly, so Selenium Manager never tries to download a browser or a driver). From the topic list it
follows links as a person would: the draft amendment with its proposed text; the Code of Care with the applied
change and its revision; the weekly digest with its chart actually loaded. Then the draft, the Code and the digest
again as the moderator and as a member (`?as=`): the draft's insertions and deletions styled apart from the text,
the digest's figures a table with borders, the chart loaded, and no raw markup (`[quote]`, `<del>`, `|---`,
`upload://`) anywhere a reader looks. Each page is kept as a PNG under
`test-artifacts/demo-browser/`. Where no Chromium is installed (`make test` installs it when it can) the test skips
and names what is missing.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from plugin.ops.demo import REPO_ROOT, ok
from plugin.ops.processes import free_port, stop_process, wait_until
from plugin.text.digest import CHART
from plugin.text.care import MEMBER_TITLE, TEAM_TITLE
from plugin.text.drafts import APPLIED_ANNOUNCEMENT, DRAFT_TITLE
from tests.demo_run import DemoRun

ARTIFACTS = REPO_ROOT / "test-artifacts" / "demo-browser"
CARE_ARTIFACTS = REPO_ROOT / "test-artifacts" / "demo-care"
"""The care conversations' screenshots: private pages, kept apart from the public ones."""
BROWSER_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
DRIVER_CANDIDATES = ("/usr/bin/chromedriver", "chromedriver")
INSTALL_HINT = "Debian: apt-get install chromium chromium-driver; `make test` does this itself when run as root"
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-proxy-server")
"""Without the background-networking flags Chromium keeps trying to reach Google's services, which a closed
network refuses; the test needs nothing but loopback."""
PAGE_TIMEOUT = 20.0
"""Seconds a page, or the chart in it, may take to load."""
WINDOW = (1280, 900)
MAX_SCREENSHOT_HEIGHT = 6000

# What the demo's story does (plugin/demo.py), as a member reading the forum sees it.
SECTION = "3. Consent"
PROPOSED = "We ask before we share anything about another member, and we ask again if time has passed."
OLD_WORDING = 'accept "no" without needing a reason'      # the starter Code's Consent section
OLD_WORDING_SHOWN = "without needing a reason"
"""The part of it a reader sees unchanged: the forum's typographer shows the quotation marks as “ and ”."""
CHART_ALT = CHART.split("]", 1)[0].removeprefix("![")
DRAFT_TITLE_START = DRAFT_TITLE.split("{number}")[0].format(section=SECTION)     # "Proposed change to 3. Consent…"
DOCUMENT_TITLE = "Our Code of Care"
DIGEST_TITLE_START = "Weekly digest:"
APPROVED_BY = "approved by sam"                              # the revision's edit reason names the moderator
MODERATOR, MEMBER = "sam", "dave"                            # as the demo casts them
CARE_MEMBER, CARE_PICKER = "erin", "pat"                     # who asks for direct support, who picks it up
CARE_REPLY = "Evenings are the hardest"                      # erin's words in her conversation, relayed to the team
RAW_MARKUP = ("[quote]", "[/quote]", "<del>", "</del>", "<ins>", "</ins>", "|---", "upload://", "![")
"""What a reader must never see in a cooked post: markup the forum should have rendered."""


def find_program(candidates: tuple[str, ...]) -> str | None:
    """The first candidate that is an executable path, or a name on PATH."""
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    return None


CHROMIUM = find_program(BROWSER_CANDIDATES)
CHROMEDRIVER = find_program(DRIVER_CANDIDATES)
MISSING = [name for name, path in (("chromium", CHROMIUM), ("chromedriver (package chromium-driver)",
                                                             CHROMEDRIVER)) if path is None]

pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"no headless browser here: {' and '.join(MISSING)} not "
                                                      f"installed ({INSTALL_HINT})")


@pytest.fixture
def demo_forum_url(demo_run: DemoRun, tmp_path: Path) -> Iterator[str]:
    """The demo's saved forum, served again by the simulator's own command line; yields its base URL."""
    assert demo_run.result.returncode == 0, "the demo failed, so there is nothing to browse:\n" + demo_run.output_tail
    assert demo_run.forum_file is not None, "the demo saved no forum file"
    data = tmp_path / "forum.sim.json"
    shutil.copyfile(demo_run.forum_file, data)
    port = free_port()
    log_path = tmp_path / "simulator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", str(port),
                                    "--api-key", secrets.token_hex(16), "--data", str(data)], cwd=REPO_ROOT,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        answering = wait_until(lambda: process.poll() is not None or ok(url + "/site.json"), timeout=PAGE_TIMEOUT)
        assert answering and process.poll() is None, f"the simulator did not start:\n{log_path.read_text()}"
        yield url
    finally:
        stop_process(process)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """A headless Chromium with a fresh profile, driven through the system's chromedriver."""
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    profile = tmp_path / "chromium-profile"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (*CHROMIUM_ARGS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    driver.set_window_size(*WINDOW)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def artifacts() -> Path:
    """An empty `test-artifacts/demo-browser/`, so every screenshot there is from this run."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


def screenshot(driver: WebDriver, path: Path) -> None:
    """Keep the whole page (not only the window) as a PNG: the window is fitted to the page's height first."""
    driver.set_window_size(*WINDOW)                  # a taller page before would otherwise leave blank space
    frame, height = driver.execute_script("return [window.outerHeight - window.innerHeight, "
                                          "document.documentElement.scrollHeight]")
    driver.set_window_size(WINDOW[0], min(max(int(height) + int(frame), WINDOW[1]), MAX_SCREENSHOT_HEIGHT))
    assert driver.save_screenshot(str(path)), f"no screenshot saved to {path}"


def follow(driver: WebDriver, link_text: str) -> None:
    """Click the link whose text starts with `link_text` and wait until the next page has loaded."""
    links = [a for a in driver.find_elements(By.TAG_NAME, "a") if a.text.strip().startswith(link_text)]
    assert links, f"no link starting {link_text!r} on {driver.current_url}"
    page = driver.find_element(By.TAG_NAME, "html")
    links[0].click()
    WebDriverWait(driver, PAGE_TIMEOUT).until(expected_conditions.staleness_of(page))
    WebDriverWait(driver, PAGE_TIMEOUT).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def go_home(driver: WebDriver) -> None:
    """Back to the topic list through the site title in the header, as a reader would."""
    follow(driver, driver.find_element(By.CSS_SELECTOR, "header h1 a").text)


def heading(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "h2").text


def posts(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "div.post")


def page_text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def assert_no_raw_markup(driver: WebDriver) -> None:
    text = page_text(driver)
    shown = [markup for markup in RAW_MARKUP if markup in text]
    assert not shown, f"raw markup {shown} visible on {driver.current_url}"


def styles(driver: WebDriver, element: WebElement) -> dict[str, str]:
    return driver.execute_script(
        "const s = getComputedStyle(arguments[0]);"
        "return {decoration: s.textDecorationLine, background: s.backgroundColor, color: s.color};", element)


def assert_diff_is_styled(driver: WebDriver, post: WebElement) -> None:
    """The draft's insertions and deletions look different from the text around them, as in Discourse."""
    inserted = post.find_elements(By.CSS_SELECTOR, ".cooked aside.quote blockquote ins")
    deleted = post.find_elements(By.CSS_SELECTOR, ".cooked aside.quote blockquote del")
    assert inserted and deleted, "the draft shows no marked insertions and deletions"
    assert "anything about another member" in " ".join(e.text for e in inserted), [e.text for e in inserted]
    normal = styles(driver, post.find_element(By.CSS_SELECTOR, ".cooked > p"))
    for element, mark in [(e, "underline") for e in inserted] + [(e, "line-through") for e in deleted]:
        style = styles(driver, element)
        assert mark in style["decoration"], (element.text, style)
        assert style["background"] != normal["background"] and style["color"] != normal["color"], (style, normal)
    assert styles(driver, inserted[0])["background"] != styles(driver, deleted[0])["background"]


def visit_as(driver: WebDriver, base: str, username: str, artifacts: Path, prefix: str) -> None:
    """The draft, the Code of Care and the digest as `username` sees them (`?as=`, kept by every link)."""
    driver.get(f"{base}/?as={username}")
    assert f"@{username}" in driver.find_element(By.TAG_NAME, "header").text

    follow(driver, DRAFT_TITLE_START)
    screenshot(driver, artifacts / f"{prefix}-draft-amendment.png")
    assert f"as={username}" in driver.current_url
    draft = posts(driver)[0]
    assert_diff_is_styled(driver, draft)
    assert len(draft.find_elements(By.CSS_SELECTOR, ".cooked aside.quote > blockquote")) >= 3
    assert_no_raw_markup(driver)

    go_home(driver)
    follow(driver, DOCUMENT_TITLE)
    screenshot(driver, artifacts / f"{prefix}-code-of-care.png")
    code = posts(driver)[0].find_element(By.CLASS_NAME, "cooked")
    assert code.find_elements(By.CSS_SELECTOR, "h1, h2, h3"), "the Code of Care shows no headings"
    assert SECTION in code.text and PROPOSED in code.text and OLD_WORDING_SHOWN not in code.text
    assert_no_raw_markup(driver)

    go_home(driver)
    follow(driver, DIGEST_TITLE_START)
    chart = driver.find_element(By.CSS_SELECTOR, f".cooked img[alt='{CHART_ALT}']")
    driver.execute_script("arguments[0].scrollIntoView()", chart)
    WebDriverWait(driver, PAGE_TIMEOUT).until(lambda d: d.execute_script("return arguments[0].complete", chart))
    screenshot(driver, artifacts / f"{prefix}-weekly-digest.png")
    assert driver.execute_script("return arguments[0].naturalWidth", chart) > 0, chart.get_attribute("src")
    tables = posts(driver)[0].find_elements(By.CSS_SELECTOR, ".cooked table")
    assert tables, "the digest's figures are not a table"
    rows = tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) > 1 and all(len(row.find_elements(By.TAG_NAME, "td")) == 4 for row in rows)
    assert "Members who took part" in rows[0].find_elements(By.TAG_NAME, "td")[0].text
    border = driver.execute_script("return getComputedStyle(arguments[0]).borderTopStyle",
                                   rows[0].find_element(By.TAG_NAME, "td"))
    assert border != "none", "the digest's table cells have no borders"
    assert_no_raw_markup(driver)


def test_a_person_finds_the_draft_the_applied_change_and_the_digest_chart(demo_forum_url: str, browser: WebDriver,
                                                                          artifacts: Path) -> None:
    driver = browser
    driver.get(demo_forum_url + "/")
    screenshot(driver, artifacts / "1-topic-list.png")
    titles = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table a")]
    for start in (DRAFT_TITLE_START, DOCUMENT_TITLE, DIGEST_TITLE_START):
        assert any(title.startswith(start) for title in titles), f"{start!r} not listed in {titles}"

    # The draft amendment: its own topic, with the proposed wording, decided in the open.
    follow(driver, DRAFT_TITLE_START)
    screenshot(driver, artifacts / "2-draft-amendment.png")
    assert heading(driver).startswith(DRAFT_TITLE_START)
    draft = posts(driver)[0].find_element(By.CLASS_NAME, "cooked").text
    assert "Proposed text" in draft and PROPOSED in draft, draft
    tags = [tag.text for tag in driver.find_elements(By.CSS_SELECTOR, "p.meta .tag")]
    assert "coc-approved" in tags, tags

    # The Code of Care itself: the section has the new wording, and the post says it was revised.
    go_home(driver)
    follow(driver, DOCUMENT_TITLE)
    screenshot(driver, artifacts / "3-code-of-care.png")
    assert heading(driver) == DOCUMENT_TITLE
    document = posts(driver)[0]
    code = document.find_element(By.CLASS_NAME, "cooked").text
    assert SECTION in code and PROPOSED in code, code
    assert OLD_WORDING_SHOWN not in code, "the old Consent wording is still in the Code"
    announcement = APPLIED_ANNOUNCEMENT.split("{section}**", 1)[1].split("{draft}")[0].strip()
    assert any(announcement in post.text for post in posts(driver)[1:]), "no reply announces the applied change"
    revision_link = document.find_element(By.CSS_SELECTOR, ".meta a[href*='/revisions']")
    assert revision_link.text == "v2, 1 revision"

    follow(driver, revision_link.text)
    screenshot(driver, artifacts / "4-code-of-care-revision.png")
    assert heading(driver).startswith("Revisions of post #1")
    revision = driver.find_element(By.CSS_SELECTOR, "div.post").text
    assert "version 2" in revision and APPROVED_BY in revision, revision
    removed = [line.text for line in driver.find_elements(By.CSS_SELECTOR, "pre span.del")]
    added = [line.text for line in driver.find_elements(By.CSS_SELECTOR, "pre span.add")]
    assert any(OLD_WORDING in line for line in removed), removed
    assert any(PROPOSED in line for line in added), added

    # The weekly digest: its figures, and the chart image actually loaded by the browser.
    go_home(driver)
    follow(driver, DIGEST_TITLE_START)
    chart = driver.find_element(By.CSS_SELECTOR, f".cooked img[alt='{CHART_ALT}']")
    driver.execute_script("arguments[0].scrollIntoView()", chart)
    WebDriverWait(driver, PAGE_TIMEOUT).until(lambda d: d.execute_script("return arguments[0].complete", chart))
    screenshot(driver, artifacts / "5-weekly-digest.png")
    assert heading(driver).startswith(DIGEST_TITLE_START)
    assert "Members who took part" in posts(driver)[0].text
    source = chart.get_attribute("src")
    assert source.startswith(demo_forum_url + "/uploads/"), source
    width, height = driver.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", chart)
    assert width > 0, f"the browser could not show the chart image {source}"
    assert width >= 200 and height >= 100, f"the chart is only {width}x{height} pixels"
    assert_no_raw_markup(driver)

    # The same pages as the moderator who decided and as a member: rendered, never raw markup.
    visit_as(driver, demo_forum_url, MODERATOR, artifacts, "6-moderator")
    visit_as(driver, demo_forum_url, MEMBER, artifacts, "7-member")
    assert sorted(os.listdir(artifacts)) == [
        "1-topic-list.png", "2-draft-amendment.png", "3-code-of-care.png", "4-code-of-care-revision.png",
        "5-weekly-digest.png", "6-moderator-code-of-care.png", "6-moderator-draft-amendment.png",
        "6-moderator-weekly-digest.png", "7-member-code-of-care.png", "7-member-draft-amendment.png",
        "7-member-weekly-digest.png"]


def test_the_care_conversations_read_as_a_member_and_the_team_read_them(demo_forum_url: str, browser: WebDriver) -> None:
    """erin's own conversation and the peer-support team's, as erin and pat see them: each in plain words, with
    the other side's news (pat will write; erin's reply), no raw markup and no post number."""
    driver = browser
    artifacts = CARE_ARTIFACTS
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    driver.get(f"{demo_forum_url}/?as={CARE_MEMBER}")
    follow(driver, MEMBER_TITLE)
    screenshot(driver, artifacts / "member-care-conversation.png")
    text = " ".join(post.text for post in posts(driver))
    assert heading(driver) == MEMBER_TITLE and CARE_PICKER in text, text        # told, by name, who will write
    assert_no_raw_markup(driver)

    driver.get(f"{demo_forum_url}/?as={CARE_PICKER}")
    team_title = TEAM_TITLE.format(member=CARE_MEMBER)
    follow(driver, team_title)
    screenshot(driver, artifacts / "team-care-conversation.png")
    text = " ".join(post.text for post in posts(driver))
    assert heading(driver) == team_title and CARE_REPLY in text, text              # erin's words reached the team
    assert not re.search(r"\(post \d+\)|coc-care", text), text
    assert_no_raw_markup(driver)
