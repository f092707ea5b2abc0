"""A transcript longer than any interview is refused at once and clearly; the good file beside it is graded."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.errors import TranscriptError
from grader.ingest.formats import load_transcript
from grader.ingest.transcript import MAX_TRANSCRIPT_WORDS
from grader.testing import MODEL, fake_server

from .conftest import TRANSCRIPTS


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("huge") / "huge.txt"
    path.write_text("Interviewer: Tell me about yourself?\nCandidate: " + " ".join(["word"] * 1_050_000) + "\n",
                    encoding="utf-8")
    return path


def test_a_one_million_word_turn_is_refused_in_seconds(huge):
    started = time.perf_counter()
    with pytest.raises(TranscriptError) as caught:
        load_transcript(huge)
    assert time.perf_counter() - started < 20  # it used to hold a batch for over 15 minutes
    message = str(caught.value)
    assert "1,050,004 words" in message and f"{MAX_TRANSCRIPT_WORDS:,}" in message and "Fix:" in message


def test_the_good_file_beside_it_is_graded(huge, tmp_path):
    with fake_server() as url:
        result = CliRunner().invoke(app, ["batch", str(huge), str(TRANSCRIPTS / "short-screen.txt"), "--run",
                                          str(tmp_path / "run"), "--rubric", "mit-interview", "--base-url", url,
                                          "--model", MODEL])
    assert result.exit_code == 1, result.output  # done in part: the huge one is named as failed
    assert (tmp_path / "run" / "sheets" / "short-screen.json").is_file()
    assert "huge.txt:has1,050,004words" in "".join(result.output.split())  # named, with the reason
