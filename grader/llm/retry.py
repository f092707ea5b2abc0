"""Retrying calls to the server: which faults are worth another try, how long to wait, and when to stop for good.

- Transient faults (connection errors, timeouts, 429, 5xx, a body that is not JSON) are retried with
  exponential backoff and jitter, bounded in attempts and in total time (`transient_retrying`).
- A server's Retry-After (or retry-after-ms) is honoured instead of the backoff, bounded (`retry_after_seconds`).
- A refused key (HTTP 401) or request (403) is never retried: no call can succeed, so it becomes
  `AuthenticationFailed`, a `FatalBackendError` that stops a batch (`refusal`).

The OpenAI client's own retries are off (`grader.llm.backend.make_openai_client`): these are the only ones.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import openai
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from grader.errors import FatalBackendError, cause_chain, fatal_in, one_line

# connection errors, timeouts, 429, 5xx, and bodies that are not JSON (a proxy cut the reply)
TRANSIENT: tuple[type[BaseException], ...] = (
    openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError, openai.InternalServerError,
    openai.APIResponseValidationError, json.JSONDecodeError)
_REFUSED = (openai.AuthenticationError, openai.PermissionDeniedError)


class AuthenticationFailed(FatalBackendError):
    """The server refused the key (HTTP 401) or the request (403): no call can succeed, so a batch stops."""


def is_transient(exc: BaseException) -> bool:
    """A fault worth retrying: the error itself or an API error wrapped inside it; never a crashed server."""
    return fatal_in(exc) is None and any(isinstance(e, TRANSIENT) for e in cause_chain(exc))


def transient_retrying(attempts: int, max_seconds: float, backoff_max_seconds: float) -> Retrying:
    """Retries of transient faults: at most `attempts` tries and `max_seconds` in all; the last error is re-raised."""
    return Retrying(
        retry=retry_if_exception(is_transient),
        wait=wait_retry_after_or_backoff(backoff_max_seconds, max_seconds),
        stop=stop_after_attempt(attempts) | stop_after_delay(max_seconds),
        reraise=True,
    )


def wait_retry_after_or_backoff(backoff_max_seconds: float, max_wait_seconds: float,
                                ) -> Callable[[RetryCallState], float]:
    """The server's Retry-After when it gives one (at most `max_wait_seconds`), else exponential backoff
    with jitter (at most `backoff_max_seconds`)."""
    backoff = wait_random_exponential(multiplier=0.5, max=backoff_max_seconds)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = retry_after_seconds(exc) if exc else None
        return min(after, max_wait_seconds) if after is not None else backoff(state)

    return wait


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds from a Retry-After / retry-after-ms header anywhere in the error's cause chain."""
    for err in cause_chain(exc):
        headers = getattr(getattr(err, "response", None), "headers", None)
        if headers:
            seconds = _header_seconds(headers)
            if seconds is not None:
                return seconds
    return None


def _header_seconds(headers: Mapping[str, str]) -> float | None:
    """retry-after-ms, else Retry-After as seconds or as an HTTP date; None when neither is readable."""
    if headers.get("retry-after-ms"):
        with contextlib.suppress(ValueError):
            return max(float(headers["retry-after-ms"]) / 1000, 0.0)
    value = headers.get("retry-after")
    if value:
        with contextlib.suppress(ValueError):
            return max(float(value), 0.0)
        with contextlib.suppress(TypeError, ValueError):
            return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    return None


def refusal(exc: BaseException) -> AuthenticationFailed | None:
    """The error to stop on when the server refused the key (401) or the request (403), else None."""
    refused = _refused_in(exc)
    if refused is None:
        return None
    host = refused.request.url.host if getattr(refused, "request", None) is not None else "the server"
    return AuthenticationFailed(f"the server at {host} refused the request (HTTP {refused.status_code}: "
                                f"{one_line(server_message(refused), 200)}); nothing more was sent",
                                fix="check --api-key / OPENAI_API_KEY and the key's access to --model, then run "
                                    "the same command again (what was graded is kept)")


def _refused_in(exc: BaseException) -> openai.APIStatusError | None:
    """A 401 or 403 in the error's cause chain or in its own context, else None."""
    candidates = cause_chain(exc) + [e for e in (exc.__context__,) if e is not None]
    return next((e for e in candidates if isinstance(e, _REFUSED)), None)


def server_message(exc: openai.APIStatusError) -> str:
    """The server's own message (`{"error": {"message": ...}}`), else the client's summary of the reply."""
    body = exc.body.get("error", exc.body) if isinstance(exc.body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) and message.strip() else exc.message
