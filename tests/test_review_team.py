"""A review team through FastAPI's TestClient: reviewers who sign in, assignment with overlap, blind grading,
the agreement panel (the figures of `grader eval --gold RUN`), adjudication into the gold export, undo, warnings.

Issue 19's contract: the reviewers file is YAML, one `name: secret` per line; the JSON API takes
`Authorization: Bearer <secret>` and refuses a decision without it (401) once a reviewers file is given;
`GET /api/agreement` returns the panel's figures; `grader gold export` writes a `source` column; blind, a
reviewer's `seen_review_id` is their own latest decision on the criterion (null before their first).
"""

import re
import sqlite3

import pandas as pd
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from grader.cli import app as cli
from grader.errors import GraderError
from grader.review.app import create_app
from grader.review.run import open_run
from grader.review.security import Guard
from grader.review.team import SESSION_COOKIE, Team, check_secret, hash_secret, load_reviewers

from .review_fixtures import copy_run

HOSTS = ("testserver",)
SECRETS = {"dana": "dana-secret-0123456", "lee": "lee-secret-01234567", "sam": "sam-secret-012345678"}
REVIEWERS = ("dana: dana-secret-0123456\nlee: lee-secret-01234567\n"
             "sam: {secret: sam-secret-012345678, adjudicator: true}\n")


def bearer(name):
    return {"Authorization": f"Bearer {SECRETS[name]}", "X-Requested-With": "test"}


@pytest.fixture(scope="module")
def reviewers(tmp_path_factory):
    path = tmp_path_factory.mktemp("team") / "reviewers.yaml"
    path.write_text(REVIEWERS)
    return load_reviewers(path)  # hashed once for the module: scrypt is slow on purpose


@pytest.fixture
def run_dir(tmp_path):
    return copy_run(tmp_path / "run", injected=True)


@pytest.fixture
def serve(run_dir, reviewers):
    """serve(**options) -> a TestClient of a team server over the run (closed at the end)."""
    opened, clients = [], []

    def make(**options):
        run = open_run(run_dir)
        opened.append(run)
        client = TestClient(create_app(run, reviewer="nobody", guard=Guard(allowed_hosts=HOSTS),
                                       team=Team(reviewers), **options))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    for run in opened:
        run.close()


def post(client, who, **body):
    body = {"transcript_id": "strong-candidate", "action": "override", "reason": "", "seen_review_id": None, **body}
    return client.post("/api/reviews", json=body, headers=bearer(who))


def criteria(client, transcript="strong-candidate", who="sam"):
    return [g["criterion_id"] for g in client.get(f"/api/transcripts/{transcript}", headers=bearer(who))
            .json()["sheet"]["grades"]]


def csrf(page):
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def sign_in(client, who):
    token = csrf(client.get("/signin").text)
    return client.post("/signin", data={"csrf": token, "name": who, "secret": SECRETS[who], "next": "/"},
                       follow_redirects=False)


# -- 1. reviewers are people ---------------------------------------------------------------------------------
def test_the_reviewers_file_keeps_only_hashes(tmp_path, reviewers):
    assert [(r.name, r.adjudicator) for r in reviewers] == [("dana", False), ("lee", False), ("sam", True)]
    for r in reviewers:
        assert r.hashed.startswith("scrypt$32768$8$1$") and SECRETS[r.name] not in r.hashed
        assert check_secret(SECRETS[r.name], r.hashed) and not check_secret("guess", r.hashed)
    team = Team(reviewers)
    assert not any(s in repr(vars(team)) for s in SECRETS.values())
    hashed = tmp_path / "hashed.yaml"  # a file may hold hashes only: no secret on disk at all
    hashed.write_text(f"dana: '{hash_secret(SECRETS['dana'])}'\n")
    assert Team(load_reviewers(hashed, adjudicators=["dana"])).sign_in("dana", SECRETS["dana"]).adjudicator


@pytest.mark.parametrize(("text", "message"), [
    ("dana: short\n", "too short"),
    ("dana: 1234567890123\n", "not text"),
    ("dana: same-secret-123456\nlee: same-secret-123456\n", "the same secret"),
    ("dana: a-long-secret-1234\ndana: other-secret-12345\n", "given twice"),
    ("dana: {secret: a-long-secret-1234, role: boss}\n", "unknown or bad keys"),
    ("- dana\n", "must map each reviewer"),
    ("' dana': a-long-secret-1234\n", "not a reviewer's name"),
])
def test_a_bad_reviewers_file_says_what_to_fix(tmp_path, text, message):
    path = tmp_path / "reviewers.yaml"
    path.write_text(text)
    with pytest.raises(GraderError, match=message) as caught:
        load_reviewers(path)
    assert caught.value.fix


def test_without_a_session_or_bearer_nothing_is_served_and_no_decision_is_taken(serve, run_dir):
    client = serve()
    criterion = criteria(client)[0]
    body = {"transcript_id": "strong-candidate", "criterion_id": criterion, "action": "override", "level": 2,
            "reason": "x", "seen_review_id": None}
    refused = client.post("/api/reviews", json=body, headers={"X-Requested-With": "test"})
    assert refused.status_code == 401 and "Bearer" in refused.json()["error"]
    assert refused.headers["www-authenticate"].startswith("Bearer")
    wrong = client.post("/api/reviews", json=body, headers={"Authorization": "Bearer not-a-secret-at-all",
                                                            "X-Requested-With": "test"})
    assert wrong.status_code == 401
    assert client.get("/api/transcripts").status_code == 401 and client.get("/api/agreement").status_code == 401
    page = client.get("/transcripts/strong-candidate", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/signin?next=%2Ftranscripts%2Fstrong-candidate"
    form = client.post("/transcripts/strong-candidate/reviews", data={"criterion_id": criterion, "action": "confirm",
                                                                      "seen": "", "csrf": "x"}, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"].startswith("/signin")
    assert client.get("/static/review.css").status_code == 200 and client.get("/signin").status_code == 200
    assert client.get("/api/reviews", headers=bearer("sam")).json() == []


def test_a_decision_is_always_the_signed_in_reviewers(serve):
    client = serve()
    first, second = criteria(client)[:2]
    other = post(client, "lee", criterion_id=first, level=2, reason="x", reviewer="dana")
    assert other.status_code == 403 and "signed in as lee" in other.json()["error"]
    assert client.get("/api/reviews", headers=bearer("sam")).json() == []
    mine = post(client, "lee", criterion_id=first, level=2, reason="thin", reviewer="lee")
    assert mine.status_code == 201 and mine.json()["reviewer"] == "lee"
    unnamed = post(client, "dana", criterion_id=second, level=3, reason="ok")
    assert unnamed.status_code == 201 and unnamed.json()["reviewer"] == "dana"
    note = client.post("/api/notes", json={"transcript_id": "strong-candidate", "note": "hire", "reviewer": "dana",
                                           "seen_note_id": None}, headers=bearer("lee"))
    assert note.status_code == 403


def test_signing_in_sets_a_signed_httponly_strict_session(serve):
    client = serve()
    bad = client.post("/signin", data={"csrf": csrf(client.get("/signin").text), "name": "dana",
                                       "secret": "a-wrong-secret-123", "next": "/"})
    assert bad.status_code == 401 and "do not match" in bad.text
    no_csrf = client.post("/signin", data={"name": "dana", "secret": SECRETS["dana"], "next": "/"})
    assert no_csrf.status_code == 403
    done = sign_in(client, "dana")
    assert done.status_code == 303 and done.headers["location"] == "/"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert SECRETS["dana"] not in cookie
    assert "signed in as <b>dana</b>" in client.get("/").text
    assert client.get("/api/me", headers={"X-Requested-With": "t"}).json()["reviewer"] == "dana"
    value = client.cookies[SESSION_COOKIE]
    use_cookie(client, value.replace(value[-6:], "AAAAAA"))  # tampered: not signed by the server
    assert client.get("/api/me").status_code == 401
    use_cookie(client, value)
    page = client.get("/").text
    out = client.post("/signout", data={"csrf": csrf(page)}, follow_redirects=False)
    assert out.status_code == 303
    use_cookie(client, value)  # the old cookie is dead on the server too
    assert client.get("/api/me").status_code == 401
    evil = sign_in(client, "dana")
    assert evil.status_code == 303
    far = client.post("/signin", data={"csrf": csrf(client.get("/signin").text), "name": "dana",
                                       "secret": SECRETS["dana"], "next": "//evil.example/"}, follow_redirects=False)
    assert far.headers["location"] == "/"  # never sent to another site after signing in


def use_cookie(client, value):
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, value)


def test_form_posts_take_the_reviewer_from_the_session(serve):
    client = serve()
    sign_in(client, "lee")
    criterion = criteria(client)[0]
    page = client.get("/transcripts/strong-candidate").text
    done = client.post("/transcripts/strong-candidate/reviews",
                       data={"criterion_id": criterion, "action": "override", "level": "2", "reason": "thin",
                             "seen": "", "csrf": csrf(page), "reviewer": "dana"}, follow_redirects=False)
    assert done.status_code == 303
    assert [r["reviewer"] for r in client.get("/api/reviews").json()] == ["lee"]


# -- 2. assignment, queues, blind grading ---------------------------------------------------------------------
def test_overlap_assigns_each_transcript_to_k_reviewers_balanced_and_stored(serve, run_dir, reviewers):
    client = serve(overlap=2)
    mine = {who: set(client.get("/api/me", headers=bearer(who)).json()["assigned"]) for who in SECRETS}
    transcripts = {t["transcript_id"] for t in client.get("/api/transcripts", headers=bearer("sam")).json()}
    assert all(sum(t in a for a in mine.values()) == 2 for t in transcripts)
    loads = [len(a) for a in mine.values()]
    assert max(loads) - min(loads) <= 1 and sum(loads) == 2 * len(transcripts)
    again = serve(overlap=2)  # another server on the same run: the stored assignment
    assert {who: set(again.get("/api/me", headers=bearer(who)).json()["assigned"]) for who in SECRETS} == mine
    db = sqlite3.connect(run_dir / "run.sqlite")
    assert db.execute("SELECT COUNT(*) FROM review_assignments").fetchone()[0] == 2 * len(transcripts)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM review_assignments")
    db.close()
    queue = client.get("/api/queue", headers=bearer("dana")).json()
    assert [q["transcript_id"] for q in queue] == sorted(mine["dana"]) and not any(q["done"] for q in queue)
    sign_in(client, "dana")
    first = sorted(mine["dana"])[0]
    assert client.get("/next", follow_redirects=False).headers["location"] == f"/transcripts/{first}"
    later = client.get(f"/next?after={first}", follow_redirects=False).headers["location"]
    assert later == f"/transcripts/{sorted(mine['dana'])[1]}"
    outside = sorted(transcripts - mine["dana"])[0]
    refused = post(client, "dana", transcript_id=outside, criterion_id=criteria(client, outside)[0], level=2,
                   reason="x")
    assert refused.status_code == 403 and "not assigned" in refused.json()["error"]
    assert "Not assigned to you: read only." in client.get(f"/transcripts/{outside}").text
    with pytest.raises(GraderError, match="overlap of 4 needs at least 4 reviewers"):
        serve(overlap=4)


def test_blind_reviewers_see_neither_the_other_level_nor_its_review_until_they_submit(serve):
    client = serve()
    criterion = criteria(client)[0]
    dana = post(client, "dana", criterion_id=criterion, level=2, reason="no outcome measured")
    assert dana.status_code == 201
    lee_view = client.get("/api/transcripts/strong-candidate", headers=bearer("lee")).json()
    assert lee_view["reviews"] == [] and lee_view["current"][criterion] is None
    assert lee_view["seen_review_id"][criterion] is None  # blind: the own latest decision, none yet
    assert client.get("/api/reviews", headers=bearer("lee")).json() == []
    sign_in(client, "lee")
    card = card_html(client.get("/transcripts/strong-candidate").text, criterion)
    assert "Other reviewers' levels are hidden until you submit yours." in card and "dana" not in card
    lee = post(client, "lee", criterion_id=criterion, level=4, reason="specific and measured")  # seen: null
    assert lee.status_code == 201, lee.text
    stale = post(client, "lee", criterion_id=criterion, level=5, reason="x")  # seen must now be lee's own
    assert stale.status_code == 409 and stale.json()["latest_review_id"] == lee.json()["id"]
    assert post(client, "lee", criterion_id=criterion, level=5, reason="x",
                seen_review_id=lee.json()["id"]).status_code == 201
    card = card_html(client.get("/transcripts/strong-candidate").text, criterion)
    assert "dana: <b>2</b>" in card and "lee: <b>5</b>" in card and "reviewers disagree" in card
    after = client.get("/api/transcripts/strong-candidate", headers=bearer("lee")).json()
    assert {r["reviewer"] for r in after["reviews"]} == {"dana", "lee"}
    assert {r["reviewer"] for r in client.get("/api/reviews", headers=bearer("dana")).json()} == {"dana", "lee"}


def card_html(page, criterion):
    start = page.index(f'id="c-{criterion}"')
    return page[start:page.index("</article>", start)]


def test_hide_model_keeps_the_models_level_out_until_the_reviewer_decides(serve):
    client = serve(hide_model=True)
    grades = client.get("/api/transcripts/strong-candidate", headers=bearer("sam")).json()
    assert grades["sheet"]["grades"][0].get("hidden") is None  # sam adjudicates, assigned nothing: sees it all
    view = client.get("/api/transcripts/strong-candidate", headers=bearer("dana")).json()
    hidden = view["sheet"]["grades"][0]
    criterion = hidden["criterion_id"]
    assert hidden["hidden"] and "level" not in hidden and "rationale" not in hidden
    assert view["sheet"]["competencies"] == []
    assert len(view["model_hidden"]) == 15
    sign_in(client, "dana")
    card = card_html(client.get("/transcripts/strong-candidate").text, criterion)
    assert "Model: <b class=\"lvl\">hidden</b>" in card and '<form class="confirm"' not in card
    assert '<span class="mark model">' not in card and "reason (optional)" in card
    confirm = post(client, "dana", criterion_id=criterion, action="confirm")
    assert confirm.status_code == 400 and "hidden" in confirm.json()["error"]
    model_level = grades["sheet"]["grades"][0]["level"]
    same = post(client, "dana", criterion_id=criterion, level=model_level)  # no reason needed: nothing to argue with
    assert same.status_code == 201 and same.json()["action"] == "confirm"  # blind, and it was the model's level
    shown = client.get("/api/transcripts/strong-candidate", headers=bearer("dana")).json()
    assert shown["sheet"]["grades"][0]["level"] == model_level and criterion not in shown["model_hidden"]


# -- 3. the agreement panel: grader eval's figures -------------------------------------------------------------
def grade_as_a_team(client, transcripts=("strong-candidate", "weak-candidate", "mixed-candidate", "short-screen")):
    """dana and lee level every criterion of four transcripts (lee one level up every third), sam some."""
    for n, transcript in enumerate(transcripts):
        for k, criterion in enumerate(criteria(client, transcript)):
            for who, shift in (("dana", 0), ("lee", 1 if (n + k) % 3 == 0 else 0), ("sam", 2 if k % 5 == 0 else 0)):
                if who == "sam" and k % 4:
                    continue
                made = post(client, who, transcript_id=transcript, criterion_id=criterion,
                            level=1 + (n * 2 + k + shift) % 5, reason="checked against the anchors")
                assert made.status_code == 201, made.text


def test_the_agreement_panel_has_grader_evals_figures_on_the_same_reviews(serve, run_dir, tmp_path):
    client = serve()
    grade_as_a_team(client)
    panel = client.get("/api/agreement", headers=bearer("sam")).json()
    assert panel["reviewers"] == ["dana", "lee", "sam"]
    out = tmp_path / "eval"
    result = CliRunner().invoke(cli, ["eval", "--run", str(run_dir), "--gold", str(run_dir), "--out", str(out),
                                      "--n-boot", "20", "--no-html"])
    assert result.exit_code == 0, result.output
    figures = pd.read_csv(out / "figures.csv")
    model = figures[figures["source"] == "model"].set_index("scope")
    checked = 0
    for scope in panel["scopes"]:
        row = model.loc[scope["scope"]]
        assert scope["model_vs_gold"]["n"] == row["pairs"]
        for name in ("quadratic_kappa_score", "exact_agreement_score", "adjacent_agreement_score"):
            mine = scope["model_vs_gold"][name]
            assert (mine["value"] is None) == pd.isna(row[name])
            if mine["value"] is not None:
                assert mine["value"] == pytest.approx(row[name], abs=1e-12)
                checked += 1
        for name in ("human_quadratic_kappa_mean", "krippendorff_alpha"):
            mine = scope["human_ceiling"][name]
            assert (mine["value"] is None) == pd.isna(row[name])
            if mine["value"] is not None:
                assert mine["value"] == pytest.approx(row[name], abs=1e-12)
                checked += 1
            else:
                assert mine["undefined"] == row[f"{name}_undefined"]
    assert checked > 20
    overall = panel["scopes"][-1]
    pair = next(p for p in overall["reviewer_pairs"] if (p["a"], p["b"]) == ("dana", "lee"))
    assert pair["n"] == 60 and pair["exact_agreement_score"]["value"] == pytest.approx(40 / 60)
    assert {p["reviewer"] for p in overall["model_reviewer"]} == {"dana", "lee", "sam"}
    listed = {(d["transcript_id"], d["criterion_id"]) for d in panel["disagreements"]}
    assert len(listed) >= 20 and all(d["url"].startswith("/transcripts/") for d in panel["disagreements"])
    report = (out / "report.md").read_text()
    assert "raters: 3" in report


def test_a_blind_reviewer_sees_only_the_disagreements_they_have_decided(serve):
    client = serve()
    first, second = criteria(client)[:2]
    post(client, "dana", criterion_id=first, level=2, reason="x")
    post(client, "lee", criterion_id=first, level=4, reason="y")
    post(client, "dana", criterion_id=second, level=2, reason="x")
    post(client, "sam", criterion_id=second, level=5, reason="y")
    lee = client.get("/api/agreement", headers=bearer("lee")).json()["disagreements"]
    assert [(d["criterion_id"], d["labels"]) for d in lee] == [(first, {"dana": "2", "lee": "4"})]
    assert len(client.get("/api/agreement", headers=bearer("dana")).json()["disagreements"]) == 2


def test_alpha_of_a_single_item_rated_twice_is_undefined_with_a_reason(serve, run_dir, tmp_path):
    client = serve()
    criterion = criteria(client)[0]
    post(client, "dana", criterion_id=criterion, level=2, reason="x")
    post(client, "lee", criterion_id=criterion, level=4, reason="y")
    alpha = client.get("/api/agreement", headers=bearer("sam")).json()["scopes"][-1]["human_ceiling"]
    assert alpha["krippendorff_alpha"]["value"] is None
    assert "only one item was rated by two or more raters" in alpha["krippendorff_alpha"]["undefined"]
    out = tmp_path / "eval"
    result = CliRunner().invoke(cli, ["eval", "--run", str(run_dir), "--gold", str(run_dir), "--out", str(out),
                                      "--n-boot", "5", "--no-html"])
    assert result.exit_code == 0, result.output
    figures = pd.read_csv(out / "figures.csv")
    assert figures["krippendorff_alpha"].isna().all()
    assert figures["krippendorff_alpha_undefined"].str.startswith("only one item").all()
    assert "only one item was rated by two or more raters" in (out / "report.md").read_text()


# -- 4. adjudication and the gold export's sources --------------------------------------------------------------
def test_an_adjudicator_resolves_a_disagreement_and_the_export_says_where_each_gold_came_from(serve, run_dir,
                                                                                              tmp_path):
    client = serve()
    split, agreed, alone, untouched = criteria(client)[:4]
    a = post(client, "dana", criterion_id=split, level=2, reason="x")
    b = post(client, "lee", criterion_id=split, level=4, reason="y")
    post(client, "dana", criterion_id=agreed, level=3, reason="x")
    post(client, "lee", criterion_id=agreed, level=3, reason="y")
    post(client, "dana", criterion_id=alone, level=5, reason="x")
    body = {"criterion_id": split, "action": "adjudicate", "level": 4, "reason": "the outcome is measured"}
    assert post(client, "dana", **body, seen_review_id=b.json()["id"]).status_code == 403  # not an adjudicator
    no_dispute = post(client, "sam", **{**body, "criterion_id": agreed})
    assert no_dispute.status_code == 400 and "nothing to resolve" in no_dispute.json()["error"]
    stale = post(client, "sam", **body, seen_review_id=a.json()["id"])
    assert stale.status_code == 409
    resolved = post(client, "sam", **body, seen_review_id=b.json()["id"])
    assert resolved.status_code == 201 and resolved.json()["action"] == "adjudicate"
    view = client.get("/api/transcripts/strong-candidate", headers=bearer("sam")).json()
    assert view["current"][split]["action"] == "adjudicate"
    listed = client.get("/api/agreement", headers=bearer("sam")).json()["disagreements"]
    assert listed[0]["adjudicated"] == {"level": "4", "by": "sam", "review_id": resolved.json()["id"]}
    gold = tmp_path / "gold.csv"
    result = CliRunner().invoke(cli, ["gold", "export", str(run_dir), "--out", str(gold)])
    assert result.exit_code == 0, result.output
    assert "items: 1 single, 1 consensus, 1 adjudicated" in result.output
    frame = pd.read_csv(gold)
    rows = {(r.criterion_id, r.rater_id): (r.score, r.source, r.gold) for r in frame.itertuples()}
    assert rows == {(split, "dana"): (2, "adjudicated", 4), (split, "lee"): (4, "adjudicated", 4),
                    (agreed, "dana"): (3, "consensus", 3), (agreed, "lee"): (3, "consensus", 3),
                    (alone, "dana"): (5, "single", 5)}  # every reviewer's level kept; the adjudicator is no rater
    assert untouched not in set(frame["criterion_id"])
    out = tmp_path / "eval"
    result = CliRunner().invoke(cli, ["eval", "--run", str(run_dir), "--gold", str(run_dir), "--out", str(out),
                                      "--n-boot", "5", "--no-html"])
    assert result.exit_code == 0, result.output
    assert "raters: 2" in (out / "report.md").read_text()


# -- 7. undo ---------------------------------------------------------------------------------------------------
def test_undo_appends_a_retraction_and_the_decision_before_is_current_again(serve, run_dir):
    client = serve()
    criterion = criteria(client)[0]
    first = post(client, "dana", criterion_id=criterion, level=2, reason="thin")
    second = post(client, "dana", criterion_id=criterion, level=3, reason="re-read", seen_review_id=first.json()["id"])
    lee = post(client, "lee", criterion_id=criterion, level=5, reason="y")
    retract = {"X-Requested-With": "t"}
    assert client.post("/api/retractions", json={"review_id": lee.json()["id"]},
                       headers={**bearer("dana"), **retract}).status_code == 409  # not hers
    old = client.post("/api/retractions", json={"review_id": first.json()["id"]}, headers=bearer("dana"))
    assert old.status_code == 409 and old.json()["latest_review_id"] == second.json()["id"]  # not her latest
    undone = client.post("/api/retractions", json={"review_id": second.json()["id"]}, headers=bearer("dana"))
    assert undone.status_code == 201 and undone.json()["review"]["retracted_by"] == undone.json()["id"]
    mine = client.get("/api/transcripts/strong-candidate", headers=bearer("dana")).json()
    assert mine["current"][criterion]["id"] == first.json()["id"]  # the decision before is current again
    assert mine["seen_review_id"][criterion] == first.json()["id"]
    rows = client.get("/api/reviews", headers=bearer("dana")).json()
    assert [r["retracted_by"] is not None for r in rows] == [False, True, False]  # nothing edited or removed
    again = client.post("/api/retractions", json={"review_id": second.json()["id"]}, headers=bearer("dana"))
    assert again.status_code == 409 and "already taken back" in again.json()["error"]
    db = sqlite3.connect(run_dir / "run.sqlite")
    for sql in ("DELETE FROM review_retractions", "UPDATE review_retractions SET review_id = 1"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    db.close()  # (a failed statement leaves Python's implicit transaction open: it would hold the write lock)
    sign_in(client, "dana")  # the page: the undo form takes back the latest decision of hers on the transcript
    page = client.get("/transcripts/strong-candidate").text
    target = re.search(r'name="review_id" value="(\d+)"', page).group(1)
    assert int(target) == first.json()["id"]
    done = client.post("/transcripts/strong-candidate/undo", data={"csrf": csrf(page), "review_id": target},
                       follow_redirects=False)
    assert done.status_code == 303 and "saved=undo" in done.headers["location"]
    assert client.get("/api/transcripts/strong-candidate").json()["current"][criterion] is None
    assert 'id="undo"' not in client.get("/transcripts/strong-candidate").text


def test_undo_alone_on_a_machine(run_dir):
    opened = open_run(run_dir)
    with TestClient(create_app(opened, reviewer="dana", guard=Guard(allowed_hosts=HOSTS))) as client:
        criterion = client.get("/api/transcripts/weak-candidate").json()["sheet"]["grades"][0]["criterion_id"]
        made = client.post("/api/reviews", json={"transcript_id": "weak-candidate", "criterion_id": criterion,
                                                 "action": "confirm", "seen_review_id": None},
                           headers={"X-Requested-With": "t"})
        assert made.status_code == 201
        undone = client.post("/api/retractions", json={"review_id": made.json()["id"]},
                             headers={"X-Requested-With": "t"})
        assert undone.status_code == 201
        assert client.get("/api/transcripts/weak-candidate").json()["current"][criterion] is None
    opened.close()


# -- 6. warnings in view ----------------------------------------------------------------------------------------
def test_needs_review_includes_held_transcripts_and_the_integrity_panel_comes_first(run_dir):
    opened = open_run(run_dir)
    with TestClient(create_app(opened, reviewer="dana", guard=Guard(allowed_hosts=HOSTS))) as client:
        listed = {t["transcript_id"]: t for t in client.get("/api/transcripts").json()}
        assert listed["injected"]["held"] and listed["injected"]["integrity_findings"] == 1
        needing = re.findall(r'<a href="/transcripts/([^"]+)">', client.get("/?filter=needs-review").text)
        assert "injected" in needing
        page = client.get("/transcripts/injected").text
        rubric = page[page.index('<aside class="rubric"'):]
        assert rubric.index('id="integrity"') < rubric.index('id="scores"') < rubric.index('class="criterion')
        marked = re.findall(r'<span class="unit injected" id="u-(\d+-\d+)"', page)
        assert marked == ["4-3"]
    opened.close()


# -- the command line ------------------------------------------------------------------------------------------
def test_the_command_line_takes_the_team_options(run_dir, tmp_path, monkeypatch):
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(app))
    path = tmp_path / "reviewers.yaml"
    path.write_text(REVIEWERS)
    ok = CliRunner().invoke(cli, ["review", str(run_dir), "--reviewers", str(path), "--overlap", "2",
                                  "--hide-model", "--adjudicator", "lee"])
    assert ok.exit_code == 0, ok.output
    assert "3 reviewers (dana, lee, sam, each transcript to 2 of them; adjudicator: lee, sam)" in ok.output
    context = served[0].state.review
    assert (context.overlap, context.blind, context.hide_model) == (2, True, True)
    for args, where in ([["--overlap", "2"], "--overlap"], [["--reviewers", str(path), "--token", "x" * 20], "--token"],
                        [["--adjudicator", "sam"], "--adjudicator"]):
        refused = CliRunner().invoke(cli, ["review", str(run_dir), *args])
        assert refused.exit_code == 2 and where in refused.output, refused.output
    remote = CliRunner().invoke(cli, ["review", str(run_dir), "--reviewers", str(path), "--host", "0.0.0.0",
                                      "--allow-remote"])
    assert remote.exit_code == 0 and "?token=" not in remote.output  # the reviewers' secrets guard it


def test_reviewer_names_are_escaped_like_everything_else(run_dir, tmp_path):
    path = tmp_path / "reviewers.yaml"
    path.write_text("'<img src=x onerror=alert(1)>': a-long-secret-0123\nlee: lee-secret-01234567\n")
    opened = open_run(run_dir)
    with TestClient(create_app(opened, reviewer="x", guard=Guard(allowed_hosts=HOSTS),
                               team=Team(load_reviewers(path)), blind=False)) as client:
        hostile = {"Authorization": "Bearer a-long-secret-0123", "X-Requested-With": "t"}
        criterion = criteria(client, who="lee")[0]
        body = {"transcript_id": "strong-candidate", "criterion_id": criterion, "action": "override", "level": 2,
                "reason": "<script>alert(2)</script>", "seen_review_id": None}
        assert client.post("/api/reviews", json=body, headers=hostile).status_code == 201
        for url in ("/transcripts/strong-candidate", "/agreement", "/"):
            page = client.get(url, headers=bearer("lee")).text
            assert "<img src=x" not in page and "<script>alert" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in client.get("/transcripts/strong-candidate",
                                                                   headers=bearer("lee")).text
    opened.close()
