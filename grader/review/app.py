"""The review server: a FastAPI app over one run folder (`grader review RUN`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from grader.review import api, pages
from grader.review.context import ReviewContext
from grader.review.decisions import ReviewRefusedError
from grader.review.render import STATIC
from grader.review.run import ReviewRun, open_run
from grader.review.security import BodyLimit, Guard, guard_middleware
from grader.runs.folder import RunFolder
from grader.runs.reviews import StaleReviewError
from grader.runs.store import ReadOnlyRunError


def create_app(run: ReviewRun, *, reviewer: str, guard: Guard | None = None) -> FastAPI:
    """The app for one opened run; `guard` holds the access token and the host names it answers to."""
    app = FastAPI(title="grader review", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.review = ReviewContext(run=run, reviewer=reviewer, guard=guard or Guard())
    app.add_middleware(BodyLimit)  # inside the guard: a stranger gets 401/403 first, and a 413 has its headers
    app.middleware("http")(guard_middleware(app.state.review.guard))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_exception_handler(ReviewRefusedError, _refused)
    app.add_exception_handler(StaleReviewError, _stale)
    app.add_exception_handler(ReadOnlyRunError, _read_only)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    return app


def app_for(run: Path | RunFolder, *, reviewer: str, rubric: str | Path | None = None,
            guard: Guard | None = None) -> FastAPI:
    return create_app(open_run(run, rubric), reviewer=reviewer, guard=guard)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReviewRefusedError)
    return api.refused_json(exc)


async def _stale(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StaleReviewError)
    return api.error_json(409, exc.detail, exc.fix, latest_review_id=exc.latest_id)


async def _read_only(request: Request, exc: Exception) -> JSONResponse:
    """A decision on a run folder that may only be read: the pages still open, nothing is written."""
    assert isinstance(exc, ReadOnlyRunError)
    return api.error_json(409, exc.detail, exc.fix)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in exc.errors()]
    return api.error_json(422, "; ".join(problems) or "invalid request", "see the README's JSON API section",
                          problems=problems)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return api.error_json(exc.status_code, str(exc.detail))
