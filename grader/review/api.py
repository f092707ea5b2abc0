"""The JSON API: the same reads and decisions as the pages, for a team's own tools (see docs/review.md).

With a reviewers file every request names its reviewer with `Authorization: Bearer <secret>` (or the
session cookie of a signed-in page); a decision is always that reviewer's. What a reviewer reads is what
their page shows: grading blind, no other reviewer's decision on a criterion (and, with --hide-model,
not the model's level) until they have submitted their own.

Errors are JSON `{"error": message, "fix": ...}`: 400 a decision that makes no sense for the sheet,
401 nobody signed in, 403 a decision for someone else or on a transcript not assigned to you, 404 an
unknown transcript or criterion, 409 a newer review than the one the client saw, 422 a body that
does not fit the schema.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from grader.review.agreement import agreement
from grader.review.context import ReviewContext
from grader.review.decisions import ReviewRefusedError, ReviewRequest
from grader.review.run_page import select_rows
from grader.review.views import TranscriptPage, Viewer

router = APIRouter(prefix="/api")


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transcript_id: str = Field(min_length=1)
    note: str = Field(max_length=20000)
    reviewer: str | None = Field(None, min_length=1, max_length=80)
    seen_note_id: StrictInt | None = Field(description="id of the latest note the client saw (null: none)")


class RetractRequest(BaseModel):
    """Undo: take back one of your decisions, the latest of yours in force on its criterion."""

    model_config = ConfigDict(extra="forbid")
    review_id: StrictInt


def _context(request: Request) -> ReviewContext:
    return request.app.state.review


def viewer_of(request: Request) -> Viewer:
    """Who is asking (set by the team middleware; alone on a machine, the one reviewer)."""
    viewer = getattr(request.state, "viewer", None)
    return viewer if viewer is not None else _context(request).identify(request) or Viewer.owner()


@router.get("/me")
def me(request: Request) -> dict[str, Any]:
    """Who you are to this server and how you see the run."""
    context, viewer = _context(request), viewer_of(request)
    return {"reviewer": viewer.name, "team": viewer.team, "adjudicator": viewer.adjudicator, "blind": viewer.blind,
            "hide_model": viewer.hide_model, "overlap": context.overlap,
            "assigned": sorted(viewer.assigned) if viewer.assigned is not None else None}


@router.get("/transcripts")
def list_transcripts(request: Request) -> list[dict[str, Any]]:
    """Every finished transcript: decisions per competency (model and reviewed) and review counts."""
    viewer = viewer_of(request)
    return [{"transcript_id": r.transcript_id, "source": r.source, "words": r.words,
             "decision": r.decision.value, "held": r.held, "integrity_findings": r.integrity,
             "assigned": r.assigned, "done": r.done,
             "decisions": [{"competency": d.name, "model": d.model.value if d.model else None,
                            "model_hidden": d.model_hidden, "reviewed": d.reviewed.value} for d in r.decisions],
             "counts": {"criteria": r.criteria, "reviewed": r.reviewed, "confirmed": r.confirmed,
                        "overridden": r.overridden, "needs_review": r.needs_review, "unscored": r.unscored,
                        "red_flags": r.red_flags}}
            for r in _context(request).rows(viewer)]


@router.get("/queue")
def queue(request: Request, order: Literal["id", "uncertainty"] = "id") -> list[dict[str, Any]]:
    """Your queue: the transcripts assigned to you (every one without --overlap), in id order or with the most
    uncertain grades first (`?order=uncertainty`), and how far you are."""
    rows = select_rows([r for r in _context(request).rows(viewer_of(request)) if r.assigned], "all", order)
    return [{"transcript_id": r.transcript_id, "done": r.done, "decided": r.labelled, "criteria": r.criteria,
             "held": r.held, "uncertainty": r.uncertainty} for r in rows]


@router.get("/agreement")
def get_agreement(request: Request) -> dict[str, Any]:
    """The agreement panel: reviewer × reviewer, model × reviewer, model × gold and the human ceiling, per criterion
    and overall (the functions `grader eval` uses), and the disagreements you may see."""
    context = _context(request)
    return agreement(context.run, viewer_of(request))


@router.get("/transcripts/{transcript_id:path}")
def get_transcript(transcript_id: str, request: Request) -> dict[str, Any]:
    """The sheet (with the transcript and its units), the review rows you may see, the current decisions, scores."""
    viewer = viewer_of(request)
    page = _context(request).page_or_404(transcript_id, viewer)
    return transcript_json(page)


def transcript_json(page: TranscriptPage) -> dict[str, Any]:
    sheet = page.sheet
    units = [{"id": u.id, "turn": t.index, "speaker": t.speaker, "role": t.role.value, "text": u.text,
              "start_char": u.start_char, "end_char": u.end_char, "start": u.start}
             for t in sheet.transcript.turns for u in t.units]
    body = sheet.model_dump(mode="json")
    hidden = {c.id for c in page.criteria if not c.model_visible}
    if hidden:  # a blind reviewer's own level comes first: the model's stays out of the reply until then
        body["grades"] = [_hidden_grade(g) if g["criterion_id"] in hidden else g for g in body["grades"]]
        shown = {c.competency.id for c in page.competencies if not c.model_hidden}
        body["competencies"] = [c for c in body["competencies"] if c["competency_id"] in shown]
    return {
        "transcript_id": sheet.transcript_id, "sheet": body, "units": units,
        "reviews": [r.model_dump(mode="json") for r in page.reviews],
        "current": {c.criterion.id: c.decision.model_dump(mode="json") if c.decision else None
                    for c in page.criteria},
        "seen_review_id": {c.criterion.id: c.seen for c in page.criteria},
        "model_hidden": sorted(hidden),
        "competencies": [{"competency_id": c.competency.id, "model": c.model.model_dump(mode="json") if c.model
                          else None, "reviewed": {"score": c.reviewed.score, "score_low": c.reviewed.score_low,
                                                  "score_high": c.reviewed.score_high,
                                                  "decision": c.reviewed.decision.value,
                                                  "criteria_reviewed": c.reviewed.reviewed}}
                         for c in page.competencies],
        "note": page.note.model_dump(mode="json") if page.note else None,
    }


def _hidden_grade(grade: dict[str, Any]) -> dict[str, Any]:
    kept = ("competency_id", "criterion_id", "evidence", "model", "prompt_version")
    return {**{k: grade[k] for k in kept if k in grade}, "hidden": True}


@router.post("/reviews", status_code=201)
def post_review(body: ReviewRequest, request: Request) -> dict[str, Any]:
    """Confirm, override or (an adjudicator) adjudicate one criterion; 409 when a newer review exists than
    `seen_review_id` (blind: your own latest decision on the criterion)."""
    return _context(request).decide(body, viewer_of(request)).model_dump(mode="json")


@router.get("/reviews")
def list_reviews(request: Request) -> list[dict[str, Any]]:
    """Every review row of the run you may see, oldest first (append-only: nothing is ever changed or removed;
    a decision taken back carries `retracted_by`)."""
    return [r.model_dump(mode="json") for r in _context(request).visible_reviews(viewer_of(request))]


@router.post("/retractions", status_code=201)
def post_retraction(body: RetractRequest, request: Request) -> dict[str, Any]:
    """Undo: take back your decision `review_id` (your latest in force on its criterion); the one before it, if
    any, is current again. 409 (with `latest_review_id`) when it is not your latest."""
    retraction, review = _context(request).retract(body.review_id, viewer_of(request))
    return {**retraction.model_dump(mode="json"), "review": review.model_dump(mode="json")}


@router.post("/notes", status_code=201)
def post_note(body: NoteRequest, request: Request) -> dict[str, Any]:
    context = _context(request)
    viewer = viewer_of(request)
    context.page_or_404(body.transcript_id, viewer)
    note = context.add_note(body.transcript_id, body.reviewer, body.note.strip(), body.seen_note_id, viewer)
    return note.model_dump(mode="json")


def error_json(status: int, message: str, fix: str | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **({"fix": fix} if fix else {}), **extra}, status_code=status)


def refused_json(exc: ReviewRefusedError) -> JSONResponse:
    return error_json(exc.status, exc.detail, exc.fix)
