"""The real model path, replayed: HTTP recorded once from the embedded llama.cpp server (SmolLM2).

Re-record (needs the embedded model installed; a few minutes):
    GRADER_RECORD=1 pytest tests/test_replay.py
In replay no server runs: a request that differs from the recording fails the test.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.grading.grade import grade_transcript
from grader.grading.grades import GradeStatus, Settings
from grader.grading.prompts import load_prompt
from grader.grading.sheet import ScoreSheet, render_markdown
from grader.ingest.chunking import EstimatedTokens
from grader.ingest.formats import load_transcript
from grader.ingest.rubric import load_rubric
from grader.llm.backend import Backend, BackendInfo, make_openai_client
from grader.llm.embedded import CONTEXT_TOKENS, MODEL_ALIAS, EmbeddedServer
from grader.llm.wire import llama_cpp_http_client

from .conftest import RECORDING, RUBRIC, TRANSCRIPTS, cassette_vcr

SNAPSHOT = Path(__file__).parent / "snapshots" / "short-screen.md"
SAMPLE = TRANSCRIPTS / "short-screen.txt"


@contextlib.contextmanager
def replay_backend() -> Iterator[Backend]:
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
def sheet() -> ScoreSheet:
    rubric = load_rubric(RUBRIC)
    transcript = load_transcript(SAMPLE)
    # one transient attempt: a request missing from the cassette must fail, not hide behind retries
    settings = Settings(model=MODEL_ALIAS, transient_attempts=1, structured="json_schema")
    with cassette_vcr().use_cassette("short-screen.yaml", allow_playback_repeats=False), replay_backend() as backend:
        return grade_transcript(transcript, rubric, backend, load_prompt(), settings, EstimatedTokens())


def test_every_criterion_is_graded_from_the_recording(sheet):
    assert len(sheet.grades) == 15
    # replay failures would show as unscored "could not connect"
    assert not [g.reason for g in sheet.grades if g.status is GradeStatus.unscored and "connect" in (g.reason or "")]
    assert sheet.run.usage.prompt_tokens > 0 and sheet.run.backend.model == MODEL_ALIAS


def test_every_quote_is_a_sentence_of_the_candidate(sheet):
    transcript = load_transcript(SAMPLE)
    units = transcript.units()
    assert sheet.transcript == transcript  # the sheet carries the units its ids resolve to
    cited = [ev for g in sheet.grades for ev in g.evidence + [e for f in g.red_flags for e in f.evidence]]
    assert cited, "the recording should cite at least one sentence"
    for ev in cited:
        turn, unit = units[ev.unit]
        assert turn.role.value == "candidate" and ev.text == unit.text == turn.text[unit.start_char:unit.end_char]
    for g in sheet.grades:
        assert all(r.reason for r in g.rejected)
        if g.status is not GradeStatus.scored:
            assert g.level is None
        if g.status is GradeStatus.scored and not g.evidence:
            assert g.needs_review and not g.counts


def test_the_server_held_the_model_to_the_unit_enum(sheet):
    """llama.cpp builds a grammar from the tool schema: every id the model wrote is one of the candidate's."""
    assert sheet.counts.citations_rejected == sum(len(g.rejected) for g in sheet.grades)
    assert not [r for g in sheet.grades for r in g.rejected if r.unit is not None and "no sentence" in r.reason]
    assert sheet.counts.reasks == sum(g.reasks for g in sheet.grades)
    for g in sheet.grades:
        assert g.status is GradeStatus.unscored or g.evidence or g.needs_review or g.level is None


def test_aggregation_matches_the_grades(sheet):
    for comp in sheet.competencies:
        counted = [g for g in sheet.grades if g.competency_id == comp.competency_id and g.counts]
        assert comp.coverage == pytest.approx(len(counted) / 3, abs=0.01)
        if comp.decision.value != "undetermined":
            assert comp.coverage == 1.0 or comp.score_low >= 3.8 or comp.score_high < 3.8


def test_markdown_sheet_snapshot(sheet):
    """A change in the reviewer's sheet is a reviewed diff (GRADER_UPDATE_SNAPSHOTS=1 rewrites it)."""
    stable = sheet.model_copy(update={"run": sheet.run.model_copy(update={"seconds": 0.0})})
    text = render_markdown(stable, load_rubric(RUBRIC))
    if os.environ.get("GRADER_UPDATE_SNAPSHOTS") or RECORDING:
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8")
