"""What the pages show, built from a sheet, the rubric and the reviews (templates only lay it out).

Everything is seen by a `Viewer`: one person on their own machine sees every decision; a reviewer of
a team grading blind sees, on each criterion, only their own decision until they have submitted one
(and, with `hide_model`, not even the model's level), so what they decide is their own judgement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.grading.aggregate import CompetencyResult
from grader.grading.grades import CriterionGrade, GradeStatus
from grader.grading.sheet import ScoreSheet
from grader.ingest.chunking import format_time
from grader.ingest.rubric import Competency, Criterion, Rubric
from grader.ingest.transcript import Transcript
from grader.review.decisions import ReviewedScore, reviewed_scores
from grader.runs.reviews import Action, Note, Review, current

INSUFFICIENT = GradeStatus.insufficient_evidence.value


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page, and what they may see.

    `team`: reviewers sign in (a reviewers file): a decision is theirs alone. `blind`: another reviewer's
    decision on a criterion shows only once this one has submitted their own on it. `hide_model`: so does
    the model's level. `adjudicator`: may resolve reviewers who disagree, and sees every decision on
    transcripts not assigned to them. `assigned`: the transcripts this reviewer is asked to grade (None: all).
    """

    name: str
    team: bool = False
    blind: bool = False
    hide_model: bool = False
    adjudicator: bool = False
    assigned: frozenset[str] | None = None

    @classmethod
    def owner(cls) -> Viewer:
        """The run's owner (static sheets, exports): every decision and the model, nothing hidden."""
        return cls(name="")

    def is_assigned(self, transcript_id: str) -> bool:
        return self.assigned is None or transcript_id in self.assigned

    def mine(self, review: Review) -> bool:
        """A decision of this viewer's (alone on their machine, every decision is theirs)."""
        return not self.team or review.reviewer == self.name

    def resolves(self, transcript_id: str) -> bool:
        """An adjudicator sees everything on a transcript they are not asked to grade themselves."""
        return self.adjudicator and (self.assigned is None or transcript_id not in self.assigned)


@dataclass(frozen=True)
class Sight:
    """What a viewer sees of one transcript's reviews."""

    viewer: Viewer
    transcript_id: str
    own: dict[str, Review]  # criterion -> the viewer's own label in force (alone: the latest label in force)
    latest: dict[str, Review]  # criterion -> the latest row in force, whoever made it

    def decided(self, criterion_id: str) -> bool:
        return criterion_id in self.own

    @property
    def own_only(self) -> bool:
        """The viewer's scores count their own decisions only: grading blind (an adjudicator resolving sees all)."""
        return self.viewer.blind and not self.viewer.resolves(self.transcript_id)

    def sees_others(self, criterion_id: str) -> bool:
        return not self.viewer.blind or self.decided(criterion_id) or self.viewer.resolves(self.transcript_id)

    def sees_model(self, criterion_id: str) -> bool:
        return not self.viewer.hide_model or self.decided(criterion_id) or self.viewer.resolves(self.transcript_id)

    def visible(self, review: Review) -> bool:
        return self.viewer.mine(review) or self.sees_others(review.criterion_id)

    def seen(self, criterion_id: str) -> int | None:
        """The id a decision on this criterion must name as seen: blind, the viewer's own latest decision;
        else the criterion's latest row in force."""
        row = self.own.get(criterion_id) if self.viewer.blind else self.latest.get(criterion_id)
        return row.id if row else None


def sight(viewer: Viewer, transcript_id: str, reviews: list[Review]) -> Sight:
    own: dict[str, Review] = {}
    latest: dict[str, Review] = {}
    for r in reviews:
        if not r.effective:
            continue
        latest[r.criterion_id] = r
        if r.action is not Action.adjudicate and viewer.mine(r):
            own[r.criterion_id] = r
    return Sight(viewer=viewer, transcript_id=transcript_id, own=own, latest=latest)


@dataclass(frozen=True)
class Piece:
    """A stretch of a turn's text: a citable unit (with its id) or the space between units."""

    text: str
    unit: str | None = None
    flagged: bool = False  # named by an integrity finding (text addressed to the grader)

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


_UNIT = re.compile(r"\d+\.\d+")
_TURN = re.compile(r"\d+")


def flagged_units(sheet: ScoreSheet) -> set[str]:
    """The units an integrity finding names (a finding on a whole turn names every unit of the turn)."""
    turns = {str(t.index): [u.id for u in t.units] for t in sheet.transcript.turns}
    found: set[str] = set()
    for finding in sheet.integrity:
        for token in [*finding.unit.replace(",", " ").split(), *getattr(finding, "units", [])]:
            if _UNIT.fullmatch(token):
                found.add(token)
            elif _TURN.fullmatch(token):
                found.update(turns.get(token, []))
    return found


def turn_views(transcript: Transcript, flagged: set[str] = frozenset()) -> list[TurnView]:  # type: ignore[assignment]
    views = []
    for turn in transcript.turns:
        pieces, cursor = [], 0
        for unit in turn.units:
            if unit.start_char > cursor:
                pieces.append(Piece(turn.text[cursor:unit.start_char]))
            pieces.append(Piece(unit.text, unit.id, unit.id in flagged))
            cursor = unit.end_char
        if cursor < len(turn.text):
            pieces.append(Piece(turn.text[cursor:]))
        views.append(TurnView(index=turn.index, speaker=turn.speaker, role=turn.role.value,
                              time=format_time(turn.start) if turn.start is not None else "", pieces=pieces))
    return views


@dataclass(frozen=True)
class ScaleStep:
    """One level of a criterion's scale with its anchor, and who put the item there."""

    level: int
    anchor: str
    model: bool  # the model's level (only when the viewer may see it)
    yours: bool  # the viewer's own level (alone: the current decision)
    gold: bool  # the adjudicated level
    others: list[str]  # other reviewers at this level (only when the viewer may see them)


@dataclass(frozen=True)
class CriterionView:
    competency: Competency
    criterion: Criterion
    grade: CriterionGrade | None
    history: list[Review]  # every review of this criterion the viewer may see, newest first (retracted ones too)
    sight: Sight

    @property
    def id(self) -> str:
        return self.criterion.id

    @property
    def in_force(self) -> list[Review]:
        return [r for r in self.history if r.effective]

    @property
    def decision(self) -> Review | None:
        """The decision the viewer's scores count: blind, their own; else the current one (adjudication first)."""
        if self.sight.own_only:
            return self.sight.own.get(self.id)
        return current(list(reversed(self.in_force))).get(self.id)

    @property
    def own(self) -> Review | None:
        return self.sight.own.get(self.id)

    @property
    def seen(self) -> int | None:
        return self.sight.seen(self.id)

    @property
    def adjudication_seen(self) -> int | None:
        latest = self.sight.latest.get(self.id)
        return latest.id if latest else None

    @property
    def model_visible(self) -> bool:
        return self.sight.sees_model(self.id)

    @property
    def others_visible(self) -> bool:
        return self.sight.sees_others(self.id)

    @property
    def labels(self) -> list[Review]:
        """Each reviewer's current label the viewer may see, newest first."""
        latest: dict[str, Review] = {}
        for review in self.in_force:
            if review.action is not Action.adjudicate:
                latest.setdefault(review.reviewer, review)
        return list(latest.values())

    @property
    def adjudication(self) -> Review | None:
        return next((r for r in self.in_force if r.action is Action.adjudicate), None)

    @property
    def disagreement(self) -> bool:
        """Two or more reviewers' labels differ (what an adjudicator resolves)."""
        return len({(r.status_after, r.level_after) for r in self.labels}) > 1

    @property
    def hidden_labels(self) -> bool:
        """Other reviewers' labels exist that the viewer may not see yet (never says how many or which)."""
        return not self.others_visible

    @property
    def cited(self) -> list[str]:
        if self.grade is None:
            return []
        return list(dict.fromkeys(e.unit for e in self.grade.quotes()))

    @property
    def model_label(self) -> str:
        if not self.model_visible:
            return "hidden"
        return label(self.grade.status.value if self.grade else None, self.grade.level if self.grade else None)

    @property
    def reviewed_label(self) -> str:
        return label(self.decision.status_after, self.decision.level_after) if self.decision else ""

    @property
    def model_label_value(self) -> int | str | None:
        """The model's label as a picker value (1..5 or insufficient_evidence), for confirm-by-level."""
        if self.grade is None or self.grade.status is GradeStatus.unscored:
            return None
        return self.grade.level if self.grade.level is not None else INSUFFICIENT

    def anchor(self, level: int | None) -> str | None:
        return self.criterion.levels.get(level) if level is not None else None

    @property
    def scale(self) -> list[ScaleStep]:
        model = self.grade.level if self.grade is not None and self.model_visible else None
        mine = self.own if self.sight.viewer.team else self.decision
        adjudicated = self.adjudication
        others: dict[int, list[str]] = {}
        if self.sight.viewer.team and self.others_visible:
            for r in self.labels:
                if r.level_after is not None and not self.sight.viewer.mine(r):
                    others.setdefault(r.level_after, []).append(r.reviewer)
        return [ScaleStep(level=n, anchor=text, model=model == n,
                          yours=mine is not None and mine.level_after == n,
                          gold=adjudicated is not None and adjudicated.level_after == n,
                          others=sorted(others.get(n, [])))
                for n, text in self.criterion.levels.items()]


def label(status: str | None, level: int | None) -> str:
    if level is not None:
        return str(level)
    return {GradeStatus.insufficient_evidence.value: "insufficient evidence",
            GradeStatus.unscored.value: "unscored", None: "not graded"}.get(status, status or "")


@dataclass(frozen=True)
class CompetencyView:
    competency: Competency
    model: CompetencyResult | None  # None also when the viewer may not see it yet
    reviewed: ReviewedScore
    criteria: list[CriterionView]
    model_hidden: bool = False


@dataclass(frozen=True)
class TranscriptPage:
    sheet: ScoreSheet
    rubric: Rubric
    turns: list[TurnView]
    competencies: list[CompetencyView]
    note: Note | None
    reviews: list[Review]  # the rows the viewer may see, oldest first
    viewer: Viewer = field(default_factory=Viewer.owner)
    flagged: set[str] = field(default_factory=set)

    @property
    def criteria(self) -> list[CriterionView]:
        return [c for comp in self.competencies for c in comp.criteria]

    @property
    def reviewed(self) -> int:
        return sum(c.decision is not None for c in self.criteria)

    @property
    def assigned(self) -> bool:
        return self.viewer.is_assigned(self.sheet.transcript_id)

    @property
    def own_only(self) -> bool:
        """The page counts the viewer's own decisions only (grading blind, not resolving)."""
        return self.viewer.blind and not self.viewer.resolves(self.sheet.transcript_id)

    @property
    def may_decide(self) -> bool:
        """A reviewer of a team decides only on the transcripts assigned to them (an adjudicator resolves any)."""
        return not self.viewer.team or self.assigned

    @property
    def undo_target(self) -> Review | None:
        """The viewer's latest decision in force on this transcript: what undo takes back."""
        mine = [r for r in self.reviews if r.effective and self.viewer.mine(r)]
        return mine[-1] if mine else None


def transcript_page(sheet: ScoreSheet, rubric: Rubric, reviews: list[Review], note: Note | None,
                    viewer: Viewer | None = None) -> TranscriptPage:
    viewer = viewer or Viewer.owner()
    seen_by = sight(viewer, sheet.transcript_id, reviews)
    visible = [r for r in reviews if seen_by.visible(r)]
    grades = {g.criterion_id: g for g in sheet.grades}
    scores = reviewed_scores(rubric, visible_sheet(sheet, seen_by), counted_decisions(visible, seen_by))
    models = {c.competency_id: c for c in sheet.competencies}
    comps = []
    for comp in rubric.competencies:
        hidden = not all(seen_by.sees_model(c.id) for c in comp.criteria)
        views = [CriterionView(comp, crit, grades.get(crit.id),
                               [r for r in reversed(visible) if r.criterion_id == crit.id], seen_by)
                 for crit in comp.criteria]
        comps.append(CompetencyView(competency=comp, model=None if hidden else models.get(comp.id),
                                    reviewed=scores[comp.id], criteria=views, model_hidden=hidden))
    flagged = flagged_units(sheet)
    return TranscriptPage(sheet=sheet, rubric=rubric, turns=turn_views(sheet.transcript, flagged), competencies=comps,
                          note=note, reviews=visible, viewer=viewer, flagged=flagged)


def counted_decisions(visible: list[Review], seen_by: Sight) -> dict[str, Review]:
    """The decision per criterion the viewer's reviewed scores count: blind, their own; else the current one."""
    return dict(seen_by.own) if seen_by.own_only else current(visible)


def visible_sheet(sheet: ScoreSheet, seen_by: Sight) -> ScoreSheet:
    """The sheet with the model's grades the viewer may not see yet left out (so no score leaks them)."""
    if not seen_by.viewer.hide_model:
        return sheet
    return sheet.model_copy(update={"grades": [g for g in sheet.grades if seen_by.sees_model(g.criterion_id)]})
