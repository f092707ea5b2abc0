import pytest

from grader.grading.aggregate import Decision, aggregate_competency, decide
from grader.grading.grades import CriterionGrade, Evidence, GradeStatus
from grader.ingest.rubric import Competency, Criterion

LEVELS = {i: f"level {i}" for i in range(1, 6)}
COMP = Competency(id="c", name="C", min_passing_score=3.8, criteria=[
    Criterion(id="a", name="A", weight=0.5, levels=LEVELS),
    Criterion(id="b", name="B", weight=0.25, levels=LEVELS),
    Criterion(id="d", name="D", weight=0.25, levels=LEVELS),
])
EV = Evidence(unit="2.1", turn=2, speaker="Sam", text="q")


def g(cid: str, level: int | None, status: GradeStatus = GradeStatus.scored, evidence: bool = True):
    return CriterionGrade(competency_id="c", criterion_id=cid, status=status, level=level,
                          evidence=[EV] if evidence else [])


def test_weighted_mean_when_all_count():
    r = aggregate_competency(COMP, [g("a", 4), g("b", 2), g("d", 5)])
    assert r.score == pytest.approx(0.5 * 4 + 0.25 * 2 + 0.25 * 5)
    assert (r.score_low, r.score_high, r.coverage, r.missing) == (r.score, r.score, 1.0, [])
    assert r.decision is Decision.failed  # 2 + 0.5 + 1.25 = 3.75 < 3.8

def test_missing_criteria_widen_the_range_and_never_become_numbers():
    grades = [g("a", 5), g("b", None, GradeStatus.unscored, evidence=False),
              g("d", 4, evidence=False)]  # a level without verified evidence does not count
    r = aggregate_competency(COMP, grades)
    assert r.score == 5.0 and r.coverage == 0.5 and r.missing == ["b", "d"]
    assert (r.score_low, r.score_high) == (pytest.approx(3.0), pytest.approx(5.0))
    assert r.decision is Decision.undetermined


def test_decision_is_certain_when_the_whole_range_is_on_one_side():
    fail = aggregate_competency(COMP, [g("a", 1), g("b", 1), g("d", None, GradeStatus.insufficient_evidence)])
    assert fail.score_high == pytest.approx(0.5 + 0.25 + 1.25) and fail.decision is Decision.failed
    ok = aggregate_competency(COMP, [g("a", 5), g("b", 5), g("d", None, GradeStatus.unscored)])
    assert ok.score_low == pytest.approx(4.0) and ok.decision is Decision.passed


def test_nothing_counted():
    r = aggregate_competency(COMP, [])
    assert r.score is None and (r.score_low, r.score_high) == (1.0, 5.0) and r.decision is Decision.undetermined


@pytest.mark.parametrize(("low", "high", "expected"), [
    (3.8, 3.8, Decision.passed), (3.79, 3.79, Decision.failed), (3.0, 4.0, Decision.undetermined)])
def test_decide(low, high, expected):
    assert decide(low, high, 3.8) is expected
