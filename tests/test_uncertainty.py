"""Review the uncertain first (issue 20, item 4): each grade's uncertainty, its order, and the coverage curve."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from grader.agreement.coverage import FRACTIONS, coverage_table
from grader.cli.app import app
from grader.grading.grades import CriterionGrade, Evidence, GradeStatus, LevelProbabilities
from grader.grading.panel import DEFAULT_JUDGE, JudgeInfo, PanelInfo, aggregate
from grader.grading.uncertainty import Uncertainty, by_uncertainty, level_entropy, rank_key, uncertainty
from grader.ingest.rubric import load_rubric
from grader.runs.store import RunStore

from .conftest import ROOT
from .test_panels import BASE, sample

RUBRIC = ROOT / "rubrics" / "mit-interview.yaml"
EVIDENCE = [Evidence(unit="2.1", turn=2, speaker="Sam", text="I would track MAE weekly.")]


def single(level: int | None = 3, *, status: GradeStatus = GradeStatus.scored, cited: bool = True,
           probs: dict[str, float] | None = None, criterion: str = "x") -> CriterionGrade:
    level_probs = LevelProbabilities(probs=probs, expected=None, mass=0.9, top_logprobs=10) if probs else None
    return CriterionGrade(competency_id="c", criterion_id=criterion, status=status, level=level,
                          evidence=EVIDENCE if cited else [], level_probs=level_probs)


def samples_of(*levels: int | str, judges: tuple[str, ...] = (DEFAULT_JUDGE,)) -> CriterionGrade:
    """k samples of each judge (levels given judge after judge)."""
    k = len(levels) // len(judges)
    info = PanelInfo(samples=k, judges=tuple(JudgeInfo(name=j, server="http://127.0.0.1", model="m") for j in judges))
    drawn = [sample(judge, level, i) for n, judge in enumerate(judges)
             for i, level in enumerate(levels[n * k:(n + 1) * k])]
    return aggregate(BASE, drawn, info)


# ---- each grade's uncertainty ---------------------------------------------------------------------------------------

def test_a_grade_without_signals_is_certain_and_a_failed_one_is_not():
    assert uncertainty(single()) == Uncertainty(0.0, 0.0, {})
    assert uncertainty(single()).basis == "none"
    assert uncertainty(single(None, status=GradeStatus.unscored)).signals == {"failed": 1.0}
    assert uncertainty(single(3, cited=False)).score == 1.0  # a level citing no sentence stands on nothing
    assert uncertainty(single(None, status=GradeStatus.insufficient_evidence)).score == 0.0  # an answer


def test_the_spread_of_samples_and_the_share_without_a_level():
    assert uncertainty(samples_of(3, 3, 3)).signals == {"samples": 0.0}
    assert uncertainty(samples_of(3, 3, 5)).signals == {"samples": 0.5}
    assert uncertainty(samples_of(1, 5, 3, 3, 3)).signals == {"samples": 1.0}
    assert uncertainty(samples_of(3, 3, "failed")).signals["samples"] == pytest.approx(1 / 3)
    assert uncertainty(samples_of(2, "insufficient", "insufficient", 2)).signals["samples"] == pytest.approx(0.5)
    assert uncertainty(samples_of("insufficient", "insufficient", "insufficient")).score == 0.0


def test_the_disagreement_of_judges_and_of_each_judges_samples():
    two = uncertainty(samples_of(2, 4, judges=("a", "b")))
    assert two.signals == {"judges": 0.5}  # k = 1: no samples signal
    three = uncertainty(samples_of(3, 3, 3, "failed", judges=("a", "b", "c", "d")))
    assert three.signals == {"judges": 0.25}  # one judge of four without a level
    both = uncertainty(samples_of(3, 4, 3, 3, judges=("a", "b")))  # a: 3, 4 (spread 1); b: 3, 3
    assert both.signals == {"samples": 0.25, "judges": 0.0} and both.score == 0.25 and both.mean == 0.125


def test_the_entropy_of_the_level_probabilities():
    sure = {"1": 0.0, "2": 0.0, "3": 1.0, "4": 0.0, "5": 0.0, "insufficient_evidence": 0.0}
    even = dict.fromkeys(sure, 1 / 6)
    split = {**dict.fromkeys(sure, 0.0), "3": 0.5, "4": 0.5}
    assert level_entropy(sure) == 0.0 and level_entropy(even) == pytest.approx(1.0)
    assert level_entropy(split) == pytest.approx(math.log(2) / math.log(6))
    assert level_entropy({"3": 1.0}) is None and level_entropy(dict.fromkeys(sure, 0.0)) is None
    assert uncertainty(single(probs=split)).signals == {"entropy": pytest.approx(math.log(2) / math.log(6))}
    mixed = single(3, cited=False, probs=split)
    assert uncertainty(mixed).score == 1.0 and uncertainty(mixed).basis == "entropy, failed"


def test_the_order_puts_the_most_uncertain_first_with_documented_ties():
    graded = [("t2", "a", single()), ("t1", "b", single()),  # no signal: last, by transcript then criterion
              ("t3", "a", samples_of(3, 3, 5)),  # 0.5 alone
              ("t4", "a", samples_of(3, 4, 3, 5, judges=("a", "b"))),  # samples 0.5, judges 0.0
              ("t5", "a", single(None, status=GradeStatus.unscored)),  # 1.0
              ("t6", "a", samples_of(3, 3, 5, 4, 4, 4, judges=("a", "b")))]  # samples 0.5, judges 0.25
    order = [(tid, cid) for tid, cid, _, _ in by_uncertainty(graded)]
    assert order == [("t5", "a"), ("t3", "a"), ("t6", "a"), ("t4", "a"), ("t1", "b"), ("t2", "a")]
    # equal score and mean: more signals first
    one, two = Uncertainty(0.5, 0.5, {"samples": 0.5}), Uncertainty(0.5, 0.5, {"samples": 0.5, "entropy": 0.5})
    assert rank_key(two, "z") < rank_key(one, "a")
    assert rank_key(Uncertainty(0.5 + 1e-12, 0.5, {}), "b") > rank_key(Uncertainty(0.5, 0.5, {}), "a")  # float noise


# ---- the coverage curve ---------------------------------------------------------------------------------------------

def synthetic(n: int = 400, wrong_share: float = 0.3, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gold = rng.integers(1, 6, n).astype(float)
    wrong = rng.random(n) < wrong_share
    level = gold.copy()
    level[wrong] = np.clip(gold[wrong] + rng.choice([-2, -1, 1, 2], wrong.sum()), 1, 5)
    level[wrong & (level == gold)] = np.where(gold[wrong & (level == gold)] > 3, 1, 5)
    return level, gold, level != gold


def test_an_uncertainty_that_ranks_the_errors_rises_faster_than_random():
    level, gold, wrong = synthetic()
    errors = int(wrong.sum())
    table = coverage_table(level, gold, wrong.astype(float), seeds=10).set_index("fraction")
    start = table.loc[0.0]
    assert start["sent"] == 0 and start["uncertain_quadratic_kappa_score"] == start["random_quadratic_kappa_score"]
    for fraction in FRACTIONS[1:]:
        row = table.loc[fraction]
        assert row["uncertain_quadratic_kappa_score"] > row["random_quadratic_kappa_score"] + 0.05
        assert row["uncertain_exact_agreement_score"] > row["random_exact_agreement_score"]
        assert row["uncertain_errors_caught"] == pytest.approx(min(row["sent"], errors) / errors)
        assert row["random_errors_caught"] == pytest.approx(fraction, abs=0.05)  # at random, x% of the errors
        assert row["random_sd_quadratic_kappa_score"] > 0
    assert table.loc[0.3, "uncertain_exact_agreement_score"] == pytest.approx(
        1 - max(errors - table.loc[0.3, "sent"], 0) / len(gold))
    assert table.loc[0.5, "uncertain_quadratic_kappa_score"] == 1.0  # every error sent by then


def test_an_uncertainty_unrelated_to_the_errors_follows_the_baseline():
    level, gold, _ = synthetic(n=3000, seed=5)
    rng = np.random.default_rng(11)
    for score in (rng.random(len(gold)), np.zeros(len(gold))):  # unrelated, or no signal at all (every grade tied)
        table = coverage_table(level, gold, score, seeds=10)
        gap = table["uncertain_quadratic_kappa_score"] - table["random_quadratic_kappa_score"]
        assert gap.abs().max() < 0.03
        assert (table["uncertain_errors_caught"] - table["fraction"]).abs().max() < 0.04


def test_the_baseline_is_the_same_for_the_same_seeds():
    level, gold, wrong = synthetic(n=100)
    first = coverage_table(level, gold, wrong.astype(float), seeds=5)
    pd.testing.assert_frame_equal(first, coverage_table(level, gold, wrong.astype(float), seeds=5))


# ---- grader eval: the report's section and coverage.csv ------------------------------------------------------------

def make_run(path, confident_errors: bool) -> None:
    """20 candidates x 5 criteria; a third of the levels wrong. The probabilities are spread out on the wrong
    levels (and sure on the right ones), or, with `confident_errors`, sure everywhere."""
    store = RunStore(path / "run.sqlite")
    store.set_meta({"model": "m", "prompt_version": "p/1"})
    criteria = [(comp.id, crit.id) for comp, crit in load_rubric(RUBRIC).criteria()]
    gold_rows = []
    for i in range(20):
        for j, (comp, crit) in enumerate(criteria):
            gold = 1 + (i + j) % 5
            wrong = (i * 5 + j) % 3 == 0
            level = (gold % 5) + 1 if wrong else gold
            probs = {str(lv): float(lv == level) for lv in range(1, 6)} | {"insufficient_evidence": 0.0}
            if wrong and not confident_errors:
                probs = {str(lv): 0.2 for lv in range(1, 6)} | {"insufficient_evidence": 0.0}
            grade = CriterionGrade(competency_id=comp, criterion_id=crit, status=GradeStatus.scored, level=level,
                                   model="m", evidence=EVIDENCE,
                                   level_probs=LevelProbabilities(probs=probs, expected=float(level), mass=0.9,
                                                                  top_logprobs=10))
            store.put(f"p{i}-{crit}", f"p{i}", grade)
            gold_rows.append(f"p{i},{crit},r1,{gold}")
    (path / "gold.csv").write_text("transcript_id,criterion_id,rater_id,score\n" + "\n".join(gold_rows) + "\n")


@pytest.mark.parametrize("confident_errors", [False, True])
def test_eval_reports_the_coverage_curve(tmp_path, confident_errors):
    make_run(tmp_path, confident_errors)
    result = CliRunner().invoke(app, ["eval", "--run", str(tmp_path), "--gold", str(tmp_path / "gold.csv"),
                                      "--rubric", str(RUBRIC), "--n-boot", "20"])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")
    assert "## Review the uncertain first: coverage curve" in report
    html = (tmp_path / "eval" / "report.html").read_text(encoding="utf-8")  # the section and its plot
    assert "<h2>Review the uncertain first: coverage curve</h2>" in html and "<th>κ quadratic: random</th>" in html
    assert 'alt="agreement with the gold as the most uncertain grades are sent to people' in html
    assert "| sent | grades | κ quadratic: uncertain first | κ quadratic: random |" in report
    assert "Grades with an uncertainty signal: 100 of 100 (entropy 100)" in report
    curve = pd.read_csv(tmp_path / "eval" / "coverage.csv").set_index("fraction")
    assert list(curve.index) == list(FRACTIONS) and curve.loc[0.1, "sent"] == 10
    gain = curve.loc[0.3, "uncertain_quadratic_kappa_score"] - curve.loc[0.3, "random_quadratic_kappa_score"]
    if confident_errors:  # every grade as sure as the next: the ranking is chance
        assert abs(gain) < 0.15
    else:  # the errors are the uncertain ones: sent first
        assert curve.loc[0.3, "uncertain_errors_caught"] > 0.85 and gain > 0.1


def test_a_run_without_signals_says_its_curve_is_chance(tmp_path):
    make_run(tmp_path, confident_errors=True)
    store = RunStore(tmp_path / "run.sqlite")
    for row, grade in list(store.grades()):  # the same grades, without level probabilities
        store.put(row["key"], row["transcript_id"], grade.model_copy(update={"level_probs": None}))
    result = CliRunner().invoke(app, ["eval", "--run", str(tmp_path), "--gold", str(tmp_path / "gold.csv"),
                                      "--rubric", str(RUBRIC), "--n-boot", "20", "--no-html"])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")
    assert "No grade of this run has an uncertainty signal" in report
    assert "Grades with an uncertainty signal: 0 of 100 (none)" in report


def test_the_review_queue_can_put_the_most_uncertain_transcripts_first(tmp_path):
    """`GET /api/queue?order=uncertainty` (and the run page's sort) orders by the most uncertain grade of each
    transcript, as `grader.grading.uncertainty` scores it; the default stays id order."""
    from starlette.testclient import TestClient

    from grader.grading.uncertainty import uncertainty
    from grader.review.app import create_app
    from grader.review.run import open_run
    from grader.review.security import Guard

    from .review_fixtures import copy_run

    run = copy_run(tmp_path / "run", extra=True)
    _unsure(run, "weak-candidate")  # its grades get flat level probabilities: high entropy
    opened = open_run(run)
    scores = {s.transcript_id: [uncertainty(g).score for g in s.grades] for s in opened.sheets()}
    expected = {tid: (max(v), sum(v) / len(v)) for tid, v in scores.items()}
    with TestClient(create_app(opened, reviewer="dana", guard=Guard(allowed_hosts=("testserver",)))) as client:
        by_id = client.get("/api/queue").json()
        ranked = client.get("/api/queue?order=uncertainty").json()
        page = client.get("/?sort=uncertainty")
    opened.close()
    assert [r["transcript_id"] for r in by_id] == sorted(expected)
    # most uncertain grade first; the fixture gives every transcript an unscored grade, so the mean decides
    order = sorted(expected, key=lambda tid: (-expected[tid][0], -round(expected[tid][1], 6), tid))
    assert [r["transcript_id"] for r in ranked] == order != sorted(expected)
    highest = {tid: most for tid, (most, _) in expected.items()}
    assert {r["transcript_id"]: r["uncertainty"] for r in ranked} == pytest.approx(highest)
    assert page.status_code == 200 and "most uncertain grades first" in page.text


def _unsure(run, transcript_id: str) -> None:
    """Give every grade of one stored sheet flat level probabilities (entropy near its maximum)."""
    from grader.grading.grades import LevelProbabilities
    from grader.grading.sheet import ScoreSheet
    from grader.runs.folder import RunFolder

    store = RunFolder(run).open_store()
    text, _ = store.sheet_json(transcript_id)
    sheet = ScoreSheet.model_validate_json(text)
    flat = LevelProbabilities(level="3", probs={str(v): 0.2 for v in range(1, 6)} | {"insufficient_evidence": 0.0},
                              expected=3.0, mass=0.9, top_logprobs=10)
    grades = [g.model_copy(update={"level_probs": flat}) for g in sheet.grades]
    store.mark_transcript(transcript_id, sheet.source, "done", transcript_hash=sheet.run.transcript_hash,
                          sheet=sheet.model_copy(update={"grades": grades}).model_dump_json())
    store.close()


def test_the_html_sections_never_turn_text_into_markup():
    from grader.agreement.report_html import markdown_sections

    html = str(markdown_sections(["## A <b>title</b>", "", "| id | x |", "|---|---|",
                                  "| <script>alert(1)</script> | [a](javascript:alert(1)) |",
                                  "", "[c](https://e.example) ![i](https://t.example/p.png) <https://u.example>"]))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;title&lt;/b&gt;" in html and "href=" not in html and "<img" not in html  # no link, no fetch
