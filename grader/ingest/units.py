"""Citable units: every turn split into sentences, long ones cut at a clause boundary.

The model cites units by id (`<turn>.<n>`, e.g. `12.3`) and the quote a reader sees is the unit's
own text, so evidence is exact by construction.

The rule, in order:
1. Sentences come from `sentencex` (Wikimedia's maintained rule-based segmenter; it knows
   abbreviations such as "e.g.", "Dr." and decimals such as "4.5").
2. A unit longer than `MAX_WORDS` words (a run-on sentence, or unpunctuated ASR text, which the
   segmenter returns whole) is cut at a clause boundary: after the last `,` `;` `:` or dash, or
   before the last conjunction ("and", "but", "so", "because", ...) that leaves between
   `MIN_WORDS` and `MAX_WORDS` words in front; with no such boundary, after `MAX_WORDS` words.
3. A unit's text is exactly `turn.text[start_char:end_char]` (surrounding spaces left out), and its
   time is the start of the cue it begins in when the transcript has cue times, else the turn's.

`SPLITTER_VERSION` names this rule; it is part of every call's idempotency key, since unit ids
are what the model is asked to cite.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator, Sequence

import sentencex
from pydantic import BaseModel, ConfigDict, Field

SPLITTER_VERSION = "units/1 (sentencex, clause cut at 40 words)"
MAX_WORDS = 40
MIN_WORDS = 8
_CLAUSE_END = re.compile(r"[,;:]\s|\s[-–—]+\s")
_CONJUNCTION = re.compile(r"\s(?=(?:and|but|so|because|which|then|or|when|while|although|though|whereas)\b)",
                          re.IGNORECASE)
_WORD = re.compile(r"\S+")


class Unit(BaseModel):
    """A citable piece of a turn: its id, exact text, character span in the turn, and time."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(description="`<turn>.<n>`, n counted from 1 within the turn")
    text: str = Field(description="the turn's own text over the span")
    start_char: int = Field(ge=0, description="span in the turn's text: text == turn.text[start_char:end_char]")
    end_char: int = Field(ge=0)
    start: float | None = Field(None, description="seconds from the start of the recording, when known")

    @property
    def turn(self) -> int:
        return int(self.id.split(".")[0])


def split_units(turn_index: int, text: str, cue_starts: Sequence[tuple[int, float]] = (),
                turn_start: float | None = None) -> list[Unit]:
    """The units of one turn's text, in order, with ids `<turn_index>.1`, `.2`, ..."""
    spans = [piece for sentence in _sentence_spans(text) for piece in _cut_long(text, *sentence)]
    return [Unit(id=f"{turn_index}.{n}", text=text[a:b], start_char=a, end_char=b,
                 start=_time_at(a, cue_starts, turn_start))
            for n, (a, b) in enumerate(spans, start=1)]


def _sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence in `text`, found in order, surrounding whitespace left out."""
    cursor = 0
    for sentence in sentencex.segment("en", text):
        stripped = sentence.strip()
        if not stripped:
            continue
        start = text.find(stripped, cursor)
        if start < 0:  # the segmenter changed the text: fall back to the rest as one sentence
            rest = text[cursor:]
            if rest.strip():
                yield _strip(text, cursor, len(text))
            return
        cursor = start + len(stripped)
        yield start, cursor
    if text[cursor:].strip():
        yield _strip(text, cursor, len(text))


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), end - (len(piece) - len(piece.rstrip()))


def _cut_long(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The span whole if it has at most MAX_WORDS words, else cut at clause boundaries.

    Each cut looks at the next MAX_WORDS + 1 words only, so a turn of a million unpunctuated words
    is cut in linear time (it once recounted the rest of the turn at every cut).
    """
    while True:
        words = list(itertools.islice(_WORD.finditer(text, start, end), MAX_WORDS + 1))
        if len(words) <= MAX_WORDS:
            break
        cut = _clause_cut(text, words)
        yield _strip(text, start, cut)
        start = _strip(text, cut, end)[0]
    yield start, end


def _clause_cut(text: str, words: list[re.Match[str]]) -> int:
    """Where to cut a long span whose first MAX_WORDS + 1 words are `words`: the last clause boundary that keeps
    MIN_WORDS..MAX_WORDS words in front."""
    limit = words[MAX_WORDS].start()  # the first word that would not fit
    floor = words[MIN_WORDS].start()
    for pattern in (_CLAUSE_END, _CONJUNCTION):
        cuts = [m.end() if pattern is _CLAUSE_END else m.start() + 1 for m in pattern.finditer(text, floor, limit)]
        if cuts:
            return cuts[-1]
    return limit


def _time_at(char: int, cue_starts: Sequence[tuple[int, float]], turn_start: float | None) -> float | None:
    """Start of the last cue that begins at or before `char`; the turn's start without cue times."""
    at = bisect.bisect_right(cue_starts, char, key=lambda cue: cue[0])
    return cue_starts[at - 1][1] if at else turn_start
