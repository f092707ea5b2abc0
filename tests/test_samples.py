"""Repeated samples (issue 20, item 1): k independent grades of each criterion, their median, their spread.

Against the loopback fake of `tests/test_panels.py` whose level moves with the request's seed, so the
samples differ as they would at a temperature above 0. A run of one sample is what it always was.
"""

from __future__ import annotations

import json
import sqlite3
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from grader import Grader, GradingOptions, RunOptions
from grader.api import GraderError
from grader.cli import app
from grader.grading.grade import call_key
from grader.grading.grades import CriterionGrade, GradeStatus, SampleGrade
from grader.grading.panel import DEFAULT_JUDGE, JudgeInfo, PanelInfo, aggregate
from grader.grading.prompts import load_prompt
from grader.ingest.chunking import EstimatedTokens, chunk_transcript
from grader.ingest.formats import load_transcript
from grader.ingest.rubric import load_rubric
from grader.testing import MODEL, FakeOpenAI

from .conftest import key_before_exemplars
from .test_panels import BASE, EVIDENCE, FAST, SHORT, JudgeServer

runner = CliRunner()
SAMPLES = PanelInfo(samples=3, judges=(JudgeInfo(name=DEFAULT_JUDGE, server="http://127.0.0.1", model=MODEL),))


@pytest.fixture
def varying() -> JudgeServer:
    server = JudgeServer(by_seed=True).start()
    yield server
    server.close()


def by_criterion(server: JudgeServer) -> dict[str, list[dict]]:
    asked: dict[str, list[dict]] = {}
    for body in server.bodies:
        asked.setdefault(body["messages"][1]["content"], []).append(body)
    return asked


# ---- the median and the spread, on sample grades -------------------------------------------------------------------

SAMPLE = st.one_of(st.integers(1, 5), st.sampled_from(["failed", "insufficient", "uncited"]))


def made(kind: int | str, index: int) -> SampleGrade:
    common = {"judge": DEFAULT_JUDGE, "sample": index, "seed": 7 + index}
    if kind == "failed":
        return SampleGrade(**common, status=GradeStatus.unscored, reason="server answered HTTP 500: down")
    if kind == "insufficient":
        return SampleGrade(**common, status=GradeStatus.insufficient_evidence)
    if kind == "uncited":
        return SampleGrade(**common, status=GradeStatus.scored, level=2)
    return SampleGrade(**common, status=GradeStatus.scored, level=kind, evidence=EVIDENCE)


@given(st.lists(SAMPLE, min_size=1, max_size=7), st.integers(0, 4))
def test_the_level_is_the_lower_median_of_the_samples_that_count(kinds, max_spread):
    samples = [made(kind, i) for i, kind in enumerate(kinds)]
    info = SAMPLES.model_copy(update={"samples": len(kinds), "max_spread": max_spread})
    grade = aggregate(BASE, samples, info)
    counted = [k for k in kinds if isinstance(k, int)]
    assert [s.level for s in grade.samples] == [s.level for s in samples]  # every sample kept, with its level
    if counted:
        assert grade.level == statistics.median_low(counted) and grade.counts
        assert grade.aggregation.spread == max(counted) - min(counted)
        spread_too_wide = max(counted) - min(counted) > max_spread
        assert grade.needs_review == (spread_too_wide or len(counted) < len(kinds))
    else:
        assert not grade.counts  # a failed sample, no evidence, or a level citing nothing never counts
        if all(k == "failed" for k in kinds):
            assert grade.status is GradeStatus.unscored and grade.level is None
    assert grade.usage == sum((s.usage for s in samples), type(grade.usage)())


def test_a_failed_sample_leaves_the_level_to_the_others():
    grade = aggregate(BASE, [made(3, 0), made("failed", 1), made(4, 2)], SAMPLES)
    assert grade.level == 3 and grade.status is GradeStatus.scored  # 3 and 4: the lower middle
    assert grade.needs_review and "1 of 3 samples of the server failed: server answered HTTP 500" in grade.reason
    assert grade.aggregation.summary == "median of the 2 of 3 samples whose level counts → level 3"


# ---- k samples against a server -------------------------------------------------------------------------------------

def test_k_samples_are_asked_back_to_back_with_the_same_prompt_and_seeds(varying):
    options = GradingOptions(samples=3, temperature=0.7)
    with Grader("mit-interview", base_url=varying.base_url, options=options,
                settings=FAST.model_copy(update={"temperature": 0.7})) as g:
        sheet = g.grade(SHORT)
    bodies = varying.bodies
    assert len(bodies) == 15
    for start in range(0, 15, 3):  # each criterion's three calls follow each other: the prefix stays cached
        block = bodies[start:start + 3]
        assert [b["seed"] for b in block] == [7, 8, 9] and all(b["messages"] == block[0]["messages"] for b in block)
        assert all(b["temperature"] == 0.7 for b in block)
    for grade in sheet.grades:
        levels = [s.level for s in grade.samples]
        assert [s.sample for s in grade.samples] == [0, 1, 2] and [s.seed for s in grade.samples] == [7, 8, 9]
        assert grade.level == statistics.median_low(levels) and grade.aggregation.levels == levels
        assert grade.needs_review == (max(levels) - min(levels) > 1)
        if grade.needs_review:
            assert f"the levels spread over {max(levels) - min(levels)}" in grade.reason
        assert grade.usage.prompt_tokens == sum(s.usage.prompt_tokens for s in grade.samples)
    assert sheet.run.panel.samples == 3 and sheet.run.usage.prompt_tokens == sum(b.usage.prompt_tokens
                                                                                 for b in sheet.grades)


def test_one_sample_is_graded_as_it_always_was(tmp_path):
    """K = 1: no sample or panel fields in the JSON, and the call key of before (what the cassettes replay)."""
    server = FakeOpenAI().start()
    try:
        with Grader("mit-interview", base_url=server.base_url) as g:
            assert g.panel is None
            sheet = g.grade(SHORT)
            result = g.batch([SHORT], tmp_path / "run")
    finally:
        server.close()
    data = json.loads(sheet.model_dump_json())
    assert "panel" not in data["run"] and all("samples" not in g and "aggregation" not in g for g in data["grades"])
    assert set(data["grades"][0]) == set(CriterionGrade.model_fields) - {"samples", "aggregation"}
    rubric, transcript, prompt = load_rubric("mit-interview"), load_transcript(SHORT), load_prompt()
    settings = sheet.run.settings
    chunks = chunk_transcript(transcript, 8192, EstimatedTokens())
    criterion = rubric.criteria()[0][1]
    key = key_before_exemplars(transcript, rubric, criterion, prompt, settings, chunks)
    assert call_key(transcript, rubric, criterion, prompt, settings, chunks) == key
    assert "panel" not in result.manifest.model_dump_json()


def test_only_the_failed_samples_are_asked_again(varying, tmp_path):
    down = {"on": True}
    varying.fail_when = lambda body: down["on"] and body["seed"] == 9  # the third sample fails (HTTP 500)
    with Grader("mit-interview", base_url=varying.base_url, options=GradingOptions(samples=3), settings=FAST) as g:
        first = g.batch([SHORT], tmp_path / "run")
        assert first.stats.calls == 15 and first.stats.calls_failed == 5  # each failed sample is a failed call
        assert {kind for kind, _, _ in first.dead_letters} == {"sample"}  # listed, while each criterion got a level
        sent = len(varying.bodies)
        kept = g.batch([SHORT], tmp_path / "run")  # without --retry-failed the finished sheet stands
        assert len(varying.bodies) == sent and kept.stats.transcripts_skipped == 1
        down["on"] = False
        retried = g.batch([SHORT], tmp_path / "run", options=RunOptions(retry_failed=True))
    asked = varying.bodies[sent:]
    assert [b["seed"] for b in asked] == [9] * 5  # the ten samples that had answered came from the store
    assert retried.stats.calls == 5 and retried.stats.calls_cached == 10 and not retried.dead_letters


def test_another_k_is_refused_on_resume(varying, tmp_path):
    with Grader("mit-interview", base_url=varying.base_url, options=GradingOptions(samples=3), settings=FAST) as g:
        g.batch([SHORT], tmp_path / "run")
    with Grader("mit-interview", base_url=varying.base_url, options=GradingOptions(samples=2), settings=FAST) as g, \
            pytest.raises(GraderError, match="samples: 3 vs 2"):
        g.batch([SHORT], tmp_path / "run")


def test_samples_from_the_command_line(varying, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = runner.invoke(app, ["batch", str(SHORT), "--run", str(tmp_path / "run"), "--rubric", "mit-interview",
                                 "--base-url", varying.base_url, "--samples", "3", "--temperature", "0.7",
                                 "--max-spread", "2"])
    assert result.exit_code == 0, result.output
    sheet = json.loads((tmp_path / "run" / "sheets" / "short-screen.json").read_text())
    assert sheet["run"]["panel"]["samples"] == 3 and sheet["run"]["panel"]["max_spread"] == 2
    for grade in sheet["grades"]:
        assert [s["sample"] for s in grade["samples"]] == [0, 1, 2]
        assert all(s["level"] in range(1, 6) and s["evidence"] for s in grade["samples"])
        assert grade["level"] == statistics.median_low(s["level"] for s in grade["samples"])
        assert not grade["needs_review"]  # a spread of at most 2 is accepted with --max-spread 2
    markdown = (tmp_path / "run" / "sheets" / "short-screen.md").read_text()
    assert "3 samples per criterion (seeds seed to seed + 2)" in markdown
    assert "an even count takes the lower of the two middle levels" in markdown
    assert "*Samples and judges:* default " in markdown and "(samples " in markdown
    out = tmp_path / "grades.csv"
    assert runner.invoke(app, ["export", str(tmp_path / "run"), "--to", str(out)]).exit_code == 0
    header = out.read_text().splitlines()[0].split(",")
    assert {"rule", "spread", "sample_levels"} <= set(header) and not [h for h in header if h.startswith("judge_")]


def test_grade_with_samples_and_eval_reports_inter_sample_agreement(varying, tmp_path, monkeypatch):
    from .conftest import TRANSCRIPTS
    from .test_panels import GOLD

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with Grader("mit-interview", options=GradingOptions(samples=3), settings=FAST,
                base_url=varying.base_url) as g:
        g.batch([TRANSCRIPTS], tmp_path / "run")
    result = runner.invoke(app, ["eval", "--run", str(tmp_path / "run"), "--gold", str(GOLD), "--n-boot", "50"])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "run" / "eval" / "report.md").read_text()
    assert "## Samples and judges" in report and "| samples | overall (overall) | 20 |" in report
    assert "(3 of 3 pairs)" in report


def test_samples_come_from_flag_environment_config_file_or_panel_file(tmp_path, monkeypatch):
    from grader.api import GraderConfig

    for name in ("GRADER_SAMPLES", "GRADER_CONFIG", "GRADER_MAX_SPREAD", "GRADER_PANEL", "GRADER_JUDGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert GraderConfig.load().grading_options().samples == 1
    (tmp_path / "panel.yaml").write_text("samples: 4\nmax_spread: 2\njudges:\n  - {name: a, base_url: 'http://h/v1'}\n")
    (tmp_path / "grader.toml").write_text('panel = "panel.yaml"\n')
    options = GraderConfig.load().grading_options()
    assert (options.samples, options.max_spread, [j.name for j in options.judges]) == (4, 2, ["a"])
    monkeypatch.setenv("GRADER_SAMPLES", "3")
    assert GraderConfig.load().grading_options().samples == 3
    assert GraderConfig.load(samples=2, max_spread=0).grading_options().samples == 2
    with pytest.raises(GraderError, match="both --judge and --panel"):
        GraderConfig.load(judges=["b=http://g/v1,m"]).grading_options()


def test_a_provider_batch_is_refused_with_samples(varying, tmp_path):
    with Grader("mit-interview", base_url=varying.base_url, options=GradingOptions(samples=2), settings=FAST) as g, \
            pytest.raises(GraderError, match="one sample of one server"):
        g.batch([SHORT], tmp_path / "run", options=RunOptions(provider_batch=True))
    assert not varying.bodies and not (tmp_path / "run").exists()


def test_samples_of_one_server_resume_on_another_port(tmp_path):
    """The embedded model listens on a new port at every start: as for one sample, its port is not in the keys."""
    first, second = JudgeServer().start(), JudgeServer().start()
    try:
        with Grader("mit-interview", base_url=first.base_url, options=GradingOptions(samples=2), settings=FAST) as g:
            g.batch([SHORT], tmp_path / "run")
        with sqlite3.connect(tmp_path / "run" / "run.sqlite") as db:
            db.execute("DELETE FROM calls")  # the samples are all there is left of the run
            db.execute("DELETE FROM transcripts")
        with Grader("mit-interview", base_url=second.base_url, options=GradingOptions(samples=2), settings=FAST) as g:
            again = g.batch([SHORT], tmp_path / "run")
    finally:
        first.close()
        second.close()
    assert not second.bodies and again.stats.calls_cached == 10 and again.stats.transcripts == 1
