"""Every link of the static export's index.html opens its transcript's page (issue 21, defect 7).

Links to ids with a space, non-ASCII letters, `/`, `\\`, `%` or `<` did not open (8 of 14 in Chromium):
the href was the file name itself, which a browser decodes once more. Checked two ways: by parsing
index.html's hrefs as a browser resolves them, and by clicking each link in Debian's Chromium.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from typer.testing import CliRunner

from grader.cli import app

from .review_browser import browser_missing, chromium
from .review_fixtures import hostile_transcript, make_run

IDS = ["plain-id", "with space", "José Núñez", "面试 候选人", "a/b", "a\\b", "50%", "%41", "<b>bold</b>",
       "a&b \"q\" 'x'", "q?x=1#top", ".", "..", ".hidden", "CON", "index"]
TITLE = " · grader review"


class Links(HTMLParser):
    """The `<a href>` of a page with their text, and the page's title."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.title = ""
        self._href: str | None = None
        self._text = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), ""
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text))
            self._href = None
        self._in_title = False

    def handle_data(self, data):
        if self._href is not None:
            self._text += data
        if self._in_title:
            self.title += data


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("links")
    (root / "run").mkdir()
    base = hostile_transcript(Path("hostile.txt"))
    run = make_run(root / "run", extra=[base.model_copy(update={"id": i}) for i in IDS], samples=False)
    result = CliRunner().invoke(app, ["export", str(run), "--html", str(root / "html")])
    assert result.exit_code == 0, result.output
    return root / "html"


def test_every_index_link_resolves_to_its_transcripts_page(exported):
    links = parse(exported / "index.html").links
    assert sorted(text for _, text in links) == sorted(IDS)
    base = (exported / "index.html").as_uri()
    for href, transcript_id in links:
        url = urlsplit(urljoin(base, href))  # as a browser resolves it: no query or fragment taken from the id
        assert not url.query and not url.fragment, (transcript_id, href)
        target = Path(unquote(url.path))
        assert target.parent == exported and target.is_file(), (transcript_id, href)
        assert parse(target).title == transcript_id + TITLE  # the page of that transcript, not another's
    raw = (exported / "index.html").read_text(encoding="utf-8")
    assert "<b>bold</b>" not in raw and html.escape("<b>bold</b>") in raw  # the text is escaped too


@pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")
def test_every_index_link_opens_its_page_in_chromium(exported):
    from playwright.sync_api import expect

    opened = []
    with chromium() as browser:
        page = browser.new_page()
        index = (exported / "index.html").as_uri()
        for transcript_id in IDS:
            page.goto(index)
            page.locator("table.runs a").filter(has_text=transcript_id).and_(
                page.get_by_role("link", name=transcript_id, exact=True)).click()
            expect(page).to_have_title(transcript_id + TITLE)
            expect(page.locator("#transcript")).to_be_visible()
            opened.append(transcript_id)
            page.get_by_role("link", name="← all sheets").click()  # and back to the index from the sheet
            expect(page).to_have_url(index)
    assert opened == IDS
