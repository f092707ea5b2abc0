"""`grader eval` end to end: a batch graded by the fake server, gold in the MIT layout, the report."""

import asyncio

import pandas as pd
from typer.testing import CliRunner

from grader.cli.app import app
from grader.grading.grades import Settings
from grader.grading.prompts import load_prompt
from grader.ingest.chunking import EstimatedTokens
from grader.ingest.inputs import iter_sources
from grader.ingest.rubric import load_rubric
from grader.llm.backend import Backend, BackendInfo, make_openai_client
from grader.runs.batch import BatchJob, RunOptions
from grader.runs.cost import DEFAULT_PRICES
from grader.runs.store import RunStore
from grader.testing import MODEL, FakeOpenAI

from .conftest import ROOT

RUBRIC = ROOT / "rubrics" / "mit-interview.yaml"


def grade_with_fake_server(dataset, run) -> None:
    """A batch of the dataset graded by the fake server (each criterion gets one level everywhere)."""
    server = FakeOpenAI().start()
    backend = Backend(client=make_openai_client(server.base_url, None, 5),
                      info=BackendInfo(model=MODEL, server="x", embedded=False, context_tokens=8192))
    job = BatchJob(rubric=load_rubric(RUBRIC), backend=backend, prompt=load_prompt(), settings=Settings(model=MODEL),
                   counter=EstimatedTokens(), store=RunStore(run / "run.sqlite"), prices=DEFAULT_PRICES,
                   options=RunOptions())
    asyncio.run(job.run(iter_sources([str(dataset)])))


def test_eval_writes_the_report_with_rule_counts_and_disagreements(tmp_path):
    rows = ["interview_id,participant,transcript"]
    for i in range(1, 7):
        for prefix in ("p", "pp"):
            rows.append(f"{prefix}{i},{i},\"Interviewer: Tell me about yourself.|Interviewee: I led a team of {i} "
                        f"students and we shipped a tutoring app in {prefix} weeks.|Interviewer: Why us?|"
                        f"Interviewee: I like building things that help people {i} times over.\"")
    dataset = tmp_path / "transcripts.csv"
    dataset.write_text("\n".join(rows) + "\n")
    gold = tmp_path / "ratings.csv"
    gold.write_text("interview_id,Overall,RecommendHiring,StructuredAnswers,Engaged,Friendly,EyeContact\n" + "\n".join(
        f"{p}{i},{3 + i * 0.5:.2f},{2 + i * 0.6:.2f},{4.1 + i * 0.1:.2f},{5 - i * 0.3:.2f},{4.4:.2f},6"
        for i in range(1, 7) for p in ("p", "pp")) + "\npx9,4,4,4,4,4,4\n")
    grade_with_fake_server(dataset, tmp_path / "run")

    result = CliRunner().invoke(app, ["eval", "--run", str(tmp_path / "run"), "--gold", str(gold), "--rubric",
                                      str(RUBRIC), "--id-column", "interview_id", "--group-pattern", r"\d+",
                                      "--n-boot", "100", "--transcripts", str(dataset)])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "run" / "eval" / "report.md").read_text()
    assert "quantiles 20/40/60/80% of each criterion's gold ratings" in report
    assert "row 14: transcript 'px9' is not in the run" in report  # reported, the rest evaluated
    assert "| overall (overall) | 60 / 60 | 0 | 0 | 0 |" in report and "| overall (criterion) | 12 / 12 |" in report
    assert "undefined (a rater is constant" in report  # the fake grades each criterion with one level
    assert "## Largest disagreements (counted levels)" in report and "model " in report
    assert "Human–human ceiling" not in report  # one rater: no ceiling to speak of
    assert "Level probabilities (G-Eval): NOT AVAILABLE in this run (not requested" in report
    sources = ["model", "stated", "calibrated", "baseline"]  # no level probabilities: no expected-level sources
    for source in sources:
        assert f"## {source}: " in report
    figures = pd.read_csv(tmp_path / "run" / "eval" / "figures.csv")
    assert list(figures["source"].unique()) == sources and len(figures) == len(sources) * (5 + 1 + 1)
    baseline = figures[(figures["source"] == "baseline") & (figures["kind"] == "overall")].iloc[0]
    assert baseline["pairs"] == 60  # every gold item predicted by a model fitted without its candidate
    assert "## Pass/fail decisions per competency" in report
    decisions = pd.read_csv(tmp_path / "run" / "eval" / "decisions.csv")
    assert set(decisions["source"]) == set(sources) and (decisions["transcripts"] <= 12).all()
    html = (tmp_path / "run" / "eval" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2 and "Largest disagreements" in html
    assert "<script" not in html  # self-contained, nothing fetched


CRITERIA = [crit.id for _, crit in load_rubric(RUBRIC).criteria()]


def ten_transcripts(tmp_path):
    """t0..t9 graded by the fake server; returns the run folder."""
    rows = ["interview_id,transcript"] + [
        f"t{i},\"Interviewer: Tell me about a project.|Interviewee: I built {i} things with my team.|"
        f"Interviewer: Why us?|Interviewee: I like your product and I want to learn.\"" for i in range(10)]
    dataset = tmp_path / "transcripts.csv"
    dataset.write_text("\n".join(rows) + "\n")
    grade_with_fake_server(dataset, tmp_path / "run")
    return tmp_path / "run"


def eval_with_long_gold(tmp_path, rows, *extra):
    gold = tmp_path / "gold.csv"
    gold.write_text("transcript_id,criterion_id,rater_id,score\n" + "\n".join(",".join(map(str, r)) for r in rows))
    result = CliRunner().invoke(app, ["eval", "--run", str(ten_transcripts(tmp_path)), "--gold", str(gold),
                                      "--rubric", str(RUBRIC), "--n-boot", "20", *extra])
    assert result.exit_code == 0 and result.exception is None, result.output  # no traceback
    out = tmp_path / "run" / "eval"
    return (out / "report.md").read_text(), (out / "report.html").read_text(), pd.read_csv(out / "figures.csv")


def test_eval_with_raters_who_split_the_work(tmp_path):
    # r1 scored t0..t4, r2 scored t5..t9: no item was rated twice (issue 13, reproducer 1)
    rows = [(f"t{i}", crit, "r1" if i < 5 else "r2", 1 + (i + j) % 5)
            for i in range(10) for j, crit in enumerate(CRITERIA)]
    report, html, figures = eval_with_long_gold(tmp_path, rows)
    assert "raters: 2" in report and "No human ceiling can be computed" in report and "split the work" in report
    assert "No human ceiling can be computed" in html
    assert "## Human–human ceiling" in report and "<h2>Human–human ceiling</h2>" in html
    assert "Undefined for every scope (no item was rated by two or more raters: the raters split the work)" in report
    overall = figures[(figures["source"] == "model") & (figures["kind"] == "overall")].iloc[0]
    assert pd.isna(overall["krippendorff_alpha"]) and "split the work" in overall["krippendorff_alpha_undefined"]
    assert pd.isna(overall["human_quadratic_kappa_mean"])
    assert "split the work" in overall["human_quadratic_kappa_mean_undefined"]
    # the model against the gold is unaffected: every item has its one rater's level as gold
    assert overall["pairs"] == 10 * len(CRITERIA) and pd.notna(overall["quadratic_kappa_score"])
    assert pd.notna(overall["exact_agreement_score_low"])
    # the report names its interval: BCa unless asked otherwise
    assert "Intervals are 95% bias-corrected and accelerated (BCa) bootstrap intervals" in report
    assert "bias-corrected and accelerated (BCa) bootstrap intervals" in html


def test_eval_when_the_items_rated_twice_all_agree_on_one_level(tmp_path):
    # t0 is rated 3 by both raters; the singly rated items differ (issue 13, reproducer 2)
    rows = [(t, crit, rater, score) for crit in CRITERIA
            for t, rater, score in [("t0", "r1", 3), ("t0", "r2", 3), ("t1", "r1", 3), ("t2", "r2", 5),
                                    ("t3", "r1", 1), ("t4", "r2", 2), ("t5", "r1", 4)]]
    report, _, figures = eval_with_long_gold(tmp_path, rows, "--interval", "percentile")
    assert "No human ceiling can be computed" not in report  # the raters share an item
    reason = "every item rated by two or more raters got one and the same level (3)"
    assert f"undefined ({reason}" in report
    assert figures["krippendorff_alpha_undefined"].str.startswith(reason).all()
    assert "Intervals are 95% percentile bootstrap intervals" in report
    result = CliRunner().invoke(app, ["eval", "--run", str(tmp_path / "run"), "--gold", str(tmp_path / "gold.csv"),
                                      "--rubric", str(RUBRIC), "--interval", "student"])
    assert result.exit_code == 2 and "--interval" in result.output
