"""Scoring: one schema-constrained LLM call per criterion (and chunk) into a CriterionGrade.

Two retry loops, kept apart:
- instructor re-asks when the reply fails validation (schema or a quote that is not the
  candidate's), feeding the error back, `reasks` times;
- tenacity retries transient faults (connection errors, timeouts, 429, 5xx) with exponential
  backoff and jitter, bounded in attempts and in total time.
After the re-asks, a reply whose only problem is its quotes is kept, marked `needs_review`, with the
failing quotes listed as rejected. Anything else that fails yields an `unscored` grade with the reason.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from grader.chunking import Chunk
from grader.grades import CriterionGrade, Evidence, GradeStatus, RedFlagHeard, Usage
from grader.levelprobs import NOT_REQUESTED, LevelProbe, probe_level
from grader.prompts import Messages, PromptTemplate
from grader.reply import INSUFFICIENT, REPLY_MODELS, GradeReply, completion_arguments, is_strict_json, parse_arguments
from grader.rubric import Competency, Criterion, Rubric
from grader.transcript import Transcript
from grader.verify import verify_quote

# connection errors, timeouts, 429, 5xx, and bodies that are not JSON (a proxy cut the reply)
_TRANSIENT = (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError,
              openai.InternalServerError, openai.APIResponseValidationError, json.JSONDecodeError)
_attempts: contextvars.ContextVar[list[_Attempt] | None] = contextvars.ContextVar("attempts", default=None)


class Settings(BaseModel):
    """Sampling and retry settings; all of them are stored with the score sheet."""

    model_config = ConfigDict(frozen=True)
    model: str
    temperature: float = 0.0
    seed: int = 7
    max_tokens: int = 700
    reasks: int = 1
    prompt_cache_key: bool = Field(False, description="send the transcript hash as OpenAI's prompt_cache_key")
    transient_attempts: int = 4
    transient_max_seconds: float = 120.0
    backoff_max_seconds: float = 20.0
    level_probs: bool = Field(False, description="ask for token log-probabilities and record each level's probability")
    top_logprobs: int = 10
    reply: Literal["full", "compact"] = Field("full", description="reply schema: full, or compact (one quote)")


def make_client(client: openai.OpenAI) -> instructor.Instructor:
    """Wrap an OpenAI client for schema-constrained tool calls, recording every raw completion."""
    # instructor logs every failed attempt at ERROR; grades record those failures, so its log is noise
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    structured = instructor.from_openai(client, mode=instructor.Mode.TOOLS)
    structured.on("completion:response", _record_attempt)
    return structured


class _Attempt(BaseModel):
    usage: Usage
    reply: str


def _record_attempt(response: Any) -> None:
    # snapshot now: instructor later adds the next attempts' usage into the first response's object
    log = _attempts.get()
    if log is not None:
        log.append(_Attempt(usage=Usage.of_response(response), reply=completion_arguments(response)))


def is_transient(exc: BaseException) -> bool:
    """A fault worth retrying: the error itself or an API error wrapped inside it."""
    return any(isinstance(e, _TRANSIENT) for e in _cause_chain(exc))


def _cause_chain(exc: BaseException | None) -> list[BaseException]:
    chain = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__
    return chain


class CallFailed(Exception):
    """A call that left no usable reply, with what it cost; the original error is its cause."""

    def __init__(self, log: list[_Attempt]) -> None:
        super().__init__(f"failed after {len(log)} attempt(s)")
        self.attempts = len(log)
        self.usage = _usage(log)
        self.replies = [a.reply for a in log]


class _CallResult(BaseModel):
    reply: GradeReply
    strict_failure: str | None
    log: list[_Attempt]


def call_grader(client: instructor.Instructor, messages: Messages, transcript: Transcript,
                red_flag_ids: list[str], settings: Settings) -> _CallResult:
    """One criterion call with both retry loops; raises only for failures that leave no reply."""
    retrying = Retrying(
        retry=retry_if_exception(is_transient),
        wait=_wait_retry_after_or_backoff(settings),
        stop=stop_after_attempt(settings.transient_attempts) | stop_after_delay(settings.transient_max_seconds),
        reraise=True,
    )
    return retrying(_call_once, client, messages, transcript, red_flag_ids, settings)


def _wait_retry_after_or_backoff(settings: Settings) -> Callable[[RetryCallState], float]:
    """The server's Retry-After when it gives one (bounded), else exponential backoff with jitter."""
    backoff = wait_random_exponential(multiplier=0.5, max=settings.backoff_max_seconds)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = retry_after_seconds(exc) if exc else None
        return min(after, settings.transient_max_seconds) if after is not None else backoff(state)

    return wait


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds from a Retry-After / retry-after-ms header anywhere in the error's cause chain."""
    for err in _cause_chain(exc):
        response = getattr(err, "response", None)
        headers = getattr(response, "headers", None)
        if not headers:
            continue
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


def _call_once(client: instructor.Instructor, messages: Messages, transcript: Transcript,
               red_flag_ids: list[str], settings: Settings) -> _CallResult:
    log: list[_Attempt] = []
    token = _attempts.set(log)
    try:
        reply = client.chat.completions.create(
            model=settings.model, messages=messages.as_openai(), response_model=REPLY_MODELS[settings.reply],
            max_retries=settings.reasks, temperature=settings.temperature, seed=settings.seed,
            max_tokens=settings.max_tokens,
            context={"transcript": transcript, "red_flag_ids": red_flag_ids},
            **({"extra_body": {"prompt_cache_key": transcript.content_hash()}} if settings.prompt_cache_key else {}),
        )
        return _CallResult(reply=reply, strict_failure=None, log=log)
    except InstructorRetryException as exc:
        reply = None if is_transient(exc) else _lenient_parse(exc.last_completion, REPLY_MODELS[settings.reply])
        if reply is None:
            raise CallFailed(log) from exc
        failure = _short(str(exc.__cause__ or exc))
        _release(exc)
        return _CallResult(reply=reply, strict_failure=failure, log=log)
    except (IncompleteOutputException, openai.OpenAIError) as exc:
        raise CallFailed(log) from exc
    finally:
        _attempts.reset(token)


def _lenient_parse(completion: Any, model: type[GradeReply]) -> GradeReply | None:
    """The last reply parsed without the quote check, or None when it is not schema-valid."""
    try:
        return parse_arguments(completion_arguments(completion), model)
    except (AttributeError, IndexError, TypeError, ValidationError):
        return None


def _usage(log: list[_Attempt]) -> Usage:
    return sum((a.usage for a in log), Usage())


def grade_criterion(client: instructor.Instructor, prompt: PromptTemplate, rubric: Rubric,
                    competency: Competency, criterion: Criterion, transcript: Transcript,
                    chunks: list[Chunk], settings: Settings) -> CriterionGrade:
    """Grade one criterion over every chunk and combine (see `combine_chunk_grades`)."""
    grades = [grade_chunk(client, prompt, rubric, competency, criterion, transcript, chunk, len(chunks),
                          settings) for chunk in chunks]
    return grades[0] if len(grades) == 1 else combine_chunk_grades(grades)


def grade_chunk(client: instructor.Instructor, prompt: PromptTemplate, rubric: Rubric,
                competency: Competency, criterion: Criterion, transcript: Transcript, chunk: Chunk,
                n_chunks: int, settings: Settings) -> CriterionGrade:
    messages = prompt.render(rubric, competency, criterion, chunk, n_chunks)
    base = CriterionGrade(competency_id=competency.id, criterion_id=criterion.id, status=GradeStatus.unscored,
                          chunks=[chunk.index], model=settings.model, prompt_version=prompt.version,
                          request_sha256=messages.sha256(), request_user=messages.user)
    started = time.perf_counter()
    try:
        result = call_grader(client, messages, transcript, competency.red_flag_ids, settings)
    except CallFailed as failed:
        reason = describe_failure(failed.__cause__ or failed)
        _release(failed)
        return base.model_copy(update={"reason": reason,
                                       "attempts": failed.attempts, "reasks": max(failed.attempts - 1, 0),
                                       "usage": failed.usage, "replies": failed.replies,
                                       "seconds": time.perf_counter() - started})
    grade = grade_from_reply(result.reply, base, transcript, competency)
    attempts = len(result.log)
    probe = (probe_level(client.client, messages, settings.model, settings.seed, settings.top_logprobs)
             if settings.level_probs else LevelProbe(note=NOT_REQUESTED))
    return grade.model_copy(update={
        "level_probs": probe.probs, "level_probs_note": probe.note, "usage": _usage(result.log) + probe.usage,
        "attempts": attempts, "reasks": max(attempts - 1, 0),
        "replies": [a.reply for a in result.log], "seconds": time.perf_counter() - started,
        "reason": "; ".join(r for r in (grade.reason, _lenient_reason(result)) if r) or None,
        "needs_review": grade.needs_review or result.strict_failure is not None,
    })


def _lenient_reason(result: _CallResult) -> str | None:
    """Why a reply accepted without passing strict validation needs a person's look."""
    if result.strict_failure is None:
        return None
    if result.log and not is_strict_json(result.log[-1].reply):
        return "the reply's JSON had raw control characters (read leniently; quotes verified as usual)"
    return "quotes still failed after the re-asks (listed as rejected)"


def grade_from_reply(reply: GradeReply, base: CriterionGrade, transcript: Transcript,
                     competency: Competency) -> CriterionGrade:
    """Verify every quote of a reply and turn it into a grade; nothing is dropped silently."""
    checked = [verify_quote(q.quote, q.turn, transcript) for q in reply.evidence]
    flags, bad_flags = _checked_flags(reply, transcript, competency)
    rejected = [e for e in checked if not e.verified] + bad_flags
    evidence = [e for e in checked if e.verified]
    if reply.level == INSUFFICIENT:
        status, level, reason = GradeStatus.insufficient_evidence, None, None
    else:
        status, level = GradeStatus.scored, reply.level
        reason = None if evidence else f"level {level} has no verified evidence: not counted in the score"
    return base.model_copy(update={
        "status": status, "level": level, "rationale": reply.rationale.strip(), "evidence": evidence,
        "rejected": rejected, "red_flags": flags, "needs_review": bool(rejected) or reason is not None,
        "reason": reason,
    })


def _checked_flags(reply: GradeReply, transcript: Transcript,
                   competency: Competency) -> tuple[list[RedFlagHeard], list[Evidence]]:
    heard, rejected = [], []
    for item in reply.red_flags:
        ev = verify_quote(item.quote, item.turn, transcript)
        if item.flag not in competency.red_flag_ids:
            rejected.append(ev.model_copy(update={"verified": False,
                                                  "note": f"unknown red flag id {item.flag!r}"}))
        elif not ev.verified:
            rejected.append(ev.model_copy(update={"note": f"red flag {item.flag}: {ev.note}"}))
        else:
            heard.append(RedFlagHeard(flag_id=item.flag, flag=competency.red_flag(item.flag), evidence=ev))
    return heard, rejected


def _release(exc: BaseException) -> None:
    """Drop an exception chain's frames once it is reduced to a reason: they hold the transcript."""
    for err in _cause_chain(exc) + [e for e in (exc.__context__,) if e is not None]:
        traceback.clear_frames(err.__traceback__)
        err.__traceback__ = None
        err.__context__ = None
    exc.__cause__ = None


def describe_failure(exc: BaseException) -> str:
    """A one-line reason for an unscored grade."""
    cause = exc.__cause__ if isinstance(exc, InstructorRetryException) and exc.__cause__ else exc
    if isinstance(exc, IncompleteOutputException):
        return "the reply was cut off at max_tokens before it was complete"
    if isinstance(cause, openai.APIStatusError):
        return f"server answered HTTP {cause.status_code}: {_short(cause.message)}"
    if isinstance(cause, openai.APITimeoutError):
        return "the server did not answer in time (timeout after retries)"
    if isinstance(cause, openai.APIConnectionError):
        return "could not connect to the server (after retries)"
    if isinstance(cause, ValidationError):
        return f"no schema-valid reply after {getattr(exc, 'n_attempts', '?')} attempts: {_short(str(cause))}"
    return f"{type(cause).__name__}: {_short(str(cause))}"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def combine_chunk_grades(grades: list[CriterionGrade]) -> CriterionGrade:
    """Combine one criterion's grades over chunks of a long transcript.

    The rule: the criterion is graded by the best level demonstrated with verified evidence in any
    chunk (a competency shown once is shown); evidence, rejected quotes and red flags of all chunks
    are kept. With no counted chunk grade it is `insufficient_evidence` if every chunk said so, and
    otherwise the first chunk's grade (unscored or needing review) stands.
    """
    counted = [g for g in grades if g.counts]
    if counted:
        best = max(counted, key=lambda g: g.level or 0)
    elif all(g.status is GradeStatus.insufficient_evidence for g in grades):
        best = grades[0]
    else:
        best = next((g for g in grades if g.status is not GradeStatus.insufficient_evidence), grades[0])
    usage = Usage()
    for g in grades:
        usage += g.usage
    return best.model_copy(update={
        "evidence": [e for g in grades for e in g.evidence],
        "rejected": [e for g in grades for e in g.rejected],
        "red_flags": [f for g in grades for f in g.red_flags],
        "needs_review": any(g.needs_review for g in grades) if not counted else best.needs_review,
        "attempts": sum(g.attempts for g in grades), "reasks": sum(g.reasks for g in grades),
        "chunks": [c for g in grades for c in g.chunks], "usage": usage,
        "replies": [r for g in grades for r in g.replies],
        "seconds": sum(g.seconds for g in grades),
    })
