"""Verification is structural: a cited id is resolved to the candidate's unit, or rejected with the reason.

The model writes only unit ids; the text a reader sees is looked up here from the transcript, so a
quote cannot be misquoted. An id that is not a candidate's unit of the part shown (unknown, the
interviewer's, or outside the chunk) becomes a `RejectedCitation`, never a silently kept or
silently dropped quote.
"""

from __future__ import annotations

from collections.abc import Iterable

from grader.grading.grades import Evidence, RejectedCitation
from grader.grading.reply import citation_problem
from grader.ingest.transcript import Transcript


def resolve_unit(unit_id: str, transcript: Transcript, citable: Iterable[str], *, note: str | None = None,
                 flag_id: str | None = None) -> Evidence | RejectedCitation:
    """The cited unit with its exact text, turn, speaker and time; or why it cannot be cited."""
    problem = citation_problem(unit_id, transcript, frozenset(citable))
    if problem:
        return RejectedCitation(unit=unit_id, flag_id=flag_id, reason=problem)
    turn, unit = transcript.units()[unit_id]
    return Evidence(unit=unit.id, turn=turn.index, speaker=turn.speaker, text=unit.text, start=unit.start,
                    note=(note or "").strip() or None)


def resolve_all(items: Iterable[tuple[str, str | None]], transcript: Transcript, citable: Iterable[str],
                flag_id: str | None = None) -> tuple[list[Evidence], list[RejectedCitation]]:
    """Resolve (unit id, note) pairs; a repeated id is kept once."""
    citable = frozenset(citable)
    resolved, rejected, seen = [], [], set()
    for unit_id, note in items:
        if unit_id in seen:
            continue
        seen.add(unit_id)
        item = resolve_unit(unit_id, transcript, citable, note=note, flag_id=flag_id)
        (resolved if isinstance(item, Evidence) else rejected).append(item)
    return resolved, rejected
