"""The eval path end to end on recorded LLM replies: SmolLM2 (embedded llama.cpp) grades the four
sample transcripts with rubrics/mit-interview.yaml, with level probabilities, and `grader eval`
compares them with a small two-rater gold file (tests/data/samples-gold.csv, our own levels for our
own samples).

Re-record (needs the embedded model; about 3 minutes):
    GRADER_RECORD=1 pytest tests/test_eval_replay.py
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from grader.cli.app import app
from grader.grading.grades import Settings
from grader.grading.prompts import load_prompt
from grader.ingest.chunking import EstimatedTokens
from grader.ingest.inputs import iter_sources
from grader.ingest.rubric import load_rubric
from grader.llm.backend import Backend, BackendInfo, make_openai_client
from grader.llm.embedded import CONTEXT_TOKENS, MODEL_ALIAS, EmbeddedServer
from grader.llm.wire import llama_cpp_http_client
from grader.runs.batch import BatchJob, RunOptions
from grader.runs.cost import DEFAULT_PRICES
from grader.runs.store import RunStore

from .conftest import RECORDING, ROOT, TRANSCRIPTS, cassette_vcr

RUBRIC = ROOT / "rubrics" / "mit-interview.yaml"
GOLD = Path(__file__).parent / "data" / "samples-gold.csv"


@contextlib.contextmanager
def recorded_backend() -> Iterator[Backend]:
    info = BackendInfo(model=MODEL_ALIAS, server="http://127.0.0.1", embedded=True, context_tokens=CONTEXT_TOKENS)
    if RECORDING:
        with EmbeddedServer() as server:
            yield Backend(client=make_openai_client(server.base_url, None, 300, http_client=server.http_client(300)),
                          info=info)
    else:
        # the embedded server's transport without a server: the requests replayed are the ones recorded
        yield Backend(client=make_openai_client("http://127.0.0.1:9/v1", None, 30,
                                                http_client=llama_cpp_http_client(30)), info=info)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("eval") / "run"
    settings = Settings(model=MODEL_ALIAS, reply="compact", reasks=0, level_probs=True, transient_attempts=1,
                        structured="json_schema")
    with cassette_vcr().use_cassette("eval-samples.yaml", allow_playback_repeats=False), \
            recorded_backend() as backend:
        job = BatchJob(rubric=load_rubric(RUBRIC), backend=backend, prompt=load_prompt(), settings=settings,
                       counter=EstimatedTokens(), store=RunStore(folder / "run.sqlite"), prices=DEFAULT_PRICES,
                       options=RunOptions(concurrency=1))
        stats = asyncio.run(job.run(iter_sources([str(TRANSCRIPTS)])))
    assert stats.transcripts == 4 and stats.calls == 20
    return folder


def test_eval_report_on_recorded_grades(run):
    result = CliRunner().invoke(app, ["eval", "--run", str(run), "--gold", str(GOLD), "--rubric", str(RUBRIC),
                                      "--n-boot", "100", "--transcripts", str(TRANSCRIPTS)])
    assert result.exit_code == 0, result.output
    report = (run / "eval" / "report.md").read_text()
    assert "gold scores are integer levels 1..5 (no binning)" in report and "raters: 2" in report
    # the real model's probe returned log-probabilities: the expected level is a source of its own
    assert "Level probabilities (G-Eval): " in report and "NOT AVAILABLE" not in report
    assert "## expected: " in report and "## stated: " in report
    figures = pd.read_csv(run / "eval" / "figures.csv")
    overall = figures[figures["kind"] == "overall"].set_index("source")
    assert overall.loc["model", "gold_items"] == 20
    assert overall.loc["model", "pairs"] + overall.loc["model", ["n_unscored", "n_insufficient_evidence",
                                                                 "n_no_verified_evidence"]].sum() == 20
    assert overall["krippendorff_alpha"].notna().all()  # two raters: their own agreement is reported
    html = (run / "eval" / "report.html").read_text()
    assert "data:image/png;base64," in html and "Calibration curves" in html


def test_recorded_probabilities_are_distributions(run):
    store = RunStore(run / "run.sqlite")
    probed = [g for _, g in store.grades() if g.level_probs is not None]
    assert probed, "the recording should carry level probabilities"
    for g in probed:
        assert sum(g.level_probs.probs.values()) == pytest.approx(1.0) and 0 < g.level_probs.mass <= 1
        assert g.level_probs.expected is None or 1 <= g.level_probs.expected <= 5
    for _, g in store.grades():  # a grader failure never has a level, with or without probabilities
        assert g.status != "unscored" or g.level is None
