"""Aggregation: criterion grades into a weighted competency score and a pass/fail decision.

The rule, shown on every score sheet:
- A criterion counts when it is `scored` citing at least one candidate sentence. Its level enters a
  weighted mean over the counted criteria (weights renormalised to the counted ones).
- Criteria that do not count (`insufficient_evidence`, `unscored`, or a level with no
  evidence cited) are never turned into a number. They widen the score's range instead: the range is
  the weighted mean with every missing criterion at level 1 (low) and at level 5 (high).
- The decision is `pass` when even the low end reaches the minimum passing score, `fail` when
  even the high end falls short of it, and `undetermined` otherwise (a person must look).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from grader.grading.grades import CriterionGrade, RedFlagHeard
from grader.ingest.rubric import Competency


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
    hold: str | None = Field(None, description="why a pass was held for review (integrity findings)")


def aggregate_competency(competency: Competency, grades: list[CriterionGrade]) -> CompetencyResult:
    by_id = {g.criterion_id: g for g in grades}
    counted = {c.id: by_id[c.id].level for c in competency.criteria if c.id in by_id and by_id[c.id].counts}
    score, low, high, coverage = score_range(competency, counted)
    return CompetencyResult(
        competency_id=competency.id, name=competency.name, score=None if score is None else round(score, 3),
        score_low=round(low, 3), score_high=round(high, 3), min_passing_score=competency.min_passing_score,
        decision=decide(low, high, competency.min_passing_score), coverage=round(coverage, 3),
        missing=[c.id for c in competency.criteria if c.id not in counted],
        red_flags=[f for g in grades for f in g.red_flags],
    )


def score_range(competency: Competency, levels: dict[str, float | None]) -> tuple[float | None, float, float, float]:
    """Weighted mean of the levels given, and its range with every missing criterion at 1 and at 5.

    Returns (score, low, high, coverage); `levels` maps criterion id to a level, None or absent = missing.
    """
    weights = {c.id: c.weight for c in competency.criteria}
    counted = {cid: level for cid, level in levels.items() if cid in weights and level is not None}
    total = sum(weights.values())
    counted_weight = sum(weights[cid] for cid in counted)
    weighted = sum(weights[cid] * level for cid, level in counted.items())
    missing_weight = total - counted_weight
    return (weighted / counted_weight if counted_weight else None, (weighted + 1 * missing_weight) / total,
            (weighted + 5 * missing_weight) / total, counted_weight / total)


def decide(low: float, high: float, minimum: float) -> Decision:
    eps = 1e-9
    if low + eps >= minimum:
        return Decision.passed
    if high + eps < minimum:
        return Decision.failed
    return Decision.undetermined
