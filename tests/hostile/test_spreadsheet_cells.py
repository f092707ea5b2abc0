"""Spreadsheet formula injection (issue 21, defect 3): every CSV grader writes opens as text in a spreadsheet.

A cell that begins with `=`, `+`, `-`, `@`, a tab, a carriage return or a line feed runs as a formula in
Excel, LibreOffice or Google Sheets; OWASP's remedy is a leading single quote. Hostile dataset ids,
reviewer names, review reasons and demographics groups are written into a run graded on the fake
server; each CSV writer's file is read back with the csv module and every such cell must start with
`'`, while numbers (a negative one too) stay numbers and grader's own gold reader gets the ids back.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest

from grader.review.decisions import ReviewRequest, review_row
from grader.review.run import open_run
from grader.runs.reviews import current

from ..hostile_kit import Kit, invoke

LINK = '=HYPERLINK("http://x","y")'
# (dataset id, reviewer, review reason): each one starts like a formula
HOSTILE = [(LINK, "@SUM(A1)", "-2+3 is what they said"),
           ("+1", "\t=1", LINK),
           ("-2+3", "-reviewer", "@SUM(A1)"),
           ("@SUM(A1)", "=cmd|' /C calc'!A0", "+1 for clarity")]
DIALOGUE = "Interviewer: Tell me about a project you led?|Interviewee: I led the churn model rebuild. We cut " \
           "false alarms by a third.|Interviewer: How did you explain it?|Interviewee: I wrote a one-page summary."


def rows(path: Path) -> list[dict[str, str]]:
    """The file as a spreadsheet would see its cells: the csv module's reading, every cell a string."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def assert_escaped(cell: str, original: str) -> None:
    assert cell == "'" + original, f"{cell!r} is not the escaped {original!r}"


@pytest.fixture(scope="module")
def hostile_run(kit: Kit) -> Path:
    """A run of a dataset whose ids start like formulas, each transcript overridden by a hostile reviewer."""
    dataset = kit.folder / "formula-ids.csv"
    with dataset.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["interview_id", "transcript"])
        writer.writerows([tid, DIALOGUE] for tid, _, _ in HOSTILE)
    folder = kit.folder / "formula-run"
    result = invoke("batch", dataset, "--run", folder, *kit.grading)
    assert result.exit_code == 0, result.output
    run = open_run(folder)
    try:
        for n, (tid, reviewer, reason) in enumerate(HOSTILE):
            request = ReviewRequest(transcript_id=tid, criterion_id="clarity", action="override", level=1 + n % 5,
                                    reason=reason, reviewer=reviewer, seen_review_id=None)
            latest = current(run.store.reviews(tid)).get("clarity")
            run.store.add_review(review_row(request, run.sheet(tid), run.rubric, latest, "dana"), None)
    finally:
        run.close()
    return folder


def test_escape_cell_changes_only_text_that_starts_like_a_formula() -> None:
    from grader.spreadsheet import escape_cell, escape_frame, unescape_cell

    for text in (LINK, "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\n=1", "-0.5"):
        assert escape_cell(text) == "'" + text and unescape_cell(escape_cell(text)) == text
    for value in ("dana", "", "a=b", " =1", "'=1", "2024-06-01", -0.5, -3, 0, True, None, math.nan, pd.NA):
        assert escape_cell(value) is value or escape_cell(value) == value
    assert unescape_cell("'plain") == "'plain" and unescape_cell(-0.5) == -0.5  # only a quote before a formula
    frame = pd.DataFrame({"name": [LINK, "dana", None], "difference": [-0.5, 1.0, math.nan],
                          "level": pd.array([-1, 3, None], dtype="Int64"), "flag": [True, False, True],
                          "mixed": ["-2+3", -2.0, None], "group": pd.Categorical(["@x", "y", "@x"]),
                          "=sum": ["a", "b", "c"]})
    escaped = escape_frame(frame)
    assert escaped["name"].tolist()[:2] == ["'" + LINK, "dana"] and pd.isna(escaped["name"].iloc[2])
    assert escaped["difference"].dtype == frame["difference"].dtype and escaped["difference"].iloc[0] == -0.5
    assert escaped["level"].dtype == "Int64" and escaped["level"].iloc[0] == -1 and escaped["flag"].dtype == bool
    assert escaped["mixed"].tolist()[:2] == ["'-2+3", -2.0] and escaped["group"].tolist() == ["'@x", "y", "'@x"]
    assert list(escaped.columns) == ["name", "difference", "level", "flag", "mixed", "group", "'=sum"]
    assert frame["name"].iloc[0] == LINK  # the caller's frame is not changed


def test_export_csv_escapes_ids_reviewers_and_reasons(hostile_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    result = invoke("export", hostile_run, "--to", target)
    assert result.exit_code == 0, result.output
    by_id = {row["transcript_id"]: row for row in rows(target)}
    for tid, reviewer, reason in HOSTILE:
        row = by_id["'" + tid]
        assert_escaped(row["reviewer"], reviewer)
        assert_escaped(row["review_reason"], reason.strip())
        assert row["criterion_id"] == "clarity" and row["reviewed_level"].isdigit() and row["level"].isdigit()
    parquet = tmp_path / "export.parquet"  # Parquet is not a spreadsheet: its cells are kept as they are
    assert invoke("export", hostile_run, "--to", parquet).exit_code == 0
    assert set(pd.read_parquet(parquet)["transcript_id"]) == {tid for tid, _, _ in HOSTILE}


def test_gold_export_escapes_rater_ids_and_reads_back_as_the_run_ids(hostile_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "gold.csv"
    result = invoke("gold", "export", hostile_run, "--out", target)
    assert result.exit_code == 0, result.output
    written = rows(target)
    assert len(written) == len(HOSTILE)
    for row, (tid, reviewer, _) in zip(sorted(written, key=lambda r: r["transcript_id"][1:]),
                                       sorted(HOSTILE), strict=True):
        assert_escaped(row["transcript_id"], tid)
        assert_escaped(row["rater_id"], reviewer)
        assert row["score"].isdigit()
    # the run folder as --gold: its reviews go through the same escaped CSV and still match the run's ids
    out = tmp_path / "eval"
    result = invoke("eval", "--run", hostile_run, "--gold", hostile_run, "--out", out, "--n-boot", "5", "--no-html")
    assert result.exit_code == 0, result.output
    assert (hostile_run / "reviews-gold.csv").read_text() == target.read_text()
    assert "rows left out: 0" in (out / "report.md").read_text(encoding="utf-8")


def test_audit_csvs_escape_demographics_groups(hostile_run: Path, kit: Kit, tmp_path: Path) -> None:
    demographics = tmp_path / "demographics.csv"
    groups = ["-2+3", "-2+3", "@SUM(A1)", "@SUM(A1)"]
    with demographics.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["transcript_id", "=team"])
        writer.writerows([tid, group] for (tid, _, _), group in zip(HOSTILE, groups, strict=True))
    gold = tmp_path / "gold.csv"
    assert invoke("gold", "export", hostile_run, "--out", gold).exit_code == 0
    out = tmp_path / "audit"
    result = invoke("audit", hostile_run, "--demographics", demographics, "--gold", gold, "--boot", "100",
                    "--out", out)
    assert result.exit_code == 0, result.output
    for name in ("impact.csv", "scores.csv", "agreement.csv"):
        written = rows(out / name)
        assert written, name
        assert {row["attribute"] for row in written} == {"'=team"}, name
        assert {row["group"] for row in written} == {"'-2+3", "'@SUM(A1)"}, name
    for row in rows(out / "impact.csv"):
        assert row["n"] == "2" and not row["selection_rate"].startswith("'")


def test_agreement_report_csvs_escape_text_cells(hostile_run: Path, tmp_path: Path) -> None:
    from grader.agreement.load import GoldSpec
    from grader.api import evaluation

    gold = tmp_path / "gold.csv"
    assert invoke("gold", "export", hostile_run, "--out", gold).exit_code == 0
    result = evaluation(hostile_run, GoldSpec(gold), n_boot=5, decisions=True)
    assert result.decisions is not None and len(result.decisions)
    result.table.loc[result.table.index[0], ["scope", "quadratic_kappa_score"]] = [LINK, -0.5]
    result.decisions.loc[result.decisions.index[0], "competency"] = "@SUM(A1)"
    result.write_report(tmp_path / "report", html=False)
    figures = rows(tmp_path / "report" / "figures.csv")
    assert_escaped(figures[0]["scope"], LINK)
    assert figures[0]["quadratic_kappa_score"] == "-0.5"  # a negative number stays a number
    assert_escaped(rows(tmp_path / "report" / "decisions.csv")[0]["competency"], "@SUM(A1)")


def test_compare_out_csv_escapes_text_cells(hostile_run: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import grader.agreement.evaluate as evaluate

    real = evaluate.comparison_table

    def hostile_table(*args: object, **kwargs: object) -> pd.DataFrame:
        table = real(*args, **kwargs)
        table.loc[table.index[0], ["scope", "difference"]] = ["-2+3", -0.5]
        return table

    monkeypatch.setattr(evaluate, "comparison_table", hostile_table)
    gold, target = tmp_path / "gold.csv", tmp_path / "compare.csv"
    assert invoke("gold", "export", hostile_run, "--out", gold).exit_code == 0
    result = invoke("compare", "--run-a", hostile_run, "--run-b", hostile_run, "--gold", gold, "--n-boot", "5",
                    "--out", target)
    assert result.exit_code == 0, result.output
    first = rows(target)[0]
    assert_escaped(first["scope"], "-2+3")
    assert first["difference"] == "-0.5"
