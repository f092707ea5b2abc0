"""The review server: a FastAPI app over one run folder (`grader review RUN`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from grader.errors import GraderError, validation_problems
from grader.review import api, pages
from grader.review.context import ReviewContext
from grader.review.decisions import ReviewRefusedError
from grader.review.render import STATIC
from grader.review.run import ReviewRun, open_run
from grader.review.security import BodyLimit, Guard, Next, guard_middleware
from grader.review.team import Team
from grader.runs.folder import RunFolder
from grader.runs.reviews import NothingToRetractError, StaleReviewError
from grader.runs.store import ReadOnlyRunError


def create_app(run: ReviewRun, *, reviewer: str, guard: Guard | None = None, team: Team | None = None,
               overlap: int | None = None, blind: bool | None = None, hide_model: bool = False) -> FastAPI:
    """The app for one opened run; `guard` holds the access token and the host names it answers to.

    `team` (the reviewers of a reviewers file) makes every request name a signed-in reviewer; `overlap` gives
    each transcript to that many of them; `blind` (default with a team) hides the others' decisions on a
    criterion until a reviewer has made theirs; `hide_model` hides the model's level the same way.
    """
    if overlap is not None and team is None:
        raise GraderError("an overlap assigns transcripts to the reviewers of a team", where="--overlap",
                          fix="give the reviewers file too: --reviewers FILE")
    app = FastAPI(title="grader review", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    context = ReviewContext(run=run, reviewer=reviewer, guard=guard or Guard(), team=team, overlap=overlap,
                            blind=team is not None if blind is None else blind and team is not None,
                            hide_model=hide_model)
    context.assignment()  # assign the finished transcripts now: the first page need not wait, a bad --overlap fails
    app.state.review = context
    app.add_middleware(BodyLimit)  # inside the guard: a stranger gets 401/403 first, and a 413 has its headers
    app.middleware("http")(team_middleware(context))
    app.middleware("http")(guard_middleware(context.guard))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_exception_handler(ReviewRefusedError, _refused)
    app.add_exception_handler(StaleReviewError, _stale)
    app.add_exception_handler(NothingToRetractError, _not_latest)
    app.add_exception_handler(ReadOnlyRunError, _read_only)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    return app


def app_for(run: Path | RunFolder, *, reviewer: str, rubric: str | Path | None = None,
            guard: Guard | None = None, team: Team | None = None, overlap: int | None = None,
            blind: bool | None = None, hide_model: bool = False) -> FastAPI:
    opened = open_run(run, rubric)
    try:
        return create_app(opened, reviewer=reviewer, guard=guard, team=team, overlap=overlap, blind=blind,
                          hide_model=hide_model)
    except GraderError:
        opened.close()
        raise


PUBLIC = ("/signin", "/static/")


def team_middleware(context: ReviewContext) -> Callable[[Request, Next], Awaitable[Response]]:
    """With a reviewers file, every request but the sign-in page and the static files names a signed-in reviewer:
    the JSON API answers 401 without one, a page sends the browser to sign in."""

    async def middleware(request: Request, call_next: Next) -> Response:
        viewer = await run_in_threadpool(context.identify, request)  # a first bearer secret costs one scrypt check
        request.state.viewer = viewer
        path = request.url.path
        if viewer is None and not path.startswith(PUBLIC):
            if path.startswith("/api/"):
                response = api.error_json(401, "sign in: this review server knows its reviewers, so every request "
                                               "needs Authorization: Bearer <your secret>",
                                          "send your secret from the reviewers file as a bearer token")
                response.headers["WWW-Authenticate"] = 'Bearer realm="grader review"'
                return response
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/signin?{urlencode({'next': target})}", status_code=303)
        return await call_next(request)

    return middleware


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReviewRefusedError)
    return api.refused_json(exc)


async def _stale(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StaleReviewError)
    return api.error_json(409, exc.detail, exc.fix, latest_review_id=exc.latest_id)


async def _not_latest(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NothingToRetractError)
    return api.error_json(409, exc.detail, exc.fix, latest_review_id=exc.latest_id)


async def _read_only(request: Request, exc: Exception) -> JSONResponse:
    """A decision on a run folder that may only be read: the pages still open, nothing is written."""
    assert isinstance(exc, ReadOnlyRunError)
    return api.error_json(409, exc.detail, exc.fix)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = validation_problems(exc.errors(), top="body", limit=20, skip=("body",))
    return api.error_json(422, "; ".join(problems) or "invalid request", "see the README's JSON API section",
                          problems=problems)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return api.error_json(exc.status_code, str(exc.detail))
