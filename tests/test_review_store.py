"""The review store and decisions: append-only rows, latest is current, stale pages refused, scores recomputed."""

import sqlite3
import threading

import pytest

from grader.grading.aggregate import Decision
from grader.review.decisions import ReviewRefusedError, ReviewRequest, review_row, reviewed_scores
from grader.review.run import open_run
from grader.runs.folder import RunFolder
from grader.runs.reviews import Action, Review, StaleReviewError, current, current_by_reviewer

from .review_fixtures import copy_run


@pytest.fixture
def run(tmp_path):
    opened = open_run(copy_run(tmp_path / "run"))
    yield opened
    opened.close()


def decide(run, criterion, action="override", level=None, reason="", reviewer="dana", seen=None,
           transcript="strong-candidate"):
    request = ReviewRequest(transcript_id=transcript, criterion_id=criterion, action=action, level=level,
                            reason=reason, reviewer=reviewer, seen_review_id=seen)
    sheet = run.sheet(transcript)
    latest = current(run.store.reviews(transcript)).get(criterion)
    return run.store.add_review(review_row(request, sheet, run.rubric, latest, "default"), seen)


def criteria(run):
    return [c.id for _, c in run.rubric.criteria()]


def test_a_review_keeps_the_level_before_and_after_and_who(run):
    first = criteria(run)[0]
    model = next(g for g in run.sheet("strong-candidate").grades if g.criterion_id == first)
    row = decide(run, first, level=1, reason="only talks about the team")
    assert (row.action, row.reviewer, row.level_before, row.level_after) == (Action.override, "dana", model.level, 1)
    assert row.status_before == "scored" and row.reason == "only talks about the team" and row.created_at
    confirmed = decide(run, first, action="confirm", reviewer="sam", seen=row.id)
    assert (confirmed.level_before, confirmed.level_after) == (1, model.level)  # before = the decision in force


def test_rows_are_append_only_and_the_latest_per_reviewer_is_current(run):
    first, second = criteria(run)[:2]
    a = decide(run, first, level=2, reason="r1")
    b = decide(run, first, level=4, reason="r2", reviewer="sam", seen=a.id)
    c = decide(run, first, level=3, reason="r3", seen=b.id)
    decide(run, second, level=5, reason="r4")
    rows = run.store.reviews("strong-candidate")
    assert [r.id for r in rows] == sorted(r.id for r in rows) and len(rows) == 4
    assert current(rows)[first] == c
    labels = current_by_reviewer(rows)
    assert labels[("strong-candidate", first, "dana")].level_after == 3
    assert labels[("strong-candidate", first, "sam")].level_after == 4
    run.store.add_note("strong-candidate", "dana", "a note", None)
    db = sqlite3.connect(run.store.store.path)
    for sql in ("UPDATE reviews SET level_after = 1", "DELETE FROM reviews", "DELETE FROM review_notes"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)


def test_a_stale_page_cannot_undo_a_newer_decision(run):
    first = criteria(run)[0]
    seen_by_both = None
    dana = decide(run, first, level=2, reason="weak", seen=seen_by_both)
    with pytest.raises(StaleReviewError, match="reviewed after this page was made") as caught:
        decide(run, first, level=5, reason="strong", reviewer="sam", seen=seen_by_both)
    assert caught.value.latest_id == dana.id
    assert current(run.store.reviews("strong-candidate"))[first].level_after == 2
    decide(run, first, level=5, reason="strong after all", reviewer="sam", seen=dana.id)  # after reloading


def test_two_connections_racing_on_one_criterion_store_exactly_one(run, tmp_path):
    stores = [RunFolder(tmp_path / "run").reviews() for _ in range(2)]  # two connections, as two servers have
    row = Review(id=0, transcript_id="strong-candidate", criterion_id=criteria(run)[0], reviewer="x",
                 action=Action.override, status_before=None, level_before=None, status_after="scored", level_after=3,
                 reason="r", created_at="")
    outcomes = []

    def attempt(store):
        try:
            outcomes.append(store.add_review(row, None).id)
        except StaleReviewError:
            outcomes.append("stale")

    threads = [threading.Thread(target=attempt, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str).count("stale") == 1 and len(run.store.reviews()) == 1


@pytest.mark.parametrize(("action", "level", "reason", "position", "message"), [
    ("override", None, "why", 0, "needs a level"),
    ("override", 3, "   ", 0, "needs a reason"),
    ("confirm", None, "", 5, "nothing to confirm"),  # the fixture's criterion 5 is unscored
    ("confirm", 1, "", 0, "confirm keeps the model's level"),
])
def test_decisions_that_make_no_sense_are_refused(run, action, level, reason, position, message):
    with pytest.raises(ReviewRefusedError, match=message):
        decide(run, criteria(run)[position], action=action, level=level, reason=reason)


def test_an_unknown_criterion_is_404(run):
    with pytest.raises(ReviewRefusedError) as caught:
        decide(run, "no-such-criterion", level=3, reason="x")
    assert caught.value.status == 404


def test_confirming_insufficient_evidence_keeps_it(run):
    row = decide(run, criteria(run)[3], action="confirm")
    assert (row.status_after, row.level_after) == ("insufficient_evidence", None)


def test_reviewed_scores_recompute_with_the_reviewed_levels(run):
    sheet = run.sheet("strong-candidate")
    competency = run.rubric.competencies[0]
    assert reviewed_scores(run.rubric, sheet, {})[competency.id].decision == next(
        c.decision for c in sheet.competencies if c.competency_id == competency.id)  # nothing reviewed: the model's
    for crit in competency.criteria:
        decide(run, crit.id, level=5, reason="excellent throughout")
    reviewed = reviewed_scores(run.rubric, sheet, current(run.store.reviews("strong-candidate")))[competency.id]
    assert (reviewed.score, reviewed.decision, reviewed.reviewed) == (5.0, Decision.passed, len(competency.criteria))
    for crit in competency.criteria:
        decide(run, crit.id, level="insufficient_evidence", reason="not asked", seen=current(
            run.store.reviews("strong-candidate"))[crit.id].id)
    reviewed = reviewed_scores(run.rubric, sheet, current(run.store.reviews("strong-candidate")))[competency.id]
    assert reviewed.score is None and (reviewed.score_low, reviewed.score_high) == (1.0, 5.0)


def test_notes_are_append_only_with_the_same_stale_check(run):
    note = run.store.add_note("strong-candidate", "dana", "strong on stats", None)
    with pytest.raises(StaleReviewError):
        run.store.add_note("strong-candidate", "sam", "weak on SQL", None)
    run.store.add_note("strong-candidate", "sam", "weak on SQL", note.id)
    assert run.store.latest_note("strong-candidate").note == "weak on SQL"


def test_gold_and_decision_frames(run):
    from grader.review.gold import decisions_frame, gold_frame

    first, second = criteria(run)[:2]
    a = decide(run, first, level=2, reason="thin")
    decide(run, first, level=4, reason="solid", reviewer="sam", seen=a.id)
    decide(run, second, level="insufficient_evidence", reason="never asked")
    gold = gold_frame(run.store.reviews())
    assert gold.frame.values.tolist() == [["strong-candidate", first, "dana", 2, "consensus", 3],
                                          ["strong-candidate", first, "sam", 4, "consensus", 3]]  # median, half up
    assert gold.left_out == 1  # insufficient evidence has no level
    frame = decisions_frame(run.store.reviews()).set_index("criterion_id")
    assert frame.loc[first, "reviewed_level"] == 4 and frame.loc[first, "reviewer"] == "sam"
    assert frame.loc[second, "reviewed_status"] == "insufficient_evidence"
