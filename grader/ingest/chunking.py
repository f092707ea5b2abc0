"""Chunks: runs of consecutive turns under a token budget, a question kept with its answer.

A transcript that fits the budget is one chunk (the usual case, and the best for prefix reuse).
A longer one is cut between exchanges (an interviewer turn with the answers that follow it); an
exchange longer than the budget is cut between turns, and a single turn longer than the budget
into windows of whole units that keep their ids, so citations still name the right sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol

import openai
from pydantic import BaseModel, ConfigDict

from grader.errors import BackendError, fatal_in
from grader.ingest.transcript import Role, Transcript, Turn


class TokenCounter(Protocol):
    name: str

    def count(self, text: str) -> int: ...


class EstimatedTokens:
    """Offline estimate for any model: the larger of 4 characters and 0.75 words per token.

    English prose runs at about 4 characters (0.75 words) per token in BPE vocabularies; the
    larger of the two keeps a margin for disfluent speech with many short words.
    """

    name = "estimate"

    def count(self, text: str) -> int:
        return max(math.ceil(len(text) / 4), math.ceil(len(text.split()) / 0.75))


class ServerTokens:
    """Exact counts with the embedded model's own (GGUF) vocabulary, from its llama.cpp server's `/tokenize`.

    Sent through the OpenAI client given, so a count asked of a server that died says so like any call.
    """

    name = "gguf"

    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client
        self.url = str(client.base_url).rstrip("/").removesuffix("/v1") + "/tokenize"

    @lru_cache(maxsize=4096)  # noqa: B019 (one counter per grader; a turn is counted more than once)
    def count(self, text: str) -> int:
        try:
            reply = self.client.post(self.url, body={"content": text, "add_special": False}, cast_to=object)
        except openai.APIConnectionError as exc:
            fatal = fatal_in(exc)
            if fatal is not None:
                raise fatal from None
            raise
        if not isinstance(reply, dict) or not isinstance(reply.get("tokens"), list):
            raise BackendError(f"the embedded server's /tokenize answered {str(reply)[:100]!r}, not a token list",
                               fix="run `grader doctor`, or point --base-url at another server")
        return len(reply["tokens"])


class Chunk(BaseModel):
    model_config = ConfigDict(frozen=True)
    index: int
    turns: list[Turn]
    tokens: int

    @property
    def first_turn(self) -> int:
        return self.turns[0].index

    @property
    def last_turn(self) -> int:
        return self.turns[-1].index

    def citable_ids(self) -> list[str]:
        """Ids of the candidate's units shown in this chunk: the only ones the model may cite."""
        return [u.id for t in self.turns if t.role is Role.candidate for u in t.units]


SPEAKER_MAX_CHARS = 40


def render_turn(turn: Turn) -> str:
    """How a turn appears to the model, on one line.

    A candidate's units carry their ids, `Candidate (Sam, 01:02): [7.1] First sentence. [7.2] Next.`;
    other speakers' turns are context without ids. The speaker's name is cut to one short line.
    """
    when = f", {format_time(turn.start)}" if turn.start is not None else ""
    speaker = " ".join(turn.speaker.split())[:SPEAKER_MAX_CHARS]
    if turn.role is Role.candidate:
        body = " ".join(f"[{u.id}] {u.text}" for u in turn.units)
    else:
        body = " ".join(u.text for u in turn.units)
    return _neutralise_delimiters(f"{turn.role.value.capitalize()} ({speaker}{when}): {body}")


_DELIMITER = re.compile(r"<\s*(/?)\s*transcript", re.IGNORECASE)


def _neutralise_delimiters(text: str) -> str:
    """A `<transcript>` or `</transcript>` inside the text cannot close or open the prompt's data block."""
    return _DELIMITER.sub(lambda m: f"‹{m.group(1)}transcript", text)


def format_time(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes:02d}:{sec:02d}"


def turns_tokens(turns: Iterable[Turn], counter: TokenCounter) -> int:
    """Tokens of turns as the model sees them, one line each."""
    return sum(counter.count(render_turn(t)) + 1 for t in turns)


def chunk_transcript(transcript: Transcript, budget: int, counter: TokenCounter) -> list[Chunk]:
    """Split the transcript into chunks of at most `budget` tokens (as rendered for the model)."""
    if budget <= 0:
        raise ValueError("the token budget must be positive")
    pieces = [p for exchange in exchanges(transcript.turns) for p in _fit(exchange, budget, counter)]
    chunks: list[list[Turn]] = []
    sizes: list[int] = []
    for piece in pieces:
        size = turns_tokens(piece, counter)
        if chunks and sizes[-1] + size <= budget:
            chunks[-1].extend(piece)
            sizes[-1] += size
        else:
            chunks.append(list(piece))
            sizes.append(size)
    return [Chunk(index=i, turns=turns, tokens=size)
            for i, (turns, size) in enumerate(zip(chunks, sizes, strict=True), start=1)]


def exchanges(turns: Iterable[Turn]) -> list[list[Turn]]:
    """Group turns so that each interviewer turn starts a group with the answers after it."""
    groups: list[list[Turn]] = []
    for turn in turns:
        if not groups or (turn.role is Role.interviewer and groups[-1][-1].role is not Role.interviewer):
            groups.append([turn])
        else:
            groups[-1].append(turn)
    return groups


def _fit(exchange: list[Turn], budget: int, counter: TokenCounter) -> list[list[Turn]]:
    """The exchange whole if it fits, else its turns one by one, long turns cut into windows."""
    if turns_tokens(exchange, counter) <= budget:
        return [exchange]
    return [[piece] for turn in exchange for piece in _windows(turn, budget, counter)]


def _windows(turn: Turn, budget: int, counter: TokenCounter) -> list[Turn]:
    """A turn longer than the budget as windows of consecutive whole units (ids kept)."""
    if turns_tokens([turn], counter) <= budget:
        return [turn]
    pieces: list[Turn] = []
    start = 0
    while start < len(turn.units):
        end = _longest_prefix(turn, start, budget, counter)
        pieces.append(turn.model_copy(update={"units": turn.units[start:end]}))
        start = end
    return pieces


def _longest_prefix(turn: Turn, start: int, budget: int, counter: TokenCounter) -> int:
    """The largest end such that units[start:end] fit the budget (at least one unit)."""
    lo, hi = start + 1, len(turn.units)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        probe = turn.model_copy(update={"units": turn.units[start:mid]})
        if turns_tokens([probe], counter) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo
