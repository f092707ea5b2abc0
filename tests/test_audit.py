"""Adverse-impact audit: a worked example with known rates and ratios, the outcome rules, the report and the CLI."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import fisher_exact
from typer.testing import CliRunner

from grader.audit import (
    AuditOptions,
    AuditResult,
    GoldInput,
    audit_run,
    impact_rows,
    outcomes_from_levels,
    write_report,
)
from grader.audit.agreement import agreement_by_group, human_pairs
from grader.audit.impact import IMPACT_COLUMNS, above_median, cohen_d
from grader.audit.outcomes import model_outcomes, overall
from grader.errors import GraderError
from grader.grading.grades import CriterionGrade, Evidence, GradeStatus
from grader.ingest.rubric import load_rubric
from grader.runs.folder import RUN_DB
from grader.runs.store import RunStore

HOSTILE = "<script>alert(1)</script>"


def sheet(tid: str, decision: str, score: float | None) -> str:
    """A minimal score sheet: the audit reads only the transcript id and the competencies."""
    comps = [{"competency_id": cid, "name": name, "decision": decision, "score": score}
             for cid, name in (("analysis", "Analysis"), ("communication", "Communication"))]
    return json.dumps({"transcript_id": tid, "competencies": comps})


def people() -> list[tuple[str, str, str, str]]:
    """(id, race, decision, score): the EEOC's example, White 48/80 = 60%, Black 12/40 = 30%, ratio 0.5.

    Three more Black candidates are undetermined (left out, not fails); two Asian candidates both pass
    but are too few to conclude (under 5 people and under 2%).
    """
    def score(i: int, passes: int) -> float:
        return 4.0 + i % 2 / 2 if i < passes else 2.0  # passes alternate 4.0 and 4.5

    rows = [(f"w{i:02d}", "White", "pass" if i < 48 else "fail", score(i, 48)) for i in range(80)]
    rows += [(f"b{i:02d}", "Black", "pass" if i < 12 else "fail", score(i, 12)) for i in range(40)]
    rows += [(f"u{i}", "Black", "undetermined", None) for i in range(3)]
    rows += [(f"a{i}", "Asian", "pass", 4.5) for i in range(2)]
    return rows


@pytest.fixture
def worked(tmp_path: Path) -> tuple[Path, Path]:
    return write_worked(tmp_path)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    """The worked example audited once for the tests that only read the result."""
    return audit_run(*write_worked(tmp_path_factory.mktemp("worked")))


def write_worked(tmp_path: Path) -> tuple[Path, Path]:
    run = tmp_path / "run"
    store = RunStore(run / RUN_DB)
    for tid, _, decision, score in people():
        store.mark_transcript(tid, f"{tid}.txt", "done", sheet=sheet(tid, decision, score))
    store.mark_transcript("x1", "x1.txt", "failed", error="unreadable")  # not finished: not in the audit
    store.close()
    rows = [{"transcript_id": tid, "race": race, "sex": "female" if i % 2 else "male",
             "site": HOSTILE if i % 3 == 0 else "remote"} for i, (tid, race, _, _) in enumerate(people())]
    rows.append({"transcript_id": "nobody", "race": "White", "sex": "male", "site": "remote"})
    demographics = tmp_path / "demographics.csv"
    pd.DataFrame(rows).to_csv(demographics, index=False)
    return run, demographics


def overall_selection(impact: pd.DataFrame, attribute: str) -> pd.DataFrame:
    part = impact[(impact["outcome"] == "overall") & (impact["rate_kind"] == "selection")
                  & (impact["attribute"] == attribute)]
    return part.set_index("group")


def test_worked_example_rates_ratios_and_flags(audited: AuditResult) -> None:
    result = audited
    race = overall_selection(result.impact, "race")
    assert race.loc["White", ["n", "selected", "selection_rate", "impact_ratio"]].tolist() == [80, 48, 0.6, 1.0]
    black = race.loc["Black"]
    assert (black["n"], black["selected"], black["excluded"]) == (40, 12, 3)
    assert black["selection_rate"] == pytest.approx(0.3)
    assert black["impact_ratio"] == pytest.approx(0.5)
    assert bool(black["four_fifths_flag"]) and not bool(black["too_small"])
    assert black["p_value"] == pytest.approx(fisher_exact([[12, 28], [48, 32]]).pvalue)
    assert black["ratio_low"] < 0.5 < black["ratio_high"] < 0.8
    asian = race.loc["Asian"]  # 100% but too small: marked, never the reference
    assert bool(asian["too_small"]) and asian["reference_group"] == "White"
    assert asian["impact_ratio"] == pytest.approx(1 / 0.6)
    assert result.counts == {"graded": 125, "audited": 125, "no_demographics": 0, "demographics_unmatched": 1}


def test_intersectional_groups_and_scoring_rate(audited: AuditResult) -> None:
    impact = audited.impact
    assert "race × sex" in set(impact["attribute"])
    assert "Black × female" in set(overall_selection(impact, "race × sex").index)
    scoring = impact[(impact["outcome"] == "overall") & (impact["rate_kind"] == "scoring")
                     & (impact["attribute"] == "race")].set_index("group")
    # 122 scores: 60 of 2.0, 30 of 4.0, 32 of 4.5; the median is 4.0 and only scores above it count
    assert scoring.loc["White", ["n", "selected"]].tolist() == [80, 24]
    assert scoring.loc["Black", ["n", "selected", "excluded"]].tolist() == [40, 6, 3]
    assert scoring.loc["Black", "impact_ratio"] == pytest.approx(0.5)


def test_report_files_columns_and_escaping(audited: AuditResult, tmp_path: Path) -> None:
    paths = write_report(audited, tmp_path / "audit")
    assert {p.name for p in paths} == {"impact.csv", "scores.csv", "report.md", "report.html"}
    impact = pd.read_csv(tmp_path / "audit" / "impact.csv")
    assert list(impact.columns[: len(IMPACT_COLUMNS)]) == IMPACT_COLUMNS
    html = (tmp_path / "audit" / "report.html").read_text()
    assert HOSTILE not in html and "&lt;script&gt;" in html
    md = (tmp_path / "audit" / "report.md").read_text()
    assert HOSTILE not in md
    assert "| race | Black | 40 | 12 | 3 | 30.0% | 0.50 \\[" in md  # Markdown-escaped bracket


def test_overall_rule() -> None:
    assert overall(["pass", "pass"], [4.0, 3.0]) == ("pass", 3.5)
    assert overall(["pass", "fail"], [4.0, 1.0])[0] == "fail"
    assert overall(["pass", "undetermined"], [4.0, None]) == ("undetermined", None)
    assert overall(["fail", "undetermined"], [1.0, 2.0])[0] == "fail"


def test_undetermined_is_excluded_not_failed() -> None:
    selected = pd.Series([1.0, 0.0, math.nan, math.nan, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
                         index=[f"t{i}" for i in range(10)])
    groups = pd.Series(["a"] * 5 + ["b"] * 5, index=selected.index)
    rows = impact_rows(selected, groups).set_index("group")
    assert (rows.loc["a", "n"], rows.loc["a", "selected"], rows.loc["a", "excluded"]) == (3, 2, 2)


def test_too_small_groups_are_never_flagged_nor_the_reference() -> None:
    ids = [f"t{i}" for i in range(104)]
    selected = pd.Series([1.0] * 80 + [0.0] * 20 + [0.0, 0.0] + [1.0, 1.0], index=ids)
    groups = pd.Series(["big"] * 100 + ["pair"] * 2 + ["solo"] * 2, index=ids)
    rows = impact_rows(selected, groups).set_index("group")
    pair = rows.loc["pair"]  # 0% against 80%, but two people: shown with its counts, not flagged
    assert bool(pair["too_small"]) and not bool(pair["four_fifths_flag"])
    assert (pair["n"], pair["selected"], pair["reference_group"]) == (2, 0, "big")
    tiny = impact_rows(selected[100:], groups[100:]).set_index("group")  # only groups too small: no reference
    assert tiny["too_small"].all() and not tiny["four_fifths_flag"].any()
    assert set(tiny["reference_group"]) == {""} and tiny["impact_ratio"].isna().all()
    assert tiny["n"].tolist() == [2, 2]


def test_above_median_and_cohen_d() -> None:
    assert above_median(pd.Series([1.0, 2.0, 3.0, math.nan])).tolist()[:3] == [0.0, 0.0, 1.0]
    assert math.isnan(above_median(pd.Series([1.0, math.nan])).iloc[1])
    assert cohen_d(pd.Series([2.0, 4.0]).to_numpy(), pd.Series([1.0, 3.0]).to_numpy()) == pytest.approx(1 / 2 ** 0.5)


def test_decisions_from_levels_use_the_rubric() -> None:
    rubric = load_rubric("mit-interview")
    criteria = [c.id for _, c in rubric.criteria()]
    levels = pd.DataFrame([{"transcript_id": t, "criterion_id": c, "level": level}
                           for t, level in (("high", 5), ("low", 1), ("none", math.nan)) for c in criteria])
    decided = outcomes_from_levels(levels, rubric).set_index(["transcript_id", "outcome"])["decision"]
    assert (decided["high", "overall"], decided["low", "overall"], decided["none", "overall"]) == \
        ("pass", "fail", "undetermined")


def test_reviewed_source_without_reviews_names_what_is_missing(worked: tuple[Path, Path]) -> None:
    with sqlite3.connect(worked[0] / RUN_DB) as db:
        db.execute("DROP TABLE IF EXISTS reviews")
    with pytest.raises(GraderError, match="no such table: reviews"):  # a damaged store: named, not a traceback
        audit_run(*worked, source="reviewed", rubric=load_rubric("mit-interview"))


def test_reviewed_source_with_no_review_yet_says_so(tmp_path_factory: pytest.TempPathFactory) -> None:
    run, demographics = write_worked(tmp_path_factory.mktemp("unreviewed"))
    with pytest.raises(GraderError, match="no transcript of this run has a review yet"):
        audit_run(run, demographics, source="reviewed", rubric="mit-interview")  # a run graded before manifests


def test_reviewed_source_recomputes_decisions(worked: tuple[Path, Path]) -> None:
    rubric = load_rubric("mit-interview")
    with sqlite3.connect(worked[0] / RUN_DB) as db:
        db.execute("CREATE TABLE IF NOT EXISTS reviews (id INTEGER PRIMARY KEY AUTOINCREMENT, transcript_id TEXT, "
                   "criterion_id TEXT, reviewer TEXT, action TEXT, status_before TEXT, level_before INTEGER, "
                   "status_after TEXT, level_after INTEGER, reason TEXT, created_at TEXT)")
        for tid, level in (("w00", 1), ("w00", 5), ("b20", 5)):  # w00: the later review wins
            db.executemany("INSERT INTO reviews (transcript_id, criterion_id, reviewer, action, status_after, "
                           "level_after, reason, created_at) VALUES (?, ?, 'r', 'override', 'scored', ?, 'x', 't')",
                           [(tid, c.id, level) for _, c in rubric.criteria()])
    result = audit_run(*worked, source="reviewed", rubric=rubric)
    assert result.counts["graded"] == 2  # only reviewed transcripts
    race = overall_selection(result.impact, "race")
    assert race.loc["White", "selected"] == 1 and race.loc["Black", "selected"] == 1


def test_demographics_without_matching_ids(worked: tuple[Path, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    pd.DataFrame({"candidate": ["zz"], "sex": ["female"]}).to_csv(other, index=False)
    with pytest.raises(GraderError, match="id column"):
        audit_run(worked[0], other)
    with pytest.raises(GraderError, match="no id of the demographics file"):
        audit_run(worked[0], other, id_column="candidate")


def test_model_outcomes_read_only_what_they_need(tmp_path: Path) -> None:
    store = RunStore(tmp_path / RUN_DB)
    store.mark_transcript("t1", "t1.txt", "done", sheet=json.dumps(
        {"transcript_id": "t1", "future_field": {"x": 1},
         "competencies": [{"id": "c", "name": "C", "decision": "pass", "score": 4, "new": []}]}))
    frame = model_outcomes(store)
    assert frame.set_index("outcome").loc["overall", "decision"] == "pass"


def test_agreement_per_group() -> None:
    model = pd.DataFrame({"transcript_id": ["a1", "a2", "a3", "b1", "b2", "b3", "b4"],
                          "criterion_id": ["k"] * 7, "level": [3, 4, 2, 4, 5, 3, math.nan]})
    human = model.assign(level=[3, 4, 2, 3, 4, 2, 3])
    groups = {"sex": pd.Series({"a1": "f", "a2": "f", "a3": "f", "b1": "m", "b2": "m", "b3": "m", "b4": "m"})}
    table = agreement_by_group(human_pairs(model, human), groups, n_boot=50).set_index("group")
    assert table.loc["f", "exact_agreement_score"] == 1.0 and table.loc["m", "exact_agreement_score"] == 0.0
    assert table.loc["m", "bias"] == 1.0 and table.loc["m", "unpaired"] == 1


def test_cli_writes_the_report(worked: tuple[Path, Path], tmp_path: Path) -> None:
    from grader.cli import app

    run, demographics = worked
    result = CliRunner().invoke(app, ["audit", str(run), "--demographics", str(demographics), "--out",
                                      str(tmp_path / "out"), "--boot", "200"])
    assert result.exit_code == 0, result.output
    assert "race = Black" in result.output
    assert (tmp_path / "out" / "report.html").is_file()
    bad = CliRunner().invoke(app, ["audit", str(tmp_path / "nowhere"), "--demographics", str(demographics)])
    assert bad.exit_code != 0 and "no run store" in bad.output


def test_gold_adds_agreement_per_group(worked: tuple[Path, Path], tmp_path: Path) -> None:
    run, demographics = worked
    store = RunStore(run / RUN_DB)
    gold_rows = []
    for i in range(10):
        for tid, model_level, human in ((f"w{i:02d}", 2 + i % 3, 2 + i % 3), (f"b{i:02d}", 3 + i % 3, 2 + i % 3)):
            store.put(f"{tid}-k", tid, CriterionGrade(
                competency_id="analysis", criterion_id="k", status=GradeStatus.scored, level=model_level,
                evidence=[Evidence(unit="1.1", turn=1, speaker="S", text="q")]))
            gold_rows.append({"transcript_id": tid, "criterion_id": "k", "rater_id": "r1", "score": human})
    store.close()
    gold = tmp_path / "gold.csv"
    pd.DataFrame(gold_rows).to_csv(gold, index=False)
    result = audit_run(run, demographics, gold=GoldInput(gold), attributes=["race"],
                       options=AuditOptions(n_boot=200, agreement_boot=50))
    assert result.agreement is not None
    race = result.agreement[result.agreement["attribute"] == "race"].set_index("group")
    assert race.loc["White", "exact_agreement_score"] == 1.0 and race.loc["White", "pairs"] == 10
    assert race.loc["Black", "exact_agreement_score"] == 0.0 and race.loc["Black", "bias"] == 1.0
    paths = write_report(result, tmp_path / "audit")
    assert "agreement.csv" in {p.name for p in paths}
    assert "Agreement with humans per group" in (tmp_path / "audit" / "report.md").read_text()


def test_cli_reviewed_source_takes_the_runs_rubric(worked: tuple[Path, Path], tmp_path: Path) -> None:
    from grader.cli import app

    run, demographics = worked
    args = ["audit", str(run), "--demographics", str(demographics), "--source", "reviewed", "--out",
            str(tmp_path / "out"), "--boot", "100", "--attribute", "race"]
    no_rubric = CliRunner().invoke(app, args)  # a run without a manifest does not know its rubric
    assert no_rubric.exit_code != 0 and "--rubric" in no_rubric.output
    unreviewed = CliRunner().invoke(app, [*args, "--rubric", "mit-interview"])  # nobody has reviewed anything
    assert unreviewed.exit_code != 0 and "review" in unreviewed.output
