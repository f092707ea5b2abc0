"""A reviewer's decision on one criterion: checked against the sheet, and the competency scores it leads to.

Model output and human decision sit side by side, never one overwritten by the other: the sheet
keeps the model's grade, a `Review` row keeps the decision, and the reviewed competency scores are
recomputed from the decisions with the same rule as the model's (`grader.grading.aggregate`).

- **confirm** keeps the model's level (or its "insufficient evidence"); a confirmed level counts even
  when the model cited no verified sentence, since a person has now judged it. An unscored grade
  has nothing to confirm.
- **override** sets a level 1..5 or "insufficient evidence" and needs a reason (not when the model's
  level was hidden from the reviewer: there was nothing to argue with).
- **adjudicate** (an adjudicator, where reviewers disagree) sets the level that resolves them: the gold.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from grader.errors import GraderError
from grader.grading.aggregate import Decision, decide, score_range
from grader.grading.grades import CriterionGrade, GradeStatus
from grader.grading.sheet import ScoreSheet
from grader.ingest.rubric import Competency, Rubric
from grader.runs.reviews import Action, Review

INSUFFICIENT = GradeStatus.insufficient_evidence.value


def _one_level_error(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One clear message for a bad level instead of one per branch of the union."""
    try:
        return handler(value)
    except ValidationError:
        given = json.dumps(value) if isinstance(value, (bool, int, float, str)) else type(value).__name__
        raise PydanticCustomError("review_level", 'must be a whole number 1..5 or "insufficient_evidence", '
                                                  "not {given}", {"given": given}) from None


# Strict: JSON `true` or `"3"` is refused (422), never coerced to a level (true would otherwise become 1).
ReviewLevel = Annotated[Annotated[StrictInt, Field(ge=1, le=5)] | Literal["insufficient_evidence"],
                        WrapValidator(_one_level_error)]


class ReviewRequest(BaseModel):
    """What `POST /api/reviews` takes (the page's form says the same)."""

    model_config = ConfigDict(extra="forbid")
    transcript_id: str = Field(min_length=1)
    criterion_id: str = Field(min_length=1)
    action: Action
    level: ReviewLevel | None = Field(None, description="override only: 1..5 or insufficient_evidence")
    reason: str = Field("", max_length=4000, description="required for an override")
    reviewer: str | None = Field(None, min_length=1, max_length=80,
                                 description="default: the server's --reviewer; with a reviewers file always the "
                                             "signed-in reviewer (naming another is refused with 403)")
    seen_review_id: StrictInt | None = Field(description="id of the latest review of this criterion the client saw "
                                                   "(null: none); a newer one makes the request fail with 409")


class ReviewRefusedError(GraderError):
    """The decision makes no sense for this sheet (HTTP 400), or names nothing that exists (404)."""

    def __init__(self, message: str, *, status: int = 400, fix: str | None = None) -> None:
        super().__init__(message, fix=fix)
        self.status = status


def review_row(request: ReviewRequest, sheet: ScoreSheet, rubric: Rubric, current: Review | None,
               reviewer: str, *, reason_required: bool = True) -> Review:
    """The row to append for `request` (id and time are set by the store), or ReviewRefusedError.

    `reason_required=False`: an override needs no reason (the model's level was hidden from the reviewer).
    """
    if request.criterion_id not in {c.id for _, c in rubric.criteria()}:
        raise ReviewRefusedError(f"no criterion {request.criterion_id!r} in rubric {rubric.id}", status=404)
    grade = next((g for g in sheet.grades if g.criterion_id == request.criterion_id), None)
    status_after, level_after = _after(request, grade, reason_required)
    status_before, level_before = ((current.status_after, current.level_after) if current
                                   else _model_label(grade))
    return Review(id=0, transcript_id=sheet.transcript_id, criterion_id=request.criterion_id,
                  reviewer=request.reviewer or reviewer, action=request.action, status_before=status_before,
                  level_before=level_before, status_after=status_after, level_after=level_after,
                  reason=request.reason.strip(), created_at="")


def _after(request: ReviewRequest, grade: CriterionGrade | None,
           reason_required: bool = True) -> tuple[str, int | None]:
    if request.action in (Action.override, Action.adjudicate):
        if request.level is None:
            raise ReviewRefusedError(f"an {request.action.value} needs a level",
                                     fix="give a level 1..5 or insufficient_evidence")
        if request.action is Action.override and reason_required and not request.reason.strip():
            raise ReviewRefusedError("an override needs a reason", fix="say why the model's level is wrong")
        return (INSUFFICIENT, None) if request.level == INSUFFICIENT else (GradeStatus.scored.value,
                                                                           int(request.level))
    if grade is None or grade.status is GradeStatus.unscored:
        raise ReviewRefusedError("the model gave no level here, so there is nothing to confirm",
                                 fix="override with a level 1..5 or insufficient_evidence, and a reason")
    if request.level is not None and request.level != (grade.level or INSUFFICIENT):
        raise ReviewRefusedError(f"confirm keeps the model's level; {request.level} is not it",
                                 fix="use action override to set another level")
    return grade.status.value, grade.level


def _model_label(grade: CriterionGrade | None) -> tuple[str | None, int | None]:
    return (grade.status.value, grade.level) if grade else (None, None)


@dataclass(frozen=True)
class ReviewedScore:
    """A competency's score and decision with the reviewed levels (unreviewed criteria as the model counted them)."""

    competency_id: str
    score: float | None
    score_low: float
    score_high: float
    decision: Decision
    reviewed: int = 0  # criteria of the competency with a decision


def reviewed_levels(competency: Competency, grades: dict[str, CriterionGrade],
                    current: dict[str, Review]) -> dict[str, float | None]:
    levels: dict[str, float | None] = {}
    for crit in competency.criteria:
        review, grade = current.get(crit.id), grades.get(crit.id)
        if review is not None:
            levels[crit.id] = review.level_after
        else:
            levels[crit.id] = grade.level if grade is not None and grade.counts else None
    return levels


def reviewed_score(competency: Competency, grades: dict[str, CriterionGrade],
                   current: dict[str, Review]) -> ReviewedScore:
    score, low, high, _ = score_range(competency, reviewed_levels(competency, grades, current))
    return ReviewedScore(competency_id=competency.id, score=None if score is None else round(score, 3),
                         score_low=round(low, 3), score_high=round(high, 3),
                         decision=decide(low, high, competency.min_passing_score),
                         reviewed=sum(c.id in current for c in competency.criteria))


def reviewed_scores(rubric: Rubric, sheet: ScoreSheet, current: dict[str, Review]) -> dict[str, ReviewedScore]:
    """Scores with the reviewed levels. With integrity findings on the sheet, a pass stands only once a person
    has reviewed every criterion of that competency: until then it stays held (undetermined), as on the sheet."""
    grades = {g.criterion_id: g for g in sheet.grades}
    scores = {c.id: reviewed_score(c, grades, current) for c in rubric.competencies}
    if sheet.integrity:
        scores = {c.id: _held(scores[c.id], len(c.criteria)) for c in rubric.competencies}
    return scores


def _held(score: ReviewedScore, criteria: int) -> ReviewedScore:
    if score.decision is Decision.passed and score.reviewed < criteria:
        return dataclasses.replace(score, decision=Decision.undetermined)
    return score


def overall(decisions: list[Decision]) -> Decision:
    """One decision for a transcript: fail if any competency fails, else undetermined if any is, else pass."""
    for worst in (Decision.failed, Decision.undetermined):
        if worst in decisions:
            return worst
    return Decision.passed
