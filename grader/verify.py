"""Evidence verification: every quote is checked against the transcript, never trusted as given.

A quote is normalised (case, Unicode quotes, punctuation, whitespace and fillers such as "uh",
"uhm") and looked up in the cited turn, then in the candidate's other turns. It is verified when
it is found in a candidate turn exactly (after normalising) or as a near match: fuzzy similarity
of at least `NEAR_THRESHOLD` and at least `NEAR_MIN_WORDS` words. A quote found only in an
interviewer's turn, or nowhere, is rejected with the reason.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

from grader.grades import Evidence, MatchKind
from grader.transcript import Role, Transcript, Turn

NEAR_THRESHOLD = 90.0
NEAR_MIN_WORDS = 4
_FILLERS = re.compile(r"\b(?:u+h+m*|u+m+|a+h+|e+r+m*|h+m+|m+h+m*|mm+)\b")
_NON_WORD = re.compile(r"[^\w\s]")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("‘", "'")
    text = text.replace("'", "")  # "don't" and "dont" (transcription quirk) are the same word
    text = _NON_WORD.sub(" ", text)
    text = _FILLERS.sub(" ", text)
    return " ".join(text.split())


def match_quote(quote: str, turn_text: str) -> tuple[MatchKind, float]:
    """How well `quote` matches somewhere inside `turn_text`."""
    q, t = normalise(quote), normalise(turn_text)
    if not q or not t:
        return MatchKind.none, 0.0
    if f" {q} " in f" {t} ":
        return MatchKind.exact, 100.0
    score = fuzz.partial_ratio(q, t)
    if score >= NEAR_THRESHOLD and len(q.split()) >= NEAR_MIN_WORDS:
        return MatchKind.near, score
    return MatchKind.none, score


def verify_quote(quote: str, cited_turn: int, transcript: Transcript) -> Evidence:
    """Check one quote: in the cited candidate turn, else another candidate turn, else rejected."""
    cited = transcript.turn(cited_turn)
    order = ([cited] if cited and cited.role is Role.candidate else []) + [
        t for t in transcript.candidate_turns() if t is not cited]
    best: tuple[float, Turn | None] = (0.0, None)
    for turn in order:
        kind, score = match_quote(quote, turn.text)
        if kind is not MatchKind.none:
            note = None if turn is cited else f"cited turn {cited_turn}, found in turn {turn.index}"
            return Evidence(quote=quote, cited_turn=cited_turn, turn=turn.index, match=kind, similarity=score,
                            verified=True, note=note, start=turn.start, end=turn.end)
        best = max(best, (score, turn), key=lambda b: b[0])
    return Evidence(quote=quote, cited_turn=cited_turn, similarity=best[0], verified=False,
                    note=_rejection_reason(quote, cited_turn, transcript))


def _rejection_reason(quote: str, cited_turn: int, transcript: Transcript) -> str:
    if not normalise(quote):
        return "empty quote (only fillers or punctuation: not evidence)"
    for turn in transcript.turns:
        if turn.role is not Role.candidate and match_quote(quote, turn.text)[0] is not MatchKind.none:
            return f"these are the {turn.role.value}'s words (turn {turn.index}), not the candidate's"
    if transcript.turn(cited_turn) is None:
        return f"turn {cited_turn} does not exist and the words are not in any candidate turn"
    return "not found in any candidate turn (fabricated or paraphrased)"
