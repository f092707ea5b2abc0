"""Verification is structural: a cited id is resolved to the candidate's unit, or rejected with the reason.

The model writes only unit ids; the text a reader sees is looked up here from the transcript, so a
quote cannot be misquoted. An id that is not a candidate's unit of the part shown (unknown, the
interviewer's, or outside the chunk) becomes a `RejectedCitation`, never a silently kept or
silently dropped quote. A reply becomes a grade here (`grade_from_reply`), and the grades of a long
transcript's chunks one grade (`combine_chunk_grades`).
"""

from __future__ import annotations

from collections.abc import Iterable

from grader.grading.grades import CriterionGrade, Evidence, GradeStatus, RedFlagHeard, RejectedCitation, Usage
from grader.grading.reply import INSUFFICIENT, GradeReply, citation_problem
from grader.ingest.rubric import Competency
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


def grade_from_reply(reply: GradeReply, base: CriterionGrade, transcript: Transcript, competency: Competency,
                     citable: frozenset[str]) -> CriterionGrade:
    """Resolve every cited id to the candidate's unit and turn the reply into a grade; nothing is dropped."""
    evidence, rejected = resolve_all(((c.unit, c.note) for c in reply.evidence), transcript, citable)
    flags, bad_flags = _checked_flags(reply, transcript, competency, citable)
    rejected += bad_flags
    if reply.level == INSUFFICIENT:
        status, level, reason = GradeStatus.insufficient_evidence, None, None
    else:
        status, level = GradeStatus.scored, reply.level
        reason = None if evidence else f"level {level} cites no sentence of the candidate: not counted in the score"
    return base.model_copy(update={
        "status": status, "level": level, "rationale": reply.rationale.strip(), "evidence": evidence,
        "rejected": rejected, "red_flags": flags, "needs_review": bool(rejected) or reason is not None,
        "reason": reason,
    })


def _checked_flags(reply: GradeReply, transcript: Transcript, competency: Competency,
                   citable: frozenset[str]) -> tuple[list[RedFlagHeard], list[RejectedCitation]]:
    heard, rejected = [], []
    for flag_id, units in reply.red_flags.items():
        if flag_id not in competency.red_flag_ids:
            rejected.append(RejectedCitation(flag_id=flag_id, reason=f"{flag_id!r} is not a red flag of "
                                                                     f"{competency.name}"))
            continue
        evidence, bad = resolve_all(((u, None) for u in units), transcript, citable, flag_id=flag_id)
        rejected += bad
        if evidence:
            heard.append(RedFlagHeard(flag_id=flag_id, flag=competency.red_flag(flag_id), evidence=evidence))
    return heard, rejected


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
