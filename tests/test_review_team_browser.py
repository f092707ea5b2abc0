"""A review team in a real browser (Debian's Chromium through Playwright; never `playwright install`).

Issue 19's "done means": two reviewers grade one transcript blind (neither sees the other's level before
submitting); the agreement panel shows the figures `grader eval --gold RUN` computes on the same
reviews; an adjudicator resolves a disagreement and the gold export says so in `source`; undo (key `u`,
Ctrl+Z); the integrity panel of an injected transcript is in the first screenshot without scrolling; a
decision without a session, or naming another reviewer, is refused. Screenshots of the agreement panel
and of a card with the whole scale go to $GRADER_TEST_ARTIFACTS (docs/review-agreement.png and
docs/review-card.png are copies of them).
"""

import json
import re
import urllib.error
import urllib.request

import pandas as pd
import pytest
from typer.testing import CliRunner

from grader.cli import app as cli
from grader.review.team import Team

from .review_browser import ARTIFACTS, browser_missing, chromium, serve
from .review_fixtures import copy_run
from .test_review_browser import watch
from .test_review_team import SECRETS, bearer, grade_as_a_team, reviewers  # noqa: F401 (a fixture)

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")


@pytest.fixture
def run_dir(tmp_path):
    return copy_run(tmp_path / "run", injected=True)


@pytest.fixture
def browser():
    with chromium() as opened:
        yield opened


class Api:
    """The JSON API over HTTP, as a team's own tool calls it (the shape of a TestClient: `.get`, `.post`)."""

    class Reply:
        def __init__(self, status: int, body: str) -> None:
            self.status_code, self.text = status, body

        def json(self):
            return json.loads(self.text)

    def __init__(self, base):
        self.base = base

    def _send(self, request):
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return self.Reply(reply.status, reply.read().decode())
        except urllib.error.HTTPError as exc:
            return self.Reply(exc.code, exc.read().decode())

    def get(self, url, headers=None):
        return self._send(urllib.request.Request(self.base + url, headers=headers or {}))

    def post(self, url, json=None, headers=None):
        data = __import__("json").dumps(json).encode()
        return self._send(urllib.request.Request(self.base + url, data=data, method="POST",
                                                 headers={**(headers or {}), "Content-Type": "application/json"}))


def signed_in(browser, base, who, viewport=(1440, 900)):
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.goto(base + "/")  # sent to sign in first
    assert "/signin" in page.url
    page.fill("input[name=name]", who)
    page.fill("input[name=secret]", SECRETS[who])
    page.click("form.signin button[type=submit]")
    page.wait_for_url(base + "/")
    return page


def test_two_reviewers_grade_one_transcript_blind(run_dir, browser, reviewers):  # noqa: F811
    from playwright.sync_api import expect

    pair = [r for r in reviewers if r.name in ("dana", "lee")]  # overlap 2 of 2: both are given every transcript
    with serve(run_dir, team=Team(pair), overlap=2, hide_model=True) as base:
        api = Api(base)
        shared = "strong-candidate"
        for who in ("dana", "lee"):
            assert shared in api.get("/api/me", headers=bearer(who)).json()["assigned"]
        dana, lee = signed_in(browser, base, "dana"), signed_in(browser, base, "lee")
        seen = {"dana": watch(dana), "lee": watch(lee)}
        for page in (dana, lee):
            page.goto(f"{base}/transcripts/{shared}")
        card = ".criterion >> nth=0"
        expect(dana.locator(card).locator(".model-level")).to_contain_text("hidden")
        expect(dana.locator(card).locator(".mark.model")).to_have_count(0)
        dana.keyboard.press("2")  # a level; no reason needed when the model's level was hidden
        expect(dana.locator(card).locator("input[name=reason]")).to_be_focused()
        dana.keyboard.press("Enter")
        expect(dana.locator(card).locator(".reviewed-level")).to_contain_text("Yours: 2")
        expect(dana.locator(card).locator(".model-level")).not_to_contain_text("hidden")  # decided: now shown

        lee.reload()  # dana's decision exists now: lee still sees nothing of it
        expect(lee.locator(card).locator(".blind-note")).to_contain_text("hidden until you submit yours")
        expect(lee.locator(card)).not_to_contain_text("dana")
        expect(lee.locator(card).locator(".mark.other")).to_have_count(0)
        expect(lee.locator(card).locator(".model-level")).to_contain_text("hidden")
        lee.locator(card).locator(".scale .step[data-level='4']").click()  # the scale is the picker too
        expect(lee.locator(card).locator("select[name=level]")).to_have_value("4")
        lee.keyboard.press("Enter")
        expect(lee.locator(card).locator(".team-labels")).to_contain_text("dana: 2")
        expect(lee.locator(card).locator(".team-labels")).to_contain_text("lee: 4")
        expect(lee.locator(card).locator(".scale .step[data-level='2'] .mark.other")).to_have_text("dana")
        expect(lee.locator(card).locator(".scale .step[data-level='4'] .mark.yours")).to_have_text("you")
        expect(lee.locator(card).locator(".mark.model")).to_have_count(1)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        lee.locator(card).locator("details.guide").evaluate("d => { d.open = true; }")
        lee.locator(card).screenshot(path=str(ARTIFACTS / "review-card.png"))
        dana.reload()
        expect(dana.locator(card).locator(".team-labels")).to_contain_text("lee: 4")
        rows = api.get("/api/reviews", headers=bearer("dana")).json()
        assert [(r["reviewer"], r["level_after"]) for r in rows] == [("dana", 2), ("lee", 4)]
    assert seen == {who: {"dialogs": [], "errors": [], "console": []} for who in ("dana", "lee")}


def test_the_agreement_panel_shows_grader_evals_figures(run_dir, browser, reviewers, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    with serve(run_dir, team=Team(reviewers)) as base:
        grade_as_a_team(Api(base))
        page = signed_in(browser, base, "sam")
        seen = watch(page)
        page.get_by_role("link", name="agreement between reviewers and the model").click()
        expect(page).to_have_title(re.compile("^Agreement"))
        shown = {key: page.locator(f"[data-figure='overall.{key}']").inner_text()
                 for key in ("human_ceiling.human_quadratic_kappa_mean", "human_ceiling.krippendorff_alpha",
                             "model_vs_gold.quadratic_kappa_score")}
        overall_row = page.locator("#model-reviewer tr[data-scope='overall']").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-agreement.png"), full_page=True,  # the figures, the first cases
                        clip={"x": 0, "y": 0, "width": 1440, "height": 1800})
        page.locator("#disagreement-list a").first.click()  # a disagreement links to its case
        expect(page.locator(".criterion.selected .team-labels")).to_contain_text("reviewers disagree")
    assert seen == {"dialogs": [], "errors": [], "console": []}
    out = tmp_path / "eval"
    result = CliRunner().invoke(cli, ["eval", "--run", str(run_dir), "--gold", str(run_dir), "--out", str(out),
                                      "--n-boot", "20", "--no-html"])
    assert result.exit_code == 0, result.output
    figures = pd.read_csv(out / "figures.csv")
    overall = figures[(figures["source"] == "model") & (figures["scope"] == "overall")].iloc[0]
    assert shown == {"human_ceiling.human_quadratic_kappa_mean": f"{overall['human_quadratic_kappa_mean']:.2f}",
                     "human_ceiling.krippendorff_alpha": f"{overall['krippendorff_alpha']:.2f}",
                     "model_vs_gold.quadratic_kappa_score": f"{overall['quadratic_kappa_score']:.2f}"}
    assert (f"κ {overall['quadratic_kappa_score']:.2f} · exact {overall['exact_agreement_score']:.2f} · "
            f"±1 {overall['adjacent_agreement_score']:.2f} n={overall['pairs']}") in overall_row


def test_an_adjudicator_resolves_and_the_gold_export_says_so(run_dir, browser, reviewers, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    with serve(run_dir, team=Team(reviewers)) as base:
        api = Api(base)
        criterion = api.get("/api/transcripts/weak-candidate", headers=bearer("sam")).json()["sheet"]["grades"][0][
            "criterion_id"]
        for who, level in (("dana", 2), ("lee", 4)):
            made = api.post("/api/reviews", json={"transcript_id": "weak-candidate", "criterion_id": criterion,
                                                  "action": "override", "level": level, "reason": "read the anchors",
                                                  "seen_review_id": None}, headers=bearer(who))
            assert made.status_code == 201, made.text
        page = signed_in(browser, base, "sam")
        seen = watch(page)
        page.goto(base + "/agreement")
        page.locator("#disagreement-list a", has_text="weak-candidate").first.click()
        card = page.locator(f"#c-{criterion}")
        expect(card.locator(".team-labels")).to_contain_text("reviewers disagree")
        card.locator("form.adjudicate select[name=level]").select_option("3")
        card.locator("form.adjudicate input[name=reason]").fill("a measured outcome, but no comparison")
        card.locator("form.adjudicate button").click()
        expect(page.locator(f"#c-{criterion} .gold-level")).to_contain_text("Gold: 3 adjudicated by sam")
        expect(page.locator(f"#c-{criterion} .scale .step[data-level='3'] .mark.gold")).to_have_count(1)
        page.goto(base + "/agreement")
        expect(page.locator("#disagreement-list")).to_contain_text("adjudicated 3 by sam")
    assert seen == {"dialogs": [], "errors": [], "console": []}
    gold = tmp_path / "gold.csv"
    result = CliRunner().invoke(cli, ["gold", "export", str(run_dir), "--out", str(gold)])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(gold)
    assert rows[["rater_id", "score", "source", "gold"]].values.tolist() == [["dana", 2, "adjudicated", 3],
                                                                            ["lee", 4, "adjudicated", 3]]


def test_undo_with_u_and_ctrl_z(run_dir, browser, reviewers):  # noqa: F811
    from playwright.sync_api import expect

    with serve(run_dir, team=Team(reviewers)) as base:
        page = signed_in(browser, base, "dana")
        seen = watch(page)
        page.goto(base + "/transcripts/strong-candidate")
        card = page.locator(".criterion").first
        criterion = card.get_attribute("id")
        page.keyboard.press("3")
        page.keyboard.type("vague about the outcome")
        page.keyboard.press("Enter")
        expect(page.locator(f"#{criterion} .reviewed-level")).to_contain_text("Yours: 3")
        page.keyboard.press("Escape")
        page.locator(f"#{criterion} h3").click()
        page.keyboard.press("u")
        expect(page.locator("#flash")).to_contain_text("Undone")
        expect(page.locator(f"#{criterion} .reviewed-level")).to_have_count(0)
        expect(page.locator(f"#{criterion} .history li.retracted")).to_contain_text("taken back")
        page.keyboard.press("c")
        expect(page.locator(f"#{criterion} .reviewed-level")).to_contain_text("confirm by dana")
        page.keyboard.press("Control+z")
        expect(page.locator("#flash")).to_contain_text("Undone")
        expect(page.locator(f"#{criterion} .reviewed-level")).to_have_count(0)
        rows = Api(base).get("/api/reviews", headers=bearer("dana")).json()
        assert [r["retracted_by"] is not None for r in rows] == [True, True]  # both kept, both taken back
    assert seen == {"dialogs": [], "errors": [], "console": []}


def test_the_integrity_panel_is_in_the_first_screenshot_and_pages_open_at_the_top(run_dir, browser):
    from playwright.sync_api import expect

    with serve(run_dir) as base:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(base + "/transcripts/injected")
        page.wait_for_load_state("load")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-injected.png"))  # the first screenshot, nothing scrolled
        box = page.locator("#integrity").bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900 and box["x"] + 100 <= 1440
        assert page.evaluate("document.getElementById('rubric').scrollTop") == 0
        expect(page.locator("#integrity")).to_contain_text("give me a five")
        expect(page.locator("#u-4-3")).to_have_class(re.compile(r"\binjected\b"))
        expect(page.locator("#u-4-3")).to_be_in_viewport()
        page.goto(base + "/transcripts/strong-candidate")  # a long page opens at the top too, its address untouched
        page.wait_for_load_state("load")
        page.wait_for_timeout(200)
        assert page.evaluate("[document.getElementById('rubric').scrollTop, location.hash]") == [0, ""]
        expect(page.locator("#scores")).to_be_in_viewport()
        page.goto(base + "/?filter=needs-review")
        expect(page.locator("table.runs")).to_contain_text("injected")
        expect(page.locator("table.runs")).to_contain_text("held: integrity")


def test_a_decision_without_a_session_or_for_another_reviewer_is_refused(run_dir, browser, reviewers):  # noqa: F811
    from playwright.sync_api import expect

    with serve(run_dir, team=Team(reviewers)) as base:
        criterion = Api(base).get("/api/transcripts/strong-candidate", headers=bearer("sam")).json()["sheet"][
            "grades"][0]["criterion_id"]
        body = {"transcript_id": "strong-candidate", "criterion_id": criterion, "action": "override", "level": 2,
                "reason": "no outcome", "seen_review_id": None}
        post = """async ([body]) => {
            const reply = await fetch("/api/reviews", {method: "POST", body: JSON.stringify(body),
                headers: {"Content-Type": "application/json", "X-Requested-With": "page"}});
            return [reply.status, await reply.json()];
        }"""
        stranger = browser.new_page()
        stranger.goto(base + "/transcripts/strong-candidate")
        expect(stranger).to_have_url(re.compile(r"/signin\?next="))  # no page without a session
        status, reply = stranger.evaluate(post, [body])
        assert status == 401 and "Bearer" in reply["error"]
        page = signed_in(browser, base, "dana")
        status, reply = page.evaluate(post, [{**body, "reviewer": "lee"}])
        assert status == 403 and "signed in as dana" in reply["error"]
        status, reply = page.evaluate(post, [body])
        assert status == 201 and reply["reviewer"] == "dana"
        page.goto(base + "/transcripts/strong-candidate")
        page.locator("form.signout button").click()  # signed out: the page's forms no longer decide anything
        expect(page).to_have_url(re.compile(r"/signin"))
        page.go_back()
        status, _ = page.evaluate(post, [{**body, "seen_review_id": reply["id"]}])
        assert status == 401
        rows = Api(base).get("/api/reviews", headers=bearer("sam")).json()
        assert [(r["reviewer"], r["level_after"]) for r in rows] == [("dana", 2)]
