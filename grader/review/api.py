"""The JSON API: the same reads and decisions as the pages, for a team's own tools (see the README).

Errors are JSON `{"error": message, "fix": ...}`: 400 a decision that makes no sense for the sheet,
404 an unknown transcript or criterion, 409 a newer review than the one the client saw, 422 a body
that does not fit the schema, 401/403 from the guard.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from grader.review.context import ReviewContext
from grader.review.decisions import ReviewRefusedError, ReviewRequest
from grader.review.views import TranscriptPage

router = APIRouter(prefix="/api")


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transcript_id: str = Field(min_length=1)
    note: str = Field(max_length=20000)
    reviewer: str | None = Field(None, min_length=1, max_length=80)
    seen_note_id: StrictInt | None = Field(description="id of the latest note the client saw (null: none)")


def _context(request: Request) -> ReviewContext:
    return request.app.state.review


@router.get("/transcripts")
def list_transcripts(request: Request) -> list[dict[str, Any]]:
    """Every finished transcript: decisions per competency (model and reviewed) and review counts."""
    return [{"transcript_id": r.transcript_id, "source": r.source, "words": r.words,
             "decision": r.decision.value,
             "decisions": [{"competency": d.name, "model": d.model.value if d.model else None,
                            "reviewed": d.reviewed.value} for d in r.decisions],
             "counts": {"criteria": r.criteria, "reviewed": r.reviewed, "confirmed": r.confirmed,
                        "overridden": r.overridden, "needs_review": r.needs_review, "unscored": r.unscored,
                        "red_flags": r.red_flags}}
            for r in _context(request).run.rows()]


@router.get("/transcripts/{transcript_id:path}")
def get_transcript(transcript_id: str, request: Request) -> dict[str, Any]:
    """The sheet (with the transcript and its units), every review row, the current decisions and scores."""
    page = _context(request).page_or_404(transcript_id)
    return transcript_json(page)


def transcript_json(page: TranscriptPage) -> dict[str, Any]:
    sheet = page.sheet
    units = [{"id": u.id, "turn": t.index, "speaker": t.speaker, "role": t.role.value, "text": u.text,
              "start_char": u.start_char, "end_char": u.end_char, "start": u.start}
             for t in sheet.transcript.turns for u in t.units]
    return {
        "transcript_id": sheet.transcript_id, "sheet": sheet.model_dump(mode="json"), "units": units,
        "reviews": [r.model_dump(mode="json") for r in page.reviews],
        "current": {c.criterion.id: c.decision.model_dump(mode="json") if c.decision else None
                    for c in page.criteria},
        "competencies": [{"competency_id": c.competency.id, "model": c.model.model_dump(mode="json") if c.model
                          else None, "reviewed": {"score": c.reviewed.score, "score_low": c.reviewed.score_low,
                                                  "score_high": c.reviewed.score_high,
                                                  "decision": c.reviewed.decision.value,
                                                  "criteria_reviewed": c.reviewed.reviewed}}
                         for c in page.competencies],
        "note": page.note.model_dump(mode="json") if page.note else None,
    }


@router.post("/reviews", status_code=201)
def post_review(body: ReviewRequest, request: Request) -> dict[str, Any]:
    """Confirm or override one criterion; 409 when a newer review exists than `seen_review_id`."""
    return _context(request).decide(body).model_dump(mode="json")


@router.get("/reviews")
def list_reviews(request: Request) -> list[dict[str, Any]]:
    """Every review row of the run, oldest first (append-only: nothing is ever changed or removed)."""
    return [r.model_dump(mode="json") for r in _context(request).run.store.reviews()]


@router.post("/notes", status_code=201)
def post_note(body: NoteRequest, request: Request) -> dict[str, Any]:
    context = _context(request)
    context.page_or_404(body.transcript_id)
    note = context.run.store.add_note(body.transcript_id, body.reviewer or context.reviewer, body.note.strip(),
                                      body.seen_note_id)
    return note.model_dump(mode="json")


def error_json(status: int, message: str, fix: str | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **({"fix": fix} if fix else {}), **extra}, status_code=status)


def refused_json(exc: ReviewRefusedError) -> JSONResponse:
    return error_json(exc.status, exc.detail, exc.fix)
