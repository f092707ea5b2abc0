"""The schema the LLM must answer in (one tool call), and its check of every quote.

The same schema serves every criterion, so the tool definition the server puts in front of the
prompt never changes within a run and does not break the cached prefix. Bounds that a grammar
cannot enforce on numbers are expressed as enums (the level) and lengths (strings and lists).
When the validation context carries a transcript, every quote is verified; a failure raises a
`ValueError` whose text instructor feeds back to the model as the re-ask.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, model_validator

from grader.transcript import Transcript
from grader.verify import verify_quote

INSUFFICIENT = "insufficient_evidence"


class QuoteReply(BaseModel):
    turn: int = Field(description="number in square brackets of the candidate turn quoted")
    quote: str = Field(max_length=160, description="the candidate's words, copied exactly")


class RedFlagReply(BaseModel):
    flag: str = Field(max_length=6, description="id of the red flag heard, e.g. rf1")
    turn: int = Field(description="number of the candidate turn that shows it")
    quote: str = Field(max_length=160, description="the candidate's words that show it, copied exactly")


class GradeReply(BaseModel):
    """A criterion's grade as the model gives it: evidence first, the level last."""

    evidence: list[QuoteReply] = Field(max_length=3, description="up to 3 short quotes of the candidate")
    red_flags: list[RedFlagReply] = Field(max_length=2, description="red flags heard, if any")
    rationale: str = Field(max_length=400, description="two or three sentences")
    level: Literal[1, 2, 3, 4, 5, "insufficient_evidence"]

    @model_validator(mode="after")
    def _check_quotes(self, info: ValidationInfo) -> GradeReply:
        context: dict[str, Any] = info.context or {}
        transcript = context.get("transcript")
        if transcript is None or not context.get("strict", True):
            return self
        problems = reply_problems(self, transcript, context.get("red_flag_ids", []))
        if problems:
            raise ValueError("Some quotes are not the candidate's words:\n" + "\n".join(problems) +
                             "\nCopy the candidate's words exactly from one candidate turn and give that "
                             "turn's number, or leave the quote out.")
        return self


class CompactQuote(QuoteReply):
    quote: str = Field(max_length=100, description="the candidate's words, copied exactly")


class CompactRedFlag(RedFlagReply):
    quote: str = Field(max_length=100, description="the candidate's words that show it, copied exactly")


class CompactGradeReply(GradeReply):
    """A shorter reply for long calibration runs on slow hardware: one quote, one flag, a one-sentence rationale.

    Generation dominates a call on the embedded model, so this cuts its time by about a third; the
    quote is verified exactly as in the full reply. Chosen with `--reply compact`; the schema is part
    of every call's idempotency key and stored with the run.
    """

    evidence: list[CompactQuote] = Field(max_length=1, description="the one short quote of the candidate that "
                                                                   "best shows the level")
    red_flags: list[CompactRedFlag] = Field(max_length=1, description="a red flag heard, if any")
    rationale: str = Field(max_length=120, description="one sentence")


REPLY_MODELS: dict[str, type[GradeReply]] = {"full": GradeReply, "compact": CompactGradeReply}


@functools.cache
def reply_schema_sha256(kind: str) -> str:
    """Hash of a reply schema: a change of its bounds changes what the model is asked to write."""
    return hashlib.sha256(json.dumps(REPLY_MODELS[kind].model_json_schema(), sort_keys=True).encode()).hexdigest()


def completion_arguments(response: Any) -> str:
    """What the model wrote in a chat completion: its first tool call's arguments, else its content."""
    try:
        message = response.choices[0].message
    except (AttributeError, IndexError):
        return ""
    calls = message.tool_calls or []
    return calls[0].function.arguments if calls else (message.content or "")


def is_strict_json(text: str) -> bool:
    """Whether the text parses as JSON without leniency (no raw control characters inside strings)."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def parse_arguments(arguments: str, model: type[GradeReply] = GradeReply) -> GradeReply:
    """A tool call's arguments, schema-checked but without the quote check (done later).

    Raw control characters inside strings (small models write raw newlines) are accepted here: the
    content is still schema-checked and every quote verified.
    """
    try:
        return model.model_validate_json(arguments, context={"strict": False})
    except ValidationError as exc:
        if not any(e["type"] == "json_invalid" for e in exc.errors()):
            raise
        try:
            data = json.loads(arguments, strict=False)
        except ValueError:
            raise exc from None
        return model.model_validate(data, context={"strict": False})


def reply_problems(reply: GradeReply, transcript: Transcript, red_flag_ids: list[str]) -> list[str]:
    """Everything wrong with a reply's quotes and flags, one line each (empty when all is well)."""
    problems = []
    for i, item in enumerate(reply.evidence):
        ev = verify_quote(item.quote, item.turn, transcript)
        if not ev.verified:
            problems.append(f"- evidence[{i}] {item.quote[:80]!r} (turn {item.turn}): {ev.note}")
    for i, flag in enumerate(reply.red_flags):
        if flag.flag not in red_flag_ids:
            problems.append(f"- red_flags[{i}]: {flag.flag!r} is not one of {', '.join(red_flag_ids)}")
        ev = verify_quote(flag.quote, flag.turn, transcript)
        if not ev.verified:
            problems.append(f"- red_flags[{i}] {flag.quote[:80]!r} (turn {flag.turn}): {ev.note}")
    if reply.level != INSUFFICIENT and not reply.evidence:
        problems.append(f"- level {reply.level} needs at least one quote of the candidate as evidence")
    return problems
