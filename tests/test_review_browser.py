"""End to end in a real browser (Debian's Chromium through Playwright): the whole review loop, and hostile markup.

Steps: open the run page, open a transcript, click an evidence id and see its sentence highlighted,
walk the criteria with the keyboard, override a level with a reason (keys 4, type, Enter), confirm
another (key c), reload and see both kept, export gold and find the row; a transcript with script,
onerror and javascript: markup runs nothing (no dialog, title unchanged), served and as a static sheet.
A screenshot of the transcript page is saved to $GRADER_TEST_ARTIFACTS (default /tmp/grader-test-artifacts).
"""

import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from grader.cli import app as cli

from .review_browser import ARTIFACTS, browser_missing, chromium, serve
from .review_fixtures import copy_run

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")


@pytest.fixture
def run_dir(tmp_path):
    return copy_run(tmp_path / "run", extra=True)


@pytest.fixture
def browser():
    with chromium() as opened:
        yield opened


def watch(page):
    """Everything a page might do behind our back: dialogs, uncaught errors, console errors (CSP violations)."""
    seen = {"dialogs": [], "errors": [], "console": []}

    def on_dialog(dialog):
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on("console", lambda msg: seen["console"].append(msg.text) if msg.type == "error" else None)
    return seen


def test_review_loop_in_the_browser(run_dir, browser, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    seen = watch(page)
    with serve(run_dir) as base:
        page.goto(base + "/")
        expect(page.locator("#progress")).to_contain_text("Reviewed 0 of 90 criteria")
        page.get_by_role("link", name="strong-candidate").click()
        expect(page).to_have_title("strong-candidate · grader review")

        card = page.locator(".criterion").first
        criterion = card.get_attribute("id").removeprefix("c-")
        evidence = card.locator("button.ev").first
        unit = evidence.get_attribute("data-goto")
        target = page.locator(f"#u-{unit.replace('.', '-')}")
        evidence.click()
        expect(target).to_have_class(re.compile(r"\bfocus\b"))
        expect(target).to_be_in_viewport()
        expect(card).to_have_class(re.compile(r"\bselected\b"))
        for cited in card.get_attribute("data-cited").split():
            expect(page.locator(f"#u-{cited.replace('.', '-')}")).to_have_class(re.compile(r"\bcited\b"))

        page.keyboard.press("j")  # next criterion, then back
        second = page.locator(".criterion").nth(1)
        expect(second).to_have_class(re.compile(r"\bselected\b"))
        page.keyboard.press("k")
        expect(card).to_have_class(re.compile(r"\bselected\b"))

        page.keyboard.press("e")  # the next cited sentence of the selected criterion
        expect(page.locator(".unit.focus")).to_have_count(1)
        page.keyboard.press("i")  # insufficient evidence, then think again
        expect(card.locator("select[name=level]")).to_have_value("insufficient_evidence")
        page.keyboard.press("Escape")
        page.keyboard.press("4")  # override: level 4, the reason field takes the focus
        expect(card.locator("select[name=level]")).to_have_value("4")
        expect(card.locator("input[name=reason]")).to_be_focused()
        page.keyboard.type("the example has no measured outcome")
        page.keyboard.press("Enter")
        expect(page.locator(f"#c-{criterion} .reviewed-level")).to_contain_text("Reviewed: 4")
        expect(page.locator("#flash")).to_contain_text("Overridden.")

        page.keyboard.press("Escape")
        page.locator(f"#c-{criterion} h3").click()
        page.keyboard.press("j")
        second_id = second.get_attribute("id")
        page.keyboard.press("c")  # confirm the second criterion
        expect(page.locator(f"#{second_id} .reviewed-level")).to_contain_text("confirm by dana")

        page.reload()
        expect(page.locator(f"#c-{criterion} .reviewed-level")).to_contain_text("Reviewed: 4")
        expect(page.locator(f"#c-{criterion} .history")).to_contain_text("the example has no measured outcome")
        expect(page.locator(f"#{second_id} .reviewed-level")).to_contain_text("Reviewed")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator(f"#c-{criterion} button.ev").nth(1).click()
        page.locator("#rubric").evaluate("panel => { panel.scrollTop = 0; }")
        page.screenshot(path=str(ARTIFACTS / "review-transcript.png"))

        gold = tmp_path / "gold.csv"
        result = CliRunner().invoke(cli, ["gold", "export", str(run_dir), "--out", str(gold)])
        assert result.exit_code == 0, result.output
        rows = pd.read_csv(gold)
        mine = rows[(rows.transcript_id == "strong-candidate") & (rows.criterion_id == criterion)]
        assert mine[["rater_id", "score"]].values.tolist() == [["dana", 4]]

        page.goto(base + "/")
        expect(page.locator("#progress")).to_contain_text("Reviewed 2 of 90 criteria")
    assert seen == {"dialogs": [], "errors": [], "console": []}


def test_hostile_markup_never_runs(run_dir, browser, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page()
    seen = watch(page)
    with serve(run_dir) as base:
        page.goto(base + "/transcripts/hostile")
        expect(page).to_have_title("hostile · grader review")
        transcript = page.locator("#transcript")
        expect(transcript).to_contain_text("<script>alert('xss')</script>")
        expect(transcript).to_contain_text("<img src=x onerror=alert(1)>")
        expect(transcript).to_contain_text("[click here](javascript:alert(2))")
        transcript.get_by_text("bold", exact=False).first.hover()
        assert page.locator("a[href^='javascript:' i]").count() == 0
        assert page.locator("#transcript img, #transcript script, #transcript b, #transcript a").count() == 0
        page.wait_for_timeout(300)
        assert page.title() == "hostile · grader review"
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--html", str(tmp_path / "html")])
    assert result.exit_code == 0, result.output
    page.goto((tmp_path / "html" / "hostile.html").as_uri())
    expect(page.locator("#transcript")).to_contain_text("<script>alert('xss')</script>")
    page.locator(".criterion button.ev").first.click()  # the inlined script works under the page's CSP
    expect(page.locator(".unit.focus")).to_have_count(1)
    assert page.title() == "hostile · grader review"
    assert seen == {"dialogs": [], "errors": [], "console": []}


def test_a_stale_tab_is_refused_and_shows_the_newer_decision(run_dir, browser):
    from playwright.sync_api import expect

    with serve(run_dir) as base:
        first, second = browser.new_page(), browser.new_page()
        for page in (first, second):
            page.goto(base + "/transcripts/weak-candidate")
        card = ".criterion >> nth=0"
        first.locator(card).locator("button", has_text="Confirm").click()
        expect(first.locator(card).locator(".reviewed-level")).to_contain_text("confirm by dana")
        stale = second.locator(card)
        stale.locator("select[name=level]").select_option("1")
        stale.locator("input[name=reason]").fill("no depth at all")
        stale.locator("button", has_text="Override").click()
        expect(second.locator("#flash")).to_contain_text("Not saved")
        expect(second.locator(card).locator(".reviewed-level")).to_contain_text("confirm by dana")  # reloaded
        second.locator(card).locator("select[name=level]").select_option("1")  # now it may decide
        second.locator(card).locator("input[name=reason]").fill("no depth at all")
        second.locator(card).locator("button", has_text="Override").click()
        expect(second.locator(card).locator(".reviewed-level")).to_contain_text("Reviewed: 1")
