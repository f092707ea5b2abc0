"""Level probabilities from token log-probabilities (G-Eval style), by a short probe call.

After a criterion is graded, the same messages are sent once more with a tool that takes the level
only, asking for token log-probabilities. The prompt is the one just graded, so the server reuses
its prefix, and the reply is a few tokens: the probe costs about a second on the embedded model,
where asking for log-probabilities on the whole graded reply tripled the time of every call.
The token where the level value begins carries the model's probability of every alternative
there; those that can start a level ("1".."5", or the quote opening "insufficient_evidence") are
renormalised into a distribution, and the expected level is its mean over 1..5. `mass` is the
model's total probability on those alternatives, so a thin distribution is visible, not hidden.
When the server returns no log-probabilities, or the probe fails, the grade says so in
`level_probs_note`; nothing is guessed, and the probe never changes the graded level.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import openai
from pydantic import BaseModel

from grader.errors import fatal_in
from grader.grading.grades import LevelProbabilities, Settings, Usage
from grader.grading.prompts import Messages
from grader.grading.reply import INSUFFICIENT, completion_arguments, scrub_completion
from grader.scrub import scrub

NOT_REQUESTED = "not requested (grade with --level-probs)"
NOT_RETURNED = "the server returned no token log-probabilities"
NOT_FOUND = "the level's token was not found among the returned log-probabilities"
_LEVEL_KEY = re.compile(r'"level"\s*:\s*')
PROBE_SCHEMA = {"type": "object", "properties": {"level": {"enum": [1, 2, 3, 4, 5, INSUFFICIENT]}},
                "required": ["level"]}
PROBE_TOOL = {"type": "function", "function": {
    "name": "give_level", "description": "The level only, for the criterion just graded.", "parameters": PROBE_SCHEMA}}
PROBE_FORMAT = {"type": "json_schema", "json_schema": {"name": "give_level", "schema": PROBE_SCHEMA}}


class LevelProbe(BaseModel):
    """What the probe found: the probabilities, or the reason there are none, and what it cost."""

    probs: LevelProbabilities | None = None
    note: str | None = None
    usage: Usage = Usage()


def probe_level(client: openai.OpenAI, messages: Messages, settings: Settings) -> LevelProbe:
    """One short call for the level alone, with token log-probabilities; failures become a note.

    The level is held to its enum the way the grade was (`Settings.structured`): a forced tool, or a
    JSON schema. A crash of the embedded server is not a note: it stops the grading.
    """
    constraint: dict[str, Any] = (
        {"response_format": PROBE_FORMAT} if settings.structured == "json_schema"
        else {"tools": [PROBE_TOOL], "tool_choice": {"type": "function", "function": {"name": "give_level"}}})
    try:
        response = client.chat.completions.create(
            model=settings.model, messages=messages.as_openai(), temperature=0.0, seed=settings.seed,
            max_tokens=24, logprobs=True, top_logprobs=settings.top_logprobs, **constraint)
    except openai.OpenAIError as exc:
        fatal = fatal_in(exc)
        if fatal is not None:
            raise fatal from None
        detail = scrub(" ".join(str(exc).split()))[:200]
        return LevelProbe(note=f"the probe call failed: {type(exc).__name__}: {detail}")
    scrub_completion(response)  # the level written is recorded: no secret a server echoed in it
    usage = Usage.of_response(response)
    tokens, arguments = tokens_of(response), completion_arguments(response)
    if tokens is None:
        return LevelProbe(note=NOT_RETURNED, usage=usage)
    probs = level_probabilities(tokens, arguments)
    return LevelProbe(probs=probs, note=None if probs else NOT_FOUND, usage=usage)


def tokens_of(response: Any) -> list[Any] | None:
    """The reply's per-token log-probabilities (OpenAI `choices[0].logprobs.content`), or None."""
    try:
        content = response.choices[0].logprobs.content
    except (AttributeError, IndexError):
        return None
    return list(content) if content else None


def level_probabilities(tokens: list[Any], arguments: str) -> LevelProbabilities | None:
    """The distribution at the token that starts the reply's level value; None when it cannot be found.

    `tokens` are the reply's tokens with `.token`, `.logprob` and `.top_logprobs` (each `.token`,
    `.logprob`); their texts joined must give `arguments`, the JSON the model wrote.
    """
    try:
        written = json.loads(arguments).get("level")
    except (ValueError, AttributeError):
        return None  # cut off, or not an object: no level was written
    matches = list(_LEVEL_KEY.finditer(arguments))
    if not matches:
        return None
    # a server may write around the JSON it returns (llama.cpp's native server fences it in ```json)
    joined = "".join(item.token for item in tokens)
    start, position = matches[-1].end() + max(joined.find(arguments), 0), 0
    for item in tokens:
        end = position + len(item.token)
        if position <= start < end and item.token[: start - position].strip() == "":
            return _distribution(item.top_logprobs or [item], written)
        position = end
    return None


def _distribution(alternatives: list[Any], written: object) -> LevelProbabilities:
    probs: dict[str, float] = dict.fromkeys(["1", "2", "3", "4", "5", INSUFFICIENT], 0.0)
    for alt in alternatives:
        level = _level_started_by(alt.token)
        if level is not None:
            probs[level] += math.exp(alt.logprob)
    mass = sum(probs.values())
    if mass > 0:
        probs = {k: v / mass for k, v in probs.items()}
    numeric = sum(probs[str(level)] for level in range(1, 6))
    expected = sum(level * probs[str(level)] for level in range(1, 6)) / numeric if numeric > 0 else None
    return LevelProbabilities(level=None if written is None else str(written), probs=probs, expected=expected,
                              mass=min(mass, 1.0), top_logprobs=len(alternatives))


def _level_started_by(token: str) -> str | None:
    """The level a token can begin: a digit 1..5, or the quote opening "insufficient_evidence"."""
    text = token.strip()
    if not text:
        return None
    if text[0] in "12345" and not text[1:2].isdigit():
        return text[0]
    return INSUFFICIENT if text[0] == '"' and INSUFFICIENT.startswith(text[1:].rstrip('"')) else None
