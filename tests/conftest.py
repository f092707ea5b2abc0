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
ANSWERS = [  # a candidate's sentences, for interviews written by the tests (each differs in what the fake cites)
    "I built a churn model for a subscription business and measured it against last year's baseline.",
    "We tracked precision and recall weekly, and I wrote the alerting when recall fell.",
    "Honestly I am not sure; I mostly followed what my manager suggested.",
    "I explained the trade-off to the product team with a small simulation and a chart.",
    "The data had gaps, so I imputed carefully and reported how much that changed the result.",
    "I would start with a simple baseline and only then try gradient boosting.",
]
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


def key_before_exemplars(transcript: Any, rubric: Any, criterion: Any, prompt: Any, settings: Any,
                         chunks: list[Any]) -> str:
    """A call's idempotency key as it was computed before samples, judges and exemplars existed: a run that uses
    none of them must keep these keys (so it resumes, and its calls are never sent again)."""
    import hashlib
    import json

    from grader.grading.reply import reply_schema_sha256
    from grader.ingest.units import SPLITTER_VERSION

    before = {"transcript": transcript.content_hash(), "rubric": rubric.content_hash(), "criterion": criterion.id,
              "prompt": prompt.sha256, "settings": settings.key_fields(),
              "reply_schema": reply_schema_sha256(settings.reply), "units": SPLITTER_VERSION,
              "chunks": [[c.first_turn, c.last_turn, c.tokens] for c in chunks]}
    return hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:32]
