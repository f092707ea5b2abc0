"""What the pages show, built from a sheet, the rubric and the reviews (templates only lay it out)."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.grading.aggregate import CompetencyResult, Decision
from grader.grading.grades import CriterionGrade, GradeStatus
from grader.grading.sheet import ScoreSheet
from grader.ingest.chunking import format_time
from grader.ingest.rubric import Competency, Criterion, Rubric
from grader.ingest.transcript import Transcript
from grader.review.decisions import ReviewedScore, overall, reviewed_scores
from grader.runs.reviews import Note, Review, current


@dataclass(frozen=True)
class Piece:
    """A stretch of a turn's text: a citable unit (with its id) or the space between units."""

    text: str
    unit: str | None = None

    @property
    def dom_id(self) -> str:
        return unit_dom_id(self.unit or "")


def unit_dom_id(unit: str) -> str:
    return "u-" + unit.replace(".", "-")


@dataclass(frozen=True)
class TurnView:
    index: int
    speaker: str
    role: str
    time: str
    pieces: list[Piece]


def turn_views(transcript: Transcript) -> list[TurnView]:
    views = []
    for turn in transcript.turns:
        pieces, cursor = [], 0
        for unit in turn.units:
            if unit.start_char > cursor:
                pieces.append(Piece(turn.text[cursor:unit.start_char]))
            pieces.append(Piece(unit.text, unit.id))
            cursor = unit.end_char
        if cursor < len(turn.text):
            pieces.append(Piece(turn.text[cursor:]))
        views.append(TurnView(index=turn.index, speaker=turn.speaker, role=turn.role.value,
                              time=format_time(turn.start) if turn.start is not None else "", pieces=pieces))
    return views


@dataclass(frozen=True)
class CriterionView:
    competency: Competency
    criterion: Criterion
    grade: CriterionGrade | None
    history: list[Review]  # every review of this criterion, newest first

    @property
    def decision(self) -> Review | None:
        return self.history[0] if self.history else None

    @property
    def seen(self) -> int | None:
        return self.decision.id if self.decision else None

    @property
    def labels(self) -> list[Review]:
        """Each reviewer's current label, newest first."""
        latest: dict[str, Review] = {}
        for review in self.history:
            latest.setdefault(review.reviewer, review)
        return list(latest.values())

    @property
    def cited(self) -> list[str]:
        if self.grade is None:
            return []
        return list(dict.fromkeys(e.unit for e in self.grade.quotes()))

    @property
    def model_label(self) -> str:
        return label(self.grade.status.value if self.grade else None, self.grade.level if self.grade else None)

    @property
    def reviewed_label(self) -> str:
        return label(self.decision.status_after, self.decision.level_after) if self.decision else ""

    def anchor(self, level: int | None) -> str | None:
        return self.criterion.levels.get(level) if level is not None else None


def label(status: str | None, level: int | None) -> str:
    if level is not None:
        return str(level)
    return {GradeStatus.insufficient_evidence.value: "insufficient evidence",
            GradeStatus.unscored.value: "unscored", None: "not graded"}.get(status, status or "")


@dataclass(frozen=True)
class CompetencyView:
    competency: Competency
    model: CompetencyResult | None
    reviewed: ReviewedScore
    criteria: list[CriterionView]


@dataclass(frozen=True)
class TranscriptPage:
    sheet: ScoreSheet
    rubric: Rubric
    turns: list[TurnView]
    competencies: list[CompetencyView]
    note: Note | None
    reviews: list[Review]

    @property
    def criteria(self) -> list[CriterionView]:
        return [c for comp in self.competencies for c in comp.criteria]

    @property
    def reviewed(self) -> int:
        return sum(c.decision is not None for c in self.criteria)


def transcript_page(sheet: ScoreSheet, rubric: Rubric, reviews: list[Review], note: Note | None) -> TranscriptPage:
    grades = {g.criterion_id: g for g in sheet.grades}
    decisions = current(reviews)
    scores = reviewed_scores(rubric, sheet, decisions)
    models = {c.competency_id: c for c in sheet.competencies}
    comps = [CompetencyView(competency=comp, model=models.get(comp.id), reviewed=scores[comp.id],
                            criteria=[CriterionView(comp, crit, grades.get(crit.id),
                                                    [r for r in reversed(reviews) if r.criterion_id == crit.id])
                                      for crit in comp.criteria])
             for comp in rubric.competencies]
    return TranscriptPage(sheet=sheet, rubric=rubric, turns=turn_views(sheet.transcript), competencies=comps,
                          note=note, reviews=reviews)


@dataclass(frozen=True)
class DecisionPair:
    name: str
    model: Decision | None
    reviewed: Decision


@dataclass(frozen=True)
class RunRow:
    """One transcript on the run page."""

    transcript_id: str
    source: str
    decisions: list[DecisionPair]
    criteria: int
    needs_review: int
    unscored: int
    red_flags: int
    confirmed: int
    overridden: int
    words: int = 0
    notes: list[str] = field(default_factory=list)
    integrity: int = 0

    @property
    def reviewed(self) -> int:
        return self.confirmed + self.overridden

    @property
    def decision(self) -> Decision:
        return overall([d.reviewed for d in self.decisions])


def run_row(sheet: ScoreSheet, rubric: Rubric, reviews: list[Review]) -> RunRow:
    decisions = current(reviews)
    scores = reviewed_scores(rubric, sheet, decisions)
    models = {c.competency_id: c.decision for c in sheet.competencies}
    known = {c.id for _, c in rubric.criteria()}
    kept = [r for r in decisions.values() if r.criterion_id in known]
    pairs = [DecisionPair(c.name, models.get(c.id), scores[c.id].decision) for c in rubric.competencies]
    return RunRow(transcript_id=sheet.transcript_id, source=sheet.source, decisions=pairs,
                  criteria=len(known), needs_review=sheet.counts.needs_review, unscored=sheet.counts.unscored,
                  red_flags=sum(len(g.red_flags) for g in sheet.grades),
                  confirmed=sum(r.action.value == "confirm" for r in kept),
                  overridden=sum(r.action.value == "override" for r in kept),
                  words=sum(len(t.text.split()) for t in sheet.transcript.turns), integrity=len(sheet.integrity))


FILTERS = {
    "all": ("every transcript", lambda r: True),
    "needs-review": ("needs review", lambda r: r.needs_review > 0 or r.unscored > 0),
    "unreviewed": ("not fully reviewed", lambda r: r.reviewed < r.criteria),
    "pass": ("decision: pass", lambda r: r.decision is Decision.passed),
    "fail": ("decision: fail", lambda r: r.decision is Decision.failed),
    "undetermined": ("decision: undetermined", lambda r: r.decision is Decision.undetermined),
}
_DECISION_ORDER = {Decision.failed: 0, Decision.undetermined: 1, Decision.passed: 2}
SORTS = {
    "id": ("transcript", lambda r: r.transcript_id),
    "needs-review": ("most needing review", lambda r: (-(r.needs_review + r.unscored), r.transcript_id)),
    "unreviewed": ("least reviewed", lambda r: (r.reviewed / max(r.criteria, 1), r.transcript_id)),
    "decision": ("decision", lambda r: (_DECISION_ORDER[r.decision], r.transcript_id)),
    "red-flags": ("most red flags", lambda r: (-r.red_flags, r.transcript_id)),
}


def select_rows(rows: list[RunRow], filter_name: str, sort_name: str) -> list[RunRow]:
    keep = FILTERS.get(filter_name, FILTERS["all"])[1]
    key = SORTS.get(sort_name, SORTS["id"])[1]
    return sorted((r for r in rows if keep(r)), key=key)


@dataclass(frozen=True)
class Progress:
    transcripts: int
    transcripts_done: int
    criteria: int
    confirmed: int
    overridden: int

    @property
    def reviewed(self) -> int:
        return self.confirmed + self.overridden

    def share(self, part: int) -> float:
        return part / self.criteria if self.criteria else 0.0


def progress(rows: list[RunRow]) -> Progress:
    return Progress(transcripts=len(rows), transcripts_done=sum(r.reviewed >= r.criteria for r in rows),
                    criteria=sum(r.criteria for r in rows), confirmed=sum(r.confirmed for r in rows),
                    overridden=sum(r.overridden for r in rows))
