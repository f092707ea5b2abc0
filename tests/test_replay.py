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

from grader.backend import Backend, BackendInfo, make_openai_client
from grader.chunking import EstimatedTokens
from grader.embedded import CONTEXT_TOKENS, MODEL_ALIAS, EmbeddedServer
from grader.formats import load_transcript
from grader.grade import grade_transcript
from grader.grades import GradeStatus
from grader.prompts import load_prompt
from grader.rubric import load_rubric
from grader.scoring import Settings
from grader.sheet import ScoreSheet, render_markdown
from grader.verify import verify_quote

from .conftest import RECORDING, RUBRIC, TRANSCRIPTS, cassette_vcr

SNAPSHOT = Path(__file__).parent / "snapshots" / "short-screen.md"
SAMPLE = TRANSCRIPTS / "short-screen.txt"


@contextlib.contextmanager
def replay_backend() -> Iterator[Backend]:
    info = BackendInfo(model=MODEL_ALIAS, server="http://127.0.0.1", embedded=True, context_tokens=CONTEXT_TOKENS)
    if RECORDING:
        with EmbeddedServer() as server:
            yield Backend(client=make_openai_client(server.base_url, None, 300), info=info)
    else:
        yield Backend(client=make_openai_client("http://127.0.0.1:9/v1", None, 30), info=info)


@pytest.fixture(scope="module")
def sheet() -> ScoreSheet:
    rubric = load_rubric(RUBRIC)
    transcript = load_transcript(SAMPLE)
    # one transient attempt: a request missing from the cassette must fail, not hide behind retries
    settings = Settings(model=MODEL_ALIAS, transient_attempts=1)
    with cassette_vcr().use_cassette("short-screen.yaml", allow_playback_repeats=False), replay_backend() as backend:
        return grade_transcript(transcript, rubric, backend, load_prompt(), settings, EstimatedTokens())


def test_every_criterion_is_graded_from_the_recording(sheet):
    assert len(sheet.grades) == 15
    # replay failures would show as unscored "could not connect"
    assert not [g.reason for g in sheet.grades if g.status is GradeStatus.unscored and "connect" in (g.reason or "")]
    assert sheet.run.usage.prompt_tokens > 0 and sheet.run.backend.model == MODEL_ALIAS


def test_no_quote_on_the_sheet_is_unchecked(sheet):
    transcript = load_transcript(SAMPLE)
    for g in sheet.grades:
        for ev in g.evidence + [f.evidence for f in g.red_flags]:
            assert verify_quote(ev.quote, ev.cited_turn, transcript).verified
        for ev in g.rejected:
            assert ev.note and not ev.verified
        if g.status is not GradeStatus.scored:
            assert g.level is None
        if g.status is GradeStatus.scored and not g.evidence:
            assert g.needs_review and not g.counts


def test_reask_is_recorded(sheet):
    """SmolLM2 invents quotes: the recording holds re-asks, each ending verified or visibly marked."""
    reasked = [g for g in sheet.grades if g.reasks]
    assert reasked, "the recording should contain at least one re-ask"
    assert sheet.counts.reasks == sum(g.reasks for g in sheet.grades)
    for g in reasked:
        assert g.attempts == 2
        assert g.status is GradeStatus.unscored or g.evidence or g.needs_review


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
