"""Scoring: one schema-constrained LLM call per criterion (and chunk) into a CriterionGrade.

Two retry loops, kept apart:
- instructor re-asks when the reply fails validation (schema, or a cited id that is not one of the
  candidate's units), feeding the error back, `reasks` times;
- tenacity retries transient faults (connection errors, timeouts, 429, 5xx) with exponential
  backoff and jitter, bounded in attempts and in total time (`grader.llm.retry`).
After the re-asks, a reply whose only problem is its citations is kept, marked `needs_review`, with
the failing ids listed as rejected. Anything else that fails yields an `unscored` grade with the reason.
"""

from __future__ import annotations

import contextvars
import logging
import time
import traceback
from typing import Any

import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel, Field, ValidationError

from grader.errors import cause_chain, fatal_in, one_line
from grader.grading.grades import CriterionGrade, GradeStatus, Settings, Usage
from grader.grading.levelprobs import NOT_REQUESTED, LevelProbe, probe_level
from grader.grading.prompts import Messages, PromptTemplate
from grader.grading.reply import (
    GradeReply,
    completion_arguments,
    is_strict_json,
    parse_arguments,
    reply_model,
    scrub_completion,
)
from grader.grading.verify import combine_chunk_grades, grade_from_reply
from grader.ingest.chunking import Chunk
from grader.ingest.rubric import Competency, Criterion, Rubric
from grader.ingest.transcript import Transcript
from grader.llm.retry import is_transient, refusal, server_message, transient_retrying
from grader.scrub import scrub

_tally: contextvars.ContextVar[_Tally | None] = contextvars.ContextVar("tally", default=None)


MODES = {"tools": instructor.Mode.TOOLS, "json_schema": instructor.Mode.JSON_SCHEMA}


def make_client(client: openai.OpenAI, structured_by: str = "tools") -> instructor.Instructor:
    """Wrap an OpenAI client for schema-constrained replies (a forced tool call, or a JSON schema in
    `response_format`: `Settings.structured`), recording every raw completion."""
    # instructor logs every failed attempt at ERROR; grades record those failures, so its log is noise
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    structured = instructor.from_openai(client, mode=MODES[structured_by])
    structured.on("completion:kwargs", _count_try)
    structured.on("completion:response", _record_attempt)
    return structured


class _Attempt(BaseModel):
    usage: Usage
    reply: str


class _Tally(BaseModel):
    """What one criterion x chunk call cost, over transient retries and re-asks: HTTP tries and replies."""

    tries: int = 0
    log: list[_Attempt] = []


def _count_try(*_: Any, **__: Any) -> None:
    """instructor announces every request it sends (the client's own retries are off): one HTTP try each."""
    tally = _tally.get()
    if tally is not None:
        tally.tries += 1


def _record_attempt(response: Any) -> None:
    # instructor parses the response after this hook: the reply's secrets go here, before anything reads it
    scrub_completion(response)
    # snapshot now: instructor later adds the next attempts' usage into the first response's object
    tally = _tally.get()
    if tally is not None:
        tally.log.append(_Attempt(usage=Usage.of_response(response), reply=completion_arguments(response)))


class CallFailed(Exception):
    """A call that left no usable reply, with what it cost (read when it is finally given up); the
    original error is its cause."""

    def __init__(self, tally: _Tally) -> None:
        super().__init__("the call failed")
        self.tally = tally

    @property
    def attempts(self) -> int:
        return self.tally.tries

    @property
    def usage(self) -> Usage:
        return _usage(self.tally.log)

    @property
    def replies(self) -> list[str]:
        return [a.reply for a in self.tally.log]


class _CallResult(BaseModel):
    reply: GradeReply
    strict_failure: str | None
    log: list[_Attempt]
    tries: int = Field(description="HTTP requests sent, transient retries and re-asks included")
    reasks: int = Field(description="re-asks after a reply that failed validation, in the try that answered")


class CallSpec(BaseModel):
    """What one criterion x chunk call asks: messages, reply schema, and what its ids are checked against."""

    model_config = {"arbitrary_types_allowed": True, "frozen": True}
    messages: Messages
    reply_model: type[GradeReply]
    transcript: Transcript
    citable: frozenset[str]
    red_flag_ids: tuple[str, ...]

    def context(self) -> dict[str, Any]:
        return {"transcript": self.transcript, "citable": self.citable, "red_flag_ids": self.red_flag_ids}


def call_grader(client: instructor.Instructor, spec: CallSpec, settings: Settings) -> _CallResult:
    """One criterion call with both retry loops; raises only for failures that leave no reply."""
    retrying = transient_retrying(settings.transient_attempts, settings.transient_max_seconds,
                                  settings.backoff_max_seconds)
    tally = _Tally()
    token = _tally.set(tally)
    try:
        return retrying(_call_once, client, spec, settings, tally)
    finally:
        _tally.reset(token)


def _call_once(client: instructor.Instructor, spec: CallSpec, settings: Settings, tally: _Tally) -> _CallResult:
    first = len(tally.log)  # this try's replies start here (earlier tries failed transiently)

    def result(reply: GradeReply, strict_failure: str | None) -> _CallResult:
        return _CallResult(reply=reply, strict_failure=strict_failure, log=list(tally.log), tries=tally.tries,
                           reasks=max(len(tally.log) - first - 1, 0))

    try:
        reply = client.chat.completions.create(
            model=settings.model, messages=spec.messages.as_openai(), response_model=spec.reply_model,
            max_retries=settings.reasks, temperature=settings.temperature, seed=settings.seed,
            max_tokens=settings.max_tokens, context=spec.context(),
            **({"extra_body": {"prompt_cache_key": spec.transcript.content_hash()}}
               if settings.prompt_cache_key else {}),
        )
        return result(reply, None)
    except InstructorRetryException as exc:
        reply = None if is_transient(exc) else _lenient_parse(exc.last_completion, spec.reply_model)
        if reply is None:
            raise CallFailed(tally) from exc
        failure = one_line(str(exc.__cause__ or exc))
        _release(exc)
        return result(reply, failure)
    except (IncompleteOutputException, openai.OpenAIError) as exc:
        raise CallFailed(tally) from exc


def _lenient_parse(completion: Any, model: type[GradeReply]) -> GradeReply | None:
    """The last reply parsed without the citation check, or None when it is not schema-valid."""
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
    spec = call_spec(messages, rubric, competency, transcript, chunk, settings)
    base = CriterionGrade(competency_id=competency.id, criterion_id=criterion.id, status=GradeStatus.unscored,
                          chunks=[chunk.index], model=settings.model, prompt_version=prompt.version,
                          request_sha256=messages.sha256(), request_user=messages.user)
    started = time.perf_counter()
    try:
        result = call_grader(client, spec, settings)
    except CallFailed as failed:
        stop = fatal_in(failed) or refusal(failed)
        if stop:
            raise stop from None
        reason = describe_failure(failed.__cause__ or failed)
        _release(failed)
        return base.model_copy(update={"reason": reason, "attempts": failed.attempts,
                                       "reasks": max(len(failed.replies) - 1, 0),
                                       "usage": failed.usage, "replies": failed.replies,
                                       "seconds": time.perf_counter() - started})
    grade = grade_from_reply(result.reply, base, transcript, competency, spec.citable)
    probe = (probe_level(client.client, messages, settings)
             if settings.level_probs else LevelProbe(note=NOT_REQUESTED))
    return grade.model_copy(update={
        "level_probs": probe.probs, "level_probs_note": probe.note, "usage": _usage(result.log) + probe.usage,
        "attempts": result.tries, "reasks": result.reasks,
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
    return "citations still failed after the re-asks (listed as rejected)"


def call_spec(messages: Messages, rubric: Rubric, competency: Competency, transcript: Transcript, chunk: Chunk,
              settings: Settings) -> CallSpec:
    """The call for one criterion x chunk: the reply schema's id enums come from the chunk and the rubric."""
    citable = tuple(chunk.citable_ids())
    model = reply_model(settings.reply, citable, tuple(rubric.red_flag_ids()))
    return CallSpec(messages=messages, reply_model=model, transcript=transcript, citable=frozenset(citable),
                    red_flag_ids=tuple(competency.red_flag_ids))


def _release(exc: BaseException) -> None:
    """Drop an exception chain's frames once it is reduced to a reason: they hold the transcript."""
    for err in cause_chain(exc) + [e for e in (exc.__context__,) if e is not None]:
        traceback.clear_frames(err.__traceback__)
        err.__traceback__ = None
        err.__context__ = None
    exc.__cause__ = None


def describe_failure(exc: BaseException) -> str:
    """A one-line reason for an unscored grade (secrets scrubbed)."""
    return scrub(_describe(exc))


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__ if isinstance(exc, InstructorRetryException) and exc.__cause__ else exc
    if isinstance(exc, IncompleteOutputException):
        return "the reply was cut off at max_tokens before it was complete"
    if isinstance(cause, openai.APIStatusError):
        return f"server answered HTTP {cause.status_code}: {one_line(server_message(cause))}"
    if isinstance(cause, openai.APITimeoutError):
        return "the server did not answer in time (timeout after retries)"
    if isinstance(cause, openai.APIConnectionError):
        return "could not connect to the server (after retries)"
    if isinstance(cause, ValidationError):
        return f"no schema-valid reply after {getattr(exc, 'n_attempts', '?')} attempts: {one_line(str(cause))}"
    return f"{type(cause).__name__}: {one_line(str(cause))}"

