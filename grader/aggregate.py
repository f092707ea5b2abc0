"""Aggregation: criterion grades into a weighted competency score and a pass/fail decision.

The rule, shown on every score sheet:
- A criterion counts when it is `scored` with at least one verified quote. Its level enters a
  weighted mean over the counted criteria (weights renormalised to the counted ones).
- Criteria that do not count (`insufficient_evidence`, `unscored`, or a level with no verified
  evidence) are never turned into a number. They widen the score's range instead: the range is
  the weighted mean with every missing criterion at level 1 (low) and at level 5 (high).
- The decision is `pass` when even the low end reaches the minimum passing score, `fail` when
  even the high end falls short of it, and `undetermined` otherwise (a person must look).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from grader.grades import CriterionGrade, RedFlagHeard
from grader.rubric import Competency


class Decision(StrEnum):
    passed = "pass"
    failed = "fail"
    undetermined = "undetermined"


class CompetencyResult(BaseModel):
    competency_id: str
    name: str
    score: float | None = Field(description="weighted mean level of the counted criteria")
    score_low: float = Field(description="the score if every missing criterion were level 1")
    score_high: float = Field(description="the score if every missing criterion were level 5")
    min_passing_score: float
    decision: Decision
    coverage: float = Field(description="share of the criteria weight that counted, 0..1")
    missing: list[str] = Field(default_factory=list, description="criteria that did not count")
    red_flags: list[RedFlagHeard] = Field(default_factory=list)


def aggregate_competency(competency: Competency, grades: list[CriterionGrade]) -> CompetencyResult:
    by_id = {g.criterion_id: g for g in grades}
    weights = {c.id: c.weight for c in competency.criteria}
    counted = {cid: by_id[cid].level for cid in weights if cid in by_id and by_id[cid].counts}
    missing = [cid for cid in weights if cid not in counted]
    total = sum(weights.values())
    counted_weight = sum(weights[cid] for cid in counted)
    weighted = sum(weights[cid] * (level or 0) for cid, level in counted.items())
    missing_weight = total - counted_weight
    low = (weighted + 1 * missing_weight) / total
    high = (weighted + 5 * missing_weight) / total
    return CompetencyResult(
        competency_id=competency.id, name=competency.name,
        score=round(weighted / counted_weight, 3) if counted_weight else None,
        score_low=round(low, 3), score_high=round(high, 3),
        min_passing_score=competency.min_passing_score,
        decision=decide(low, high, competency.min_passing_score),
        coverage=round(counted_weight / total, 3), missing=missing,
        red_flags=[f for g in grades for f in g.red_flags],
    )


def decide(low: float, high: float, minimum: float) -> Decision:
    eps = 1e-9
    if low + eps >= minimum:
        return Decision.passed
    if high + eps < minimum:
        return Decision.failed
    return Decision.undetermined
