"""`grader eval` end to end: a batch graded by the fake server, gold in the MIT layout, the report."""

import asyncio

import pandas as pd
from typer.testing import CliRunner

from evals.fake_openai import MODEL, FakeOpenAI
from grader.backend import Backend, BackendInfo, make_openai_client
from grader.batch import BatchJob, BatchOptions
from grader.chunking import EstimatedTokens
from grader.cli import app
from grader.cost import DEFAULT_PRICES
from grader.inputs import iter_sources
from grader.prompts import load_prompt
from grader.rubric import load_rubric
from grader.scoring import Settings
from grader.store import RunStore

from .conftest import ROOT

RUBRIC = ROOT / "rubrics" / "mit-interview.yaml"


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
    server = FakeOpenAI().start()
    backend = Backend(client=make_openai_client(server.base_url, None, 5),
                      info=BackendInfo(model=MODEL, server="x", embedded=False, context_tokens=8192))
    job = BatchJob(rubric=load_rubric(RUBRIC), backend=backend, prompt=load_prompt(), settings=Settings(model=MODEL),
                   counter=EstimatedTokens(), store=RunStore(tmp_path / "run" / "run.sqlite"), prices=DEFAULT_PRICES,
                   options=BatchOptions())
    asyncio.run(job.run(iter_sources([str(dataset)])))

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
