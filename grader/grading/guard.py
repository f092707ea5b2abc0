"""Untrusted transcripts at the grading step: integrity findings hold a pass, personal data never leaves.

- Every unit of every speaker (and every speaker's name) is scanned for text addressed to the
  grader (`grader.safety.detect`). A finding is recorded on the sheet with the unit it is in, the
  sheet needs review, and no competency can pass automatically: a `pass` becomes `undetermined`
  with the reason.
- With redaction on, the chunks are redacted before any prompt is rendered: speakers become
  `[CANDIDATE]`, `[INTERVIEWER]` ..., emails, phones, URLs, id numbers and addresses become numbered
  placeholders (`grader.safety.Redactor`). Unit ids are kept, so citations resolve to the original
  text; the mapping stays in memory, and the model's rationale is shown with the original words.
"""

from __future__ import annotations

from typing import TypeVar

from grader.grading.aggregate import CompetencyResult, Decision
from grader.grading.grades import CriterionGrade, SampleGrade
from grader.ingest.chunking import Chunk
from grader.ingest.transcript import Transcript, Turn
from grader.safety import IntegrityFinding, Redactor, detect

G = TypeVar("G", CriterionGrade, SampleGrade)
HOLD_REASON = "held for review: the transcript contains text addressed to the grader (integrity findings)"


def integrity_findings(transcript: Transcript) -> list[IntegrityFinding]:
    """Findings in every unit of every speaker, and in speaker names (cited by turn); an instruction cut across
    one speaker's consecutive turns is read joined."""
    items = [(u.id, u.text, t.speaker) for t in transcript.turns for u in t.units]
    names = {t.speaker: str(t.index) for t in reversed(transcript.turns)}  # first turn of each speaker
    items += [(f"{turn} (speaker name)", name, name) for name, turn in names.items()]
    return detect(items)


def hold_passes(results: list[CompetencyResult], findings: list[IntegrityFinding]) -> list[CompetencyResult]:
    """With any finding, no competency passes automatically: a pass becomes undetermined, with the reason."""
    if not findings:
        return results
    return [r.model_copy(update={"decision": Decision.undetermined, "hold": HOLD_REASON})
            if r.decision is Decision.passed else r for r in results]


def transcript_redactor(transcript: Transcript, *, redact_orgs: bool = False) -> Redactor:
    """A redactor for one transcript, its placeholders numbered in transcript order (organisations too when asked)."""
    redactor = Redactor.from_speakers({t.speaker: t.role.value for t in transcript.turns}, redact_orgs=redact_orgs)
    redactor.prepare(u.text for t in transcript.turns for u in t.units)
    return redactor


def redact_chunk(chunk: Chunk, redactor: Redactor) -> Chunk:
    """The chunk as it may leave the machine: names and personal data replaced, unit ids kept."""
    return chunk.model_copy(update={"turns": [_redact_turn(t, redactor) for t in chunk.turns]})


def _redact_turn(turn: Turn, redactor: Redactor) -> Turn:
    units = [u.model_copy(update={"text": redactor.redact(u.text)}) for u in turn.units]
    return turn.model_copy(update={"speaker": redactor.redact(turn.speaker), "text": "", "units": units,
                                   "cue_starts": []})


def restore_words(grade: G, redactor: Redactor) -> G:
    """The model's rationale and notes with the placeholders it repeated put back to the original words (in
    every sample of the grade too)."""
    evidence = [e.model_copy(update={"note": redactor.restore(e.note) if e.note else e.note}) for e in grade.evidence]
    update: dict[str, object] = {"rationale": redactor.restore(grade.rationale), "evidence": evidence}
    if isinstance(grade, CriterionGrade) and grade.samples:
        update["samples"] = [restore_words(s, redactor) for s in grade.samples]
    return grade.model_copy(update=update)
