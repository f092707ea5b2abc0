"""The review server through FastAPI's TestClient: JSON API, pages, forms, guard, escaping, exports."""

import json
import re

import pandas as pd
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from grader.cli import app as cli
from grader.review.app import create_app
from grader.review.run import open_run
from grader.review.security import MAX_BODY, Guard

from .review_fixtures import copy_run

JSON = {"X-Requested-With": "test"}
HOSTS = ("testserver",)


@pytest.fixture
def run_dir(tmp_path):
    return copy_run(tmp_path / "run", extra=True)


@pytest.fixture
def client(run_dir):
    opened = open_run(run_dir)
    with TestClient(create_app(opened, reviewer="dana", guard=Guard(allowed_hosts=HOSTS))) as test_client:
        yield test_client
    opened.close()


def first_criteria(client, transcript="strong-candidate", n=1):
    body = client.get(f"/api/transcripts/{transcript}").json()
    return [g["criterion_id"] for g in body["sheet"]["grades"]][:n]


def post(client, **body):
    body = {"transcript_id": "strong-candidate", "action": "override", "reason": "", "seen_review_id": None, **body}
    return client.post("/api/reviews", json=body, headers=JSON)


def test_api_lists_every_transcript_with_decisions_and_counts(client):
    listed = client.get("/api/transcripts").json()
    assert {t["transcript_id"] for t in listed} >= {"strong-candidate", "weak-candidate", "mixed-candidate",
                                                    "short-screen", "hostile", "long-interview"}
    one = next(t for t in listed if t["transcript_id"] == "strong-candidate")
    assert one["counts"] == {"criteria": 15, "reviewed": 0, "confirmed": 0, "overridden": 0, "needs_review": 1,
                             "unscored": 1, "red_flags": 1}
    assert {d["model"] for d in one["decisions"]} <= {"pass", "fail", "undetermined"}


def test_api_transcript_has_sheet_units_and_reviews(client):
    body = client.get("/api/transcripts/strong-candidate").json()
    assert body["sheet"]["format_version"] == 2 and body["reviews"] == [] and body["note"] is None
    unit = body["units"][0]
    assert re.fullmatch(r"\d+\.\d+", unit["id"]) and {"turn", "speaker", "role", "text", "start"} <= set(unit)
    assert client.get("/api/transcripts/nobody").status_code == 404
    assert client.get("/api/transcripts/nobody").json()["error"].startswith("no finished score sheet")


def test_api_review_then_stale_conflict_then_reload(client):
    criterion = first_criteria(client)[0]
    made = post(client, criterion_id=criterion, level=2, reason="vague about the outcome")
    assert made.status_code == 201, made.text
    assert made.json()["reviewer"] == "dana" and made.json()["level_after"] == 2
    stale = post(client, criterion_id=criterion, level=5, reason="great", reviewer="sam")
    assert stale.status_code == 409
    assert "reviewed after this page was made" in stale.json()["error"]
    assert stale.json()["latest_review_id"] == made.json()["id"] and "reload" in stale.json()["fix"]
    fresh = post(client, criterion_id=criterion, level=5, reason="great", reviewer="sam",
                 seen_review_id=made.json()["id"])
    assert fresh.status_code == 201
    body = client.get("/api/transcripts/strong-candidate").json()
    assert body["current"][criterion]["level_after"] == 5 and len(body["reviews"]) == 2
    assert len(client.get("/api/reviews").json()) == 2


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"level": 3}, 400, "needs a reason"),
    ({"level": 9, "reason": "x"}, 422, "level"),
    ({"action": "delete", "level": 3, "reason": "x"}, 422, "action"),
    ({"transcript_id": "nobody", "level": 3, "reason": "x"}, 404, "no finished score sheet"),
    ({"level": 3, "reason": "x", "extra": 1}, 422, "extra"),
    ({"level": True, "reason": "x"}, 422, 'level: must be a whole number 1..5 or "insufficient_evidence", not true'),
    ({"level": "3", "reason": "x"}, 422, 'not "3"'),
    ({"level": 3.0, "reason": "x"}, 422, "not 3.0"),
    ({"level": 3, "reason": "x", "seen_review_id": True}, 422, "seen_review_id"),
])
def test_api_errors_are_json_with_a_message(client, body, status, message):
    criterion = first_criteria(client)[0]
    response = post(client, criterion_id=criterion, **body)
    assert response.status_code == status and message in response.json()["error"]


def test_api_post_needs_json_and_the_custom_header(client):
    criterion = first_criteria(client)[0]
    body = {"transcript_id": "strong-candidate", "criterion_id": criterion, "action": "override", "level": 3,
            "reason": "x", "seen_review_id": None}
    assert client.post("/api/reviews", json=body).status_code == 403  # no X-Requested-With
    assert client.post("/api/reviews", data=body, headers=JSON).status_code == 403  # a form, not JSON
    evil = client.post("/api/reviews", json=body, headers={**JSON, "Origin": "https://evil.example"})
    assert evil.status_code == 403 and evil.json()["error"] == "cross-site request refused"
    assert client.post("/api/reviews", json=body, headers={**JSON, "Origin": "http://testserver"}).status_code == 201


def test_api_json_media_type_is_case_insensitive_and_may_carry_parameters(client):
    criterion = first_criteria(client)[0]
    body = {"transcript_id": "strong-candidate", "criterion_id": criterion, "action": "override", "level": 3,
            "reason": "x", "seen_review_id": None}
    made = client.post("/api/reviews", content=json.dumps(body),
                       headers={**JSON, "Content-Type": "Application/JSON; charset=UTF-8"})
    assert made.status_code == 201, made.text
    wrong = client.post("/api/reviews", content=json.dumps(body), headers={**JSON, "Content-Type": "text/plain"})
    assert wrong.status_code == 403


def test_a_body_over_the_limit_is_413_before_it_is_parsed(client):
    big = b'{"note": "' + b"x" * (MAX_BODY + 1) + b'"}'
    headers = {**JSON, "Content-Type": "application/json"}
    declared = client.post("/api/notes", content=big, headers=headers)
    assert declared.status_code == 413 and "larger than" in declared.json()["error"]
    assert declared.headers["x-frame-options"] == "DENY"

    def chunks():  # no Content-Length: refused while it is read
        yield big[:MAX_BODY // 2]
        yield big[MAX_BODY // 2:]
    streamed = client.post("/api/notes", content=chunks(), headers=headers)
    assert streamed.status_code == 413 and "larger than" in streamed.json()["error"]
    lying = client.post("/api/notes", content=chunks(), headers={**headers, "Content-Length": "10"})
    assert lying.status_code == 413
    page = client.post("/transcripts/strong-candidate/note", content=chunks(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert page.status_code == 413


def test_form_posts_need_the_pages_csrf_token(client):
    criterion = first_criteria(client)[0]
    page = client.get("/transcripts/strong-candidate").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = {"criterion_id": criterion, "action": "confirm", "seen": ""}
    assert client.post("/transcripts/strong-candidate/reviews", data=form).status_code == 403
    assert client.post("/transcripts/strong-candidate/reviews", data={**form, "csrf": "guess"}).status_code == 403
    done = client.post("/transcripts/strong-candidate/reviews", data={**form, "csrf": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith(f"c={criterion}#c-{criterion}")
    again = client.post("/transcripts/strong-candidate/reviews", data={**form, "csrf": token})
    assert again.status_code == 409 and "Not saved" in again.text and "reviewed after this page was made" in again.text
    note = client.post("/transcripts/strong-candidate/note", data={"note": "hire", "seen_note": "", "csrf": token})
    assert note.status_code == 200 and "Note saved." in note.text and ">hire</textarea>" in note.text


def test_override_without_a_reason_is_refused_on_the_page(client):
    criterion = first_criteria(client)[0]
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/transcripts/strong-candidate").text).group(1)
    response = client.post("/transcripts/strong-candidate/reviews",
                           data={"criterion_id": criterion, "action": "override", "level": "4", "reason": " ",
                                 "seen": "", "csrf": token})
    assert response.status_code == 400 and "needs a reason" in response.text


def test_unknown_host_is_refused_and_pages_carry_a_strict_csp(client):
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"


def test_a_remote_server_needs_its_token(run_dir):
    opened = open_run(run_dir)
    with TestClient(create_app(opened, reviewer="dana", guard=Guard(access_token="s3cret", allowed_hosts=None))) as c:
        assert c.get("/").status_code == 401 and c.get("/api/transcripts").json()["error"].startswith("this review")
        assert c.get("/api/transcripts", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        entry = c.get("/?token=s3cret", follow_redirects=False)
        assert entry.status_code == 303 and "token" not in entry.headers["location"]
        assert c.get("/").status_code == 200  # the cookie set on entry
    opened.close()


def test_a_remote_server_refuses_a_weak_token(run_dir, monkeypatch):
    import uvicorn
    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(kw))
    weak = CliRunner().invoke(cli, ["review", str(run_dir), "--host", "0.0.0.0", "--allow-remote", "--token", "a"])
    assert weak.exit_code == 2 and not served
    assert "--token" in weak.output and "secrets.token_urlsafe(24)" in weak.output
    strong = CliRunner().invoke(cli, ["review", str(run_dir), "--host", "0.0.0.0", "--allow-remote",
                                      "--token", "x" * 16])
    assert strong.exit_code == 0 and served, strong.output


def test_hostile_transcript_renders_as_text(client):
    page = client.get("/transcripts/hostile").text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in page
    assert "<script>alert" not in page and "<img" not in page and "<b onmouseover" not in page
    assert not re.search(r"<a[^>]+javascript:", page) and "href=\"javascript" not in page
    assert len(re.findall(r"<script\b", page)) == 2  # htmx and review.js, both from /static


def test_run_page_filters_and_sorts(client):
    criterion = first_criteria(client, "weak-candidate")[0]
    post(client, transcript_id="weak-candidate", criterion_id=criterion, action="confirm")
    page = client.get("/").text
    assert "Reviewed <b>1</b> of 90 criteria" in page and "0 of 6 transcripts fully reviewed" in page
    rows = re.findall(r'<a href="/transcripts/([^"]+)">', client.get("/?sort=unreviewed").text)
    assert rows[-1] == "weak-candidate"  # the least reviewed come first
    assert "No transcript matches." in client.get("/?filter=pass").text or "pass" in client.get("/?filter=pass").text
    assert len(re.findall(r'<a href="/transcripts/', client.get("/?filter=needs-review").text)) == 6


def test_transcript_page_shows_units_levels_anchors_and_forms(client):
    page = client.get("/transcripts/strong-candidate").text
    assert re.search(r'<span class="unit" id="u-\d+-\d+" data-unit="\d+\.\d+"><sup class="uid">', page)
    assert 'data-goto="' in page and "red flag</span>" in page
    assert page.count('<form class="confirm"') == 15 and page.count('<form class="override"') == 15
    # the whole scale beside every item, the model's level marked, and the picker says each anchor
    assert page.count('<ol class="scale"') == 15 and page.count('<li class="step') == 75
    assert page.count('<span class="mark model">model</span>') == 13  # 15 criteria: one unscored, one without level
    assert re.search(r'<option value="3">3 · [^<]{10,}</option>', page)
    assert page.count('<details class="guide">') == 15 and "<h4>Probes</h4>" in page and "<h4>Red flags</h4>" in page


def test_gold_export_round_trip_into_eval(tmp_path):
    run_dir = copy_run(tmp_path / "run")  # the four samples
    opened = open_run(run_dir)
    with TestClient(create_app(opened, reviewer="dana", guard=Guard(allowed_hosts=HOSTS))) as client:
        for n, transcript in enumerate(t["transcript_id"] for t in client.get("/api/transcripts").json()):
            for k, criterion in enumerate(first_criteria(client, transcript, n=15)):
                if k in (3, 5):  # left unreviewed
                    continue
                seen = None
                for reviewer, shift in (("dana", 0), ("sam", 1)):
                    response = post(client, transcript_id=transcript, criterion_id=criterion, reviewer=reviewer,
                                    level=1 + (n + k + shift) % 5, reason="checked against the anchors",
                                    seen_review_id=seen)
                    assert response.status_code == 201, response.text
                    seen = response.json()["id"]
    opened.close()
    gold = tmp_path / "gold.csv"
    result = CliRunner().invoke(cli, ["gold", "export", str(run_dir), "--out", str(gold)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(gold)
    assert list(frame.columns) == ["transcript_id", "criterion_id", "rater_id", "score", "source", "gold"]
    assert set(frame["source"]) == {"consensus"}  # two reviewers on every item, nobody adjudicated
    assert len(frame) == 4 * 13 * 2 and set(frame["rater_id"]) == {"dana", "sam"}
    row = frame[(frame.transcript_id == "weak-candidate") & (frame.rater_id == "sam")].iloc[0]
    assert 1 <= row.score <= 5
    out = tmp_path / "eval"  # the run folder itself as --gold: its reviews, as the same CSV
    result = CliRunner().invoke(cli, ["eval", "--run", str(run_dir), "--gold", str(run_dir), "--out", str(out),
                                      "--n-boot", "20", "--no-html"])
    assert result.exit_code == 0, result.output
    assert (run_dir / "reviews-gold.csv").read_text() == gold.read_text()
    report = (out / "report.md").read_text()
    assert "Gold items: 52 (transcript × criterion), raters: 2, rows left out: 0" in report


def test_static_html_export(client, run_dir, tmp_path):
    criterion = first_criteria(client, "hostile")[0]
    post(client, transcript_id="hostile", criterion_id=criterion, level=1, reason="<i>no</i> real evidence")
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--html", str(tmp_path / "html")])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "html").iterdir())
    assert "index.html" in files and "hostile.html" in files and len(files) == 7
    page = (tmp_path / "html" / "hostile.html").read_text()
    assert "<form" not in page and "/static/" not in page and "Content-Security-Policy" in page
    assert "&lt;script&gt;" in page and "<script>alert" not in page and "&lt;i&gt;no&lt;/i&gt; real evidence" in page
    assert "Reviewed: <b class=\"lvl\">1</b>" in page


def test_table_export_has_the_current_review_beside_the_model_level(client, run_dir, tmp_path):
    criterion, other = first_criteria(client, "weak-candidate", n=2)
    first = post(client, transcript_id="weak-candidate", criterion_id=criterion, level=2, reason="thin example")
    post(client, transcript_id="weak-candidate", criterion_id=criterion, level=4, reason="re-read: specific",
         seen_review_id=first.json()["id"])
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--to", str(tmp_path / "grades.csv")])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "grades.csv", dtype={"reviewed_level": "Int64"})
    weak = frame[frame.transcript_id == "weak-candidate"].set_index("criterion_id")
    assert weak.loc[criterion, "reviewed_level"] == 4 and weak.loc[criterion, "review_reason"] == "re-read: specific"
    assert weak.loc[criterion, "review_action"] == "override" and weak.loc[criterion, "reviewer"] == "dana"
    assert pd.isna(weak.loc[other, "reviewed_level"]) and pd.isna(weak.loc[other, "reviewer"])
    assert len(frame) == frame[["transcript_id", "criterion_id"]].drop_duplicates().shape[0]  # one row per call


def test_table_export_refuses_a_rubric_that_is_not_the_runs(run_dir, tmp_path):
    target = tmp_path / "grades.csv"
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--to", str(target), "--rubric", "mit-interview"])
    assert result.exit_code == 2 and "not this one" in result.output and not target.exists()
