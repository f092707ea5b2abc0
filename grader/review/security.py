"""Who may talk to the review server, and how a state-changing request proves it came from its own pages.

- **Host.** Served on loopback, only `127.0.0.1`, `localhost` and `[::1]` are accepted as the Host
  (a DNS-rebinding page cannot reach the server under another name). Served on another address
  (`--allow-remote`), every request needs the access token: `?token=` once (it becomes an HttpOnly,
  SameSite=Strict cookie), the cookie, or `Authorization: Bearer`.
- **Cross-site requests.** A POST whose `Origin` (or, without one, `Referer`) is another site is
  refused. A form post must carry the server's CSRF token (a per-server secret printed into its own
  pages, which another site cannot read). A JSON request must be `Content-Type: application/json` and
  carry `X-Requested-With` (a custom header, which no cross-site form or simple request can send).
- **Pages.** A strict Content-Security-Policy (no inline script, no eval), no framing, no sniffing.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from grader.review.render import CSP

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
TOKEN_COOKIE = "grader_review_token"
CSRF_FIELD = "csrf"
API_HEADER = "X-Requested-With"
_SAFE = {"GET", "HEAD", "OPTIONS"}
Next = Callable[[Request], Awaitable[Response]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Guard:
    """The server's secrets and the host names it answers to (None: any, only with an access token)."""

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
            or request.headers.get("content-type", "").split(";")[0].strip() != "application/json"):
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
