"""Who may talk to the review server, and how a state-changing request proves it came from its own pages.

- **Host.** Served on loopback, only `127.0.0.1`, `localhost` and `[::1]` are accepted as the Host
  (a DNS-rebinding page cannot reach the server under another name). Served on another address
  (`--allow-remote`), every request needs the access token: `?token=` once (it becomes an HttpOnly,
  SameSite=Strict cookie), the cookie, or `Authorization: Bearer`; or, with a reviewers file, a
  signed-in reviewer instead (`grader.review.team`: a session cookie or the reviewer's secret as
  bearer, checked by the app's team middleware).
- **Cross-site requests.** A POST whose `Origin` (or, without one, `Referer`) is another site is
  refused. A form post must carry the server's CSRF token (a per-server secret printed into its own
  pages, which another site cannot read). A JSON request must be `Content-Type: application/json` and
  carry `X-Requested-With` (a custom header, which no cross-site form or simple request can send).
  The media type is compared case-insensitively and without its parameters (RFC 9110), so
  `Application/JSON; charset=utf-8` is JSON.
- **Body size.** A request body over `MAX_BODY` bytes is refused with 413 before anything parses it:
  by its Content-Length, and while it is read when the header is absent or lies.
- **Pages.** A strict Content-Security-Policy (no inline script, no eval), no framing, no sniffing.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grader.review.render import CSP

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
TOKEN_COOKIE = "grader_review_token"
CSRF_FIELD = "csrf"
API_HEADER = "X-Requested-With"
_SAFE = {"GET", "HEAD", "OPTIONS"}
# The largest request body the server reads. Its biggest honest body is a note (20,000 characters, at most
# 80 KB as UTF-8) or a review reason (4,000): 1 MiB leaves room for any of them and stops a huge body
# (a 200 MB JSON document) from being read into memory and parsed before the schema refuses it.
MAX_BODY = 1024 * 1024
# The shortest access token `grader review --allow-remote --token` accepts: anyone who can reach the port
# may guess it, and 16 URL-safe characters (~96 bits) put that out of reach; the default is 32 characters.
MIN_TOKEN = 16
Next = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Guard:
    """The server's secrets and the host names it answers to (None: any, only with an access token or with
    reviewers who sign in)."""

    access_token: str | None = None
    allowed_hosts: tuple[str, ...] | None = LOOPBACK_NAMES
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def host_ok(self, request: Request) -> bool:
        if self.allowed_hosts is None:
            return True
        host = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
        return host in self.allowed_hosts

    def token_ok(self, request: Request) -> bool:
        if self.access_token is None:
            return True
        auth = request.headers.get("authorization", "")
        given = [request.cookies.get(TOKEN_COOKIE, ""), auth.removeprefix("Bearer ") if auth.startswith("Bearer ")
                 else "", request.query_params.get("token", "")]
        return any(secrets.compare_digest(g.encode(), self.access_token.encode()) for g in given if g)

    def csrf_ok(self, value: str | None) -> bool:
        return bool(value) and secrets.compare_digest(str(value).encode(), self.csrf_token.encode())


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value, lower-cased, without parameters (`; charset=...`)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def cross_site(request: Request) -> bool:
    """Whether the request says it comes from a page of another origin."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source == "null"
    parts = urlsplit(source)
    return f"{parts.scheme}://{parts.netloc}" != f"{request.url.scheme}://{request.headers.get('host', '')}"


def _refuse(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(message, status_code=status)


def _check(guard: Guard, request: Request) -> Response | None:
    if not guard.host_ok(request):
        return _refuse(request, 400, "unknown Host header: open the server by the address it printed")
    if not guard.token_ok(request):
        return _refuse(request, 401, "this review server needs its access token: open the URL it printed "
                                     "(with ?token=...), or send Authorization: Bearer TOKEN")
    if request.method in _SAFE:
        return None
    if cross_site(request):
        return _refuse(request, 403, "cross-site request refused")
    if request.url.path.startswith("/api/") and (
            not request.headers.get(API_HEADER)
            or media_type(request.headers.get("content-type")) != "application/json"):
        return _refuse(request, 403, f"JSON requests need Content-Type: application/json and an {API_HEADER} header")
    return None


def guard_middleware(guard: Guard) -> Callable[[Request, Next], Awaitable[Response]]:
    async def middleware(request: Request, call_next: Next) -> Response:
        response = _check(guard, request)
        if response is None and guard.access_token and request.query_params.get("token") and request.method == "GET":
            response = RedirectResponse(request.url.remove_query_params("token"), status_code=303)
            response.set_cookie(TOKEN_COOKIE, guard.access_token, httponly=True, samesite="strict")
        if response is None:
            response = await call_next(request)
        response.headers.update({"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                                 "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"})
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    return middleware


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, by Content-Length before the app runs, else while it is read
    (chunked, or a Content-Length that is smaller than the body): the read stops there, nothing more is buffered."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1").strip()
        if declared and (not declared.isdigit() or int(declared) > self.max_bytes):
            request = Request(scope)
            await _refuse(request, 413, BodyTooLargeError(self.max_bytes).detail)(scope, receive, send)
            return
        seen, started = 0, False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLargeError as exc:  # read outside a route (its handlers turn it into a 413 there)
            if started:
                raise
            await _refuse(Request(scope), 413, exc.detail)(scope, receive, send)
