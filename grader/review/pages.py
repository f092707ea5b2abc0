"""The HTML pages: the run (every transcript, filter, sort, progress) and one transcript under review.

Forms post to `/transcripts/{id}/reviews` and `/transcripts/{id}/note` with the server's CSRF token
and the id of the review the page saw. Without script they work as plain forms (post, then redirect
back); with htmx the changed card, the scores and the message are swapped in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from grader.review.context import ReviewContext
from grader.review.decisions import ReviewRefusedError, ReviewRequest
from grader.review.render import render
from grader.review.security import CSRF_FIELD
from grader.review.views import FILTERS, SORTS, progress, select_rows
from grader.runs.reviews import StaleReviewError
from grader.runs.store import ReadOnlyRunError

router = APIRouter()
SAVED = {"confirm": "Confirmed.", "override": "Overridden.", "note": "Note saved."}


@dataclass(frozen=True)
class Flash:
    kind: str  # ok | error
    text: str


def _context(request: Request) -> ReviewContext:
    return request.app.state.review


@router.get("/", response_class=HTMLResponse)
def run_page(request: Request, filter: str = "all", sort: str = "id") -> HTMLResponse:
    context = _context(request)
    rows = context.run.rows()
    return HTMLResponse(render("run.html", run=context.run, rows=select_rows(rows, filter, sort),
                               progress=progress(rows), filters=FILTERS, sorts=SORTS, filter=filter, sort=sort,
                               reviewer=context.reviewer))


@router.get("/transcripts/{transcript_id:path}", response_class=HTMLResponse)
def transcript_page(transcript_id: str, request: Request) -> HTMLResponse:
    return _transcript(request, transcript_id)


def _transcript(request: Request, transcript_id: str, flash: Flash | None = None, status: int = 200) -> HTMLResponse:
    context = _context(request)
    saved = SAVED.get(request.query_params.get("saved", ""))
    flash = flash or (Flash("ok", saved) if saved else None)
    try:
        page = context.page_or_404(transcript_id)
    except ReviewRefusedError as exc:
        return HTMLResponse(render("error.html", message=str(exc)), status_code=404)
    return HTMLResponse(render("transcript.html", page=page, reviewer=context.reviewer, flash=flash,
                               csrf=context.guard.csrf_token, selected=request.query_params.get("c")),
                        status_code=status)


@router.post("/transcripts/{transcript_id:path}/reviews")
async def post_review(transcript_id: str, request: Request) -> Response:
    form = await request.form()
    context = _context(request)
    if not context.guard.csrf_ok(str(form.get(CSRF_FIELD) or "")):
        return HTMLResponse(render("error.html", message="the form's CSRF token is missing or wrong: reload the page"),
                            status_code=403)
    criterion = str(form.get("criterion_id") or "")
    level = str(form.get("level") or "")
    seen = str(form.get("seen") or "")
    try:
        body = ReviewRequest(transcript_id=transcript_id, criterion_id=criterion, action=str(form.get("action")),
                             level=int(level) if level.isdigit() else (level or None),
                             reason=str(form.get("reason") or ""), seen_review_id=int(seen) if seen.isdigit() else None)
        review = context.decide(body)
    except ValidationError as exc:
        return _transcript(request, transcript_id, Flash("error", _first_error(exc)), 400)
    except ReviewRefusedError as exc:
        return _transcript(request, transcript_id, Flash("error", str(exc)), exc.status)
    except (StaleReviewError, ReadOnlyRunError) as exc:
        return _transcript(request, transcript_id, Flash("error", f"Not saved: {exc}"), 409)
    return _back(transcript_id, criterion, review.action.value)


@router.post("/transcripts/{transcript_id:path}/note")
async def post_note(transcript_id: str, request: Request) -> Response:
    form = await request.form()
    context = _context(request)
    if not context.guard.csrf_ok(str(form.get(CSRF_FIELD) or "")):
        return HTMLResponse(render("error.html", message="the form's CSRF token is missing or wrong: reload the page"),
                            status_code=403)
    if context.run.sheet(transcript_id) is None:
        return HTMLResponse(render("error.html", message=f"no transcript {transcript_id!r}"), status_code=404)
    seen = str(form.get("seen_note") or "")
    try:
        context.run.store.add_note(transcript_id, context.reviewer, str(form.get("note") or "").strip()[:20000],
                                   int(seen) if seen.isdigit() else None)
    except (StaleReviewError, ReadOnlyRunError) as exc:
        return _transcript(request, transcript_id, Flash("error", f"Note not saved: {exc}"), 409)
    return _back(transcript_id, None, "note")


def _back(transcript_id: str, criterion: str | None, saved: str) -> RedirectResponse:
    query = {"saved": saved, **({"c": criterion} if criterion else {})}
    fragment = f"#c-{criterion}" if criterion else ""
    target = f"/transcripts/{quote(transcript_id, safe='')}?{urlencode(query)}{fragment}"
    return RedirectResponse(target, status_code=303)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
