"""The schema the LLM must answer in (one tool call): evidence is cited by unit id, never copied.

Evidence is a list of the candidate's unit ids (each with an optional short note); red flags map a
red-flag id to the unit ids where it was heard (`{"rf2": ["9.1"]}`: a flag is named once, and an
empty map costs the model three tokens, where a list of objects cost a 135M model 38 tokens a reply
because it filled every slot); the rationale is bounded and comes before the level, so the model
reasons first. Bounds a grammar cannot enforce on numbers are enums (the level), lengths bound
strings and lists.

The unit ids are an enum built per chunk from the candidate's units (`reply_model`), so a
grammar-constrained server (llama.cpp) cannot write an id that does not exist and a strict-schema
server (OpenAI structured outputs, vLLM guided decoding) is held to it too. Red-flag ids are an
enum of the whole rubric's flags, so the tool definition stays the same for every criterion of a
chunk and does not break the cached prompt prefix. Past `MAX_ENUM_IDS` ids the schema gives a
pattern instead of the enum (see README). Whatever the server enforced, every id is validated
here: with the transcript in the validation context, a bad id raises a `ValueError` whose text
instructor feeds back to the model as the re-ask.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, create_model, model_validator
from pydantic.fields import FieldInfo

from grader.ingest.transcript import Role, Transcript
from grader.scrub import scrub_json

INSUFFICIENT = "insufficient_evidence"
# OpenAI structured outputs allow at most 500 enum values in a schema (with a limit on their
# total length). llama.cpp takes larger enums, but every generated token slows with the enum's
# size: +13% at 500 ids, +64% at 2,000, 4.9x at 10,000 (python -m evals.enum_limit, see README)
MAX_ENUM_IDS = 500
# `[.]`, not `\.`: llama-cpp-python turns `\.` into a grammar escape its own parser rejects, and the
# server process dies on the request (measured with 0.3.36, see evals/enum_limit.py)
UNIT_PATTERN = r"^[0-9]+[.][0-9]+$"
_PLACEHOLDER_IDS = ("<unit ids of the chunk>",)


class CitedUnit(BaseModel):
    unit: str = Field(description="id in square brackets of one candidate sentence, e.g. 8.2")
    note: str | None = Field(None, max_length=60, description="optional: what it shows, a few words")


FlagUnits = Annotated[list[str], Field(min_length=1, max_length=2)]
FLAGS_DESCRIPTION = "red flags heard, if any: a red flag's id (rf1, ...) with the ids of the sentences that show it"


class GradeReply(BaseModel):
    """A criterion's grade as the model gives it: evidence, red flags, rationale, and the level last."""

    evidence: list[CitedUnit] = Field(max_length=3, description="up to 3 ids of candidate sentences that show the "
                                                                "level")
    # keys bounded by the enum of the rubric's red-flag ids (`reply_model`), not by a count: llama.cpp's
    # grammars do not enforce maxProperties, and a reply naming a third flag would lose its grade
    red_flags: dict[str, FlagUnits] = Field(description=FLAGS_DESCRIPTION)
    rationale: str = Field(max_length=160, description="one or two short sentences that explain the level")
    level: Literal[1, 2, 3, 4, 5, "insufficient_evidence"]

    @model_validator(mode="after")
    def _check_citations(self, info: ValidationInfo) -> GradeReply:
        context: dict[str, Any] = info.context or {}
        transcript = context.get("transcript")
        if transcript is None or not context.get("strict", True):
            return self
        problems = reply_problems(self, transcript, context.get("citable", ()), context.get("red_flag_ids", ()))
        if problems:
            raise ValueError("Some citations are not the candidate's sentences:\n" + "\n".join(problems) +
                             "\nCite only ids in square brackets of the candidate's sentences, such as 8.2.")
        return self


class CompactGradeReply(GradeReply):
    """A shorter reply for long calibration runs on slow hardware: one unit and a one-sentence rationale.

    Red flags stay as in the full reply: a grammar bounds the items of a list but not the keys of a
    map, so a bound on the flags would make a reply naming more fail validation and lose the grade.
    """

    evidence: list[CitedUnit] = Field(max_length=1, description="the id of the one candidate sentence that best "
                                                                "shows the level")
    rationale: str = Field(max_length=120, description="one sentence")


REPLY_MODELS: dict[str, type[GradeReply]] = {"full": GradeReply, "compact": CompactGradeReply}


@functools.lru_cache(maxsize=64)
def reply_model(kind: str, unit_ids: tuple[str, ...], flag_ids: tuple[str, ...],
                max_enum_ids: int = MAX_ENUM_IDS) -> type[GradeReply]:
    """The reply schema of one chunk: unit ids and red-flag ids as enums (unit ids a pattern past max_enum_ids)."""
    base = REPLY_MODELS[kind]
    unit = unit_constraint(unit_ids, max_enum_ids)
    cited = create_model("CitedUnit", __base__=CitedUnit, unit=(str, Field(
        description=CitedUnit.model_fields["unit"].description, json_schema_extra=unit)))
    per_flag = {"type": "array", "items": {"type": "string", **unit}, "minItems": 1, "maxItems": 2}
    flags = FieldInfo.merge_field_infos(base.model_fields["red_flags"], json_schema_extra={
        "properties": dict.fromkeys(flag_ids, per_flag), "additionalProperties": False})
    return create_model(base.__name__, __base__=base, __doc__=base.__doc__,
                        evidence=(list[cited], base.model_fields["evidence"]),  # type: ignore[valid-type]
                        red_flags=(dict[str, FlagUnits], flags))


def unit_constraint(unit_ids: tuple[str, ...], max_enum_ids: int = MAX_ENUM_IDS) -> dict[str, Any]:
    """The JSON-schema constraint on a unit id: the enum of the chunk's ids, or a pattern past max_enum_ids."""
    return {"enum": list(unit_ids)} if len(unit_ids) <= max_enum_ids else {"pattern": UNIT_PATTERN}


@functools.cache
def reply_schema_sha256(kind: str) -> str:
    """Hash of a reply schema with placeholder ids: what the model is asked to write, apart from the ids.

    The ids themselves follow from the transcript and the splitter, which the call key holds.
    """
    schema = reply_model(kind, _PLACEHOLDER_IDS, ("<red flag ids>",)).model_json_schema()
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()


def completion_arguments(response: Any) -> str:
    """What the model wrote in a chat completion: its first tool call's arguments, else its content."""
    try:
        message = response.choices[0].message
    except (AttributeError, IndexError):
        return ""
    calls = message.tool_calls or []
    return calls[0].function.arguments if calls else (message.content or "")


def scrub_completion(response: Any) -> None:
    """Scrub, in place, what the model wrote in a chat completion (tool-call arguments, content) of the
    secrets this process knows, before anything reads it.

    This is where a reply enters grader: instructor parses the same object after its
    `completion:response` hook, the raw replies are recorded from it, a re-ask sends it back, and a
    lenient parse reads it again. Scrubbed here, the rationale, notes, cited and red-flag ids, the
    raw replies and everything built from them (the store, the sheets, the exports, the review
    pages) are clean by construction: a server that echoes the API key in a 200 leaks it nowhere.
    """
    for choice in getattr(response, "choices", None) or []:
        message = getattr(choice, "message", None)
        if message is None:
            continue
        for call in message.tool_calls or []:
            function = getattr(call, "function", None)
            if function is not None and isinstance(function.arguments, str):
                function.arguments = scrub_json(function.arguments)
        if isinstance(message.content, str):
            message.content = scrub_json(message.content)


def is_strict_json(text: str) -> bool:
    """Whether the text parses as JSON without leniency (no raw control characters inside strings)."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def parse_arguments(arguments: str, model: type[GradeReply] = GradeReply) -> GradeReply:
    """A tool call's arguments, schema-checked but without the citation check (done later).

    Raw control characters inside strings (small models write raw newlines) are accepted here: the
    content is still schema-checked and every id resolved against the transcript.
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


def citation_problem(unit_id: str, transcript: Transcript, citable: frozenset[str] | tuple[str, ...]) -> str | None:
    """Why an id is not a citable unit of the candidate in the part shown, or None when it is."""
    if unit_id in citable:
        return None
    found = transcript.units().get(unit_id)
    if found is None:
        return f"there is no sentence {unit_id} in the transcript"
    if found[0].role is not Role.candidate:
        return f"sentence {unit_id} is the {found[0].role.value}'s, not the candidate's"
    return f"sentence {unit_id} is not in the part of the transcript shown"


def reply_problems(reply: GradeReply, transcript: Transcript, citable: frozenset[str] | tuple[str, ...],
                   red_flag_ids: list[str] | tuple[str, ...]) -> list[str]:
    """Everything wrong with a reply's citations and flags, one line each (empty when all is well)."""
    problems = [f"- evidence[{i}] {item.unit!r}: {why}" for i, item in enumerate(reply.evidence)
                if (why := citation_problem(item.unit, transcript, citable))]
    for flag, units in reply.red_flags.items():
        if flag not in red_flag_ids:
            problems.append(f"- red_flags: {flag!r} is not one of {', '.join(red_flag_ids) or '(none)'}")
        problems += [f"- red_flags[{flag!r}] {unit!r}: {why}" for unit in units
                     if (why := citation_problem(unit, transcript, citable))]
    if reply.level != INSUFFICIENT and not reply.evidence:
        problems.append(f"- level {reply.level} needs at least one id of a candidate sentence as evidence")
    return problems
