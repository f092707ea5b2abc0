"""Shared fixtures: paths, the scripted fake OpenAI-compatible server (`grader.testing`), and vcrpy replay."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.testing import FakeServer

ROOT = Path(__file__).resolve().parent.parent  # tests read nothing outside the repository
# the seed rubric's text export, the input `grader rubric import` exists for
SEED_RUBRIC = ROOT / "rubrics" / "source" / "interview-rubric-senior-data-scientist.txt"
RUBRIC = ROOT / "rubrics" / "senior-data-scientist.yaml"
TRANSCRIPTS = ROOT / "transcripts"
CASSETTES = Path(__file__).parent / "cassettes"


@pytest.fixture
def fake_server() -> Callable[..., FakeServer]:
    """The in-process scripted fake of `grader.testing` (the loopback face is `grader.testing.FakeOpenAI`)."""
    return FakeServer


RECORDING = bool(__import__("os").environ.get("GRADER_RECORD"))


def cassette_vcr() -> Any:
    """vcrpy set up to replay (or, with GRADER_RECORD=1, re-record) the embedded model's HTTP.

    Requests match on method, path, query and body, not on host and port: the embedded server
    listens on a new free port each run. Auth headers are filtered out of the cassettes.
    """
    import vcr

    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORDING else "none",
        match_on=["method", "path", "query", "body"],
        filter_headers=["authorization", "x-api-key", "openai-organization", "cookie", "set-cookie"],
        decode_compressed_response=True,
    )
