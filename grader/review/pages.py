"""The HTML pages: sign-in, the run (every transcript, filter, sort, progress, your queue), the agreement panel,
and one transcript under review.

Forms post to `/transcripts/{id}/reviews`, `/note` and `/undo` with the server's CSRF token and the id
of the review the page saw. Without script they work as plain forms (post, then redirect back); with
htmx the changed card, the scores and the message are swapped in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from grader.review.agreement import agreement
from grader.review.api import viewer_of
from grader.review.context import ReviewContext
from grader.review.decisions import ReviewRefusedError, ReviewRequest
from grader.review.render import render
from grader.review.run_page import FILTERS, SORTS, TEAM_FILTERS, next_in_queue, progress, select_rows
from grader.review.security import CSRF_FIELD
from grader.review.team import SESSION_COOKIE, SESSION_SECONDS
from grader.runs.reviews import NothingToRetractError, StaleReviewError
from grader.runs.store import ReadOnlyRunError

router = APIRouter()
SAVED = {"confirm": "Confirmed.", "override": "Overridden.", "adjudicate": "Resolved: the adjudicated level is the "
         "gold.", "note": "Note saved.", "undo": "Undone: your decision was taken back.",
         "queue-done": "Your queue is done: every transcript assigned to you has your decision on every criterion."}


@dataclass(frozen=True)
class Flash:
    kind: str  # ok | error
    text: str


def _context(request: Request) -> ReviewContext:
    return request.app.state.review


def _flash(request: Request) -> Flash | None:
    saved = SAVED.get(request.query_params.get("saved", ""))
    return Flash("ok", saved) if saved else None


def _csrf_refused(form_token: object, context: ReviewContext) -> HTMLResponse | None:
    if context.guard.csrf_ok(str(form_token or "")):
        return None
    return HTMLResponse(render("error.html", message="the form's CSRF token is missing or wrong: reload the page"),
                        status_code=403)


# -- sign-in ----------------------------------------------------------------------------------------------
@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str = "/") -> Response:
    context = _context(request)
    if context.team is None:
        return RedirectResponse("/", status_code=303)
    return HTMLResponse(render("signin.html", csrf=context.guard.csrf_token, next=_local(next), error=None,
                               name=""))


@router.post("/signin")
async def signin(request: Request) -> Response:
    context = _context(request)
    form = await request.form()
    if (refused := _csrf_refused(form.get(CSRF_FIELD), context)) is not None:
        return refused
    if context.team is None:
        return RedirectResponse("/", status_code=303)
    name, secret = str(form.get("name") or "").strip(), str(form.get("secret") or "")
    target = _local(str(form.get("next") or "/"))
    from starlette.concurrency import run_in_threadpool

    found = await run_in_threadpool(context.team.sign_in, name, secret) if name and secret else None
    if found is None:
        return HTMLResponse(render("signin.html", csrf=context.guard.csrf_token, next=target, name=name,
                                   error="That name and secret do not match a reviewer of this run."),
                            status_code=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, context.team.session(found.name), max_age=SESSION_SECONDS, httponly=True,
                        samesite="strict", path="/")
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    context = _context(request)
    form = await request.form()
    if (refused := _csrf_refused(form.get(CSRF_FIELD), context)) is not None:
        return refused
    if context.team is not None:
        context.team.sign_out(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _local(target: str) -> str:
    """Only a path of this server is a place to go back to after signing in (never another site)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


# -- the run ------------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def run_page(request: Request, filter: str = "all", sort: str = "id") -> HTMLResponse:
    context, viewer = _context(request), viewer_of(request)
    rows = context.rows(viewer)
    filters = {k: v for k, v in FILTERS.items() if viewer.team or k not in TEAM_FILTERS}
    return HTMLResponse(render("run.html", run=context.run, rows=select_rows(rows, filter, sort),
                               progress=progress(rows), filters=filters, sorts=SORTS, filter=filter, sort=sort,
                               viewer=viewer, context=context, csrf=context.guard.csrf_token,
                               next_up=next_in_queue(rows, None), flash=_flash(request)))


@router.get("/next")
def next_transcript(request: Request, after: str | None = None) -> Response:
    """Your next assigned transcript not done yet (key `n`), after `after`; the run page when the queue is done."""
    context, viewer = _context(request), viewer_of(request)
    found = next_in_queue(context.rows(viewer), after)
    if found is None:
        return RedirectResponse("/?saved=queue-done", status_code=303)
    return RedirectResponse(f"/transcripts/{quote(found.transcript_id, safe='')}", status_code=303)


@router.get("/agreement", response_class=HTMLResponse)
def agreement_page(request: Request) -> HTMLResponse:
    context, viewer = _context(request), viewer_of(request)
    return HTMLResponse(render("agreement.html", run=context.run, panel=agreement(context.run, viewer),
                               viewer=viewer, csrf=context.guard.csrf_token))


# -- one transcript -----------------------------------------------------------------------------------------
@router.get("/transcripts/{transcript_id:path}", response_class=HTMLResponse)
def transcript_page(transcript_id: str, request: Request) -> HTMLResponse:
    return _transcript(request, transcript_id)


def _transcript(request: Request, transcript_id: str, flash: Flash | None = None, status: int = 200) -> HTMLResponse:
    context, viewer = _context(request), viewer_of(request)
    flash = flash or _flash(request)
    try:
        page = context.page_or_404(transcript_id, viewer)
    except ReviewRefusedError as exc:
        return HTMLResponse(render("error.html", message=str(exc)), status_code=404)
    return HTMLResponse(render("transcript.html", page=page, reviewer=viewer.name, viewer=viewer, flash=flash,
                               csrf=context.guard.csrf_token, selected=request.query_params.get("c")),
                        status_code=status)


@router.post("/transcripts/{transcript_id:path}/reviews")
async def post_review(transcript_id: str, request: Request) -> Response:
    form = await request.form()
    context = _context(request)
    if (refused := _csrf_refused(form.get(CSRF_FIELD), context)) is not None:
        return refused
    criterion = str(form.get("criterion_id") or "")
    level = str(form.get("level") or "")
    seen = str(form.get("seen") or "")
    try:
        body = ReviewRequest(transcript_id=transcript_id, criterion_id=criterion, action=str(form.get("action")),
                             level=int(level) if level.isdigit() else (level or None),
                             reason=str(form.get("reason") or ""), seen_review_id=int(seen) if seen.isdigit() else None)
        review = context.decide(body, viewer_of(request))
    except ValidationError as exc:
        return _transcript(request, transcript_id, Flash("error", _first_error(exc)), 400)
    except ReviewRefusedError as exc:
        return _transcript(request, transcript_id, Flash("error", str(exc)), exc.status)
    except (StaleReviewError, ReadOnlyRunError) as exc:
        return _transcript(request, transcript_id, Flash("error", f"Not saved: {exc}"), 409)
    return _back(transcript_id, criterion, review.action.value)


@router.post("/transcripts/{transcript_id:path}/undo")
async def post_undo(transcript_id: str, request: Request) -> Response:
    """Take back the viewer's latest decision on this transcript (key `u`, Ctrl+Z): a retraction row, never an edit."""
    form = await request.form()
    context = _context(request)
    if (refused := _csrf_refused(form.get(CSRF_FIELD), context)) is not None:
        return refused
    given = str(form.get("review_id") or "")
    try:
        if not given.isdigit():
            raise NothingToRetractError("there is no decision of yours on this transcript to take back", None)
        _, review = context.retract(int(given), viewer_of(request))
    except (NothingToRetractError, ReadOnlyRunError) as exc:
        return _transcript(request, transcript_id, Flash("error", f"Not undone: {exc}"), 409)
    return _back(transcript_id, review.criterion_id, "undo")


@router.post("/transcripts/{transcript_id:path}/note")
async def post_note(transcript_id: str, request: Request) -> Response:
    form = await request.form()
    context = _context(request)
    if (refused := _csrf_refused(form.get(CSRF_FIELD), context)) is not None:
        return refused
    if context.run.sheet(transcript_id) is None:
        return HTMLResponse(render("error.html", message=f"no transcript {transcript_id!r}"), status_code=404)
    seen = str(form.get("seen_note") or "")
    try:
        context.add_note(transcript_id, None, str(form.get("note") or "").strip()[:20000],
                         int(seen) if seen.isdigit() else None, viewer_of(request))
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
