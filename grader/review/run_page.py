"""The run page: one row per transcript (its decisions, what is left to review, how uncertain its grades are),
the filters and orders a reviewer picks from, the queue's next transcript, and the progress bar.

Built, like the transcript page (`grader.review.views`), from what the `Viewer` may see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.grading.aggregate import Decision
from grader.grading.sheet import ScoreSheet
from grader.grading.uncertainty import uncertainty
from grader.ingest.rubric import Rubric
from grader.review.decisions import overall, reviewed_scores
from grader.review.views import Viewer, counted_decisions, sight, visible_sheet
from grader.runs.reviews import Action, Review


@dataclass(frozen=True)
class DecisionPair:
    name: str
    model: Decision | None
    reviewed: Decision
    model_hidden: bool = False


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
    assigned: bool = True
    labelled: int = 0  # criteria with the viewer's own label in force (alone: with a decision)
    disagreements: int = 0  # criteria whose reviewers' labels differ (that the viewer may see)
    uncertainty: float = 0.0  # the most uncertain of its grades (grader.grading.uncertainty: samples, judges, entropy)
    uncertainty_mean: float = 0.0  # the mean of its grades' uncertainty: breaks ties

    @property
    def reviewed(self) -> int:
        return self.confirmed + self.overridden

    @property
    def held(self) -> bool:
        """Integrity findings hold the transcript for a person: no competency passes automatically."""
        return self.integrity > 0

    @property
    def done(self) -> bool:
        """The viewer has decided every criterion."""
        return self.labelled >= self.criteria

    @property
    def decision(self) -> Decision:
        return overall([d.reviewed for d in self.decisions])


def run_row(sheet: ScoreSheet, rubric: Rubric, reviews: list[Review], viewer: Viewer | None = None) -> RunRow:
    viewer = viewer or Viewer.owner()
    seen_by = sight(viewer, sheet.transcript_id, reviews)
    visible = [r for r in reviews if seen_by.visible(r)]
    decisions = counted_decisions(visible, seen_by)
    scores = reviewed_scores(rubric, visible_sheet(sheet, seen_by), decisions)
    models = {c.competency_id: c.decision for c in sheet.competencies}
    known = {c.id for _, c in rubric.criteria()}
    kept = [r for r in decisions.values() if r.criterion_id in known]
    pairs = []
    for comp in rubric.competencies:
        hidden = not all(seen_by.sees_model(c.id) for c in comp.criteria)
        pairs.append(DecisionPair(comp.name, None if hidden else models.get(comp.id), scores[comp.id].decision,
                                  hidden))
    latest = {(r.criterion_id, r.reviewer): r for r in visible if r.effective and r.action is not Action.adjudicate}
    labels: dict[str, set[tuple[str, int | None]]] = {}
    for (criterion, _), r in latest.items():
        labels.setdefault(criterion, set()).add((r.status_after, r.level_after))
    return RunRow(transcript_id=sheet.transcript_id, source=sheet.source, decisions=pairs,
                  criteria=len(known), needs_review=sheet.counts.needs_review, unscored=sheet.counts.unscored,
                  red_flags=sum(len(g.red_flags) for g in sheet.grades),
                  confirmed=sum(r.action is Action.confirm for r in kept),
                  overridden=sum(r.action is not Action.confirm for r in kept),  # overrides and adjudications
                  words=sum(len(t.text.split()) for t in sheet.transcript.turns), integrity=len(sheet.integrity),
                  assigned=viewer.is_assigned(sheet.transcript_id),
                  labelled=sum(c in known for c in seen_by.own), disagreements=sum(len(v) > 1 for v in labels.values()),
                  **_uncertainty(sheet))


def _uncertainty(sheet: ScoreSheet) -> dict[str, float]:
    """How uncertain the model's grades of a transcript are: the most uncertain one, and the mean."""
    scores = [uncertainty(g).score for g in sheet.grades] or [0.0]
    return {"uncertainty": round(max(scores), 6), "uncertainty_mean": round(sum(scores) / len(scores), 6)}


FILTERS = {
    "all": ("every transcript", lambda r: True),
    "needs-review": ("needs review (flagged, held or unscored)",
                     lambda r: r.needs_review > 0 or r.unscored > 0 or r.held),
    "unreviewed": ("not fully reviewed", lambda r: r.reviewed < r.criteria),
    "assigned": ("assigned to me", lambda r: r.assigned),
    "my-queue": ("assigned to me, not done", lambda r: r.assigned and not r.done),
    "disagreements": ("reviewers disagree", lambda r: r.disagreements > 0),
    "pass": ("decision: pass", lambda r: r.decision is Decision.passed),
    "fail": ("decision: fail", lambda r: r.decision is Decision.failed),
    "undetermined": ("decision: undetermined", lambda r: r.decision is Decision.undetermined),
}
TEAM_FILTERS = ("assigned", "my-queue", "disagreements")
_DECISION_ORDER = {Decision.failed: 0, Decision.undetermined: 1, Decision.passed: 2}
SORTS = {
    "id": ("transcript", lambda r: r.transcript_id),
    "needs-review": ("most needing review", lambda r: (-(r.needs_review + r.unscored + r.held), r.transcript_id)),
    "unreviewed": ("least reviewed", lambda r: (r.reviewed / max(r.criteria, 1), r.transcript_id)),
    "decision": ("decision", lambda r: (_DECISION_ORDER[r.decision], r.transcript_id)),
    "red-flags": ("most red flags", lambda r: (-r.red_flags, r.transcript_id)),
    "uncertainty": ("most uncertain grades first", lambda r: (-r.uncertainty, -r.uncertainty_mean, r.transcript_id)),
}


def select_rows(rows: list[RunRow], filter_name: str, sort_name: str) -> list[RunRow]:
    keep = FILTERS.get(filter_name, FILTERS["all"])[1]
    key = SORTS.get(sort_name, SORTS["id"])[1]
    return sorted((r for r in rows if keep(r)), key=key)


def next_in_queue(rows: list[RunRow], after: str | None) -> RunRow | None:
    """The viewer's next assigned transcript not done yet, after `after` in id order (wrapping round)."""
    queue = sorted((r for r in rows if r.assigned and not r.done), key=lambda r: r.transcript_id)
    if not queue:
        return None
    later = [r for r in queue if after is None or r.transcript_id > after]
    return (later or queue)[0]


@dataclass(frozen=True)
class Progress:
    transcripts: int
    transcripts_done: int
    criteria: int
    confirmed: int
    overridden: int
    assigned: int = 0
    assigned_done: int = 0

    @property
    def reviewed(self) -> int:
        return self.confirmed + self.overridden

    def share(self, part: int) -> float:
        return part / self.criteria if self.criteria else 0.0


def progress(rows: list[RunRow]) -> Progress:
    return Progress(transcripts=len(rows), transcripts_done=sum(r.reviewed >= r.criteria for r in rows),
                    criteria=sum(r.criteria for r in rows), confirmed=sum(r.confirmed for r in rows),
                    overridden=sum(r.overridden for r in rows), assigned=sum(r.assigned for r in rows),
                    assigned_done=sum(r.assigned and r.done for r in rows))
